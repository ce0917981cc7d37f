"""Mirrored resting orders through the mesh: a master on USDⓈ-M perpetuals places, amends (Binance's
Modify Order) and cancels limit orders with ccxt; a follower who mirrors resting orders gets the
same resting orders at its venue, sized by its settings, amended and canceled with the master's,
and filled by its own venue, never copied a second time at market; a follower who does not mirror
gets the master's fill copied at market; a kill switch and a stopped session cancel the copies
still resting. Verified by asking the simulator, not our database."""

from decimal import Decimal

import ccxt.async_support as ccxt
import pytest_asyncio

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from services.kit.testing import eventually
from tests.replication.test_copy_flow import enrol, mesh  # noqa: F401 - the mesh fixture
from venue_sim import ccxt_config

SYMBOL, VENUE_SYMBOL = "BTC/USDT:USDT", "BTCUSDT"


@pytest_asyncio.fixture
async def scene(mesh, token_for):  # noqa: F811 - the fixture imported above
    sim, compliance, risk, replication, bus = mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {}, watch=True,
                                                     futures_wallet="100000")
    followers = {}
    for name, mirror in (("mirror", True), ("plain", False)):
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER, {},
                                       futures_wallet="50000")
        session = (await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="2" if mirror else "1",
                                      mirror_resting_orders=mirror)), metadata=token_for(user))).session
        followers[name] = (user, session)
    feed: list = []

    async def on_event(subject, event):
        feed.append(event)
    await bus.subscribe("copies.order.>", on_event)
    await eventually(lambda: sim.stream_subscribed(master, "futures"), message="master stream watched")
    exchange = ccxt.binance({"apiKey": master_sim.api_key, "secret": master_sim.secret,
                             **ccxt_config(sim.url, rate_limit=False, market="swap")})
    await exchange.load_markets()
    yield sim, risk, replication, exchange, followers, feed
    await exchange.close()


def resting(sim, user):
    return [(o.side, o.orig_qty, o.price) for o in sim.futures_orders(user) if o.status == "NEW"]


def statuses(sim, user):
    return [(o.side, o.orig_qty, o.price, o.status) for o in sim.futures_orders(user)]


async def test_resting_orders_are_mirrored_amended_filled_and_canceled(scene, token_for):
    sim, risk, replication, exchange, followers, feed = scene
    mirror, plain = followers["mirror"][0], followers["plain"][0]
    assert sim.price(VENUE_SYMBOL) == Decimal("64000")

    # A resting buy: the mirroring follower rests twice as much at the master's price.
    order = await exchange.create_order(SYMBOL, "limit", "buy", 0.01, 63000)
    await eventually(lambda: resting(sim, mirror) == [("BUY", Decimal("0.020"), Decimal("63000"))],
                     message="the resting copy at the follower's venue")
    assert sim.futures_orders(plain) == []  # nothing has filled: nothing to copy

    # Amended in place: the copy is replaced at the new price and size.
    await exchange.edit_order(order["id"], SYMBOL, "limit", "buy", 0.02, 63500)
    await eventually(lambda: resting(sim, mirror) == [("BUY", Decimal("0.040"), Decimal("63500"))],
                     message="the copy follows the amendment")
    assert [s for *_, s in statuses(sim, mirror)] == ["CANCELED", "NEW"]
    canceled = [e for e in feed if isinstance(e, events.FollowerOrderCanceled)]
    assert [e.reason for e in canceled] == ["the master amended its order"]

    # The price comes down through the limits: the master's order and the copy both fill, each at
    # its own venue; the follower who does not mirror gets the master's fill copied at market.
    sim.set_price(VENUE_SYMBOL, "63400")
    await eventually(lambda: [s for *_, s in statuses(sim, plain)] == ["FILLED"], message="the fill copied")
    assert statuses(sim, plain)[0][:2] == ("BUY", Decimal("0.020"))

    async def copy_filled():
        orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(
            config_id=followers["mirror"][1].config_id), metadata=token_for(mirror))).orders
        return {o.status for o in orders} == {events.FOLLOWER_ORDER_STATUS_FILLED,
                                              events.FOLLOWER_ORDER_STATUS_CANCELED} and orders
    orders = await eventually(copy_filled, message="the resting copy recorded filled")
    filled = next(o for o in orders if o.status == events.FOLLOWER_ORDER_STATUS_FILLED)
    assert tuple(map(Decimal, (filled.quantity, filled.filled_quantity, filled.price))) == (
        Decimal("0.04"), Decimal("0.04"), Decimal("63500"))
    assert filled.master_order_id.endswith(f":{order['id']}")
    await eventually(lambda: any(isinstance(e, events.FollowerOrderFilled) and e.order.order_id == filled.order_id
                                 for e in feed), message="the fill on the feed")
    # The fill event names the follower's venue and carries the fee of the venue's own fill, so
    # the trade report has them (it had venue "" and fee 0 for every follower row).
    [venue_trade] = [t for t in sim.trades(mirror, "futures") if t.client_order_id == filled.order_id]
    [fill_event] = [e for e in feed if isinstance(e, events.FollowerOrderFilled) and e.order.order_id == filled.order_id]
    assert fill_event.venue.id == "binance" and fill_event.venue_trade_id == str(venue_trade.trade_id)
    assert (Decimal(fill_event.fee), fill_event.fee_currency) == (venue_trade.commission, venue_trade.commission_asset)
    assert venue_trade.commission > 0
    assert [s for *_, s in statuses(sim, mirror)] == ["CANCELED", "FILLED"]  # no market copy besides

    # A resting sell that would close half, then canceled by the master: so is the copy.
    sell = await exchange.create_order(SYMBOL, "limit", "sell", 0.01, 65000)
    await eventually(lambda: resting(sim, mirror) == [("SELL", Decimal("0.020"), Decimal("65000"))],
                     message="half the copied position offered, as the master offers half of theirs")
    await exchange.cancel_order(sell["id"], SYMBOL)
    await eventually(lambda: resting(sim, mirror) == [], message="the copy canceled with the master's")
    await eventually(lambda: [e.reason for e in feed if isinstance(e, events.FollowerOrderCanceled)] ==
                     ["the master amended its order", "the master canceled its order"], message="why, on the feed")

    # The kill switch cancels what still rests.
    await exchange.create_order(SYMBOL, "limit", "buy", 0.005, 62000)
    await eventually(lambda: resting(sim, mirror) == [("BUY", Decimal("0.010"), Decimal("62000"))],
                     message="another resting copy")
    await risk.ActivateKillSwitch(risk_pb.ActivateKillSwitchRequest(
        scope=risk_pb.TradingScope(user_id=mirror), reason="enough for today"), metadata=token_for(mirror))
    await eventually(lambda: resting(sim, mirror) == [], message="the kill switch cancels the resting copy")
    await eventually(lambda: any(isinstance(e, events.FollowerOrderCanceled) and "halted" in e.reason and
                                 "enough for today" in e.reason for e in feed), message="the halt's reason")


async def test_stopping_a_session_cancels_its_resting_copies(scene, token_for):
    sim, risk, replication, exchange, followers, feed = scene
    mirror, session = followers["mirror"]
    order = await exchange.create_order(SYMBOL, "limit", "sell", 0.01, 66000)
    await eventually(lambda: resting(sim, mirror) == [("SELL", Decimal("0.020"), Decimal("66000"))],
                     message="the resting copy")
    await replication.StopCopySession(rep.StopCopySessionRequest(config_id=session.config_id),
                                      metadata=token_for(mirror))
    await eventually(lambda: resting(sim, mirror) == [], message="stopping cancels the copy")
    await eventually(lambda: [e.reason for e in feed if isinstance(e, events.FollowerOrderCanceled)] ==
                     ["the copy session was stopped"], message="why, on the feed")
    # The master's own order rests on, untouched.
    assert (await exchange.fetch_order(order["id"], SYMBOL))["status"] == "open"
