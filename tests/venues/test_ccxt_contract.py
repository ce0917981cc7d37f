"""CcxtVenue passes the venue contract through unmodified ccxt and ccxt.pro against the
Binance-protocol simulator on loopback."""

from decimal import Decimal

import pytest_asyncio

from services.replication.venues.ccxt_venue import CcxtVenue
from tests.venues.contract import VenueContract, VenueHarness
from venue_sim import Simulator, ccxt_config


@pytest_asyncio.fixture
async def harness():
    sim = await Simulator(seed=7).start()
    account = sim.create_account("trader", {"USDT": "1000000", "BTC": "10"})
    venues = []

    async def make(api_key: str, secret: str) -> CcxtVenue:
        venue = CcxtVenue("binance", api_key=api_key, secret=secret, config=ccxt_config(sim.url, rate_limit=False))
        venues.append(venue)
        await venue.connect()
        return venue

    async def set_price(price: Decimal) -> None:
        sim.exchange.set_price("BTCUSDT", price)

    async def orders_at_venue(client_order_id: str) -> int:
        return sum(1 for o in sim.orders("trader") if o.client_order_id == client_order_id)

    async def inject(kind: str) -> None:
        params = {"rate_limit": {"retry_after": 7}, "reject": {"code": -2010, "msg": "Order would trigger"}}
        sim.inject(kind=kind, account="trader", **params.get(kind, {}))

    async def bad_key() -> CcxtVenue:
        venue = CcxtVenue("binance", api_key=account.api_key, secret="wrong-secret",
                          config=ccxt_config(sim.url, rate_limit=False))
        venues.append(venue)
        await venue.connect()  # public market data needs no valid key
        return venue

    yield VenueHarness(
        venue=await make(account.api_key, account.secret), symbol="BTC/USDT", quantity=Decimal("0.01"),
        price=lambda: sim.exchange.prices["BTCUSDT"], set_price=set_price, orders_at_venue=orders_at_venue,
        inject=inject, stop_venue=sim.stop, venue_with_bad_key=bad_key,
        stream_subscribed=lambda: bool(sim._streams.get(account.api_key)))
    for venue in venues:
        await venue.close()
    await sim.stop()


class TestCcxtVenueOnSimulator(VenueContract):
    pass
