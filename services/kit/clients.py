"""Calling other services: one channel per target, with a service token on every call."""

from __future__ import annotations

import time

import grpc

from opentelemetry.trace import SpanKind

from services.kit import auth, logs, tracing
from services.kit.config import Settings


class _ServiceToken(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, secret: str, service: str) -> None:
        self._secret = secret
        self._service = service
        self._token = ""
        self._renew_at = 0.0

    def _header(self) -> str:
        # Minting a JWT per call would cost more than the call; renew at half its lifetime.
        now = time.monotonic()
        if now >= self._renew_at:
            self._token = f"Bearer {auth.service_token(self._secret, self._service)}"
            self._renew_at = now + auth.SERVICE_TOKEN_TTL / 2
        return self._token

    def _with_token(self, details: grpc.aio.ClientCallDetails, span=None) -> grpc.aio.ClientCallDetails:
        metadata = list(details.metadata or ())
        if not any(k == "authorization" for k, _ in metadata):
            metadata.append(("authorization", self._header()))
        rid = logs.request_id.get()
        if rid and not any(k == "x-request-id" for k, _ in metadata):  # one id across the mesh
            metadata.append(("x-request-id", rid))
        if tracing.enabled():  # the trace goes on in the called service (traceparent)
            carrier: dict[str, str] = {}
            tracing.inject(carrier, within=span)
            metadata.extend(carrier.items())
        return details._replace(metadata=metadata)

    async def intercept_unary_unary(self, continuation, details, request):
        if not tracing.enabled():
            return await continuation(self._with_token(details), request)
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        span = tracing.start(method.lstrip("/"), kind=SpanKind.CLIENT,
                             attributes={"rpc.system": "grpc", "rpc.method": method.rsplit("/", 1)[-1]})
        try:
            call = await continuation(self._with_token(details, span), request)
            code = await call.code()  # the span lasts until the answer (the caller still awaits the call)
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code != grpc.StatusCode.OK:
                tracing.fail(span, code.name)
            return call
        finally:
            span.end()

    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(self._with_token(details), request)


def channel(settings: Settings, target: str) -> grpc.aio.Channel:
    """A channel to service `target` (by name) that authenticates as settings.service."""
    return grpc.aio.insecure_channel(
        settings.addresses[target], interceptors=[_ServiceToken(settings.jwt_secret, settings.service)]
    )
