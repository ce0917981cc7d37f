"""Risk's volatility and correlation checks on the prices a venue really has (issue 23, item 8),
through the mesh with the simulator: replication reads the follower venue's hourly candles and
risk judges them.

- With three days of history from before start-up, at real markets' statistics (BTC about 60 %,
  ETH 75 % a year, correlated at about 0.8), the default limits copy BTC and then ETH beside
  it; a follower's own tighter limits deny, naming the figure measured.
- On a venue with no history (most hours flat, as at a venue just started or a thin market),
  one move each is no evidence: the old checks denied such copies (a 3 % hour read as 41 % a
  year, two same-way moves as a 1.00 correlation); now they go, not judged."""

from decimal import Decimal

from google.protobuf import field_mask_pb2

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.kit.testing import eventually
from tests.replication.test_copy_flow import enrol
from tests.replication.test_copy_money import master_trades

MULTIPLIER = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")


async def start(copy_mesh, token_for, followers: dict[str, dict[str, str]], **mesh_options):
    """The mesh, a watched master, and one multiplier follower per entry (its own limits)."""
    started = await copy_mesh(seed=23, **mesh_options)
    sim = started.sim
    compliance = ComplianceServiceStub(started.compliance.channel)
    risk = RiskServiceStub(started.risk.channel)
    replication = ReplicationServiceStub(started.replication.channel)
    _, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    users = {}
    for name, limits in followers.items():
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "20000"})
        if limits:
            await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
                user_id=user, limits=risk_pb.RiskLimits(**limits),
                update_mask=field_mask_pb2.FieldMask(paths=list(limits))), metadata=token_for(user))
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id,
            settings=MULTIPLIER), metadata=token_for(user))
        users[name] = user
    await eventually(lambda: sim.stream_subscribed(master_sim.name), message="master stream watched")

    async def copies(count: int) -> dict[str, list[events.FollowerOrder]]:
        """Each follower's copies, oldest first, once every follower has `count` decided."""
        async def decided():
            found = {}
            for name, user in users.items():
                orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                               metadata=token_for(user))).orders
                done = [o for o in orders if o.status in (events.FOLLOWER_ORDER_STATUS_FILLED,
                                                          events.FOLLOWER_ORDER_STATUS_REFUSED)]
                if len(done) < count:
                    return None
                found[name] = sorted(done, key=lambda o: o.receive_time.ToNanoseconds())
            return found
        return await eventually(decided, timeout=30, message=f"{count} copies decided per follower")

    return sim, master_sim, users, copies


def outcome(order: events.FollowerOrder) -> str:
    return "FILLED" if order.status == events.FOLLOWER_ORDER_STATUS_FILLED else order.refusal.reason


async def test_realistic_history_lets_btc_and_eth_through_the_defaults_and_tight_limits_still_deny(
        copy_mesh, token_for):
    sim, master_sim, users, copies = await start(copy_mesh, token_for, {
        "defaults": {}, "calm": {"volatility_limit": "0.3"}, "apart": {"correlation_limit": "0.5"}},
        history_hours=72)
    await master_trades(sim, master_sim, "buy", "0.01", "hist-btc", "BTC/USDT")
    await copies(1)
    await master_trades(sim, master_sim, "buy", "0.1", "hist-eth", "ETH/USDT")
    found = await copies(2)
    btc, eth = ({name: found[name][i] for name in users} for i in (0, 1))
    assert {n: outcome(o) for n, o in btc.items()} == {"defaults": "FILLED", "calm": "VOLATILITY_TOO_HIGH",
                                                       "apart": "FILLED"}
    assert {n: outcome(o) for n, o in eth.items()} == {"defaults": "FILLED", "calm": "VOLATILITY_TOO_HIGH",
                                                       "apart": "CORRELATION_TOO_HIGH"}
    measured = btc["calm"].refusal.metadata
    assert 0.3 < float(measured["volatility"]) < 0.9 and measured["observations"] == "48"
    together = eth["apart"].refusal.metadata
    assert together["symbol"] == "BTC/USDT" and 0.6 < float(together["correlation"]) < 0.95
    assert int(together["observations"]) >= 24
    # At the venue: both copies for the defaults, BTC alone for the follower who keeps them apart.
    assert [(o.symbol, o.orig_qty) for o in sim.orders(users["defaults"])] == [
        ("BTCUSDT", Decimal("0.01")), ("ETHUSDT", Decimal("0.1"))]
    assert [o.symbol for o in sim.orders(users["apart"])] == ["BTCUSDT"] and sim.orders(users["calm"]) == []


async def test_a_venue_without_history_is_not_judged_so_copies_go(copy_mesh, token_for):
    """Each price moves once in 48 hours. The old checks denied ETH beside BTC (both up 1 %: a
    "1.00 correlation") and SOL (one 3 % hour: "41 % a year"), at the old limits as at the new."""
    sim, master_sim, users, copies = await start(copy_mesh, token_for, {"defaults": {}, "old-defaults": {
        "volatility_limit": "0.3", "correlation_limit": "0.8"}})
    for count, (symbol, price, quantity) in enumerate((("BTC", "64640", "0.01"), ("ETH", "3232", "0.1"),
                                                      ("SOL", "154.5", "0.5")), start=1):
        sim.set_price(f"{symbol}USDT", Decimal(price))  # +1 %, +1 %, +3 %: the only move in 48 hours
        await master_trades(sim, master_sim, "buy", quantity, f"thin-{symbol}", f"{symbol}/USDT")
        found = await copies(count)
    assert {name: [outcome(o) for o in orders] for name, orders in found.items()} == {
        "defaults": ["FILLED"] * 3, "old-defaults": ["FILLED"] * 3}
    for name in users:
        assert [o.symbol for o in sim.orders(users[name])] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
