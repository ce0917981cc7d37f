"""CcxtVenue passes the venue contract through unmodified ccxt and ccxt.pro against the
Binance-protocol simulator on loopback, for spot and for USDⓈ-M perpetuals."""

from decimal import Decimal

import aiohttp
import pytest
import pytest_asyncio

from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from tests.venues.contract import Fault, VenueContract, VenueHarness
from venue_sim import Simulator, ccxt_config

MARKETS = {
    "spot": {"symbol": "BTC/USDT", "prefix": "/api/v3", "stream": "spot", "orders": "spot"},
    "swap": {"symbol": "BTC/USDT:USDT", "prefix": "/fapi/v1", "stream": "futures", "orders": "futures"},
}
FAULT_KINDS = {Fault.ERROR_AFTER_ACCEPT: "http_5xx_after_accept", Fault.UNKNOWN_AFTER_ACCEPT: "unknown_after_accept",
               Fault.DISCONNECT_AFTER_ACCEPT: "disconnect_after_accept", Fault.RATE_LIMIT: "rate_limit",
               Fault.REJECT: "reject", Fault.LATENCY: "latency"}


@pytest_asyncio.fixture(params=list(MARKETS))
async def harness(request):
    market = MARKETS[request.param]
    sim = await Simulator(seed=7).start()
    account = sim.create_account("trader", {"USDT": "1000000", "BTC": "10"}, futures_wallet="1000000")
    venues: list[CcxtVenue] = []
    admin = aiohttp.ClientSession(base_url=sim.url)

    async def make_venue(*, bad_credentials: bool = False, timeout_s: float | None = None) -> CcxtVenue:
        config = ccxt_config(sim.url, rate_limit=False, market=request.param)
        if timeout_s is not None:
            config["timeout"] = int(timeout_s * 1000)
        venue = CcxtVenue("binance", api_key=account.api_key, secret="0" * 64 if bad_credentials else account.secret,
                          market_type=request.param, config=config)
        venues.append(venue)
        await venue.connect()  # market data is public: a bad key shows only when trading
        return venue

    async def set_price(price: Decimal) -> None:
        async with admin.post("/_sim/prices", json={"symbol": "BTCUSDT", "price": str(price)}) as response:
            assert response.status == 200

    async def orders_at_venue(client_order_id: str) -> int:
        """Asked of the venue's own records through its admin API: what really arrived."""
        async with admin.get("/_sim/accounts/trader/orders",
                             params={"market": market["orders"], "clientOrderId": client_order_id}) as response:
            return len(await response.json())

    async def trade_time(client_order_id: str) -> float:
        trades = [t for t in sim.trades("trader", "spot" if request.param == "spot" else "futures")
                  if t.client_order_id == client_order_id]
        return trades[0].at

    async def inject(fault: Fault, *, operation: str, retry_after: int = 1, latency_ms: int = 0) -> None:
        method = {"place": "POST", "query": "GET"}[operation]
        sim.inject(kind=FAULT_KINDS[fault], account="trader", endpoint=f"{method} {market['prefix']}/order",
                   retry_after=retry_after, latency_ms=latency_ms,
                   **({"code": -2010, "msg": "Order would trigger immediately."} if fault == Fault.REJECT else {}))

    async def drop_streams() -> None:
        assert await sim.drop_streams("trader") >= 1

    yield VenueHarness(
        venue=await make_venue(), symbol=market["symbol"], quantity=Decimal("0.01"),
        unaffordable_quantity=Decimal("1000"), derivatives=request.param == "swap",
        price=lambda: sim.price("BTCUSDT"), set_price=set_price, orders_at_venue=orders_at_venue,
        trade_time=trade_time, inject=inject, make_venue=make_venue, stop_venue=sim.stop,
        drop_streams=drop_streams, stream_subscribed=lambda: sim.stream_subscribed("trader", market["stream"]),
        closed_ids_reusable=True)
    for venue in venues:
        await venue.close()
    await admin.close()
    await sim.stop()


class TestCcxtVenueOnSimulator(VenueContract):
    pass


@pytest.mark.parametrize("market_type,symbol,path", [("spot", "BTC/USDT", "GET /api/v3/exchangeInfo"),
                                                     ("swap", "BTC/USDT:USDT", "GET /fapi/v1/exchangeInfo")])
async def test_connect_loads_markets_in_one_request_and_rate_limits_by_default(market_type, symbol, path):
    async with Simulator() as sim:
        account = sim.create_account("a")
        # A config made for spot (as a shared one might be) does not decide the adapter's market.
        urls_only = {k: v for k, v in ccxt_config(sim.url).items() if k != "enableRateLimit"}
        venue = CcxtVenue("binance", api_key=account.api_key, secret=account.secret, market_type=market_type,
                          config=urls_only)
        unlimited = CcxtVenue("binance", api_key=account.api_key, secret=account.secret, config=urls_only,
                              rate_limit=False)
        try:
            await venue.connect()
            assert [endpoint for _, endpoint, _ in sim.request_log] == [path]
            assert symbol in await venue.instruments() and venue.exchange.enableRateLimit
            assert not unlimited.exchange.enableRateLimit
        finally:
            await venue.close()
            await unlimited.close()


async def test_a_market_order_with_a_reference_price_is_sent_by_quantity_not_quote_amount():
    """binance's trap: ccxt sends a market order given a price as quoteOrderQty = amount * price."""
    async with Simulator() as sim:
        account = sim.create_account("a", {"USDT": "10000"})
        urls_only = {"urls": ccxt_config(sim.url)["urls"], "enableRateLimit": False}
        venue = CcxtVenue("binance", api_key=account.api_key, secret=account.secret, config=urls_only)
        try:
            await venue.connect()
            await venue.place_order(OrderRequest("ref-price", "BTC/USDT", "buy", Decimal("0.01"),
                                                 price=Decimal("70000")))
        finally:
            await venue.close()
        [order] = sim.orders("a", "ref-price")
        assert (order.orig_qty, order.orig_quote_qty) == (Decimal("0.01"), 0)


async def test_an_orders_answer_carries_what_the_venue_said_it_charged():
    """Binance spot answers a market order with its fills (FULL): the state carries them, each
    with the venue's trade id and commission, and the order's fee. USDⓈ-M's answer names no
    fee: the state says none (None), never a zero."""
    async with Simulator() as sim:
        account = sim.create_account("a", {"USDT": "10000"}, futures_wallet="10000")
        spot = CcxtVenue("binance", api_key=account.api_key, secret=account.secret,
                         config=ccxt_config(sim.url, rate_limit=False))
        swap = CcxtVenue("binance", api_key=account.api_key, secret=account.secret, market_type="swap",
                         config=ccxt_config(sim.url, rate_limit=False, market="swap"))
        try:
            await spot.connect()
            await swap.connect()
            bought = await spot.place_order(OrderRequest("fee-spot", "BTC/USDT", "buy", Decimal("0.01")))
            perp = await swap.place_order(OrderRequest("fee-swap", "BTC/USDT:USDT", "buy", Decimal("0.01")))
        finally:
            await spot.close()
            await swap.close()
        [trade] = sim.trades("a")
        [fill] = bought.fills
        assert (fill.venue_trade_id, fill.venue_order_id, fill.client_order_id) == (
            str(trade.trade_id), str(trade.order_id), "fee-spot")
        assert (fill.side, fill.quantity, fill.price) == ("buy", trade.qty, trade.price)
        assert (fill.fee, fill.fee_currency) == (trade.commission, "BTC") and trade.commission > 0
        assert (bought.fee, bought.fee_currency) == (trade.commission, "BTC")
        assert perp.filled_quantity == Decimal("0.01") and perp.fills == () and perp.fee is None
