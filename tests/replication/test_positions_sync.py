"""`copytrade positions` (ReconcileTrade) after a kill-switch period: the master bought and sold
while the follower's trading was halted, so neither side holds anything. "In sync" then means
no difference at all — on main it said in sync beside "master implies 0.01" and a refused-by-risk
difference that never went away."""

from decimal import Decimal

from copytrade.replication.v1 import error_recovery_service_pb2 as er
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.error_recovery_service_pb2_grpc import ErrorRecoveryServiceStub
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from tests.replication.test_recovery import copying_pair, orders_of, submit


async def test_a_kill_switch_period_leaves_both_sides_flat_and_in_sync(copy_mesh, token_for):
    mesh = await copy_mesh(seed=23)
    from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub

    compliance = ComplianceServiceStub(mesh.compliance.channel)
    replication = ReplicationServiceStub(mesh.replication.channel)
    recovery = ErrorRecoveryServiceStub(mesh.replication.channel)
    risk = RiskServiceStub(mesh.risk.channel)
    master, master_account, follower, _, session = await copying_pair(
        mesh.sim, compliance, replication, token_for,
        rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", drift_policy=rep.DRIFT_POLICY_RESYNC))
    scope = risk_pb.TradingScope(user_id=follower)
    await risk.ActivateKillSwitch(risk_pb.ActivateKillSwitchRequest(scope=scope, reason="lunch"),
                                  metadata=token_for(follower))
    await submit(replication, token_for, master, master_account, "T-ks-buy")
    await submit(replication, token_for, master, master_account, "T-ks-sell", side=trading_pb2.SIDE_SELL)

    async def both_decided():
        orders = await orders_of(replication, token_for, follower)
        return orders if len(orders) == 2 and all(o.status == events.FOLLOWER_ORDER_STATUS_REFUSED
                                                  for o in orders) else None
    orders = await eventually(both_decided, message="both copies refused or skipped")
    assert any(o.refusal.reason == "TRADING_HALTED" for o in orders)
    assert mesh.sim.orders(follower) == []  # nothing reached the venue
    await risk.ResetTradingState(risk_pb.ResetTradingStateRequest(scope=scope, comment="back"),
                                 metadata=token_for(follower))

    result = (await recovery.ReconcileTrade(er.ReconcileTradeRequest(config_id=session.config_id, dry_run=True),
                                            metadata=token_for(follower))).result
    assert result.in_sync, result
    # In sync: nothing to show, and certainly no "master implies" the follower never got.
    assert [(d.cause, Decimal(d.target_position), Decimal(d.difference)) for d in result.discrepancies] == []


def test_in_sync_is_zero_at_lot_precision():
    from datetime import UTC, datetime

    from services.replication.reconcile import measure
    from services.replication.store import FollowerOrderRow
    from services.replication.venues.base import Fill

    now = datetime(2026, 12, 1, tzinfo=UTC)
    copy = FollowerOrderRow(order_id="c1", master_fill_id="m:1", symbol="BTC/USDT", side=trading_pb2.SIDE_BUY,
                            quantity=Decimal("0.0100004"), filled_quantity=Decimal("0.0100004"),
                            status=events.FOLLOWER_ORDER_STATUS_FILLED, venue_order_id="v1", refusal=None)
    fill = Fill("t1", "v1", "c1", "BTC/USDT", "buy", Decimal("0.01"), Decimal(64000), Decimal(0), "USDT", now)
    drift = measure("BTC/USDT", [copy], [fill], {"v1"})
    drift.lot_size = Decimal("0.00001")
    assert drift.actionable == 0  # 0.0000004 short: less than a lot, nothing a venue could trade
    drift.lot_size = Decimal("0.0000001")
    assert drift.actionable == Decimal("0.0000004")  # at a finer lot it is drift, named UNKNOWN
    assert drift.causes == {er.DISCREPANCY_CAUSE_UNKNOWN: Decimal("-0.0000004")}
