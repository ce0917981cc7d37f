"""CcxtVenue passes the venue contract through unmodified ccxt and ccxt.pro against the
Binance-protocol simulator on loopback, for spot and for USDⓈ-M perpetuals."""

from decimal import Decimal

import pytest
import pytest_asyncio

from services.replication.venues.ccxt_venue import CcxtVenue
from tests.venues.contract import VenueContract, VenueHarness
from venue_sim import Simulator, ccxt_config


MARKETS = {
    "spot": {"symbol": "BTC/USDT", "order_endpoint": "POST /api/v3/order"},
    "swap": {"symbol": "BTC/USDT:USDT", "order_endpoint": "POST /fapi/v1/order"},
}


@pytest_asyncio.fixture(params=list(MARKETS))
async def harness(request):
    market = request.param
    sim = await Simulator(seed=7).start()
    account = sim.create_account("trader", {"USDT": "1000000", "BTC": "10"})
    sim.futures.book(account).wallet = Decimal("1000000")
    venues = []

    def config():
        return ccxt_config(sim.url, rate_limit=False, market=market)

    async def make(api_key: str, secret: str) -> CcxtVenue:
        venue = CcxtVenue("binance", api_key=api_key, secret=secret, market_type=market, config=config())
        venues.append(venue)
        await venue.connect()
        return venue

    def venue_orders():
        return sim.orders("trader") if market == "spot" else sim.futures_orders("trader")

    async def set_price(price: Decimal) -> None:
        sim.exchange.set_price("BTCUSDT", price)

    async def orders_at_venue(client_order_id: str) -> int:
        return sum(1 for o in venue_orders() if o.client_order_id == client_order_id)

    async def inject(kind: str) -> None:
        params = {"rate_limit": {"retry_after": 7}, "reject": {"code": -2010, "msg": "Order would trigger"}}
        sim.inject(kind=kind, account="trader", endpoint=MARKETS[market]["order_endpoint"], **params.get(kind, {}))

    async def bad_key() -> CcxtVenue:
        venue = CcxtVenue("binance", api_key=account.api_key, secret="wrong-secret", market_type=market,
                          config=config())
        venues.append(venue)
        await venue.connect()  # public market data needs no valid key
        return venue

    streams = sim._streams if market == "spot" else sim._futures_streams
    yield VenueHarness(
        venue=await make(account.api_key, account.secret), symbol=MARKETS[market]["symbol"],
        quantity=Decimal("0.01"),
        price=lambda: sim.exchange.prices["BTCUSDT"], set_price=set_price, orders_at_venue=orders_at_venue,
        inject=inject, stop_venue=sim.stop, venue_with_bad_key=bad_key,
        stream_subscribed=lambda: bool(streams.get(account.api_key)))
    for venue in venues:
        await venue.close()
    await sim.stop()


class TestCcxtVenueOnSimulator(VenueContract):
    async def test_positions_and_reduce_only(self, harness: VenueHarness):
        from services.replication.venues.base import ErrorKind, OrderRequest, VenueError
        from tests.venues.contract import new_cid

        if ":" not in harness.symbol:
            pytest.skip("spot has no reduce-only orders; a spot position is a balance")
        await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "sell", Decimal("0.02")))
        positions = {p.symbol: p.quantity for p in await harness.venue.positions()}
        assert positions[harness.symbol] == Decimal("-0.02")
        await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", Decimal("0.02"),
                                                     reduce_only=True))
        with pytest.raises(VenueError) as err:  # nothing left to reduce
            await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", Decimal("0.01"),
                                                         reduce_only=True))
        assert err.value.kind == ErrorKind.REJECTED
