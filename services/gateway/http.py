"""The gateway's HTTP side: REST+JSON transcoded to gRPC calls on the owning service, errors
mapped as grpc-gateway maps them, server-streaming RPCs as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from pathlib import Path

import grpc
import swagger_ui_bundle
from aiohttp import web
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2  # noqa: F401 - registers ErrorInfo for JSON
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.trace import SpanKind

from copytrade.compliance.v1.compliance_service_pb2 import LogoutRequest, LogoutResponse
from services.gateway import edge, openapi
from services.gateway.routes import Route, match, route_table
from services.gateway.transcode import TranscodeError, build_request, to_json
from services.kit import clients, errors, metrics, tracing
from services.kit.config import TlsFiles

log = logging.getLogger("copytrade.gateway.http")
CALL_TIMEOUT_S = 15.0
MAX_BODY_BYTES = 1024 * 1024
SWAGGER_UI = swagger_ui_bundle.swagger_ui_path  # bundled assets: the docs work with no network
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>copytrade API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});</script>
</body></html>"""

# grpc-gateway's mapping from gRPC status to HTTP status.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200, grpc.StatusCode.CANCELLED: 499, grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.DEADLINE_EXCEEDED: 504, grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409, grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400, grpc.StatusCode.ABORTED: 409, grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.INTERNAL: 500, grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}


# A stream whose messages carry a `sequence` sends it as each event's SSE id, and one whose
# request has `after_sequence` resumes after a reconnecting client's Last-Event-ID.
EVENT_ID_FIELD, RESUME_FIELD = "sequence", "after_sequence"
ROUTE = web.RequestKey("route", str)  # the matched route's template, for the metrics' label
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}  # others: one "OTHER" label


def error_body(code: grpc.StatusCode, message: str, details: list[dict] | None = None) -> dict:
    return {"code": code.value[0], "message": message, "details": details or []}


def bad_request(message: str, field: str = "") -> web.Response:
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "INVALID_REQUEST",
            "domain": "gateway.copytrade", "metadata": {"field": field} if field else {}}
    return web.json_response(error_body(grpc.StatusCode.INVALID_ARGUMENT, message, [info]), status=400)


def rpc_error_response(code: grpc.StatusCode, message: str, trailing_metadata) -> web.Response:
    details: list[dict] = []
    for key, value in trailing_metadata or ():
        if key == "grpc-status-details-bin":
            for any_detail in status_pb2.Status.FromString(value).details:
                try:
                    details.append(json_format.MessageToDict(any_detail))
                except (TypeError, json_format.SerializeToJsonError):
                    pass  # a detail type this gateway does not know is left out
    body = error_body(code, message or code.name, details)
    return web.json_response(body, status=HTTP_STATUS.get(code, 500))


def domain_error_response(err: errors.DomainError, headers: dict[str, str] | None = None) -> web.Response:
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": err.reason, "domain": err.domain,
            "metadata": {k: str(v) for k, v in err.metadata.items()}}
    return web.json_response(error_body(err.code, err.message, [info]), status=HTTP_STATUS.get(err.code, 500),
                             headers=headers)


class RestGateway:
    def __init__(self, addresses: dict[str, str], routes: list[Route] | None = None, *,
                 authenticator: edge.Authenticator | None = None, limiter: edge.RateLimiter | None = None,
                 cors_origins: tuple[str, ...] = (), static_dir: Path | None = None,
                 tls: TlsFiles | None = None) -> None:
        """Without an authenticator, credentials go to the services unchecked (they check them).
        tls: the gateway's certificate, for the services on mutual TLS."""
        self.addresses = addresses
        self.tls = tls
        self.routes = routes if routes is not None else route_table()
        self.authenticator, self.limiter = authenticator, limiter
        self.cors_origins = set(cors_origins)
        self.static_dir = static_dir.resolve() if static_dir and static_dir.is_dir() else None
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._openapi: dict | None = None

    def channel(self, service: str) -> grpc.aio.Channel:
        if service not in self._channels:
            self._channels[service] = clients.balanced_channel(self.addresses[service],  # over every replica
                                                               tls=self.tls)
        return self._channels[service]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._measured, self._cors])
        app.router.add_get("/openapi.json", self.openapi_json)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", metrics.metrics_page)
        app.router.add_get("/docs", self.docs)
        app.router.add_static("/docs/assets", SWAGGER_UI)
        app.router.add_post(edge.LOGOUT_PATH, self.logout)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    @web.middleware
    async def _measured(self, request: web.Request, handler) -> web.StreamResponse:
        """Counts and times each request by its route's template, never its path (ids in paths
        would make a series per id)."""
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away first
            raise
        finally:
            resource = request.match_info.route.resource
            route = request.get(ROUTE) or (resource.canonical if resource is not None and
                                             resource.canonical != "/{tail}" else "unmatched")
            method = request.method if request.method in HTTP_METHODS else "OTHER"
            labels = (method, route, str(status))
            metrics.HTTP_REQUESTS.labels(*labels).inc()
            metrics.HTTP_SECONDS.labels(*labels).observe(time.perf_counter() - started)

    @web.middleware
    async def _cors(self, request: web.Request, handler) -> web.StreamResponse:
        """The web app's origins (GATEWAY_CORS_ORIGINS) may call from a browser; others may not."""
        origin = request.headers.get("Origin")
        allowed = origin is not None and origin in self.cors_origins
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if not allowed:
                return web.json_response(error_body(grpc.StatusCode.PERMISSION_DENIED,
                                                    f"origin {origin} may not call this API"), status=403)
            response: web.StreamResponse = web.Response(status=204, headers={
                "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-Id, X-API-Key, X-Copytrade-Session, X-Copytrade-Csrf",
                "Access-Control-Max-Age": "600"})
        else:
            response = await handler(request)
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    async def docs(self, request: web.Request) -> web.Response:
        return web.Response(text=DOCS_PAGE, content_type="text/html")

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

    async def openapi_json(self, request: web.Request) -> web.Response:
        if self._openapi is None:
            self._openapi = openapi.document(self.routes)
        return web.json_response(self._openapi)

    async def healthz(self, request: web.Request) -> web.Response:
        report, healthy = {}, True
        for name in sorted({r.service for r in self.routes}):
            try:
                reply = await health_pb2_grpc.HealthStub(self.channel(name)).Check(
                    health_pb2.HealthCheckRequest(), timeout=2)
                report[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.aio.AioRpcError as err:
                report[name] = err.code().name
            healthy = healthy and report[name] == "SERVING"
        return web.json_response({"healthy": healthy, "services": report}, status=200 if healthy else 503)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        found = match(self.routes, request.method, request.path)
        if found is None:
            if request.method == "GET" and self.static_dir is not None:
                response = self._static(request.path)
                if response.status != 404:  # nothing there: "unmatched", like any unknown path
                    request[ROUTE] = "static"
                return response
            return web.json_response(error_body(grpc.StatusCode.NOT_FOUND, f"no route for {request.method} "
                                                                           f"{request.path}"), status=404)
        route, variables = found
        request[ROUTE] = route.template
        if not tracing.enabled():
            return await self._serve(request, route, variables)
        # A server span per REST call (continuing the caller's trace when it sent a traceparent);
        # the gRPC call below carries it on.
        with tracing.span(f"{request.method} {route.template}", kind=SpanKind.SERVER,
                          parent=tracing.extract(request.headers), attributes={
                              "http.request.method": request.method, "http.route": route.template,
                              "rpc.service": route.method.containing_service.full_name,
                              "rpc.method": route.method.name}) as span:
            response = await self._serve(request, route, variables)
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                tracing.fail(span, f"HTTP {response.status}")
            return response

    async def _serve(self, request: web.Request, route: Route, variables: dict[str, str]) -> web.StreamResponse:
        authorization = request.headers.get("Authorization")
        session_token = request.cookies.get(edge.SESSION_COOKIE)
        if session_token and not authorization and not request.headers.get("X-API-Key"):
            # A browser's session cookie: the token the page itself never sees. Anything but a read
            # must also carry the custom header a cross-site form or image cannot set.
            if request.method not in edge.SAFE_METHODS and request.headers.get(edge.CSRF_HEADER) != "1":
                return domain_error_response(errors.permission_denied(
                    "CSRF_HEADER_REQUIRED", f"a cookie-authenticated {request.method} needs the "
                                            f"{edge.CSRF_HEADER}: 1 header", domain="gateway.copytrade"))
            authorization = f"Bearer {session_token}"
        if self.authenticator is not None:
            try:
                identity = await self.authenticator.identify(route, authorization, request.headers.get("X-API-Key"),
                                                             request.remote or "")
            except edge.EdgeError as err:
                # A refused credential still costs its address a request: guessing tokens or keys
                # is held to the same rate as anything else.
                return self._rate_limited(f"ip:{request.remote or ''}") or domain_error_response(err.error)
            authorization = identity.authorization
            limited = self._rate_limited(identity.subject)
            if limited:
                return limited
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response(error_body(grpc.StatusCode.INVALID_ARGUMENT, f"the request body is over "
                                                f"{MAX_BODY_BYTES} bytes"), status=413)
        try:
            message = build_request(route, variables, list(request.query.items()), body)
        except TranscodeError as err:
            return bad_request(err.message, err.field)
        metadata = self._metadata(request, authorization)
        if route.server_streaming:
            last_id = request.headers.get("Last-Event-ID", "")
            if last_id and RESUME_FIELD in message.DESCRIPTOR.fields_by_name:
                try:
                    setattr(message, RESUME_FIELD, int(last_id))
                except ValueError:  # not a number, or out of the field's range
                    return bad_request("Last-Event-ID is the id of an event of this stream", "Last-Event-ID")
            return await self._stream(request, route, message, metadata)
        call = self.channel(route.service).unary_unary(
            route.grpc_path, request_serializer=type(message).SerializeToString,
            response_deserializer=route.response_class().FromString)
        try:
            reply = await call(message, metadata=metadata, timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as err:
            return rpc_error_response(err.code(), err.details(), err.trailing_metadata())
        if route.grpc_path == edge.LOGIN_RPC and request.headers.get(edge.SESSION_HEADER, "").lower() == "cookie":
            return edge.session_login_response(request, to_json(reply))
        return web.json_response(to_json(reply))

    def _rate_limited(self, subject: str) -> web.Response | None:
        wait = self.limiter.retry_after(subject) if self.limiter else 0
        if not wait:
            return None
        return domain_error_response(errors.resource_exhausted(
            "RATE_LIMITED", f"too many requests; try again in {wait}s", domain="gateway.copytrade",
            retry_after_seconds=wait), headers={"Retry-After": str(wait)})

    async def logout(self, request: web.Request) -> web.Response:
        """Ends the session: compliance revokes the user's tokens (the cookie's, or the bearer's),
        and the cookie is cleared whatever compliance said (a token already void has nothing left
        to end). A cross-site logout needs no CSRF header: it can only sign someone out."""
        authorization = request.headers.get("Authorization")
        if not authorization and request.cookies.get(edge.SESSION_COOKIE):
            authorization = f"Bearer {request.cookies[edge.SESSION_COOKIE]}"
        if authorization:
            call = self.channel("compliance").unary_unary(
                edge.LOGOUT_RPC, request_serializer=LogoutRequest.SerializeToString,
                response_deserializer=LogoutResponse.FromString)
            try:
                await call(LogoutRequest(), metadata=self._metadata(request, authorization), timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.UNAUTHENTICATED and err.code() != grpc.StatusCode.PERMISSION_DENIED:
                    return rpc_error_response(err.code(), err.details(), err.trailing_metadata())
        return edge.session_logout_response(request)

    @staticmethod
    def _metadata(request: web.Request, authorization: str | None) -> tuple[tuple[str, str], ...]:
        metadata = [("x-request-id", request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]),
                    ("x-forwarded-for", request.remote or "")]
        if authorization:  # the services verify it again, and decide ownership
            metadata.append(("authorization", authorization))
        carrier: dict[str, str] = {}
        tracing.inject(carrier)  # the REST call's span goes on in the service (off: nothing)
        metadata.extend(carrier.items())
        return tuple(metadata)

    def _static(self, path: str) -> web.StreamResponse:
        """The web app: a file under the static directory, else its index.html (client routes)."""
        target = (self.static_dir / path.lstrip("/")).resolve()
        if target.is_relative_to(self.static_dir) and target.is_file():
            return web.FileResponse(target)
        index = self.static_dir / "index.html"
        if index.is_file() and not path.startswith(("/v1/", "/api/")):
            return web.FileResponse(index)
        return web.json_response(error_body(grpc.StatusCode.NOT_FOUND, f"nothing at {path}"), status=404)

    async def _stream(self, request: web.Request, route: Route, message, metadata) -> web.StreamResponse:
        call = self.channel(route.service).unary_stream(
            route.grpc_path, request_serializer=type(message).SerializeToString,
            response_deserializer=route.response_class().FromString)(message, metadata=metadata)
        # The service sends its headers once it is subscribed; an error before that (no token,
        # not the owner) is answered as a plain HTTP error instead of an event stream.
        await call.initial_metadata()
        if call.done() and await call.code() != grpc.StatusCode.OK:
            return rpc_error_response(await call.code(), await call.details(), await call.trailing_metadata())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        by_name = route.response_class().DESCRIPTOR.fields_by_name
        await response.prepare(request)
        try:
            async for reply in call:
                event_id = f"id: {getattr(reply, EVENT_ID_FIELD)}\n" if EVENT_ID_FIELD in by_name else ""
                await response.write(f"{event_id}data: {json.dumps(to_json(reply))}\n\n".encode())
        except grpc.aio.AioRpcError as err:
            body = error_body(err.code(), err.details() or "")
            await response.write(f"event: error\ndata: {json.dumps(body)}\n\n".encode())
        except ConnectionResetError:
            pass  # the browser went away
        finally:
            call.cancel()
        return response
