"""Max leverage and the position's notional limit hold in every sizing mode (issue 23, item 4),
through the mesh with the simulator: each mode's copy over the limit is reduced to what fits
at the venue, and the next one, with nothing left, is refused with the limit's reason. A
multiplier copy under max_leverage 0.02 used to fill whole: risk judged leverage only when the
copy brought the follower's equity, which only the equity-based modes read. Risk now takes it
from the follower's latest account snapshot."""

from decimal import Decimal

import pytest_asyncio
from google.protobuf import field_mask_pb2

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from tests.replication.test_copy_flow import enrol
from tests.replication.test_copy_money import master_trades

MODES = {
    "multiplier": rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1"),
    "fixed-quantity": rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="0.05"),
    "fixed-notional": rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_NOTIONAL, fixed_notional="3200"),
    "equity": rep.CopySettings(sizing_mode=rep.SIZING_MODE_EQUITY_PROPORTIONAL),
    "risk-percent": rep.CopySettings(sizing_mode=rep.SIZING_MODE_RISK_PERCENT, risk_percent="0.01",
                                     stop_distance="200"),
}
# Each follower holds 50,000 USDT; BTC stays at 64,000. Leverage 0.02 allows 1,000 USDT of BTC:
# 0.015625, 0.01562 in whole lots (0.00001). A position cap of 500 USDT allows 0.00781.
LIMITS = {"leverage": ("max_leverage", "0.02", "LEVERAGE_LIMIT_EXCEEDED", Decimal("0.01562")),
          "notional": ("max_position_size", "500", "POSITION_LIMIT_EXCEEDED", Decimal("0.00781"))}


@pytest_asyncio.fixture
async def mesh(copy_mesh):
    started = await copy_mesh(seed=17, snapshot_interval_s=0.2)  # followers' equity reaches risk at once
    return started.sim, ComplianceServiceStub(started.compliance.channel), RiskServiceStub(started.risk.channel), \
        ReplicationServiceStub(started.replication.channel)


async def test_leverage_and_notional_limits_reduce_then_refuse_copies_in_every_sizing_mode(mesh, token_for):
    sim, compliance, risk, replication = mesh
    _, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    followers = {}  # (limit, mode) -> user
    for limit, (field, value, _, _) in LIMITS.items():
        for mode, settings in MODES.items():
            user, _, account = await enrol(sim, compliance, replication, token_for, f"{limit}-{mode}",
                                           rep.ACCOUNT_ROLE_FOLLOWER, {"USDT": "50000"})
            await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
                user_id=user, limits=risk_pb.RiskLimits(**{field: value}),
                update_mask=field_mask_pb2.FieldMask(paths=[field])), metadata=token_for(user))
            await replication.StartCopySession(rep.StartCopySessionRequest(
                follower_account_id=account.account_id, master_account_id=master_account.account_id,
                settings=settings), metadata=token_for(user))
            followers[(limit, mode)] = user

    async def knows_equity(user: str) -> bool:
        """Risk judges leverage on an order that brings no equity: the snapshot has arrived."""
        check = await risk.CheckOrder(risk_pb.CheckOrderRequest(intent=risk_pb.OrderIntent(
            follower_id=user, instrument=trading_pb2.Instrument(symbol="BTC/USDT", lot_size="0.00001"),
            side=trading_pb2.SIDE_BUY, quantity="1", expected_price="64000")), metadata=token_for(user))
        return check.refusal.reason == "LEVERAGE_LIMIT_EXCEEDED" and Decimal(check.metadata["equity"]) == 50000
    for (limit, mode), user in followers.items():
        if limit == "leverage":
            await eventually(lambda: knows_equity(user), timeout=30, message=f"{mode}: risk has the equity")
    await eventually(lambda: sim.stream_subscribed(master_sim.name), message="master stream watched")
    assert sim.exchange.prices["BTCUSDT"] == Decimal("64000")

    def venue_quantities(user: str) -> list[Decimal]:
        return [o.orig_qty for o in sim.orders(user)]

    await master_trades(sim, master_sim, "buy", "0.05", "lev-1")  # 3,200 USDT: over both limits in every mode
    await eventually(lambda: all(venue_quantities(u) for u in followers.values()), timeout=30,
                     message="every follower's first copy at the venue")
    assert {key: venue_quantities(user) for key, user in followers.items()} == {
        (limit, mode): [LIMITS[limit][3]] for limit, mode in followers}

    # Each reduced copy says so on the follower's order (and so on its events): the limit and its numbers.
    for (limit, mode), user in followers.items():
        orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(), metadata=token_for(user))).orders
        [first] = [o for o in orders if o.status == events.FOLLOWER_ORDER_STATUS_FILLED]
        _, value, reason, allowed = LIMITS[limit]
        assert first.reduction.reason == reason, (limit, mode, first.reduction)
        assert first.reduction.metadata["limit"] == value
        assert Decimal(first.reduction.metadata["approved_quantity"]) == allowed == Decimal(first.quantity)
        assert Decimal(first.reduction.metadata["sized_quantity"]) > allowed
        assert not first.HasField("refusal")

    await master_trades(sim, master_sim, "buy", "0.05", "lev-2")  # nothing more fits

    async def second_copies():
        found = {}
        for key, user in followers.items():
            orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                           metadata=token_for(user))).orders
            second = [o for o in orders if o.status == events.FOLLOWER_ORDER_STATUS_REFUSED]
            if not second:
                return None
            found[key] = second[0]
        return found
    refused = await eventually(second_copies, timeout=30, message="every follower's second copy decided")
    for (limit, mode), order in refused.items():
        field, value, reason, allowed = LIMITS[limit]
        assert order.refusal.reason == reason, (limit, mode, order.refusal)
        assert order.refusal.metadata["limit"] == value and Decimal(order.refusal.metadata["allowed"]) == 0
        assert Decimal(order.refusal.metadata["position"]) == allowed
        assert venue_quantities(followers[(limit, mode)]) == [allowed]  # nothing more reached the venue
