"""Joining open positions (issue 23, item 2), through the mesh and checked at the simulator: a
follower who starts a session with copy_open_positions while the master holds a position is
copied into it, sized by the session's mode as if the master had just opened it, through risk
like any copy; one without the choice holds nothing until the master trades; a join whose price
moved past max_slippage from the master's entry is refused SLIPPAGE_TOO_HIGH with its numbers
and recorded; a retried start, or the join run again, never doubles it. A perpetual master's
short is joined short."""

import asyncio
from decimal import Decimal

import grpc
import pytest
import pytest_asyncio

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from services.replication import join
from services.replication.store import CopySessionRow, MasterFillRow
from tests.replication.test_copy_flow import enrol, orders_of
from tests.replication.test_copy_money import holding, master_trades

PERP = "BTC/USDT:USDT"


@pytest_asyncio.fixture
async def mesh(copy_mesh):
    started = await copy_mesh(seed=23)
    return started.sim, ComplianceServiceStub(started.compliance.channel), ReplicationServiceStub(
        started.replication.channel), started.replication.running.components


def start_request(account, master_account, settings, request_id="") -> rep.StartCopySessionRequest:
    return rep.StartCopySessionRequest(follower_account_id=account.account_id,
                                       master_account_id=master_account.account_id, settings=settings,
                                       request_id=request_id)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])  # on PostgreSQL the join holds its master's lock
async def test_a_follower_joining_mid_position_is_copied_in_once_within_its_guards(mesh, token_for, backend):
    sim, compliance, replication, components = mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    await eventually(lambda: bool(sim._streams.get(master_sim.api_key)), message="master stream watched")
    await master_trades(sim, master_sim, "buy", "0.01", "join-open")

    async def master_fills():
        return list((await replication.ListMasterFills(rep.ListMasterFillsRequest(
            master_account_id=master_account.account_id), metadata=token_for(master))).fills)
    [opened] = await eventually(master_fills, message="the master's fill recorded")
    entry = Decimal(opened.price)

    followers = {}
    for name in ("joiner", "proportional", "plain", "guarded"):
        followers[name] = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                      {"USDT": "50000"})
    joiner, _, joiner_account = followers["joiner"]
    half = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="0.5", copy_open_positions=True)
    started = await replication.StartCopySession(start_request(joiner_account, master_account, half, "start-1"),
                                                 metadata=token_for(joiner))
    assert started.session.settings.copy_open_positions  # the choice is kept with the session
    # The master's 0.01 BTC, halved, bought at the venue through risk; said in the response.
    [joined] = started.joined_orders
    assert (joined.symbol, joined.side, Decimal(joined.quantity)) == ("BTC/USDT", trading_pb2.SIDE_BUY,
                                                                       Decimal("0.005"))
    assert joined.master_fill_id.startswith(join.PREFIX) and joined.status == events.FOLLOWER_ORDER_STATUS_FILLED
    assert [(o.side, o.orig_qty) for o in sim.orders(joiner)] == [("BUY", Decimal("0.005"))]
    assert sim.orders(joiner)[0].client_order_id == joined.client_order_id

    # Equity-proportional: 50,000 against the master's ~100,000 is half the master's position.
    user, _, account = followers["proportional"]
    equity_join = rep.CopySettings(sizing_mode=rep.SIZING_MODE_EQUITY_PROPORTIONAL, copy_open_positions=True)
    await replication.StartCopySession(start_request(account, master_account, equity_join), metadata=token_for(user))
    assert [(o.side, o.orig_qty) for o in sim.orders(user)] == [("BUY", Decimal("0.005"))]

    # Without the choice nothing is joined (the master's next trade is copied as ever).
    user, _, account = followers["plain"]
    plain = (await replication.StartCopySession(start_request(account, master_account, rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="0.5")), metadata=token_for(user)))
    assert not plain.joined_orders and not plain.session.settings.copy_open_positions
    assert sim.orders(user) == [] and await orders_of(replication, token_for, user) == []

    # The price is now 3.125 % above the master's entry: past a 1 % tolerance, refused and recorded.
    sim.set_price("BTCUSDT", entry * Decimal("1.03125"))
    user, _, account = followers["guarded"]
    guarded = (await replication.StartCopySession(start_request(account, master_account, rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="0.5", copy_open_positions=True, max_slippage="0.01")),
        metadata=token_for(user)))
    [refused] = guarded.joined_orders
    assert (refused.status, refused.refusal.reason) == (events.FOLLOWER_ORDER_STATUS_REFUSED, "SLIPPAGE_TOO_HIGH")
    assert dict(refused.refusal.metadata) == {"slippage": "0.031250", "max_slippage": "0.01",
                                              "master_price": format(entry.normalize(), "f"),
                                              "venue_price": format((entry * Decimal("1.03125")).normalize(), "f")}
    assert "entry" in refused.refusal.message
    assert sim.orders(user) == []
    assert [o.order_id for o in await orders_of(replication, token_for, user)] == [refused.order_id]

    # A retried start (same request id) returns the session and joins nothing twice.
    again = await replication.StartCopySession(start_request(joiner_account, master_account, half, "start-1"),
                                               metadata=token_for(joiner))
    assert again.session.config_id == started.session.config_id
    assert [o.order_id for o in again.joined_orders] == [joined.order_id]
    # A second start without one is refused: the account already copies that master.
    with pytest.raises(grpc.aio.AioRpcError) as exists:
        await replication.StartCopySession(start_request(joiner_account, master_account, half),
                                           metadata=token_for(joiner))
    assert exists.value.code() == grpc.StatusCode.ALREADY_EXISTS
    # The join run again (a crash after it was sent): its client order id finds it made.
    db = components["copier"].db
    async with db.session() as session:
        row = await session.get(CopySessionRow, started.session.config_id)
    rerun = await components["joiner"].join(row)
    assert [o.order_id for o in rerun] == [joined.order_id]
    assert len(sim.orders(joiner)) == 1 and len(await orders_of(replication, token_for, joiner)) == 1

    # The joined position is the session's: the master's close closes it (what the fee left).
    await master_trades(sim, master_sim, "sell", "0.00999", "join-close")  # what the fee left
    await eventually(lambda: len(sim.orders(joiner)) == 2, message="the joiner's close")
    assert sim.orders(joiner)[1].side == "SELL" and holding(sim, joiner) < Decimal("0.00001")
    # The plain follower copied only the close: nothing held, nothing to sell.
    plain_orders = await eventually(lambda: orders_of(replication, token_for, followers["plain"][0]),
                                    message="the plain follower's copy decided")
    assert [o.refusal.reason for o in plain_orders] == ["NOTHING_TO_CLOSE"]


async def test_a_perpetual_masters_short_is_joined_short(mesh, token_for):
    sim, compliance, replication, _ = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "perp-master",
                                            rep.ACCOUNT_ROLE_MASTER, {}, futures_wallet="100000")
    trades = [("short", PERP, trading_pb2.SIDE_SELL, "0.02"),
              ("eth-open", "ETH/USDT:USDT", trading_pb2.SIDE_BUY, "1"),  # opened and closed: flat
              ("eth-close", "ETH/USDT:USDT", trading_pb2.SIDE_SELL, "1")]
    for trade_id, symbol, side, quantity in trades:
        await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id=trade_id, symbol=symbol, side=side,
            quantity=quantity, price=str(sim.exchange.prices[symbol.split(":")[0].replace("/", "")])),
            metadata=token_for(master))
    follower, _, account = await enrol(sim, compliance, replication, token_for, "perp-joiner",
                                       rep.ACCOUNT_ROLE_FOLLOWER, {}, futures_wallet="50000")
    started = await replication.StartCopySession(start_request(account, master_account, rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", copy_open_positions=True)),
        metadata=token_for(follower))
    [joined] = started.joined_orders  # the flat ETH position is not joined
    assert (joined.symbol, joined.side, joined.status) == (PERP, trading_pb2.SIDE_SELL,
                                                           events.FOLLOWER_ORDER_STATUS_FILLED)
    assert [(o.side, o.orig_qty, o.reduce_only) for o in sim.futures_orders(follower)] == [
        ("SELL", Decimal("0.02"), False)]
    book = sim.perps.book(sim.exchange.accounts[follower])
    assert sum((p.quantity for (symbol, _), p in book.positions.items() if symbol == "BTCUSDT"), Decimal(0)) \
        == Decimal("-0.02")

    # A follower who denies the symbol has the join refused, and recorded, with that reason.
    denier, _, denier_account = await enrol(sim, compliance, replication, token_for, "perp-denier",
                                            rep.ACCOUNT_ROLE_FOLLOWER, {}, futures_wallet="50000")
    denied = await replication.StartCopySession(start_request(denier_account, master_account, rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", copy_open_positions=True, denied_symbols=[PERP])),
        metadata=token_for(denier))
    assert [(o.status, o.refusal.reason) for o in denied.joined_orders] == [
        (events.FOLLOWER_ORDER_STATUS_REFUSED, "SYMBOL_DENIED")]
    assert sim.futures_orders(denier) == []


async def test_a_join_the_venue_turned_away_is_retried_once_and_dropped_once_the_master_has_closed(mesh,
                                                                                                   token_for):
    """A join the venue refused for now (429) is retried like any copy: sent again under its
    client order id, once. One whose master closed the position meanwhile is not sent: stale."""
    sim, compliance, replication, _ = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "signal-master",
                                            rep.ACCOUNT_ROLE_MASTER, {})

    async def master_fill(trade_id, side):
        await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id=trade_id, symbol="BTC/USDT", side=side,
            quantity="0.01", price=str(sim.exchange.prices["BTCUSDT"])), metadata=token_for(master))
    await master_fill("open", trading_pb2.SIDE_BUY)
    settings = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", copy_open_positions=True)
    started = {}
    for name, retry_after in (("retried", 1), ("late", 3)):
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
        sim.inject(kind="rate_limit", account=user, retry_after=retry_after)
        [order] = (await replication.StartCopySession(start_request(account, master_account, settings),
                                                      metadata=token_for(user))).joined_orders
        assert order.status == events.FOLLOWER_ORDER_STATUS_FAILED and order.error_kind == "RATE_LIMIT"
        started[name] = user, order

    user, order = started["retried"]
    await eventually(lambda: sim.orders(user), timeout=10, message="the retried join at the venue")
    assert [(o.client_order_id, o.side, o.orig_qty) for o in sim.orders(user)] == [
        (order.client_order_id, "BUY", Decimal("0.01"))]

    await master_fill("close", trading_pb2.SIDE_SELL)  # before the late one's retry is due

    async def dropped():
        [late] = [o for o in await orders_of(replication, token_for, started["late"][0])
                  if o.order_id == started["late"][1].order_id]
        return late.status == events.FOLLOWER_ORDER_STATUS_REFUSED and late
    late = await eventually(dropped, timeout=15, message="the late join dropped")
    assert late.refusal.reason == "COPY_STALE" and "closed" in late.refusal.message
    assert sim.orders(started["late"][0]) == []
    assert len(sim.orders(user)) == 2  # the retried joiner's copy of the close


async def test_a_fill_recorded_but_not_yet_copied_is_copied_to_the_joiner_not_joined(mesh, token_for):
    """The master's fill that is stored but still on its way to the copier when the session
    starts is copied to the new session when it arrives: the join takes the position before it,
    so the follower ends up holding the master's position once, not that fill twice."""
    sim, compliance, replication, components = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "racing-master",
                                            rep.ACCOUNT_ROLE_MASTER, {})

    async def master_fill(trade_id, quantity, symbol="BTC/USDT"):
        await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id=trade_id, symbol=symbol,
            side=trading_pb2.SIDE_BUY, quantity=quantity, price=str(sim.exchange.prices[symbol.replace("/", "")])),
            metadata=token_for(master))
    await master_fill("first", "0.01")
    copier = components["copier"]

    async def copied():  # by the copier (to no session yet)
        async with copier.db.session() as session:
            return (await session.get(MasterFillRow, f"{master_account.account_id}:first")).handled
    await eventually(copied, message="the first fill handled")
    copy_in_order, gate, held = copier._copy_in_order, asyncio.Event(), asyncio.Event()

    async def held_back(fill, *rest):  # rest: the master lock's transaction
        held.set()
        await gate.wait()
        await copy_in_order(fill, *rest)
    copier._copy_in_order = held_back
    try:
        await master_fill("second", "0.02")  # stored, the master's book at 0.03; its copying held back
        await asyncio.wait_for(held.wait(), 10)
        user, _, account = await enrol(sim, compliance, replication, token_for, "racer", rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
        started = await replication.StartCopySession(start_request(account, master_account, rep.CopySettings(
            sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", copy_open_positions=True)),
            metadata=token_for(user))
        [joined] = started.joined_orders
        assert Decimal(joined.quantity) == Decimal("0.01")
    finally:
        copier._copy_in_order = copy_in_order
        gate.set()
    await eventually(lambda: len(sim.orders(user)) == 2, message="the held-back fill copied to the joiner")
    assert [(o.side, o.orig_qty) for o in sim.orders(user)] == [("BUY", Decimal("0.01")), ("BUY", Decimal("0.02"))]

    # The master opens ETH, copied to the session; the join run again later joins none of it.
    await master_fill("eth", "0.1", "ETH/USDT")
    await eventually(lambda: len(sim.orders(user)) == 3, message="the ETH copy")
    async with copier.db.session() as session:
        row = await session.get(CopySessionRow, started.session.config_id)
    assert [o.order_id for o in await components["joiner"].join(row)] == [joined.order_id]
    assert [(o.side, o.orig_qty) for o in sim.orders(user)][2:] == [("BUY", Decimal("0.1"))]


def test_the_masters_entry_is_the_average_price_of_what_is_open():
    """The position book keeps the master's average entry: adding averages it, reducing keeps
    it, a flip starts again at the flipping fill's price, flat has none."""
    steps = [(Decimal("1"), Decimal("100"), Decimal("100")), (Decimal("1"), Decimal("200"), Decimal("150")),
             (Decimal("-1"), Decimal("400"), Decimal("150")), (Decimal("-3"), Decimal("90"), Decimal("90")),
             (Decimal("2"), Decimal("80"), None)]
    position, entry = Decimal(0), None
    for signed, price, expected in steps:
        entry = join.entry_after(position, entry, signed, price)
        position += signed
        assert entry == expected, (position, entry)


def test_the_position_joined_is_what_the_sessions_copies_will_not_build():
    """Fills recorded but not yet copied will be copied to the new session: the join takes the
    master's position before the first of them. Fills the session already copied (a retried
    start) are held through their copies already."""
    assert join.position_to_join(Decimal("0.03"), None, Decimal(0)) == Decimal("0.03")
    assert join.position_to_join(Decimal("0.03"), Decimal("0.01"), Decimal(0)) == Decimal("0.01")
    assert join.position_to_join(Decimal("0.03"), None, Decimal("0.02")) == Decimal("0.01")
    assert join.position_to_join(Decimal("-0.02"), None, Decimal(0)) == Decimal("-0.02")
