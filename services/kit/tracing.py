"""OpenTelemetry traces across the mesh, off by default.

OTEL_TRACES_EXPORTER=otlp (to OTEL_EXPORTER_OTLP_ENDPOINT, gRPC, default localhost:4317) or
=console turns them on for a process; none (the default) leaves every helper here a no-op that
costs one attribute read. The W3C `traceparent` travels in gRPC metadata (kit server and client
interceptors), in NATS message headers (kit bus) and in from HTTP (the gateway), so a master
fill makes one trace: REST → gateway → replication → NATS → worker → risk → venue.

One provider per process (a service is a process); tests install their own with `install`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, MutableMapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

log = logging.getLogger("copytrade.tracing")
EXPORTERS = ("none", "otlp", "console")
_INVALID = trace.INVALID_SPAN
_tracer: trace.Tracer | None = None  # None: tracing is off
_provider = None


def enabled() -> bool:
    return _tracer is not None


def install(provider) -> object:
    """Make `provider` (an SDK TracerProvider, or None for off) the one this process traces with;
    returns the previous one. configure() uses it; so do tests (with an in-memory exporter)."""
    global _tracer, _provider
    previous = _provider
    _provider = provider
    _tracer = provider.get_tracer("copytrade") if provider is not None else None
    return previous


def configure(service: str, exporter: str) -> object | None:
    """Set up this process's tracer provider (service.name = copytrade-<service>) with the chosen
    exporter, batched; returns the provider (to shut down, which flushes) or None when off."""
    exporter = (exporter or "none").lower()
    if exporter not in EXPORTERS:
        raise ValueError(f"OTEL_TRACES_EXPORTER must be one of {', '.join(EXPORTERS)}, not {exporter!r}")
    if exporter == "none":
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    if exporter == "otlp":  # endpoint, headers, TLS from the standard OTEL_EXPORTER_OTLP_* variables
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter()
    else:
        span_exporter = ConsoleSpanExporter(service_name=f"copytrade-{service}")
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"copytrade-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    install(provider)
    log.info("tracing on: %s exporter", exporter)
    return provider


class _CurrentSpan:
    """A span made current for a block. A class, not a generator context manager: contextlib's
    would rewrite the __traceback__ of exceptions passing through, which frozen ones refuse."""

    __slots__ = ("_span", "_token", "_exceptions_fail")

    def __init__(self, span: trace.Span, exceptions_fail: bool) -> None:
        self._span, self._exceptions_fail, self._token = span, exceptions_fail, None

    def __enter__(self) -> trace.Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc is not None and self._exceptions_fail and isinstance(exc, Exception):
                self._span.record_exception(exc)
                self._span.set_status(Status(StatusCode.ERROR, exc_type.__name__))
            self._span.end()
        finally:
            otel_context.detach(self._token)
        return False


_OFF = contextlib.nullcontext(_INVALID)


def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, parent: otel_context.Context | None = None,
         attributes: Mapping[str, object] | None = None, exceptions_fail: bool = True):
    """`with span(...) as s:` a span around a block, current inside it (a child of `parent`, else
    of the current span). An exception leaving the block marks it failed (unless exceptions_fail
    is False: the caller sets the status). Off: a span that records nothing."""
    if _tracer is None:
        return _OFF
    return _CurrentSpan(_tracer.start_span(name, context=parent, kind=kind, attributes=attributes), exceptions_fail)


def start(name: str, *, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, object] | None = None):
    """A started span that is not made current (the caller ends it), or None when off."""
    return None if _tracer is None else _tracer.start_span(name, kind=kind, attributes=attributes)


def extract(carrier: Mapping[str, str] | Sequence[tuple[str, str]] | None) -> otel_context.Context | None:
    """The caller's context from headers or gRPC metadata (a mapping or key/value pairs)."""
    if _tracer is None or not carrier:
        return None
    if not isinstance(carrier, Mapping):
        carrier = {k: v for k, v in carrier if isinstance(v, str)}
    return propagate.extract(carrier)


def inject(carrier: MutableMapping[str, str], within=None) -> None:
    """Write the current span's context (or that of span `within`) into headers; off: nothing."""
    if _tracer is None:
        return
    propagate.inject(carrier, context=trace.set_span_in_context(within) if within is not None else None)


def fail(current: trace.Span | None = None, description: str = "") -> None:
    """Mark a span (by default the current one) failed."""
    if _tracer is not None:
        (current or trace.get_current_span()).set_status(Status(StatusCode.ERROR, description))


def ids() -> tuple[str, str] | None:
    """The current trace id and span id in hex (for log lines), or None outside a span."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
