"""OpenTelemetry traces: a master signal sent to the gateway's REST API makes ONE trace through
the gateway, replication (the gRPC call, the JetStream hop, the worker's batch of the fill's
copies), risk's ReserveOrders and the order at the venue. Every service runs in this process, so one in-memory
exporter sees them all. With tracing off (the default) nothing is recorded or sent along."""

import asyncio
import json
import logging
import secrets
from decimal import Decimal

import aiohttp
import grpc
import pytest
import pytest_asyncio
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from services.kit import tracing
from services.kit.bus import Bus
from services.kit.config import Settings
from services.kit.logs import JsonFormatter
from services.kit.testing import eventually
from services.replication.fills import fill_subject
from services.replication.venues.base import ErrorKind, OrderRequest, VenueError
from services.replication.venues.ccxt_venue import CcxtVenue
from venue_sim import ccxt_config
from tests.replication.test_copy_flow import enrol


@pytest.fixture
def spans():
    """Tracing on for this test, into memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = tracing.install(provider)
    yield exporter
    tracing.install(previous)


@pytest_asyncio.fixture
async def signal_route(copy_mesh, start_service, nats_server, token_for):
    """A master followed by one follower, the gateway's REST API in front of the mesh, and a
    function that posts a master fill to POST /v1/master-fills and waits for the copy."""
    mesh = await copy_mesh(seed=53)
    addresses = {**mesh.replication.settings.addresses, "compliance": mesh.compliance.address,
                 "risk": mesh.risk.address, "replication": mesh.replication.address}
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0")
    compliance, replication = ComplianceServiceStub(mesh.compliance.channel), \
        ReplicationServiceStub(mesh.replication.channel)
    master, master_sim, master_account = await enrol(mesh.sim, compliance, replication, token_for, "m",
                                                     rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    follower, _, account = await enrol(mesh.sim, compliance, replication, token_for, "f", rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")), metadata=token_for(follower))
    bus = await Bus.connect(nats_server.url, "test-tracing")
    headers = dict(token_for(master))
    headers["Authorization"] = headers.pop("authorization")

    async def signal(trade_id: str, extra_headers: dict[str, str] | None = None):
        """Post the fill; wait until the follower's copy is at the venue; return the JetStream message."""
        async with aiohttp.ClientSession() as http:
            reply = await http.post(f"http://127.0.0.1:{gateway.running.http_port}/v1/master-fills",
                                    headers={**headers, **(extra_headers or {})}, json={
                                        "masterAccountId": master_account.account_id, "venueTradeId": trade_id,
                                        "symbol": "BTC/USDT", "side": "SIDE_BUY", "quantity": "0.01",
                                        "price": "64000"})
            assert reply.status == 200, await reply.text()
        await eventually(lambda: any(o.client_order_id for o in mesh.sim.orders(follower)),
                         message="the copy reached the follower's venue account")
        return await bus.js.get_last_msg("FILLS", fill_subject(master_account.account_id))

    async def trade_on_master():
        """The master trades at the venue; replication sees it on the master's own stream."""
        await eventually(lambda: bool(mesh.sim._streams.get(master_sim.api_key)), message="master stream watched")
        venue = CcxtVenue("binance", api_key=master_sim.api_key, secret=master_sim.secret,
                          config=ccxt_config(mesh.sim.url, rate_limit=False))
        try:
            await venue.place_order(OrderRequest("master-order-1", "BTC/USDT", "buy", Decimal("0.01")))
        finally:
            await venue.close()
        await eventually(lambda: any(o.client_order_id for o in mesh.sim.orders(follower)),
                         message="the copy reached the follower's venue account")

    signal.trade_on_master = trade_on_master
    yield signal
    await bus.close()


def ancestry(span, by_id) -> list:
    chain = [span]
    while chain[-1].parent is not None and chain[-1].parent.span_id in by_id:
        chain.append(by_id[chain[-1].parent.span_id])
    return chain


async def test_a_rest_signal_is_one_trace_through_gateway_replication_risk_and_venue(signal_route, spans):
    trace_id = secrets.token_hex(16)  # the caller's own trace, continued by the gateway
    fill_msg = await signal_route("T-traced", {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    # The master fill travels on JetStream with the trace in its headers.
    assert fill_msg.headers["traceparent"].split("-")[1] == trace_id

    def copy_finished():  # the copy workers' span for the fill ends once its copies are recorded
        ours = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
        return ours if any(s.name == "process fills" and s.attributes["messaging.consumer.group.name"] == "replication"
                           for s in ours) else None
    ours = await eventually(copy_finished, message="the copy's spans in the caller's trace")
    by_id = {s.context.span_id: s for s in ours}
    named = {(s.name, s.kind) for s in ours}
    assert {("POST /v1/master-fills", SpanKind.SERVER),  # the gateway
            ("copytrade.replication.v1.ReplicationService/SubmitMasterFill", SpanKind.SERVER),
            ("publish fills", SpanKind.PRODUCER), ("process fills", SpanKind.CONSUMER),  # the JetStream hop
            ("copy fill", SpanKind.INTERNAL), ("copy sizing", SpanKind.INTERNAL),  # the worker's batch
            ("copytrade.risk.v1.RiskInternalService/ReserveOrders", SpanKind.CLIENT),  # one call per fill
            ("copytrade.risk.v1.RiskInternalService/ReserveOrders", SpanKind.SERVER),  # risk
            ("venue create_order", SpanKind.CLIENT)} <= named
    # One chain of parents, from the order at the venue back to the REST call.
    venue = next(s for s in ours if s.name == "venue create_order")
    assert venue.attributes["copytrade.venue"] == "binance"
    chain = ancestry(venue, by_id)
    assert [s.name for s in chain] == [
        "venue create_order", "copy fill", "process fills", "publish fills",
        "copytrade.replication.v1.ReplicationService/SubmitMasterFill", "POST /v1/master-fills"]
    assert chain[2].attributes["messaging.consumer.group.name"] == "replication"  # the copy workers' durable
    risk_server = next(s for s in ours if s.name.endswith("ReserveOrders") and s.kind == SpanKind.SERVER)
    assert [s.name for s in ancestry(risk_server, by_id)][1:3] == [
        "copytrade.risk.v1.RiskInternalService/ReserveOrders", "copy fill"]  # client span, then the batch
    assert risk_server.attributes["rpc.grpc.status_code"] == 0
    assert risk_server.attributes["copytrade.request_id"]  # finds the call's log lines
    gateway = next(s for s in ours if s.name == "POST /v1/master-fills")
    assert gateway.parent.is_remote and gateway.attributes["http.response.status_code"] == 200


async def test_a_fill_on_the_masters_stream_is_one_trace_to_the_followers_order(signal_route, spans):
    await signal_route.trade_on_master()

    def copy_finished():
        finished = spans.get_finished_spans()
        by_id = {s.context.span_id: s for s in finished}
        for venue in (s for s in finished if s.name == "venue create_order"):
            chain = [s.name for s in ancestry(venue, by_id)]
            if chain[-1] == "master fill":  # the follower's order, not the master's own
                return chain
        return None
    chain = await eventually(copy_finished, message="the follower order's span in the master fill's trace")
    assert chain == ["venue create_order", "copy fill", "process fills", "publish fills", "master fill"]


async def test_tracing_off_records_nothing_and_sends_no_trace_headers(signal_route):
    assert not tracing.enabled()  # the default
    fill_msg = await signal_route("T-untraced")  # the copy still happens
    assert "traceparent" not in (fill_msg.headers or {})
    record = logging.LogRecord("copytrade.test", logging.INFO, __file__, 1, "a line", None, None)
    with tracing.span("nothing") as span:
        assert not span.is_recording()
        assert "trace_id" not in json.loads(JsonFormatter("risk").format(record))


def test_json_log_lines_carry_the_trace_and_span_ids(spans):
    record = logging.LogRecord("copytrade.test", logging.INFO, __file__, 1, "inside a span", None, None)
    with tracing.span("work") as span:
        line = json.loads(JsonFormatter("risk").format(record))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "trace_id" not in json.loads(JsonFormatter("risk").format(record))  # outside any span


def test_the_exporter_is_chosen_by_otel_traces_exporter():
    assert Settings.from_env("risk", {}).otel_exporter == "none"
    assert Settings.from_env("risk", {"OTEL_TRACES_EXPORTER": "OTLP"}).otel_exporter == "otlp"
    assert tracing.configure("risk", "none") is None and not tracing.enabled()
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        tracing.configure("risk", "jaeger")


@pytest.mark.parametrize("on", [False, True])
def test_a_venue_error_passes_through_spans_unchanged(request, on):
    """Venue errors are frozen dataclasses: a span they leave must neither alter nor hide them."""
    exporter = request.getfixturevalue("spans") if on else None
    error = VenueError(ErrorKind.RATE_LIMIT, "slow down", retry_after=2)
    with pytest.raises(VenueError) as raised:
        with tracing.span("venue create_order"):
            raise error
    assert raised.value is error
    if on:
        [span] = exporter.get_finished_spans()
        assert span.status.status_code == StatusCode.ERROR and span.status.description == "VenueError"


async def test_otlp_sends_the_spans_to_the_configured_collector(monkeypatch):
    """OTEL_TRACES_EXPORTER=otlp: spans reach the OTLP/gRPC receiver at OTEL_EXPORTER_OTLP_ENDPOINT
    (here a real gRPC server speaking the collector's TraceService), named after the service."""
    received = []

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(self, request, context):
            received.extend((resource.resource, span) for resource in request.resource_spans
                            for scope in resource.scope_spans for span in scope.spans)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    provider = tracing.configure("risk", "otlp")
    try:
        with tracing.span("reserve"):
            pass
    finally:
        tracing.install(None)
        await asyncio.to_thread(provider.shutdown)  # flushes the batch (the exporter's own thread)
    try:
        await eventually(lambda: received, message="the span at the collector")
    finally:
        await server.stop(0)
    resource, span = received[0]
    assert span.name == "reserve"
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == "copytrade-risk"
