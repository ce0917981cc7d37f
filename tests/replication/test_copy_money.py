"""What a follower's copies made, asked the way the web app asks: a master trades on the
simulator, the copy fills there (paying the simulator's 0.1 % fee), and the session's
performance reports the venue's own fees, the open position at the venue's price and the
PnL after fees. Stopping with close_positions flattens the follower at the venue; stopping
without leaves it. Checked at the simulator, not in our database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest
import pytest_asyncio

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.errors import error_info
from services.kit.testing import eventually
from services.replication import performance
from services.replication.venues.base import Fill, OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from tests.replication.test_copy_flow import enrol
from venue_sim import ccxt_config

FEE_RATE = Decimal("0.001")  # the simulator's spot fee, taken in the asset received


@pytest_asyncio.fixture
async def mesh(copy_mesh):
    started = await copy_mesh(seed=11)
    return started.sim, ComplianceServiceStub(started.compliance.channel), ReplicationServiceStub(
        started.replication.channel)


async def master_trades(sim, master_sim, side: str, quantity: str, client_id: str, symbol: str = "BTC/USDT") -> None:
    venue = CcxtVenue("binance", api_key=master_sim.api_key, secret=master_sim.secret,
                      config=ccxt_config(sim.url, rate_limit=False))
    await venue.connect()
    try:
        await venue.place_order(OrderRequest(client_id, symbol, side, Decimal(quantity)))
    finally:
        await venue.close()


def holding(sim, name: str) -> Decimal:
    return sim.exchange.accounts[name].balances.get("BTC", Decimal(0))


async def test_a_copys_money_comes_from_the_venue_and_stop_can_close_its_positions(mesh, token_for):
    sim, compliance, replication = mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    sessions = {}
    for name in ("closer", "keeper"):
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
        sessions[name] = user, (await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
            metadata=token_for(user))).session.config_id
    await eventually(lambda: bool(sim._streams.get(master_sim.api_key)), message="master stream watched")

    buy_price = sim.exchange.prices["BTCUSDT"]
    await master_trades(sim, master_sim, "buy", "0.01", "money-open")
    closer, closer_config = sessions["closer"]
    keeper, keeper_config = sessions["keeper"]
    await eventually(lambda: holding(sim, closer) > 0 and holding(sim, keeper) > 0, message="both copies filled")
    sim.set_price("BTCUSDT", buy_price + 1000)  # the position is now worth more

    async def performance_of(user, config_id):
        return (await replication.GetCopySessionPerformance(rep.GetCopySessionPerformanceRequest(
            config_id=config_id), metadata=token_for(user))).performance

    perf = await performance_of(closer, closer_config)
    # 0.00001 BTC of the 0.01 bought went to the fee: 0.00999 is held, the fee is worth 0.00001 x price.
    held, fee = Decimal("0.01") * (1 - FEE_RATE), Decimal("0.01") * FEE_RATE * buy_price
    assert perf.currency == "USDT" and perf.fill_count == 1
    assert Decimal(perf.fees) == fee
    assert [(p.symbol, Decimal(p.quantity), Decimal(p.entry_price), Decimal(p.mark_price)) for p in perf.positions] \
        == [("BTC/USDT", held, buy_price, buy_price + 1000)]
    assert Decimal(perf.unrealized_pnl) == held * 1000 and Decimal(perf.realized_pnl) == 0
    assert Decimal(perf.net_pnl) == held * 1000 - fee
    assert Decimal(perf.invested) == held * buy_price
    assert Decimal(perf.roi) == (Decimal(perf.net_pnl) / Decimal(perf.invested)).quantize(Decimal("0.00000001"))
    assert [Decimal(p.net_pnl) for p in perf.curve] == [-fee]  # after the fill, before the price rose

    # Someone else's session reads as missing.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await performance_of(keeper, closer_config)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND

    # Stop, closing positions: the follower sells what the copy bought, at the venue.
    stopped = await replication.StopCopySession(rep.StopCopySessionRequest(
        config_id=closer_config, reason="done", close_positions=True), metadata=token_for(closer))
    assert stopped.session.state == rep.SESSION_STATE_STOPPED and stopped.close_resolution == "flattened"
    sells = [o for o in sim.orders(closer) if o.side == "SELL"]
    assert len(sells) == 1 and sells[0].orig_qty == held and holding(sim, closer) == 0
    # Again: what the buy's fee left (0.00001 BTC, under the venue's minimum order) is nothing to close.
    again = await replication.StopCopySession(rep.StopCopySessionRequest(
        config_id=closer_config, close_positions=True), metadata=token_for(closer))
    assert again.close_resolution == "none" and len(sim.orders(closer)) == 2
    # Stop, keeping positions: nothing is sent, the position stays.
    kept = await replication.StopCopySession(rep.StopCopySessionRequest(config_id=keeper_config),
                                             metadata=token_for(keeper))
    assert kept.session.state == rep.SESSION_STATE_STOPPED and kept.close_resolution == ""
    assert [o.side for o in sim.orders(keeper)] == ["BUY"] and holding(sim, keeper) > Decimal("0.0099")

    # The closed copy's money: the round trip realized, both fees paid, nothing open.
    closed = await performance_of(closer, closer_config)
    sell_fee = held * (buy_price + 1000) * FEE_RATE
    assert closed.fill_count == 2 and not closed.positions
    assert Decimal(closed.realized_pnl) == held * 1000 and Decimal(closed.fees) == fee + sell_fee
    # What the account gained in USDT, less the USDT the buy cost.
    assert Decimal(closed.net_pnl) == held * (buy_price + 1000) - sell_fee - Decimal("0.01") * buy_price

    # A master trade after the stop is not copied to either.
    await master_trades(sim, master_sim, "sell", "0.005", "money-close")
    await eventually(lambda: any(o.client_order_id == "money-close" for o in sim.orders(master)), message="master sold")
    assert len(sim.orders(closer)) == 2 and len(sim.orders(keeper)) == 1


async def test_supported_venues_name_every_adapter_and_its_markets(mesh, token_for):
    _, _, replication = mesh
    venues = {v.id: v for v in (await replication.ListSupportedVenues(rep.ListSupportedVenuesRequest(),
                                                                      metadata=token_for("anyone"))).venues}
    assert {"binance", "ib", "rithmic", "ninjatrader"} <= set(venues)
    assert list(venues["binance"].market_types) == [trading_pb2.MARKET_TYPE_SPOT, trading_pb2.MARKET_TYPE_PERPETUAL,
                                                    trading_pb2.MARKET_TYPE_FUTURE]
    assert venues["okx"].needs_passphrase and not venues["binance"].needs_passphrase
    assert venues["binance"].display_name == "Binance"


async def test_a_signal_fill_may_carry_its_fee_and_the_masters_equity(mesh, token_for):
    sim, compliance, replication = mesh
    master, _, account = await enrol(sim, compliance, replication, token_for, "signal", rep.ACCOUNT_ROLE_MASTER,
                                     {"USDT": "1000"})
    when = datetime.now(UTC) - timedelta(days=3)
    request = rep.SubmitMasterFillRequest(master_account_id=account.account_id, venue_trade_id="t1", symbol="BTC/USDT",
                                          side=trading_pb2.SIDE_BUY, quantity="0.01", price="60000", fee="0.6",
                                          fee_currency="USDT", master_equity="25000")
    request.execute_time.FromDatetime(when)
    stored = (await replication.SubmitMasterFill(request, metadata=token_for(master))).fill
    assert (stored.fee, stored.fee_currency, stored.master_equity) == ("0.6", "USDT", "25000")
    assert stored.execute_time.ToDatetime(tzinfo=UTC) == when.replace(microsecond=when.microsecond // 1000 * 1000) \
        or abs(stored.execute_time.ToDatetime(tzinfo=UTC) - when) < timedelta(milliseconds=1)
    for field, value in (("fee", "-1"), ("fee", "NaN"), ("master_equity", "0"), ("master_equity", "lots")):
        bad = rep.SubmitMasterFillRequest()
        bad.CopyFrom(request)
        bad.venue_trade_id = f"bad-{field}-{value}"
        setattr(bad, field, value)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await replication.SubmitMasterFill(bad, metadata=token_for(master))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(refused.value).metadata["field"] == field


def test_performance_matches_fills_first_in_first_out_with_fees_in_either_asset():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def fill(i, side, quantity, price, fee, currency):
        return Fill(f"t{i}", f"o{i}", "", "BTC/USDT", side, Decimal(quantity), Decimal(price), Decimal(fee), currency,
                    t0 + timedelta(minutes=i))
    fills = [fill(1, "buy", "1", "100", "0.001", "BTC"),  # fee in the asset bought: 0.999 held, 0.1 USDT
             fill(2, "buy", "1", "200", "0.2", "USDT"),
             fill(3, "sell", "1.499", "300", "0.45", "USDT")]  # closes the first lot and half the second
    result = performance.compute(fills, {"BTC/USDT": Decimal("400")})
    assert result.realized_pnl == Decimal("0.999") * 200 + Decimal("0.5") * 100
    assert result.fees == Decimal("0.1") + Decimal("0.2") + Decimal("0.45")
    assert [(p.quantity, p.entry_price, p.unrealized_pnl) for p in result.positions] == [
        (Decimal("0.5"), Decimal("200"), Decimal("100"))]
    assert result.net_pnl == result.realized_pnl + Decimal("100") - Decimal("0.75")
    assert result.invested == Decimal("99.9") + Decimal("200")  # both lots open at once, at cost
    assert result.roi == result.net_pnl / result.invested
    # Contracts: a futures fill of 2 contracts of 50 units each.
    futures = performance.compute([fill(1, "buy", "2", "5000", "0", ""), fill(2, "sell", "2", "5010", "0", "")], {},
                                  contract_sizes={"BTC/USDT": Decimal("50")})
    assert futures.realized_pnl == Decimal("1000") and futures.positions == []
    assert performance.compute([], {}).roi is None


async def test_stop_with_close_waits_for_the_copy_still_at_the_venue(mesh, token_for):
    """The master closes and the follower stops, closing positions, while that close's copy is
    still on its way to the venue: the stop waits for it, then finds nothing left to close,
    rather than selling what the copy is selling a second time (a rejection for funds the
    copy took, and a stop that says it failed)."""
    sim, compliance, replication = mesh
    _, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    follower, _, account = await enrol(sim, compliance, replication, token_for, "racer", rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
    config_id = (await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
        metadata=token_for(follower))).session.config_id
    await eventually(lambda: bool(sim._streams.get(master_sim.api_key)), message="master stream watched")
    await master_trades(sim, master_sim, "buy", "0.01", "race-open")
    await eventually(lambda: holding(sim, follower) > 0, message="the opening copy filled")

    slow = sim.inject(kind="latency", account=follower, latency_ms=1500)  # the closing copy takes its time
    await master_trades(sim, master_sim, "sell", "0.00999", "race-close")
    await eventually(lambda: slow.hits == 1, message="the closing copy at the venue")
    stopped = await replication.StopCopySession(rep.StopCopySessionRequest(
        config_id=config_id, close_positions=True), metadata=token_for(follower))
    assert stopped.close_resolution == "none", stopped.close_resolution
    sells = [o for o in sim.orders(follower) if o.side == "SELL"]
    assert [o.status for o in sells] == ["FILLED"] and holding(sim, follower) < Decimal("0.00002")


async def test_a_close_cut_to_what_the_follower_holds_says_so(mesh, token_for):
    """The follower sold part of her copied BTC herself: the master's close is sold as what she
    still holds, and the copy says it was cut to her holdings, with the numbers (issue 23:
    every reduced copy carries its reason)."""
    from copytrade.replication.v1 import replication_events_pb2 as copy_events

    sim, compliance, replication = mesh
    _, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    follower, follower_sim, account = await enrol(sim, compliance, replication, token_for, "holder",
                                                  rep.ACCOUNT_ROLE_FOLLOWER, {"USDT": "50000"})
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
        metadata=token_for(follower))
    await eventually(lambda: bool(sim._streams.get(master_sim.api_key)), message="master stream watched")
    await master_trades(sim, master_sim, "buy", "0.01", "hold-open")
    await eventually(lambda: holding(sim, follower) > 0, message="the opening copy filled")
    await master_trades(sim, follower_sim, "sell", "0.004", "her-own-sale")
    held = holding(sim, follower)
    assert held == Decimal("0.01") * (1 - FEE_RATE) - Decimal("0.004")
    await master_trades(sim, master_sim, "sell", "0.00999", "hold-close")  # all the master holds

    async def the_close():
        orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                       metadata=token_for(follower))).orders
        return next((o for o in orders if o.side == trading_pb2.SIDE_SELL
                     and o.status == copy_events.FOLLOWER_ORDER_STATUS_FILLED), None)
    close = await eventually(the_close, message="the close filled")
    assert Decimal(close.quantity) == held == [o.orig_qty for o in sim.orders(follower)
                                               if o.side == "SELL" and o.client_order_id != "her-own-sale"][0]
    assert close.reduction.reason == "LIMITED_TO_HOLDINGS", close.reduction
    assert Decimal(close.reduction.metadata["sized_quantity"]) == Decimal("0.00999")
    assert Decimal(close.reduction.metadata["approved_quantity"]) == held == Decimal(close.reduction.metadata["free"])
    assert "BTC" in close.reduction.message
    assert holding(sim, follower) == 0
