"""Mirrored stops through the mesh, checked at the simulators: a master's stop-loss on USDⓈ-M
perpetuals (Binance's Algo Service, through ccxt) is mirrored to a follower who mirrors stops,
sized to the follower's position and reduce-only; the master's cancel and replacement are
mirrored; the price falls through the trigger and the follower's own stop fires at its venue and
closes its position, with no second close copied at market. A follower whose risk limits do not
carry stop-losses is told why and gets the master's exit at market instead. A take-profit /
stop-loss pair of close-position orders: the take-profit fills, the stop-loss is gone at the
venue. An IB bracket (entry, take-profit and stop-loss children with parentId, one OCA group)
is mirrored as a bracket at the follower's IB account, its stop-loss amended there with the
master's, and once the entry has filled and the stop fires the follower is flat and the
take-profit canceled."""

from decimal import Decimal

import ccxt.async_support as ccxt
import pytest_asyncio
from google.protobuf import field_mask_pb2

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from services.replication.venues.ib_venue import IbVenue
from tests.replication.conftest import RITHMIC, enrol_ib, follow, raise_position_cap
from tests.replication.conftest import enrol as enrol_venue
from tests.replication.test_copy_flow import enrol, mesh  # noqa: F401 - the mesh fixture
from venue_sim import ccxt_config
from venue_sim.ib import IbSimulator
from venue_sim.rithmic import RithmicSim

SYMBOL, VENUE_SYMBOL = "BTC/USDT:USDT", "BTCUSDT"
MASTER_CLIENT_ID = 77


@pytest_asyncio.fixture
async def scene(mesh, token_for):  # noqa: F811 - the fixture imported above
    sim, compliance, risk, replication, bus = mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {}, watch=True,
                                                     futures_wallet="100000")
    followers = {}
    for name in ("stops", "no-stops"):
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER, {},
                                       futures_wallet="50000")
        session = (await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="2",
                                      mirror_stop_orders=True)), metadata=token_for(user))).session
        followers[name] = (user, session)
    await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
        user_id=followers["no-stops"][0], limits=risk_pb.RiskLimits(stop_loss_enabled=False),
        update_mask=field_mask_pb2.FieldMask(paths=["stop_loss_enabled"])),
        metadata=token_for(followers["no-stops"][0]))
    feed: list = []

    async def on_event(subject, event):
        feed.append(event)
    await bus.subscribe("copies.order.>", on_event)
    await eventually(lambda: sim.stream_subscribed(master, "futures"), message="master stream watched")
    exchange = ccxt.binance({"apiKey": master_sim.api_key, "secret": master_sim.secret,
                             **ccxt_config(sim.url, rate_limit=False, market="swap")})
    await exchange.load_markets()
    yield sim, replication, exchange, followers, feed
    await exchange.close()


def algos(sim, user, status=None):
    """The follower's conditional orders as the venue's Algo Service holds them."""
    return [(a.type, a.side, a.quantity, a.trigger_price, a.reduce_only, a.close_position)
            for a in sim.algo_orders(user) if status in (None, a.status)]


def algo_statuses(sim, user):
    return [(a.type, a.trigger_price, a.status) for a in sim.algo_orders(user)]


def position(sim, user) -> Decimal:
    book = sim.perps.book(sim.exchange.accounts[user])
    return sum((p.quantity for (symbol, _), p in book.positions.items() if symbol == VENUE_SYMBOL), Decimal(0))


def market_orders(sim, user):
    """Orders the follower's copies sent themselves (a triggered stop's own order is its stop's)."""
    return [(o.type, o.side, o.orig_qty) for o in sim.futures_orders(user) if o.algo_id is None]


async def test_a_master_stop_is_mirrored_replaced_and_fires_at_the_follower_venue(scene, token_for):
    sim, replication, exchange, followers, feed = scene
    follower, no_stops = followers["stops"][0], followers["no-stops"][0]
    await exchange.create_order(SYMBOL, "market", "buy", 0.01)
    for user in (follower, no_stops):
        await eventually(lambda u=user: position(sim, u) == Decimal("0.02"), message="the opening copied at market")

    stop = await exchange.create_order(SYMBOL, "market", "sell", 0.01, None, {"stopLossPrice": 63000,
                                                                              "reduceOnly": True})
    # Twice the master's stop, as the follower holds twice the master's position, and reduce-only.
    await eventually(lambda: algos(sim, follower, "NEW") == [
        ("STOP_MARKET", "SELL", Decimal("0.020"), Decimal("63000"), True, False)], message="the stop mirrored")
    refused = await eventually(lambda: [e for e in feed if isinstance(e, events.CopyRefused)
                                        and e.order.follower_id == no_stops], message="the refusal on the feed")
    assert refused[0].refusal.reason == "STOP_LOSS_NOT_CARRIED" and algos(sim, no_stops) == []

    # Binance amends no conditional order: the master cancels it and places another; so do we.
    await exchange.cancel_order(stop["id"], SYMBOL, {"trigger": True})
    await exchange.create_order(SYMBOL, "market", "sell", 0.01, None, {"stopLossPrice": 62500, "reduceOnly": True})
    await eventually(lambda: algo_statuses(sim, follower) == [("STOP_MARKET", Decimal("63000"), "CANCELED"),
                                                             ("STOP_MARKET", Decimal("62500"), "NEW")],
                     message="the cancel and the new stop mirrored")
    assert any(isinstance(e, events.FollowerOrderCanceled) and e.reason == "the master canceled its order"
               for e in feed)

    # Through the trigger: each stop fires at its own venue account.
    sim.set_price(VENUE_SYMBOL, "62400")
    await eventually(lambda: position(sim, follower) == 0, message="the follower's stop closed its position")
    await eventually(lambda: algo_statuses(sim, follower)[-1] == ("STOP_MARKET", Decimal("62500"), "FINISHED"),
                     message="the follower's stop finished at the venue")
    await eventually(lambda: position(sim, no_stops) == 0, message="the master's exit copied at market")
    assert market_orders(sim, follower) == [("MARKET", "BUY", Decimal("0.020"))]  # no second close at market
    assert market_orders(sim, no_stops) == [("MARKET", "BUY", Decimal("0.020")), ("MARKET", "SELL", Decimal("0.020"))]

    async def recorded_filled():
        orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(
            config_id=followers["stops"][1].config_id), metadata=token_for(follower))).orders
        return [o for o in orders if o.trigger_price and Decimal(o.trigger_price) == 62500
                and o.status == events.FOLLOWER_ORDER_STATUS_FILLED]
    [filled] = await eventually(recorded_filled, message="the stop copy recorded filled")
    assert (filled.order_type, Decimal(filled.filled_quantity)) == (trading_pb2.ORDER_TYPE_STOP_MARKET, Decimal("0.02"))


async def test_a_take_profit_and_stop_loss_pair_one_fills_the_other_is_gone(scene):
    sim, replication, exchange, followers, feed = scene
    follower = followers["stops"][0]
    await exchange.create_order(SYMBOL, "market", "buy", 0.01)
    await eventually(lambda: position(sim, follower) == Decimal("0.02"), message="the opening copied")
    await exchange.create_order(SYMBOL, "market", "sell", None, None, {"stopLossPrice": 63000, "closePosition": True})
    await exchange.create_order(SYMBOL, "market", "sell", None, None, {"takeProfitPrice": 65000,
                                                                       "closePosition": True})
    await eventually(lambda: sorted(algos(sim, follower, "NEW")) == [
        ("STOP_MARKET", "SELL", Decimal(0), Decimal("63000"), False, True),
        ("TAKE_PROFIT_MARKET", "SELL", Decimal(0), Decimal("65000"), False, True)],
        message="both mirrored as close-position orders")
    sim.set_price(VENUE_SYMBOL, "65100")
    await eventually(lambda: position(sim, follower) == 0, message="the take-profit closed the position")
    await eventually(lambda: sorted(algo_statuses(sim, follower)) == [
        ("STOP_MARKET", Decimal("63000"), "EXPIRED"), ("TAKE_PROFIT_MARKET", Decimal("65000"), "FINISHED")],
        message="the stop-loss gone with the position")
    sim.set_price(VENUE_SYMBOL, "62000")  # through the old stop: nothing more happens
    assert position(sim, follower) == 0 and market_orders(sim, follower) == [("MARKET", "BUY", Decimal("0.020"))]
    await eventually(lambda: any(isinstance(e, events.FollowerOrderCanceled) and e.order.trigger_price
                                 and Decimal(e.order.trigger_price) == 63000 for e in feed),
                     message="the stop-loss copy's end on the feed")


# --- IB brackets -----------------------------------------------------------------------------
@pytest_asyncio.fixture
async def ib_mesh(services_on):
    sim = await IbSimulator(seed=3, master_client_id=MASTER_CLIENT_ID).start()
    stubs = await services_on({"ib": f"127.0.0.1:{sim.port}"})
    yield sim, stubs.compliance, stubs.replication, stubs.risk
    await sim.stop()


def ib_orders(sim, code):
    return [(o.order_type, o.action, o.quantity, o.limit, o.aux, o.status) for o in sim.orders(code)]


async def test_an_ib_bracket_is_mirrored_as_a_bracket_its_stop_amended_and_fired(ib_mesh, token_for):
    sim, compliance, replication, risk = ib_mesh
    master, master_code, master_account = await enrol_ib(sim, compliance, replication, token_for, "m",
                                                         rep.ACCOUNT_ROLE_MASTER, watch=True,
                                                         client_id=str(MASTER_CLIENT_ID))
    follower, code, account = await enrol_ib(sim, compliance, replication, token_for, "f", rep.ACCOUNT_ROLE_FOLLOWER)
    await follow(replication, token_for, follower, account, master_account, rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="2", mirror_resting_orders=True, mirror_stop_orders=True))
    await raise_position_cap(risk, token_for, follower)
    await eventually(lambda: sim.stream_subscribed(master_code), message="the master account watched")
    assert sim.price("ES") == Decimal("5000.00")
    master_venue = IbVenue(host="127.0.0.1", port=sim.port, client_id=5, account=master_code)
    try:
        await master_venue.place_orders([
            OrderRequest("m-entry", "ES", "buy", Decimal(1), "limit", Decimal("4990")),
            OrderRequest("m-tp", "ES", "sell", Decimal(1), "limit", Decimal("5010"), oco_group="m-bracket",
                         parent_client_order_id="m-entry"),
            OrderRequest("m-sl", "ES", "sell", Decimal(1), "stop_market", trigger_price=Decimal("4980"),
                         oco_group="m-bracket", parent_client_order_id="m-entry")])
        # A bracket of the follower's own: the entry, and two children attached to it in one OCA group.
        await eventually(lambda: ib_orders(sim, code) == [
            ("LMT", "BUY", 2, Decimal("4990.00"), None, "Submitted"),
            ("LMT", "SELL", 2, Decimal("5010.00"), None, "PreSubmitted"),
            ("STP", "SELL", 2, None, Decimal("4980.00"), "PreSubmitted")], message="the bracket mirrored")
        entry, profit, loss = sim.orders(code)
        assert profit.parent_id == loss.parent_id == entry.order_id
        assert profit.oca_group == loss.oca_group != ""

        # The master moves its stop up: the follower's is replaced, still attached to the entry.
        trade = next(t for t in master_venue.ib.trades() if t.order.orderRef == "m-sl")
        trade.order.auxPrice = 4985.0
        master_venue.ib.placeOrder(trade.contract, trade.order)
        await eventually(lambda: [o[-2:] for o in ib_orders(sim, code)][2:] == [
            (Decimal("4980.00"), "Cancelled"), (Decimal("4985.00"), "PreSubmitted")], message="the amendment mirrored")
        assert sim.orders(code)[3].parent_id == entry.order_id

        sim.set_price("ES", Decimal("4990"))  # both entries fill at their own accounts; the children work
        await eventually(lambda: [o.status for o in sim.orders(code)] ==
                         ["Filled", "Submitted", "Cancelled", "Submitted"], message="the follower's entry filled")
        assert sim.book.accounts[code].positions["ES"].quantity == 2
        sim.set_price("ES", Decimal("4984"))  # through the stop
        await eventually(lambda: [o.status for o in sim.orders(code)] ==
                         ["Filled", "Cancelled", "Cancelled", "Filled"],
                         message="the stop fired, the take-profit canceled")
        assert sim.book.accounts[code].positions["ES"].quantity == 0
        assert [o.order_type for o in sim.orders(code)] == ["LMT", "LMT", "STP", "STP"]  # nothing copied at market
        assert sim.book.accounts[master_code].positions["ES"].quantity == 0
    finally:
        await master_venue.close()


# --- the follower's own protective orders, and risk measured to the master's stop ----------------
async def start(replication, token_for, user, account, master_account, settings):
    return (await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id, settings=settings),
        metadata=token_for(user))).session


@pytest_asyncio.fixture
async def futures(mesh, token_for):  # noqa: F811 - the fixture imported above
    sim, compliance, risk, replication, bus = mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {}, watch=True,
                                                     futures_wallet="100000")
    await eventually(lambda: sim.stream_subscribed(master, "futures"), message="master stream watched")
    exchange = ccxt.binance({"apiKey": master_sim.api_key, "secret": master_sim.secret,
                             **ccxt_config(sim.url, rate_limit=False, market="swap")})
    await exchange.load_markets()

    async def follower(name: str, settings: rep.CopySettings):
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER, {},
                                       futures_wallet="50000")
        return user, await start(replication, token_for, user, account, master_account, settings)
    yield sim, risk, exchange, follower
    await exchange.close()


async def test_a_follower_s_own_stop_loss_and_take_profit_go_out_once_its_copy_fills(futures):
    sim, _, exchange, follower = futures
    user, _ = await follower("protected", rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="2", mirror_resting_orders=True,
        protective_stop_loss=rep.ProtectiveLevel(fraction="0.01"),
        protective_take_profit=rep.ProtectiveLevel(price="64500")))
    await exchange.create_order(SYMBOL, "limit", "buy", 0.01, 63500)
    await eventually(lambda: [(o.type, o.price, o.status) for o in sim.futures_orders(user)] ==
                     [("LIMIT", Decimal("63500"), "NEW")], message="the resting copy")
    assert algos(sim, user) == []  # nothing to protect before the copy has filled
    sim.set_price(VENUE_SYMBOL, "63400")
    # 1% under the copy's fill price, and the price the follower chose, both reduce-only.
    await eventually(lambda: sorted(algos(sim, user, "NEW")) == [
        ("STOP_MARKET", "SELL", Decimal("0.020"), Decimal("62865.0"), True, False),
        ("TAKE_PROFIT_MARKET", "SELL", Decimal("0.020"), Decimal("64500"), True, False)],
        message="the follower's protective orders")
    sim.set_price(VENUE_SYMBOL, "64600")
    await eventually(lambda: position(sim, user) == 0, message="the take-profit closed the follower's position")
    await eventually(lambda: sorted(algo_statuses(sim, user)) == [
        ("STOP_MARKET", Decimal("62865.0"), "CANCELED"), ("TAKE_PROFIT_MARKET", Decimal("64500"), "FINISHED")],
        message="its stop-loss canceled with it (Binance links no such pair: replication does)")


async def test_risk_percent_sizing_measures_to_the_master_s_stop_once_there_is_one(futures, token_for):
    sim, risk, exchange, follower = futures
    user, _ = await follower("risky", rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_RISK_PERCENT, risk_percent="0.001", stop_distance="2000"))
    watcher, _ = await follower("watcher", rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", mirror_stop_orders=True))
    await raise_position_cap(risk, token_for, user)
    book = sim.perps.book(sim.exchange.accounts[user])
    # Her equity as her first copy reads it (wallet and unrealised PnL), which sizes her copies for
    # a minute (the copier does not ask her venue again per fill).
    equity = sim.perps.available(book) + sim.perps.position_margin(book)
    await exchange.create_order(SYMBOL, "market", "buy", 0.01)
    # No stop of the master's yet: 0.1% of 50,000 at risk over the 2,000 the follower typed.
    await eventually(lambda: market_orders(sim, user) == [("MARKET", "BUY", Decimal("0.025"))],
                     message="sized to the follower's stop distance")
    await exchange.create_order(SYMBOL, "market", "sell", 0.01, None, {"stopLossPrice": 63500, "reduceOnly": True})
    await eventually(lambda: algos(sim, watcher, "NEW"),
                     message="the master's stop seen (mirrored to another follower)")
    await exchange.create_order(SYMBOL, "market", "buy", 0.01)
    # Now over the master's own stop: 500 below the price.
    lot = sim.perps.contract(VENUE_SYMBOL).step_size  # the perpetual's lot, not the spot pair's
    expected = (equity * Decimal("0.001") / 500).quantize(lot, rounding="ROUND_DOWN")
    await eventually(lambda: market_orders(sim, user) == [("MARKET", "BUY", Decimal("0.025")),
                                                          ("MARKET", "BUY", expected)],
                     message="sized to the master's stop")
    assert expected > Decimal("0.09")


async def test_a_bracket_for_a_venue_without_brackets_waits_for_its_entry_then_is_one_cancels_other(
        services_on, token_for):
    """An IB master's bracket copied to a Rithmic follower: Rithmic takes no child order, so the
    take-profit and stop-loss go out once the entry copy has filled, and the first to fill
    cancels the other."""
    ib = await IbSimulator(seed=3, master_client_id=MASTER_CLIENT_ID).start()
    rithmic = await RithmicSim(user="f", password="f-pw", account_id="F-1", balance="500000",
                               prices={"ES": "5000"}).start()
    stubs = await services_on({"ib": f"127.0.0.1:{ib.port}", "rithmic": rithmic.url})
    compliance, replication, risk = stubs.compliance, stubs.replication, stubs.risk
    master_venue = None
    try:
        master, master_code, master_account = await enrol_ib(ib, compliance, replication, token_for, "m",
                                                             rep.ACCOUNT_ROLE_MASTER, watch=True,
                                                             client_id=str(MASTER_CLIENT_ID))
        follower, account = await enrol_venue(compliance, replication, token_for, "f", rep.ACCOUNT_ROLE_FOLLOWER,
                                              RITHMIC, "f", "f-pw", f"{rithmic.system_name}|F-1")
        await follow(replication, token_for, follower, account, master_account, rep.CopySettings(
            sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", mirror_resting_orders=True,
            mirror_stop_orders=True))
        await raise_position_cap(risk, token_for, follower)
        await eventually(lambda: ib.stream_subscribed(master_code), message="the master account watched")
        master_venue = IbVenue(host="127.0.0.1", port=ib.port, client_id=5, account=master_code)
        await master_venue.place_orders([
            OrderRequest("m-entry", "ES", "buy", Decimal(1), "limit", Decimal("4990")),
            OrderRequest("m-tp", "ES", "sell", Decimal(1), "limit", Decimal("5010"), oco_group="m-bracket",
                         parent_client_order_id="m-entry"),
            OrderRequest("m-sl", "ES", "sell", Decimal(1), "stop_market", trigger_price=Decimal("4980"),
                         oco_group="m-bracket", parent_client_order_id="m-entry")])

        def at_rithmic():
            return [(o.side, o.price_type, o.price, o.trigger_price, o.status, o.completion)
                    for o in rithmic.orders.values()]
        await eventually(lambda: at_rithmic() == [(1, 1, 4990.0, 0.0, "open", "")], message="only the entry, for now")
        for sim in (ib, rithmic):
            await _set(sim, "4990")
        await eventually(lambda: at_rithmic()[1:] == [(2, 1, 5010.0, 0.0, "open", ""), (2, 4, 0.0, 4980.0, "open", "")],
                         timeout=30, message="the children once the entry copy filled")  # three venues' hops: slow under a loaded suite
        assert rithmic.position("ES") == 1
        for sim in (ib, rithmic):
            await _set(sim, "4979")
        await eventually(lambda: [(o[4], o[5]) for o in at_rithmic()] == [
            ("complete", "Fill"), ("complete", "Cancel"), ("complete", "Fill")], message="stop filled, TP canceled")
        assert rithmic.position("ES") == 0
    finally:
        if master_venue is not None:
            await master_venue.close()
        await rithmic.stop()
        await ib.stop()


async def _set(sim, price: str) -> None:
    result = sim.set_price("ES", Decimal(price))
    if result is not None:
        await result


async def test_a_halt_cancels_resting_entries_but_leaves_the_stops_that_protect_a_position(futures, token_for):
    sim, risk, exchange, follower = futures
    user, _ = await follower("halted", rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", mirror_resting_orders=True, mirror_stop_orders=True))
    await exchange.create_order(SYMBOL, "market", "buy", 0.01)
    await eventually(lambda: position(sim, user) == Decimal("0.01"), message="the opening copied")
    await exchange.create_order(SYMBOL, "market", "sell", 0.01, None, {"stopLossPrice": 63000, "reduceOnly": True})
    await exchange.create_order(SYMBOL, "limit", "buy", 0.01, 62000)
    await eventually(lambda: algos(sim, user, "NEW") and [o.status for o in sim.futures_orders(user)
                                                          if o.type == "LIMIT"] == ["NEW"],
                     message="the stop and the resting entry mirrored")
    await risk.ActivateKillSwitch(risk_pb.ActivateKillSwitchRequest(
        scope=risk_pb.TradingScope(user_id=user), reason="stepping away"), metadata=token_for(user))
    await eventually(lambda: [o.status for o in sim.futures_orders(user) if o.type == "LIMIT"] == ["CANCELED"],
                     message="the resting entry canceled by the halt")
    assert [status for *_, status in algo_statuses(sim, user)] == ["NEW"]  # the stop-loss still guards the position
