"""Prometheus metrics after real copies: the copy-stage latency histograms, the refusal and
venue-error counters and the retries-pending gauge move, gRPC calls are counted by method and
outcome, and the JetStream backlog is reported, scraped from /metrics."""

import aiohttp
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from tests.replication.test_copy_flow import enrol


@pytest_asyncio.fixture
async def observed(copy_mesh):
    started = await copy_mesh(seed=51, metrics_listen="127.0.0.1:0")
    return started.sim, ComplianceServiceStub(started.compliance.channel), \
        ReplicationServiceStub(started.replication.channel), started.replication.running.metrics_port


async def scrape(port: int) -> dict[tuple[str, tuple], float]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as reply:
        assert reply.status == 200 and reply.content_type == "text/plain"
        text = await reply.text()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples, name, **labels) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


async def test_a_copy_and_a_refusal_move_the_metrics(observed, token_for):
    sim, compliance, replication, port = observed
    before = await scrape(port)
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    for name, settings in (("copier", rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
                           ("denier", rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
                                                       denied_symbols=["BTC/USDT"])),
                           ("limited", rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1"))):
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
        if name == "limited":  # the venue answers its next request with 429: a retry in 10 minutes
            # -1015, this account's order count: the other followers' orders do not wait for it.
            sim.inject(kind="rate_limit", account=user, code=-1015, retry_after=600,
                       msg="Too many new orders; current limit is 50 orders per 10 SECOND.")
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id, settings=settings),
            metadata=token_for(user))
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-metrics", symbol="BTC/USDT",
        side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))

    async def moved():
        after = await scrape(port)
        acked = value(after, "copytrade_copy_stage_seconds_count", venue="binance", stage="acknowledged") - \
            value(before, "copytrade_copy_stage_seconds_count", venue="binance", stage="acknowledged")
        refused = value(after, "copytrade_copy_refusals_total", reason="SYMBOL_DENIED") - \
            value(before, "copytrade_copy_refusals_total", reason="SYMBOL_DENIED")
        limited = value(after, "copytrade_venue_errors_total", venue="binance", kind="RATE_LIMIT") - \
            value(before, "copytrade_venue_errors_total", venue="binance", kind="RATE_LIMIT")
        pending = value(after, "copytrade_retries_pending", error_type="RATE_LIMIT")
        assert acked >= 1 and refused >= 1 and limited >= 1 and pending >= 1, \
            f"acknowledged {acked}, refused {refused}, rate-limited {limited}, retries pending {pending}"
        return after
    after = await eventually(moved, timeout=30, message="latency, refusal, venue-error and retry metrics moved")
    # Each stage's latency is recorded, in order along the path.
    stages = [value(after, "copytrade_copy_stage_seconds_sum", venue="binance", stage=s) -
              value(before, "copytrade_copy_stage_seconds_sum", venue="binance", stage=s)
              for s in ("received", "risk_decided", "sent", "acknowledged")]
    assert all(s > 0 for s in stages) and stages == sorted(stages)
    assert value(after, "copytrade_grpc_calls_total", service="replication", method="SubmitMasterFill",
                 code="OK") >= 1
    assert value(after, "copytrade_grpc_calls_total", service="risk", method="ReserveOrders", code="OK") >= 1  # one call per fill
    assert ("copytrade_consumer_pending_messages", (("consumer", "replication"), ("stream", "FILLS"))) in after
