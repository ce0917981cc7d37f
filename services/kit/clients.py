"""Calling other services: one channel per target, with a service token on every call.

A channel balances over every replica of its target: the address is resolved through DNS (in
compose, a service name answers with each of its containers) and calls go round-robin over the
answer; keepalive pings find a dead peer between calls; reads (Get*/List*: no side effects) are
retried on UNAVAILABLE, so a replica going away mid-call costs a retry on another, not an error.
Servers close connections after SERVER_MAX_CONNECTION_AGE_MS (services/kit/server.py), so a
client re-resolves and finds replicas added since.
"""

from __future__ import annotations

import json
import time
from functools import cache

import grpc

from opentelemetry.trace import SpanKind

from services.kit import auth, logs, tracing
from services.kit import tls as kit_tls
from services.kit.config import Settings, TlsFiles


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


# Pings every 20 s (the servers accept one per 10 s: server.py), a peer silent 10 s after one is dead.
KEEPALIVE_TIME_MS = 20_000
KEEPALIVE_TIMEOUT_MS = 10_000
READ_PREFIXES = ("Get", "List")  # by the API's naming rule, these only read
READ_RETRY = {"maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "1s", "backoffMultiplier": 2,
              "retryableStatusCodes": ["UNAVAILABLE"]}


def _services():
    from copytrade.compliance.v1 import compliance_internal_service_pb2, compliance_service_pb2
    from copytrade.discovery.v1 import discovery_service_pb2
    from copytrade.gateway.v1 import gateway_service_pb2
    from copytrade.replication.v1 import error_recovery_service_pb2, replication_service_pb2
    from copytrade.risk.v1 import risk_internal_service_pb2, risk_service_pb2

    for module in (compliance_internal_service_pb2, compliance_service_pb2, discovery_service_pb2,
                   gateway_service_pb2, error_recovery_service_pb2, replication_service_pb2,
                   risk_internal_service_pb2, risk_service_pb2):
        yield from module.DESCRIPTOR.services_by_name.values()


def read_methods() -> list[tuple[str, str]]:
    """(service, method) of every unary read of the mesh's APIs: what may be retried."""
    return [(service.full_name, method.name) for service in _services() for method in service.methods
            if method.name.startswith(READ_PREFIXES) and not method.client_streaming
            and not method.server_streaming]


@cache
def service_config() -> str:
    """The gRPC service config every internal channel carries: round_robin, and the read retry."""
    return json.dumps({
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [{"name": [{"service": s, "method": m} for s, m in read_methods()],
                          "retryPolicy": READ_RETRY}],
    })


def channel_options() -> list[tuple[str, object]]:
    return [
        ("grpc.service_config", service_config()),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def target(address: str) -> str:
    """A gRPC target that resolves host:port through DNS (every address in the answer); one
    with a scheme already (dns:, ipv4:, unix:) is used as it is."""
    return address if ":///" in address or address.split(":", 1)[0] in ("ipv4", "ipv6", "unix") \
        else f"dns:///{address}"


def balanced_channel(address: str, interceptors=None, *, tls: TlsFiles | None = None) -> grpc.aio.Channel:
    """A channel balanced over every replica `address` resolves to, carrying no token of its
    own (the gateway's REST facade passes on its callers' credentials). With `tls`, mutual TLS:
    the server must hold a certificate from the CA for the name dialled, and is shown ours.
    Every channel to a service is made here, the tools' too (tls.tool_files(data_dir))."""
    if tls is None:
        return grpc.aio.insecure_channel(target(address), options=channel_options(), interceptors=interceptors)
    options = channel_options()
    if address.startswith("ipv4:"):  # a list of addresses names no one host: each server must hold the first's
        first_host = address.removeprefix("ipv4:").split(",")[0].rsplit(":", 1)[0]
        options.append(("grpc.ssl_target_name_override", first_host))
    return grpc.aio.secure_channel(target(address), kit_tls.channel_credentials(tls), options=options,
                                   interceptors=interceptors)


def channel(settings: Settings, target_name: str) -> grpc.aio.Channel:
    """A channel to service `target_name` (by name) that authenticates as settings.service,
    balanced over every replica the address resolves to, on TLS when settings.tls says."""
    return balanced_channel(settings.addresses[target_name],
                            [_ServiceToken(settings.jwt_secret, settings.service)], tls=settings.tls)
