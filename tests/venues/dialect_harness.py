"""The venue contract's harness for CcxtVenue on one of the simulator's dialects: a funded
account, the adapter built as replication builds it (ccxt_config for the dialect, the key's
passphrase as ccxt's password) and the simulator-side controls, so that a dialect's test module
names only what is its own: its markets, the endpoints faults strike, its refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

import aiohttp

from services.replication.venues.ccxt_venue import CcxtVenue
from tests.venues.contract import Fault, VenueHarness
from venue_sim import Simulator, ccxt_config

FAULT_KINDS = {Fault.ERROR_AFTER_ACCEPT: "http_5xx_after_accept", Fault.UNKNOWN_AFTER_ACCEPT: "unknown_after_accept",
               Fault.DISCONNECT_AFTER_ACCEPT: "disconnect_after_accept", Fault.RATE_LIMIT: "rate_limit",
               Fault.REJECT: "reject", Fault.LATENCY: "latency"}


@dataclass(frozen=True)
class DialectMarket:
    symbol: str  # ccxt's unified symbol, on the books' BTCUSDT
    orders: str  # the admin API's market: "spot" or "futures"
    quantity: str  # a valid, affordable order size, in the venue's units (coins, or contracts)
    unaffordable: str
    place: str  # the endpoint ("METHOD /path") that takes an order, where faults strike
    query: str  # the endpoint that answers for one order by client id
    reject: dict  # the code and msg of an order the venue refuses


@asynccontextmanager
async def dialect_harness(dialect: str, market_type: str, market: DialectMarket,
                          **harness: object) -> AsyncIterator[VenueHarness]:
    """A simulator speaking `dialect`, an account "trader" funded for spot and perpetuals, and
    CcxtVenue on it for `market_type` ("spot" or "swap"). harness: more VenueHarness fields."""
    sim = await Simulator(seed=7, dialect=dialect).start()
    account = sim.create_account("trader", {"USDT": "1000000", "BTC": "10"}, futures_wallet="1000000")
    venues: list[CcxtVenue] = []
    admin = aiohttp.ClientSession(base_url=sim.url)

    async def make_venue(*, bad_credentials: bool = False, timeout_s: float | None = None) -> CcxtVenue:
        config = ccxt_config(sim.url, rate_limit=False, market=market_type, exchange=dialect)
        if timeout_s is not None:
            config["timeout"] = int(timeout_s * 1000)
        venue = CcxtVenue(dialect, api_key=account.api_key, secret="0" * 64 if bad_credentials else account.secret,
                          password=account.passphrase, market_type=market_type, config=config)
        venues.append(venue)
        await venue.connect()
        return venue

    async def set_price(price: Decimal) -> None:
        async with admin.post("/_sim/prices", json={"symbol": "BTCUSDT", "price": str(price)}) as response:
            assert response.status == 200

    async def orders_at_venue(client_order_id: str) -> int:
        """Asked of the venue's own records through its admin API: what really arrived."""
        async with admin.get("/_sim/accounts/trader/orders",
                             params={"market": market.orders, "clientOrderId": client_order_id}) as response:
            return len(await response.json())

    async def trade_time(client_order_id: str) -> float:
        return next(t.at for t in sim.trades("trader", market.orders) if t.client_order_id == client_order_id)

    async def inject(fault: Fault, *, operation: str, retry_after: int = 1, latency_ms: int = 0) -> None:
        sim.inject(kind=FAULT_KINDS[fault], account="trader", endpoint=market.place if operation == "place" else
                   market.query, retry_after=retry_after, latency_ms=latency_ms,
                   **(market.reject if fault == Fault.REJECT else {}))

    async def drop_streams() -> None:
        assert await sim.drop_streams("trader") >= 1

    try:
        yield VenueHarness(
            venue=await make_venue(), symbol=market.symbol, quantity=Decimal(market.quantity),
            unaffordable_quantity=Decimal(market.unaffordable), derivatives=market_type == "swap",
            price=lambda: sim.price("BTCUSDT"), set_price=set_price, orders_at_venue=orders_at_venue,
            trade_time=trade_time, inject=inject, make_venue=make_venue, stop_venue=sim.stop,
            drop_streams=drop_streams, stream_subscribed=lambda: sim.stream_subscribed("trader"), **harness)
    finally:
        for venue in venues:
            await venue.close()
        await admin.close()
        await sim.stop()
