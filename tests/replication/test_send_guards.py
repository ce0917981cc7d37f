"""The guards on every live send (issue 23, item 3), through the mesh with the simulator: a copy
whose master fill is older than the session allows is refused COPY_STALE with its age, and one
whose follower venue price moved against the follower past max_slippage is refused
SLIPPAGE_TOO_HIGH with both prices; an unguarded session copies the same fills."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from tests.replication.test_copy_flow import UNDECIDED, enrol, mesh, orders_of  # noqa: F401 - the fixture


async def test_stale_and_slipped_fills_are_refused_with_their_numbers(mesh, token_for):  # noqa: F811
    sim, compliance, _risk, replication, _bus = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "signal",
                                            rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"})
    plans = {
        "guarded": rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="0.001",
                                    max_slippage="0.005"),  # and the default age limit, 10 s
        "loose": rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="0.001",
                                  max_fill_age_seconds="0"),
    }
    followers = {}
    for name, settings in plans.items():
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id, settings=settings),
            metadata=token_for(user))
        followers[name] = user
    sim.set_price("BTCUSDT", Decimal("64000"))

    async def fill(trade_id: str, price: str, executed: datetime) -> None:
        request = rep.SubmitMasterFillRequest(master_account_id=master_account.account_id, venue_trade_id=trade_id,
                                              symbol="BTC/USDT", side=trading_pb2.SIDE_BUY, quantity="0.01",
                                              price=price)
        request.execute_time.FromDatetime(executed)
        await replication.SubmitMasterFill(request, metadata=token_for(master))

    async def orders(name: str) -> dict[str, events.FollowerOrder]:
        listed = await orders_of(replication, token_for, followers[name])
        return {o.master_fill_id.rsplit(":", 1)[-1]: o for o in listed}

    await fill("on-time", "64100", datetime.now(UTC))  # 0.16 % below the master's: within 0.5 %
    await fill("slipped", "60000", datetime.now(UTC))  # the follower would pay 6.7 % more
    await fill("stale", "64000", datetime.now(UTC) - timedelta(hours=2))

    async def decided():
        found = {name: await orders(name) for name in followers}
        done = all(len(o) == 3 and not any(c.status in UNDECIDED for c in o.values()) for o in found.values())
        return found if done else None
    found = await eventually(decided, timeout=30, message="every copy decided")
    guarded, loose = found["guarded"], found["loose"]
    assert guarded["on-time"].status == events.FOLLOWER_ORDER_STATUS_FILLED
    slipped = guarded["slipped"].refusal
    assert (guarded["slipped"].status, slipped.reason) == (events.FOLLOWER_ORDER_STATUS_REFUSED, "SLIPPAGE_TOO_HIGH")
    assert dict(slipped.metadata) == {"slippage": "0.066667", "max_slippage": "0.005", "master_price": "60000",
                                      "venue_price": "64000"}
    stale = guarded["stale"].refusal
    assert (guarded["stale"].status, stale.reason) == (events.FOLLOWER_ORDER_STATUS_REFUSED, "COPY_STALE")
    assert Decimal(stale.metadata["age_seconds"]) >= 7200 and stale.metadata["max_age_seconds"] == "10"
    assert "old" in stale.message
    # Unguarded, the same fills are copied; only the guarded session's two are missing at the venue.
    assert {key: o.status for key, o in loose.items()} == dict.fromkeys(
        ("on-time", "slipped", "stale"), events.FOLLOWER_ORDER_STATUS_FILLED)
    assert len(sim.orders(followers["loose"])) == 3 and len(sim.orders(followers["guarded"])) == 1


async def test_a_session_may_send_its_copies_as_ioc_limits_at_its_tolerance(mesh, token_for):  # noqa: F811
    """limit_at_tolerance: each copy goes out as an immediate-or-cancel limit at the master's
    price moved by max_slippage against the follower, so no part of it can fill worse; it needs
    a max_slippage to set the price at."""
    sim, compliance, _risk, replication, _bus = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "ioc-master",
                                            rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"})
    user, _, account = await enrol(sim, compliance, replication, token_for, "ioc-follower",
                                   rep.ACCOUNT_ROLE_FOLLOWER, {"USDT": "50000", "BTC": "1"})
    start = rep.StartCopySessionRequest(follower_account_id=account.account_id,
                                        master_account_id=master_account.account_id)
    start.settings.CopyFrom(rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="0.001",
                                             limit_at_tolerance=True))
    try:
        await replication.StartCopySession(start, metadata=token_for(user))
        raise AssertionError("a tolerance limit without a tolerance was accepted")
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT and "max_slippage" in exc.details()
    start.settings.max_slippage = "0.01"
    await replication.StartCopySession(start, metadata=token_for(user))
    sim.set_price("BTCUSDT", Decimal("64000"))
    for trade_id, side, price in (("buy", trading_pb2.SIDE_BUY, "63900"), ("sell", trading_pb2.SIDE_SELL, "64100")):
        request = rep.SubmitMasterFillRequest(master_account_id=master_account.account_id, venue_trade_id=trade_id,
                                              symbol="BTC/USDT", side=side, quantity="0.01", price=price)
        request.execute_time.FromDatetime(datetime.now(UTC))
        await replication.SubmitMasterFill(request, metadata=token_for(master))
    placed = await eventually(lambda: len(sim.orders(user)) == 2 and sim.orders(user), timeout=30,
                              message="both copies at the venue")
    by_side = {o.side: o for o in placed}
    # 63,900 × 1.01 = 64,539 (a buy pays at most that); 64,100 × 0.99 = 63,459 (a sell takes at least that).
    assert {side: (o.type, o.time_in_force, o.price, o.executed_qty) for side, o in by_side.items()} == {
        "BUY": ("LIMIT", "IOC", Decimal("64539"), Decimal("0.001")),
        "SELL": ("LIMIT", "IOC", Decimal("63459"), Decimal("0.001"))}
    orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(), metadata=token_for(user))).orders
    assert sorted(o.status for o in orders) == [events.FOLLOWER_ORDER_STATUS_FILLED] * 2
    assert {o.order_type for o in orders} == {trading_pb2.ORDER_TYPE_LIMIT}
