"""Error recovery through the mesh, with the simulator's fault injection: an order whose answer
was lost is looked up, not re-sent; a 429 waits what the venue said; retries follow their
schedule (driven by a controllable clock); two processors never run one retry twice; and
reconciliation finds a manual trade on a follower's account and repairs it per policy."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest
import pytest_asyncio

from copytrade.replication.v1 import error_recovery_service_pb2 as er
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.error_recovery_service_pb2_grpc import ErrorRecoveryServiceStub
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.bus import Bus
from services.kit.db import Database
from services.kit.errors import error_info
from services.kit.testing import eventually
from services.replication.error_book import ErrorBook
from services.replication.recovery import Schedules
from services.replication.retries import RetryProcessor
from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from tests.replication.test_copy_flow import enrol, orders_of
from venue_sim import ccxt_config

ORDER = "POST /api/v3/order"
QUERY = "GET /api/v3/order"
FAST = {"RETRY_SCHEDULE_UNKNOWN_OUTCOME": "0.2,0.5", "RETRY_SCHEDULE_NETWORK": "0.2,0.5"}


@pytest_asyncio.fixture
async def recovery_mesh(copy_mesh, request):
    """The mesh with the retry processor tuned by the test's `mesh_overrides` marker."""
    marker = request.node.get_closest_marker("mesh_overrides")
    overrides = {"retry_poll_s": 0.05, "retry_schedules": FAST, **(marker.kwargs if marker else {})}
    started = await copy_mesh(seed=21, **overrides)
    from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
    return (started.sim, ComplianceServiceStub(started.compliance.channel),
            ReplicationServiceStub(started.replication.channel), ErrorRecoveryServiceStub(started.replication.channel),
            started.replication)


async def copying_pair(sim, compliance, replication, token_for, settings=None):
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    follower, follower_sim, account = await enrol(sim, compliance, replication, token_for, "f",
                                                  rep.ACCOUNT_ROLE_FOLLOWER, {"USDT": "50000"})
    session = (await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=settings or rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
        metadata=token_for(follower))).session
    return master, master_account, follower, follower_sim, session


async def submit(replication, token_for, master, master_account, trade_id, side=trading_pb2.SIDE_BUY,
                 quantity="0.01"):
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id=trade_id, symbol="BTC/USDT", side=side,
        quantity=quantity, price="64000"), metadata=token_for(master))


def requests(sim, account):
    return [(at, name) for at, name, who in sim.request_log if who == account]


async def test_a_5xx_after_acceptance_is_looked_up_and_never_sent_twice(recovery_mesh, token_for, nats_server):
    sim, compliance, replication, recovery, _ = recovery_mesh
    master, master_account, follower, _, _ = await copying_pair(sim, compliance, replication, token_for)
    seen: list[str] = []
    bus = await Bus.connect(nats_server.url, "test-recovery-observer")

    async def on_error(subject, event):
        seen.append(event.status)
    await bus.subscribe(f"copies.error.recorded.{follower}", on_error)
    sim.inject(kind="http_5xx_after_accept", account=follower)  # executed, then "503 internal error"

    await submit(replication, token_for, master, master_account, "T-5xx")

    async def filled():
        orders = await orders_of(replication, token_for, follower)
        return orders and orders[0].status == events.FOLLOWER_ORDER_STATUS_FILLED and orders[0]
    order = await eventually(filled, message="the uncertain copy resolved")
    assert [(o.client_order_id, o.side, o.orig_qty) for o in sim.orders(follower)] == [
        (order.client_order_id, "BUY", Decimal("0.01"))]
    calls = [name for _, name in requests(sim, follower) if name in (ORDER, QUERY)]
    assert calls.count(ORDER) == 1 and QUERY in calls[calls.index(ORDER) + 1:]  # asked, not re-sent
    await eventually(lambda: seen[-1:] == ["ERROR_STATUS_SUCCEEDED"], message="the event settled")
    assert seen[0] == "ERROR_STATUS_PENDING_RETRY"
    assert (await recovery.ListPendingRetries(er.ListPendingRetriesRequest(), metadata=token_for(follower))).events == []
    await bus.close()


@pytest.mark.mesh_overrides(retry_schedules={})  # the real rate-limit schedule: Retry-After must rule
async def test_a_429_is_retried_no_earlier_than_its_retry_after(recovery_mesh, token_for):
    sim, compliance, replication, recovery, _ = recovery_mesh
    master, master_account, follower, _, _ = await copying_pair(sim, compliance, replication, token_for)
    sim.inject(kind="rate_limit", account=follower, retry_after=2)

    await submit(replication, token_for, master, master_account, "T-429")
    pending = await eventually(lambda: _pending(recovery, token_for, follower), message="the rate-limit event")
    assert pending[0].error_type == er.ERROR_TYPE_RATE_LIMIT
    wait = pending[0].next_attempt_time.ToDatetime(tzinfo=UTC) - pending[0].create_time.ToDatetime(tzinfo=UTC)
    assert timedelta(seconds=2) <= wait < timedelta(seconds=3)  # Retry-After, not the schedule's minute

    await eventually(lambda: sim.orders(follower), timeout=10, message="the retried copy")
    posts = [at for at, name in requests(sim, follower) if name == ORDER]
    assert len(posts) == 2 and posts[1] - posts[0] >= 2.0
    assert len(sim.orders(follower)) == 1


async def _pending(recovery, token_for, follower):
    return list((await recovery.ListPendingRetries(er.ListPendingRetriesRequest(),
                                                   metadata=token_for(follower))).events)


def test_each_error_type_follows_its_schedule_then_waits_for_a_person():
    schedules = Schedules.parse({})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    expected = {er.ERROR_TYPE_NETWORK: [1, 5, 15, 60, 300], er.ERROR_TYPE_RATE_LIMIT: [60, 300, 900, 3600],
                er.ERROR_TYPE_TIMEOUT: [5, 15, 60, 300], er.ERROR_TYPE_PLATFORM: [30, 120, 600, 3600],
                er.ERROR_TYPE_UNKNOWN_OUTCOME: [5, 15, 60, 300]}
    for error_type, delays in expected.items():
        due = [schedules.next_attempt(error_type, n, start) for n in range(len(delays) + 1)]
        assert due == [start + timedelta(seconds=d) for d in delays] + [None], er.ErrorType.Name(error_type)
    assert schedules.next_attempt(er.ERROR_TYPE_REJECTED, 0, start) is None  # never retried
    assert schedules.next_attempt(er.ERROR_TYPE_RATE_LIMIT, 0, start, retry_after=7) == start + timedelta(seconds=7)
    assert schedules.next_attempt(er.ERROR_TYPE_NETWORK, 0, start, retry_after=7) == start + timedelta(seconds=7)
    custom = Schedules.parse({"RETRY_SCHEDULE_NETWORK": "2, 4"})
    assert [custom.next_attempt(er.ERROR_TYPE_NETWORK, n, start) for n in range(3)] == [
        start + timedelta(seconds=2), start + timedelta(seconds=4), None]
    with pytest.raises(ValueError, match="RETRY_SCHEDULE_TIMEOUT"):
        Schedules.parse({"RETRY_SCHEDULE_TIMEOUT": "soon"})


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.mesh_overrides(retry_poll_s=0, retry_schedules={})
async def test_the_processor_keeps_the_schedule_on_a_controlled_clock(recovery_mesh, token_for):
    sim, compliance, replication, recovery, service = recovery_mesh
    processor: RetryProcessor = service.running.components["retries"]
    book: ErrorBook = service.running.components["errors"]
    clock = Clock()
    book.clock = clock
    master, master_account, follower, _, _ = await copying_pair(sim, compliance, replication, token_for)
    sim.inject(kind="rate_limit", account=follower, retry_after=0, count=-1)  # every order: 429, no Retry-After

    await submit(replication, token_for, master, master_account, "T-sched")
    event = (await eventually(lambda: _pending(recovery, token_for, follower), message="the event"))[0]
    posts = lambda: sum(1 for _, name in requests(sim, follower) if name == ORDER)  # noqa: E731
    for delay in (60, 300, 900, 3600):  # the rate-limit schedule
        due = event.next_attempt_time.ToDatetime(tzinfo=UTC)
        assert due == clock.now + timedelta(seconds=delay)
        clock.now = due - timedelta(seconds=1)
        before = posts()
        assert await processor.run_due() == [] and posts() == before  # not yet due: nothing sent
        clock.now = due
        settled = await processor.run_due()
        assert len(settled) == 1 and posts() == before + 1
        event = (await _pending(recovery, token_for, follower))[0]
    assert event.status == er.ERROR_STATUS_NEEDS_ATTENTION and event.attempt_count == 4
    clock.now += timedelta(days=1)
    assert await processor.run_due() == []  # a person's turn now

    sim.clear_faults()  # the person retries by hand, and it goes through
    retried = await recovery.ProcessRetry(er.ProcessRetryRequest(error_id=event.error_id), metadata=token_for(follower))
    assert retried.event.status == er.ERROR_STATUS_SUCCEEDED
    assert [(o.side, o.orig_qty) for o in sim.orders(follower)] == [("BUY", Decimal("0.01"))]


@pytest.mark.mesh_overrides(retry_poll_s=0, retry_schedules={"RETRY_SCHEDULE_UNKNOWN_OUTCOME": "0"})
async def test_two_processors_at_once_run_each_due_retry_once(recovery_mesh, token_for, backend):
    sim, compliance, replication, recovery, service = recovery_mesh
    processor: RetryProcessor = service.running.components["retries"]
    followers = []
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    for _ in range(6):
        follower, _, account = await enrol(sim, compliance, replication, token_for, "f", rep.ACCOUNT_ROLE_FOLLOWER,
                                           {"USDT": "50000"})
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
            metadata=token_for(follower))
        followers.append(follower)
        # A 503 to an order: it may or may not exist, so each retry asks the venue first.
        sim.inject(kind="reject", account=follower, status=503, code=-1001, msg="Service unavailable.")
    await submit(replication, token_for, master, master_account, "T-race")
    for follower in followers:
        await eventually(lambda: _pending(recovery, token_for, follower), message="an event per follower")

    # A second processor of its own, on its own connections to the same database.
    other_db = Database(service.settings)
    other = RetryProcessor(ErrorBook(other_db, processor.book.bus, Schedules.parse({})), processor.copier, 0)
    try:
        first, second = await asyncio.gather(processor.run_due(), other.run_due())
    finally:
        await other_db.close()
    assert len(first) + len(second) == len(followers)
    assert {e.order_id for e in first}.isdisjoint({e.order_id for e in second})
    for follower in followers:
        assert len(sim.orders(follower)) == 1
        assert sum(1 for _, name in requests(sim, follower) if name == ORDER) == 2  # the failure, one retry


async def test_a_manual_trade_is_found_and_resynced_per_policy(recovery_mesh, token_for):
    sim, compliance, replication, recovery, _ = recovery_mesh
    master, master_account, follower, follower_sim, session = await copying_pair(
        sim, compliance, replication, token_for,
        rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", drift_policy=rep.DRIFT_POLICY_RESYNC))
    await submit(replication, token_for, master, master_account, "T-rec")
    await eventually(lambda: sim.orders(follower), message="the copy")
    # The follower sells some by hand, outside copytrade.
    venue = CcxtVenue("binance", api_key=follower_sim.api_key, secret=follower_sim.secret,
                      config=ccxt_config(sim.url, rate_limit=False))
    await venue.connect()
    try:
        await venue.place_order(OrderRequest("by-hand-1", "BTC/USDT", "sell", Decimal("0.004")))
    finally:
        await venue.close()

    looked = (await recovery.ReconcileTrade(er.ReconcileTradeRequest(config_id=session.config_id, dry_run=True),
                                            metadata=token_for(follower))).result
    assert not looked.in_sync and looked.resolution == "none" and len(sim.orders(follower)) == 2  # copy, by hand: only looked
    result = (await recovery.ReconcileTrade(er.ReconcileTradeRequest(config_id=session.config_id),
                                            metadata=token_for(follower))).result
    assert not result.in_sync and result.resolution == "resynced"
    assert [(d.symbol, d.cause, Decimal(d.difference), Decimal(d.follower_position), Decimal(d.target_position))
            for d in result.discrepancies] == [
        ("BTC/USDT", er.DISCREPANCY_CAUSE_MANUAL_TRADE, Decimal("-0.004"), Decimal("0.006"), Decimal("0.01"))]
    assert [(o.side, o.orig_qty) for o in sim.orders(follower)][-1] == ("BUY", Decimal("0.004"))  # bought back

    again = (await recovery.ReconcileTrade(er.ReconcileTradeRequest(config_id=session.config_id),
                                           metadata=token_for(follower))).result
    assert again.in_sync and again.resolution == "none" and not again.discrepancies
    history = (await recovery.ListReconciliationResults(er.ListReconciliationResultsRequest(
        config_id=session.config_id), metadata=token_for(follower))).results
    assert [r.result_id for r in history] == [again.result_id, result.result_id]  # newest first
    with pytest.raises(grpc.aio.AioRpcError) as err:  # someone else's session does not exist for them
        await recovery.ReconcileTrade(er.ReconcileTradeRequest(config_id=session.config_id),
                                      metadata=token_for("somebody-else"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and error_info(err.value).reason == "SESSION_NOT_FOUND"


async def test_alert_only_changes_nothing_and_flatten_closes_and_freezes(recovery_mesh, token_for):
    sim, compliance, replication, recovery, _ = recovery_mesh
    outcomes = {}
    for policy in (rep.DRIFT_POLICY_ALERT_ONLY, rep.DRIFT_POLICY_FLATTEN):
        master, master_account, follower, follower_sim, session = await copying_pair(
            sim, compliance, replication, token_for, rep.CopySettings(
                sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", drift_policy=policy))
        await submit(replication, token_for, master, master_account, f"T-{policy}")
        await eventually(lambda: sim.orders(follower), message="the copy")
        venue = CcxtVenue("binance", api_key=follower_sim.api_key, secret=follower_sim.secret,
                          config=ccxt_config(sim.url, rate_limit=False))
        await venue.connect()
        try:
            await venue.place_order(OrderRequest(f"by-hand-{policy}", "BTC/USDT", "buy", Decimal("0.002")))
        finally:
            await venue.close()
        result = (await recovery.ReconcileTrade(er.ReconcileTradeRequest(config_id=session.config_id),
                                                metadata=token_for(follower))).result
        state = (await replication.GetCopySessionStatus(rep.GetCopySessionStatusRequest(
            config_id=session.config_id), metadata=token_for(follower))).session.state
        outcomes[policy] = (result.resolution, [(o.side, o.orig_qty) for o in sim.orders(follower)], state)
    assert outcomes[rep.DRIFT_POLICY_ALERT_ONLY] == (
        "alerted", [("BUY", Decimal("0.01")), ("BUY", Decimal("0.002"))], rep.SESSION_STATE_ACTIVE)
    resolution, orders, state = outcomes[rep.DRIFT_POLICY_FLATTEN]
    # Everything the session's symbol holds is sold (what the fees left), and copying waits for a resync.
    assert resolution == "flattened" and orders[-1][0] == "SELL" and state == rep.SESSION_STATE_FROZEN
    assert Decimal("0.0119") <= orders[-1][1] <= Decimal("0.012")


async def test_a_retry_gone_stale_is_dropped_with_its_reason(recovery_mesh, token_for):
    sim, compliance, replication, recovery, _ = recovery_mesh
    master, master_account, follower, _, _ = await copying_pair(
        sim, compliance, replication, token_for,
        rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", max_slippage="0.01"))
    sim.inject(kind="rate_limit", account=follower, retry_after=1)
    sim.set_price("BTCUSDT", "64000")
    await submit(replication, token_for, master, master_account, "T-stale")
    await eventually(lambda: _pending(recovery, token_for, follower), message="the rate-limited copy waits")
    sim.set_price("BTCUSDT", "65500")  # 2.3 % against a buyer while it waited

    async def dropped():
        orders = await orders_of(replication, token_for, follower)
        return orders and orders[0].status == events.FOLLOWER_ORDER_STATUS_REFUSED and orders[0]
    order = await eventually(dropped, timeout=10, message="the stale retry dropped")
    assert order.refusal.reason == "COPY_STALE" and "moved 2.34%" in order.refusal.message
    assert sim.orders(follower) == []
    assert await _pending(recovery, token_for, follower) == []  # settled as stale, nobody's to-do


async def test_every_person_s_action_on_an_error_is_audited(recovery_mesh, token_for):
    from copytrade.compliance.v1 import compliance_service_pb2 as comp

    sim, compliance, replication, recovery, _ = recovery_mesh
    master, master_account, follower, _, session = await copying_pair(sim, compliance, replication, token_for)
    sim.inject(kind="reject", account=follower, code=-2010, msg="Account has insufficient balance.")
    await submit(replication, token_for, master, master_account, "T-audit")
    event = (await eventually(lambda: _pending(recovery, token_for, follower), message="the rejection waits"))[0]
    assert event.status == er.ERROR_STATUS_NEEDS_ATTENTION  # a rejection is never retried by itself
    await recovery.ResolveError(er.ResolveErrorRequest(error_id=event.error_id, comment="topped up by hand"),
                                metadata=token_for(follower))
    await recovery.ReconcileTrade(er.ReconcileTradeRequest(config_id=session.config_id), metadata=token_for(follower))

    async def audited():
        records = (await compliance.ListAuditEvents(comp.ListAuditEventsRequest(user_id=follower, page_size=100),
                                                    metadata=token_for("ops", "operator"))).events
        return {r.action: r for r in records if r.action in ("error.resolved", "session.reconciled")}
    records = await eventually(lambda: _when_both(audited), message="both actions in the audit trail")
    assert records["error.resolved"].actor == follower
    assert "topped up by hand" in records["error.resolved"].details_json
    assert records["error.resolved"].resource == f"error_events/{event.error_id}"


async def _when_both(audited):
    found = await audited()
    return found if len(found) == 2 else None


async def test_a_followers_equity_falling_at_the_venue_trips_the_loss_breakers(recovery_mesh, token_for):
    sim, compliance, replication, recovery, service = recovery_mesh
    master, master_account, follower, follower_sim, session = await copying_pair(sim, compliance, replication, token_for)
    sim.exchange.accounts[follower].balances["BTC"] = Decimal(1)  # holds a bitcoin next to its 50,000 USDT
    sim.set_price("BTCUSDT", "64000")
    snapshots, ownership = service.running.components["snapshots"], service.running.components["ownership"]
    # Only the replica holding her account's shard snapshots it; a shard it could not take at
    # start-up (a lease request timing out on a loaded machine) is retried a moment later.
    await eventually(lambda: ownership.owns(session.follower_account_id), message="her account's shard is held")
    assert await snapshots.take() >= 1  # the day starts at 114,000
    sim.set_price("BTCUSDT", "57000")  # -7,000: past the daily loss and the 5 % emergency stop
    await snapshots.take()
    await submit(replication, token_for, master, master_account, "T-after-loss")

    async def refused():
        orders = await orders_of(replication, token_for, follower)
        return orders and orders[0].status == events.FOLLOWER_ORDER_STATUS_REFUSED and orders[0]
    order = await eventually(refused, message="the copy after the loss refused")
    assert order.refusal.reason == "TRADING_HALTED" and sim.orders(follower) == []
