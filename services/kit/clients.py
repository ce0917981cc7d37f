"""Calling other services: one channel per target, with a service token on every call."""

from __future__ import annotations

import time

import grpc

from services.kit import auth, logs
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

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = list(details.metadata or ())
        if not any(k == "authorization" for k, _ in metadata):
            metadata.append(("authorization", self._header()))
        rid = logs.request_id.get()
        if rid and not any(k == "x-request-id" for k, _ in metadata):  # one id across the mesh
            metadata.append(("x-request-id", rid))
        return details._replace(metadata=metadata)

    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(self._with_token(details), request)

    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(self._with_token(details), request)


def channel(settings: Settings, target: str) -> grpc.aio.Channel:
    """A channel to service `target` (by name) that authenticates as settings.service."""
    return grpc.aio.insecure_channel(
        settings.addresses[target], interceptors=[_ServiceToken(settings.jwt_secret, settings.service)]
    )
