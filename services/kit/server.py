"""The gRPC server bootstrap every service uses: health, reflection, and one interceptor that
authenticates the caller, turns DomainErrors into google.rpc.Status, and logs each call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from services.kit import auth, descriptors, errors, logs, metrics, tls, tracing, validation
from services.kit.config import DEV_SECRET, Settings
from services.kit.periodic import Periodic

log = logging.getLogger("copytrade.rpc")
# Operators' own RPCs (health, reflection) need no token and are not logged per call.
_INFRA_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
# How long a client connection lives before the server asks the client to reconnect (calls under
# way finish first): the longest a new replica waits for its share of the mesh's calls.
SERVER_MAX_CONNECTION_AGE_MS = 60_000
# The codes a server span reports as its own failure (OTel's RPC conventions); a refusal such
# as NOT_FOUND or PERMISSION_DENIED is the caller's problem, not the server's.
_SERVER_ERRORS = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNIMPLEMENTED,
                  grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS}
_NO_SPAN = contextlib.nullcontext()
PROBE_TIMEOUT_S = 2.0  # a database or NATS slower than this to answer counts as down
Probe = Callable[[], Awaitable[bool]]


def _screen(request) -> None:
    """What any service refuses from users before its own code runs: text with NUL, which
    PostgreSQL cannot hold (the mesh's own calls carry what was screened where it came in)."""
    if not auth.current().is_service:
        validation.reject_nul(request)


@dataclass(frozen=True)
class Registration:
    """One gRPC service to serve: its full name (for health and reflection) and how to add it."""

    full_name: str
    add_to_server: Callable[[object, grpc.aio.Server], None]
    servicer: object


class KitInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, service: str, jwt_secret: str, versions: auth.TokenVersions | None = None) -> None:
        self._service = service
        self._secret = jwt_secret
        self._versions = versions  # login tokens are checked against their user's current version
        # Verified tokens by their text: the mesh re-sends the same service token on every call,
        # and an HMAC check per call would cost more than the call itself.
        self._verified: dict[str, auth.Caller] = {}

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        handler = await continuation(details)
        if handler is None or details.method.startswith(_INFRA_PREFIXES):
            return handler
        method = details.method
        metadata = tuple(details.invocation_metadata or ())
        if handler.unary_unary:
            inner = handler.unary_unary

            async def unary_unary(request, context):
                with self._span(method, metadata):
                    rid, token, started = await self._enter(method, metadata, context)
                    try:
                        _screen(request)
                        response = await inner(request, context)
                        self._log(method, rid, "OK", started)
                        return response
                    except Exception as exc:  # noqa: BLE001 - every failure becomes a status
                        await self._fail(exc, method, rid, started, context)
                    finally:
                        if token:
                            auth.reset_current(token)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer)
        if handler.unary_stream:
            inner_stream = handler.unary_stream

            async def unary_stream(request, context):
                with self._span(method, metadata):
                    rid, token, started = await self._enter(method, metadata, context)
                    try:
                        _screen(request)
                        async for response in inner_stream(request, context):
                            yield response
                        self._log(method, rid, "OK", started)
                    except Exception as exc:  # noqa: BLE001
                        await self._fail(exc, method, rid, started, context)
                    finally:
                        if token:
                            auth.reset_current(token)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer)
        return handler  # client- and bidi-streaming: none in our contracts yet

    @staticmethod
    def _span(method: str, metadata):
        """The call's server span, a child of the caller's (traceparent in the metadata)."""
        if not tracing.enabled():
            return _NO_SPAN
        service, _, name = method.lstrip("/").rpartition("/")
        return tracing.span(method.lstrip("/"), kind=SpanKind.SERVER, parent=tracing.extract(metadata),
                            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
                            exceptions_fail=False)  # _log sets the status from the call's outcome

    async def _enter(self, method, metadata, context):
        rid = next((v for k, v in metadata if k == "x-request-id"), None) or uuid.uuid4().hex[:16]
        logs.request_id.set(rid)  # this call's task only: its log lines and onward calls carry it
        started = time.perf_counter()
        token_str = auth.bearer(metadata)
        if token_str is None:
            return rid, None, started
        try:
            caller = self._verify(token_str)
            if self._versions is not None:
                await self._versions.check(caller)
        except errors.DomainError as exc:
            self._log(method, rid, exc.reason, started, exc.code)
            status = exc.to_status()
            await context.abort(status.code, status.details, status.trailing_metadata)
        return rid, auth.set_current(caller), started

    def _verify(self, token: str) -> auth.Caller:
        caller = self._verified.get(token)
        if caller is not None and caller.expires_at > time.time():
            return caller
        caller = auth.verify_token(self._secret, token)
        if len(self._verified) >= 10_000:
            self._verified.clear()
        self._verified[token] = caller
        return caller

    async def _fail(self, exc: Exception, method: str, rid: str, started: float, context) -> None:
        if isinstance(exc, errors.DomainError):
            self._log(method, rid, exc.reason, started, exc.code)
            status = exc.to_status()
            await context.abort(status.code, status.details, status.trailing_metadata)
        if isinstance(exc, asyncio.CancelledError) or type(exc).__name__ == "AbortError":
            raise exc  # a deliberate context.abort() or a cancelled call
        if isinstance(exc, NotImplementedError):  # declared in the contract, not built yet
            self._log(method, rid, "UNIMPLEMENTED", started, grpc.StatusCode.UNIMPLEMENTED)
            unimplemented = errors.DomainError(grpc.StatusCode.UNIMPLEMENTED, "NOT_IMPLEMENTED",
                                               f"{method} is not implemented yet")
            status = unimplemented.to_status()
            await context.abort(status.code, status.details, status.trailing_metadata)
        self._log(method, rid, "INTERNAL", started, grpc.StatusCode.INTERNAL)
        log.exception("%s %s failed (request %s)", self._service, method, rid)
        internal = errors.DomainError(grpc.StatusCode.INTERNAL, "INTERNAL",
                                      f"internal error (request id {rid})", metadata={"request_id": rid})
        status = internal.to_status()
        await context.abort(status.code, status.details, status.trailing_metadata)

    def _log(self, method: str, rid: str, outcome: str, started: float,
             code: grpc.StatusCode = grpc.StatusCode.OK) -> None:
        elapsed = time.perf_counter() - started
        name = method.rsplit("/", 1)[-1]
        if tracing.enabled():
            span = trace.get_current_span()
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            span.set_attribute("copytrade.outcome", outcome)
            span.set_attribute("copytrade.request_id", rid)  # the id the log lines carry
            if code in _SERVER_ERRORS:
                tracing.fail(span, outcome)
        metrics.GRPC_CALLS.labels(self._service, name, outcome).inc()
        metrics.GRPC_SECONDS.labels(self._service, name).observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            caller = auth.current().subject or "-"
            log.info("rpc %s %s caller=%s request=%s %.2fms", method, outcome, caller, rid,
                     (time.perf_counter() - started) * 1000)


@dataclass
class RunningService:
    """A started service: its server, bound port, health, and what to close when it stops."""

    name: str
    server: grpc.aio.Server
    port: int
    health: HealthServicer
    cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    http_port: int | None = None  # the gateway's REST listener, when it has one
    metrics_port: int | None = None  # where /metrics is served, when it is
    components: dict[str, object] = field(default_factory=dict)  # named parts tests may drive directly

    async def stop(self, grace: float = 2.0) -> None:
        await self.health.enter_graceful_shutdown()  # NOT_SERVING first, so balancers move away
        await self.server.stop(grace)
        for cleanup in reversed(self.cleanups):
            await cleanup()


async def _probed(probe: Probe) -> bool:
    try:
        return bool(await asyncio.wait_for(probe(), PROBE_TIMEOUT_S))
    except Exception:  # noqa: BLE001 - any failure is "not ready"
        return False


def readiness(name: str, health: HealthServicer, services: Sequence[str], probes: Sequence[Probe]):
    """The job that keeps health at readiness: NOT_SERVING while any probe fails (a balancer
    sends the calls elsewhere meanwhile), SERVING once all pass again."""
    serving = True

    async def check() -> None:
        nonlocal serving
        ready = all(await asyncio.gather(*(_probed(p) for p in probes)))
        if ready != serving:
            serving = ready
            status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
            (log.info if ready else log.warning)("%s: %s", name, "ready again" if ready else
                                                 "database or NATS unavailable; NOT_SERVING")
            for service in services:
                await health.set(service, status)
    return check


async def start_grpc_server(settings: Settings, registrations: Sequence[Registration],
                            cleanups: Sequence[Callable[[], Awaitable[None]]] = (), *,
                            versions: auth.TokenVersions | None = None, probes: Sequence[Probe] = ()) -> RunningService:
    """Bind settings.listen (port 0 picks a free one; on mutual TLS when settings.tls says), add
    health and reflection, start. Login tokens are checked against `versions` (by default: see
    kit/revocations.py). Health follows `probes` (the service's database's and bus's `ready`),
    re-checked every settings.health_check_s."""
    cleanups = list(cleanups)
    if versions is None:
        from services.kit.revocations import token_versions

        versions, closers = await token_versions(settings)
        cleanups[:0] = closers  # closed last, after the service's own parts
    server = grpc.aio.server(
        interceptors=[KitInterceptor(settings.service, settings.jwt_secret, versions)],
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 * 1024 * 1024),
                 # The mesh's clients ping every 20 s to find dead peers (services/kit/clients.py).
                 ("grpc.keepalive_permit_without_calls", 1),
                 ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
                 # A connection is closed (GOAWAY; calls under way finish) after this long, so a
                 # client re-resolves DNS and balances over replicas started since.
                 ("grpc.max_connection_age_ms", SERVER_MAX_CONNECTION_AGE_MS)],
    )
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for reg in registrations:
        reg.add_to_server(reg.servicer, server)
    names = [reg.full_name for reg in registrations]
    descriptors.enable_reflection([*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                                   reflection.SERVICE_NAME], server)
    if settings.tls:  # mutual: only callers holding a certificate from the mesh's CA get in
        port = server.add_secure_port(settings.listen, tls.server_credentials(settings.tls))
    else:
        port = server.add_insecure_port(settings.listen)
    if port == 0:
        raise RuntimeError(f"{settings.service}: cannot listen on {settings.listen}")
    await server.start()
    for name in ["", *names]:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    running = RunningService(settings.service, server, port, health, cleanups)
    if probes:
        checker = Periodic(f"{settings.service}-health", settings.health_check_s,
                           readiness(settings.service, health, ["", *names], probes)).start()
        running.cleanups.append(checker.stop)  # stopped first
    running.components["token_versions"] = versions
    if settings.metrics_listen:
        runner, running.metrics_port = await metrics.serve_metrics(settings.metrics_listen)
        running.cleanups.insert(0, runner.cleanup)
    return running


def secrets_missing(settings: Settings) -> list[str]:
    """The secrets a service started from the environment must be given (none has a usable default)."""
    missing = ["JWT_SECRET"] if settings.jwt_secret == DEV_SECRET else []
    if settings.service == "compliance" and settings.master_key == DEV_SECRET:
        missing.append("MASTER_KEY")
    if settings.service == "replication" and not settings.fill_signing_key:
        missing.append("FILL_SIGNING_KEY")
    if settings.service in ("discovery", "compliance") and not settings.fill_verify_key:
        missing.append("FILL_VERIFY_KEY")
    return missing


EVENT_LOOPS = ("uvloop", "asyncio")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the event loop named by EVENT_LOOP (None: asyncio's default)."""
    if name not in EVENT_LOOPS:
        raise ValueError(f"EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}, not {name!r}")
    if name == "asyncio":
        return None
    import uvloop

    return uvloop.new_event_loop


def run_forever(create: Callable[[Settings], Awaitable[RunningService]], settings: Settings) -> None:
    """What each service's __main__ does: start, print the address, stop cleanly on a signal."""
    from services.kit.logs import configure_logging

    missing = secrets_missing(settings)
    if missing:  # the development default is public: anyone could mint any token with it
        print(f"copytrade {settings.service}: set {' and '.join(missing)} (JWT_SECRET and MASTER_KEY: long random "
              "values, the same for every service; the FILL_ keys: a pair from `python -m services.kit.fillsign`; "
              "`copytrade up` generates them all per data directory)", file=sys.stderr)
        raise SystemExit(2)
    try:
        new_loop = loop_factory(settings.event_loop)
    except ValueError as exc:
        print(f"copytrade {settings.service}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    os.umask(0o077)  # the files it makes (a SQLite database, its journal) are its user's alone
    configure_logging(settings.service, settings.log_level, settings.log_format)
    provider = tracing.configure(settings.service, settings.otel_exporter)

    async def main() -> None:
        running = await create(settings)
        host = settings.listen.rsplit(":", 1)[0]
        logging.getLogger("copytrade").info("%s listening on %s:%d%s, on %s", settings.service, host, running.port,
                                            " (mutual TLS)" if settings.tls else "", settings.event_loop)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await running.stop()

    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(main())
    finally:
        if provider is not None:
            provider.shutdown()  # sends the spans still in the batch
