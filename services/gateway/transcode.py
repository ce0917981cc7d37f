"""JSON and query strings ↔ protobuf, as grpc-gateway does it: path variables and the body
(`*` or one field) bind first, every other field may come from the query string. Bad input is
a TranscodeError naming the field; it never reaches a service."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from services.gateway.routes import Route

_INTS = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
         FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
         FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64}


MAX_DEPTH = 32  # JSON objects and arrays within each other


class TranscodeError(Exception):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message, self.field = message, field


def _set_path(target: dict, path: str, value: Any, *, repeated: bool = False) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise TranscodeError(f"{path} conflicts with another parameter", path)
    if repeated:
        target.setdefault(parts[-1], []).append(value)
    else:
        target[parts[-1]] = value


def _field(message_descriptor, path: str) -> FieldDescriptor:
    descriptor = message_descriptor
    field = None
    for part in path.split("."):
        field = descriptor.fields_by_name.get(part) or next(
            (f for f in descriptor.fields if f.json_name == part), None)
        if field is None:
            raise TranscodeError(f"unknown field {path!r}", path)
        descriptor = field.message_type
    return field


def _scalar(field: FieldDescriptor, raw: str, path: str) -> Any:
    if field.type in _INTS:
        try:
            return int(raw)
        except ValueError:
            raise TranscodeError(f"{path} must be a whole number", path) from None
    if field.type == FieldDescriptor.TYPE_BOOL:
        if raw.lower() not in ("true", "false"):
            raise TranscodeError(f"{path} must be true or false", path)
        return raw.lower() == "true"
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        try:
            return float(raw)
        except ValueError:
            raise TranscodeError(f"{path} must be a number", path) from None
    return raw  # strings, enums by name, well-known types in their JSON string form


def parse_body(body: bytes) -> Any:
    """The JSON body, nested at most MAX_DEPTH deep (no request of ours nests past a handful; a
    deeper one would only exhaust the parser's and protobuf's recursion)."""
    try:
        parsed = json.loads(body or b"{}")
    except RecursionError:
        raise TranscodeError(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise TranscodeError(f"the body is not valid JSON: {exc}") from None
    # Fewer brackets than the bound cannot nest past it: most bodies are not walked at all.
    if body and body.count(b"[") + body.count(b"{") > MAX_DEPTH and _deeper_than(parsed, MAX_DEPTH):
        raise TranscodeError(f"the body nests deeper than {MAX_DEPTH} levels")
    return parsed


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def build_request(route: Route, variables: dict[str, str], query: list[tuple[str, str]], body: bytes) -> Message:
    request = route.request_class()()
    data: dict = {}
    if route.body:
        parsed = parse_body(body)
        if route.body == "*":
            if not isinstance(parsed, dict):
                raise TranscodeError("the body must be a JSON object")
            data = parsed
        else:
            data = {route.body: parsed}
    for path, raw in query:
        if route.body == "*":
            raise TranscodeError(f"query parameter {path!r} is not allowed: this call takes everything in the body",
                                 path)
        field = _field(request.DESCRIPTOR, path)
        if field.message_type is not None and not field.message_type.full_name.startswith("google.protobuf."):
            raise TranscodeError(f"{path} is a message; set its fields as {path}.<field>", path)
        repeated = field.is_repeated
        _set_path(data, path, _scalar(field, raw, path), repeated=repeated)
    for path, raw in variables.items():
        _set_path(data, path, _scalar(_field(request.DESCRIPTOR, path), raw, path))
    try:
        json_format.ParseDict(data, request)  # both spellings; unknown fields are an error
    except json_format.ParseError as exc:
        raise TranscodeError(str(exc), _field_in(str(exc))) from None
    return request


def _field_in(message: str) -> str:
    """json_format names the offending field in its message; keep it for the ErrorInfo."""
    for marker in ('field named "', 'Failed to parse ', 'field "'):
        if marker in message:
            rest = message.split(marker, 1)[1]
            return rest.split('"', 1)[0].split(" ", 1)[0]
    return ""


def to_json(message: Message) -> dict:
    return json_format.MessageToDict(message)  # lowerCamelCase, as grpc-gateway
