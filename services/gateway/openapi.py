"""The OpenAPI 3 document, derived from the same descriptors as the routes, with the .proto
comments (kept in the generated descriptor set) as descriptions."""

from __future__ import annotations

from functools import lru_cache

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from copytrade.type.v1 import access_pb2
from services.gateway import edge
from services.gateway.routes import Route
from services.kit import descriptors

_SCALARS = {
    FieldDescriptor.TYPE_STRING: {"type": "string"}, FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"}, FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"}, FieldDescriptor.TYPE_INT32: {"type": "integer"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer"}, FieldDescriptor.TYPE_SINT32: {"type": "integer"},
    # 64-bit integers are strings in proto3 JSON
    FieldDescriptor.TYPE_INT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_SINT64: {"type": "string", "format": "int64"},
}
_WELL_KNOWN = {"google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
               "google.protobuf.FieldMask": {"type": "string", "description": "comma-separated field paths"},
               "google.protobuf.Duration": {"type": "string"}}


@lru_cache(maxsize=1)
def comments() -> dict[str, str]:
    """Leading comments by full name, for services' methods, messages and fields."""
    found: dict[str, str] = {}
    for file in descriptors.files().values():
        if not file.package.startswith("copytrade."):
            continue
        by_path = {tuple(loc.path): loc.leading_comments.strip() for loc in file.source_code_info.location
                   if loc.leading_comments}
        for si, service in enumerate(file.service):
            for mi, method in enumerate(service.method):
                found[f"{file.package}.{service.name}.{method.name}"] = by_path.get((6, si, 2, mi), "")
        for mi, message in enumerate(file.message_type):
            name = f"{file.package}.{message.name}"
            found[name] = by_path.get((4, mi), "")
            for fi, fld in enumerate(message.field):
                found[f"{name}.{fld.name}"] = by_path.get((4, mi, 2, fi), "")
    return found


def _schema(field: FieldDescriptor, schemas: dict) -> dict:
    if field.message_type is not None:
        if field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": _schema(value, schemas)}
        target = _WELL_KNOWN.get(field.message_type.full_name) or _ref(field.message_type, schemas)
    elif field.enum_type is not None:
        target = _ref_enum(field.enum_type, schemas)
    else:
        target = dict(_SCALARS.get(field.type, {"type": "string"}))
    if field.is_repeated:
        return {"type": "array", "items": target}
    return target


def _ref_enum(enum: EnumDescriptor, schemas: dict) -> dict:
    schemas.setdefault(enum.full_name, {"type": "string", "enum": [v.name for v in enum.values]})
    return {"$ref": f"#/components/schemas/{enum.full_name}"}


def _ref(message: Descriptor, schemas: dict) -> dict:
    if message.full_name not in schemas:
        schemas[message.full_name] = {}  # placeholder first: messages may refer to themselves
        notes = comments()
        schemas[message.full_name] = {
            "type": "object", "description": notes.get(message.full_name, ""),
            "properties": {f.json_name: {**_schema(f, schemas), **({"description": notes[f"{message.full_name}.{f.name}"]}
                                                                  if notes.get(f"{message.full_name}.{f.name}") else {})}
                           for f in message.fields},
        }
    return {"$ref": f"#/components/schemas/{message.full_name}"}


def _param(variable: str) -> str:
    return variable.rsplit(".", 1)[-1]


def document(routes: list[Route]) -> dict:
    schemas: dict = {}
    paths: dict = {}
    notes = comments()
    seen: dict[str, int] = {}
    error = {"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                                              "details": {"type": "array", "items": {"type": "object"}}}}
    for route in routes:
        method = route.method
        name = f"{method.containing_service.full_name}.{method.name}"
        path = route.template
        for variable in route.variables:  # OpenAPI wants {name}, without the pattern or the message path,
            # so /x/{id} and /x/{thing.id} are one path, as OpenAPI requires of equivalent templates
            path = path.replace(path[path.index("{" + variable):path.index("}", path.index("{" + variable)) + 1],
                                "{" + _param(variable) + "}")
        operation_id = f"{method.containing_service.name}_{method.name}"
        seen[operation_id] = seen.get(operation_id, 0) + 1  # additional bindings get _2, _3, ...
        operation = {
            "operationId": operation_id + (f"_{seen[operation_id]}" if seen[operation_id] > 1 else ""),
            "tags": [method.containing_service.name], "summary": notes.get(name, "").split("\n")[0],
            "description": notes.get(name, ""),
            "parameters": [{"name": _param(v), "in": "path", "required": True, "schema": {"type": "string"},
                            **({"description": f"sets {v}"} if "." in v else {})} for v in route.variables],
            "responses": {
                "200": {"description": "OK", "content": {
                    "text/event-stream" if route.server_streaming else "application/json":
                        {"schema": _ref(method.output_type, schemas)}}},
                "default": {"description": "An error", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        rules = edge.access(route)
        if rules.public:
            operation["security"] = []  # open: registration and login
        if rules.api_key_scopes or route.verb == "GET":
            scopes = sorted({access_pb2.ApiKeyScope.Name(s) for s in rules.api_key_scopes}
                            | ({"API_KEY_SCOPE_READ"} if route.verb == "GET" else set()))
            operation["x-api-key-scopes"] = scopes  # an API key with any of these may call it
        if route.body:
            body_schema = _ref(method.input_type, schemas) if route.body == "*" else \
                _schema(method.input_type.fields_by_name[route.body], schemas)
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
        else:
            bound = {v.split(".")[0] for v in route.variables}
            operation["parameters"] += [
                {"name": f.json_name, "in": "query", "required": False, "schema": _schema(f, schemas)}
                for f in method.input_type.fields if f.name not in bound and f.message_type is None]
        paths.setdefault(path, {})[route.verb.lower()] = operation
    schemas["Error"] = error
    return {"openapi": "3.0.3",
            "info": {"title": "copytrade", "version": "v1",
                     "description": "Derived from the google.api.http annotations of the copytrade contracts."},
            "paths": paths, "components": {"schemas": schemas,
                                           "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A login token, or a partner API key (ctk_...)"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "session": {"type": "apiKey", "in": "cookie", "name": edge.SESSION_COOKIE,
                            "description": f"A browser session: POST /v1/auth:login with `{edge.SESSION_HEADER}: "
                                           "cookie` sets this httpOnly cookie instead of returning the token; "
                                           f"state-changing requests on it need `{edge.CSRF_HEADER}: 1`; "
                                           f"POST {edge.LOGOUT_PATH} clears it."}}},
            "security": [{"bearer": []}, {"apiKey": []}, {"session": []}]}
