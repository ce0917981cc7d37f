"""Circuit breakers through the risk service, on both databases: account snapshots trip the
daily-loss, drawdown and emergency breakers; replication's copy events trip the venue-failure
and latency ones; a tripped breaker blocks new exposure until a reset, and every trip and
state change is announced on NATS."""

import uuid
from decimal import Decimal

import pytest
from google.protobuf import field_mask_pb2
from hypothesis import given
from hypothesis import strategies as st

from copytrade.replication.v1 import replication_events_pb2 as copies
from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.bus import Bus
from services.kit.testing import eventually
from services.risk import breakers
from services.domain.risk.limits import RiskLimits

LOOSE = {"max_drawdown": "0.9", "emergency_stop_loss": "0.9"}  # so one breaker at a time can be shown


@given(start=st.decimals(min_value=1000, max_value=10**6, places=2),
       path=st.lists(st.decimals(min_value="0.5", max_value="1.5", places=3), min_size=1, max_size=20))
def test_equity_breakers_trip_exactly_when_a_line_is_crossed(start, path):
    limits = RiskLimits()
    high = start
    for factor in path:
        equity = start * factor
        high = max(high, equity)
        kinds = {t.kind for t in breakers.equity_trips(limits, equity=equity, day_start_equity=start,
                                                       high_water_mark=high)}
        assert (breakers.DAILY_LOSS in kinds) == (start - equity > limits.max_daily_loss)
        assert (breakers.DRAWDOWN in kinds) == ((high - equity) / high > limits.max_drawdown)
        assert (breakers.EMERGENCY_STOP in kinds) == ((start - equity) / start > limits.emergency_stop_loss)
    assert breakers.equity_trips(RiskLimits(circuit_breaker_enabled=False), equity=Decimal(1),
                                 day_start_equity=start, high_water_mark=start) == []


async def _setup(start_service, token_for, limits=None):
    risk = RiskServiceStub((await start_service("risk")).channel)
    user = f"u_{uuid.uuid4().hex[:10]}"
    if limits:
        await risk.UpdateRiskLimits(pb.UpdateRiskLimitsRequest(
            user_id=user, limits=pb.RiskLimits(**limits), update_mask=field_mask_pb2.FieldMask(paths=list(limits))),
            metadata=token_for(user))
    return risk, user


async def snapshot(risk, token_for, user, equity):
    return (await risk.RecordAccountSnapshot(pb.RecordAccountSnapshotRequest(user_id=user, equity=equity),
                                             metadata=token_for(user))).state


async def adding_exposure(risk, token_for, user):
    return (await risk.CheckOrder(pb.CheckOrderRequest(intent=pb.OrderIntent(
        follower_id=user, instrument=trading_pb2.Instrument(symbol="BTC/USDT"), side=trading_pb2.SIDE_BUY,
        quantity="0.001", expected_price="60000")), metadata=token_for(user)))


async def breakers_of(risk, token_for, user):
    reply = await risk.ListCircuitBreakers(pb.ListCircuitBreakersRequest(user_id=user), metadata=token_for(user))
    return {pb.BreakerKind.Name(b.kind).removeprefix("BREAKER_KIND_"): b for b in reply.breakers}


async def test_a_daily_loss_trips_reducing_and_stays_until_reset(start_service, backend, token_for, nats_server):
    risk, user = await _setup(start_service, token_for, LOOSE)
    bus = await Bus.connect(nats_server.url, "breaker-observer")
    announced = []

    async def on_event(subject, event):
        announced.append(subject)
    await bus.subscribe(f"risk.*.*.{user}", on_event)
    assert await snapshot(risk, token_for, user, "10000") == trading_pb2.TRADING_STATE_ACTIVE
    assert await snapshot(risk, token_for, user, "9200") == trading_pb2.TRADING_STATE_ACTIVE  # lost 800 < 1000
    assert await snapshot(risk, token_for, user, "8900") == trading_pb2.TRADING_STATE_REDUCING  # lost 1100
    tripped = (await breakers_of(risk, token_for, user))["DAILY_LOSS"]
    assert tripped.tripped and Decimal(tripped.value) == Decimal("1100") and tripped.threshold == "1000"
    assert "lost 1100.00 today" in tripped.reason
    denied = await adding_exposure(risk, token_for, user)
    assert denied.decision == pb.DECISION_DENIED and denied.refusal.reason  # said in words
    # Equity recovering does not clear the breach: a person must.
    assert await snapshot(risk, token_for, user, "10500") == trading_pb2.TRADING_STATE_REDUCING
    await risk.ResetTradingState(pb.ResetTradingStateRequest(scope=pb.TradingScope(user_id=user), comment="ok"),
                                 metadata=token_for(user))
    assert not any(b.tripped for b in (await breakers_of(risk, token_for, user)).values())
    assert (await adding_exposure(risk, token_for, user)).decision == pb.DECISION_APPROVED
    await eventually(lambda: {"risk.breaker.tripped." + user, "risk.state.changed." + user} <= set(announced),
                     message="trip and state changes announced")
    await bus.close()


async def test_an_emergency_drop_halts_and_a_drawdown_reduces(start_service, token_for):
    risk, user = await _setup(start_service, token_for, {"max_daily_loss": "1000000"})
    await snapshot(risk, token_for, user, "10000")
    assert await snapshot(risk, token_for, user, "9400") == trading_pb2.TRADING_STATE_HALTED  # -6 % in a day
    assert (await breakers_of(risk, token_for, user))["EMERGENCY_STOP"].tripped

    other, second = await _setup(start_service, token_for, {"max_daily_loss": "1000000", "emergency_stop_loss": "0.9"})
    await snapshot(other, token_for, second, "10000")
    await snapshot(other, token_for, second, "12000")  # the high-water mark
    assert await snapshot(other, token_for, second, "10100") == trading_pb2.TRADING_STATE_REDUCING  # -15.8 %
    drawdown = (await breakers_of(other, token_for, second))["DRAWDOWN"]
    assert drawdown.tripped and drawdown.threshold == "0.15"


def _copy_event(user, *, failed=False, latency_ms=20):
    order = copies.FollowerOrder(order_id=uuid.uuid4().hex[:16], follower_id=user)
    order.master_fill_time.FromMilliseconds(1_700_000_000_000)
    order.ack_time.FromMilliseconds(1_700_000_000_000 + latency_ms)
    if failed:
        return "failed", copies.CopyFailed(order=order, error_kind="NETWORK", error_message="connection reset")
    return "placed", copies.FollowerOrderPlaced(order=order)


@pytest.mark.parametrize("kind", ["VENUE_FAILURES", "LATENCY"])
async def test_copy_events_trip_the_venue_failure_and_latency_breakers(start_service, token_for, nats_server, kind):
    risk, user = await _setup(start_service, token_for)
    bus = await Bus.connect(nats_server.url, "breaker-feed")
    if kind == "VENUE_FAILURES":  # a success in between starts the count over
        feed = [_copy_event(user, failed=True)] * 4 + [_copy_event(user)] + [_copy_event(user, failed=True)] * 5
    else:  # slow copies: the median of the last ten is 300 ms, over the default 100 ms
        feed = [_copy_event(user, latency_ms=300) for _ in range(10)]
    for verb, event in feed:
        await bus.publish(f"copies.order.{verb}.{user}", event, msg_id=uuid.uuid4().hex)

    async def tripped():
        return (await breakers_of(risk, token_for, user))[kind].tripped
    await eventually(tripped, message=f"{kind} tripped")

    async def reducing():  # the breaker is recorded first, then the state it sets
        state = await risk.GetTradingState(pb.GetTradingStateRequest(scope=pb.TradingScope(user_id=user)),
                                           metadata=token_for(user))
        return state.effective_state == trading_pb2.TRADING_STATE_REDUCING and state
    state = await eventually(reducing, message="trading reduce-only")
    assert kind.split("_")[0].lower() in state.state.reason
    await bus.close()


async def test_a_copy_filled_at_once_counts_as_one_placement_from_its_filled_events(start_service, token_for, nats_server):
    """A copy its venue filled in full at once is announced by its filled events alone (no placed
    event): the breakers count it, once, however many fills it has, and once only when a placed
    event came first."""
    risk, user = await _setup(start_service, token_for)
    _, other = await _setup(start_service, token_for)
    bus = await Bus.connect(nats_server.url, "breaker-fills")

    async def filled_alone(user, latency_ms, fills=2):
        _, placed = _copy_event(user, latency_ms=latency_ms)
        for n in range(fills):
            event = copies.FollowerOrderFilled(order=placed.order, venue_trade_id=f"t{n}", quantity="0.001",
                                               price="64000")
            await bus.publish(f"copies.order.filled.{user}", event, msg_id=f"{placed.order.order_id}:filled:t{n}")
        return placed
    # Ten slow copies, each told only by its two fills: the latency breaker sees ten, not none.
    for _ in range(10):
        await filled_alone(user, 300)

    async def tripped(user, kind):
        return (await breakers_of(risk, token_for, user))[kind].tripped
    await eventually(lambda: tripped(user, "LATENCY"), message="the latency breaker tripped by filled events")

    # Five fast copies, one slow copy told by its placed event and five fills, four fast ones: ten
    # placements, the median fast. Counted per event it would be six slow of the last ten.
    for _ in range(5):
        verb, event = _copy_event(other)
        await bus.publish(f"copies.order.{verb}.{other}", event, msg_id=f"{event.order.order_id}:placed")
    verb, slow = _copy_event(other, latency_ms=300)
    await bus.publish(f"copies.order.placed.{other}", slow, msg_id=f"{slow.order.order_id}:placed")
    for n in range(5):
        await bus.publish(f"copies.order.filled.{other}", copies.FollowerOrderFilled(
            order=slow.order, venue_trade_id=f"t{n}", quantity="0.001", price="64000"),
            msg_id=f"{slow.order.order_id}:filled:t{n}")
    for _ in range(4):
        await filled_alone(other, 20, fills=1)
    for _ in range(5):  # then five failures in a row: once they trip, all of the above is counted
        verb, event = _copy_event(other, failed=True)
        await bus.publish(f"copies.order.{verb}.{other}", event, msg_id=uuid.uuid4().hex)
    await eventually(lambda: tripped(other, "VENUE_FAILURES"), message="the failures counted")
    assert not await tripped(other, "LATENCY")
    await bus.close()


async def test_snapshots_are_checked_and_owned(start_service, token_for):
    import grpc

    risk, user = await _setup(start_service, token_for)
    for equity in ("lots", "-5"):
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await snapshot(risk, token_for, user, equity)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await risk.RecordAccountSnapshot(pb.RecordAccountSnapshotRequest(user_id=user, equity="1"),
                                         metadata=token_for("someone-else"))
    assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_burst_of_copy_events_is_counted_per_follower_and_one_bad_event_holds_no_one_back(
        start_service, backend, token_for, nats_server):
    """A fill's copies report at once: the marks are folded a fetch at a time, in order per
    follower, and an event risk cannot store (a follower id too long for its table) fails alone."""
    risk, _ = await _setup(start_service, token_for)
    bus = await Bus.connect(nats_server.url, "breaker-burst")
    tag = uuid.uuid4().hex[:6]
    failing = [f"f_{tag}_{i}" for i in range(40)]
    recovering = [f"r_{tag}_{i}" for i in range(40)]
    feed = []
    for u in recovering:  # a success in between starts the count over
        feed += [(u, _copy_event(u, failed=True))] * 4 + [(u, _copy_event(u))] + [(u, _copy_event(u, failed=True))] * 4
    feed += [(u, _copy_event(u, failed=True)) for _ in range(5) for u in failing]  # after: once these count, all have
    feed[400:400] = [("x" * 100, _copy_event("x" * 100, failed=True))]  # poison, amid the others
    for user, (verb, event) in feed:
        await bus.publish(f"copies.order.{verb}.{user[:64]}", event, msg_id=uuid.uuid4().hex)

    async def all_tripped():
        for user in failing:
            if "VENUE_FAILURES" not in await breakers_of(risk, token_for, user):
                return False
        return True
    await eventually(all_tripped, timeout=60, message="every failing follower tripped")
    for user in recovering:
        assert not any(b.tripped for b in (await breakers_of(risk, token_for, user)).values())
    await bus.close()
