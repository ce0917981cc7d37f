"""The REST route table, derived from the google.api.http annotations of every copytrade
service, grpc-gateway style: a new annotated RPC is a new route with no gateway code. Pure."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field

from google.api import annotations_pb2
from google.protobuf import descriptor, symbol_database

import copytrade

VERBS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Route:
    verb: str  # upper case
    template: str  # "/v1/users/{user_id}/risk-limits"
    regex: re.Pattern
    variables: tuple[str, ...]  # field paths bound by the path, in group order
    body: str  # "", "*", or a field name
    method: descriptor.MethodDescriptor = field(compare=False)

    @property
    def service(self) -> str:  # "risk", from package copytrade.risk.v1
        return self.method.containing_service.full_name.split(".")[1]

    @property
    def grpc_path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def server_streaming(self) -> bool:
        return self.method.server_streaming

    def request_class(self):
        return symbol_database.Default().GetSymbol(self.method.input_type.full_name)

    def response_class(self):
        return symbol_database.Default().GetSymbol(self.method.output_type.full_name)


def compile_template(template: str) -> tuple[re.Pattern, tuple[str, ...]]:
    """`/v1/{name=sessions/*}:pause` → a regex with one group per variable."""
    variables: list[str] = []
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", template):
        if part.startswith("{"):
            name, _, sub = part[1:-1].partition("=")
            variables.append(name)
            if not sub:
                pattern += f"(?P<v{len(variables) - 1}>[^/:]+)"
            else:
                inner = "/".join("[^/:]+" if seg == "*" else ".+" if seg == "**" else re.escape(seg)
                                 for seg in sub.split("/"))
                pattern += f"(?P<v{len(variables) - 1}>{inner})"
        else:
            pattern += re.escape(part)
    return re.compile(f"^{pattern}$"), tuple(variables)


def _rules(rule) -> list:
    return [rule, *rule.additional_bindings]


def routes_for(file: descriptor.FileDescriptor) -> list[Route]:
    routes = []
    for service in file.services_by_name.values():
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue  # internal RPCs have no binding and so no route
            for rule in _rules(options.Extensions[annotations_pb2.http]):
                verb = rule.WhichOneof("pattern")
                if verb not in VERBS:
                    continue
                template = getattr(rule, verb)
                regex, variables = compile_template(template)
                routes.append(Route(verb.upper(), template, regex, variables, rule.body, method))
    return routes


def load_api_modules() -> list[descriptor.FileDescriptor]:
    """Import every generated *_service_pb2 module of the copytrade package."""
    files = []
    for info in pkgutil.walk_packages(copytrade.__path__, "copytrade."):
        if info.name.endswith("_service_pb2"):
            files.append(importlib.import_module(info.name).DESCRIPTOR)
    return files


def route_table(files: list[descriptor.FileDescriptor] | None = None) -> list[Route]:
    routes = [r for f in (files or load_api_modules()) for r in routes_for(f)]
    # Literal paths before templated ones, so /v1/copy-events:stream wins over /v1/{x}.
    return sorted(routes, key=lambda r: (r.template.count("{"), -len(r.template)))


def match(routes: list[Route], verb: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        if route.verb != verb:
            continue
        found = route.regex.match(path)
        if found:
            return route, {name: found.group(f"v{i}") for i, name in enumerate(route.variables)}
    return None
