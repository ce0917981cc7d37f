"""Recent returns per venue and instrument, for risk's volatility and correlation checks. Kept
in memory: the first copy of an instrument fetches them (hourly candles, public data), later
ones use what is kept and refresh it in the background once it is older than REFRESH_S. A venue
that cannot say leaves the checks without data rather than holding a copy up.

Also the venue's last price per instrument for the slippage guard: one read serves every copy
of a fill on that venue (and any copy within PRICE_TTL_S), not a ticker request per follower."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

from services.replication.shared_reads import SharedReads
from services.replication.venues.base import Venue, VenueError

log = logging.getLogger("copytrade.replication.market_data")
REFRESH_S = 300.0
PERIODS = 48  # hours of returns
PERIODS_PER_YEAR = 8760.0
PRICE_TTL_S = 0.25


class MarketData:
    def __init__(self) -> None:
        self._series: dict[str, dict[str, tuple[list[float], float]]] = {}  # venue key → symbol → (returns, at)
        self._refreshing: set[tuple[str, str]] = set()
        self._prices: SharedReads[Decimal] = SharedReads(PRICE_TTL_S)  # (venue key, symbol) → last price

    async def price(self, venue: Venue, venue_key: str, symbol: str) -> Decimal:
        """The venue's last price of symbol, at most PRICE_TTL_S old; VenueError when it cannot say."""
        return await self._prices.get((venue_key, symbol), lambda: venue.price(symbol))

    async def ensure(self, venue: Venue, venue_key: str, symbol: str) -> None:
        known = self._series.get(venue_key, {}).get(symbol)
        if known is None:
            await self._fetch(venue, venue_key, symbol)
        elif time.monotonic() - known[1] > REFRESH_S and (venue_key, symbol) not in self._refreshing:
            self._refreshing.add((venue_key, symbol))
            task = asyncio.create_task(self._fetch(venue, venue_key, symbol))
            task.add_done_callback(lambda _: self._refreshing.discard((venue_key, symbol)))

    async def _fetch(self, venue: Venue, venue_key: str, symbol: str) -> None:
        try:
            returns = await venue.recent_returns(symbol, PERIODS)
        except VenueError as exc:
            log.warning("returns of %s on %s unavailable: %s", symbol, venue_key, exc)
            return
        self._series.setdefault(venue_key, {})[symbol] = (returns, time.monotonic())

    def series(self, venue_key: str) -> dict[str, list[float]]:
        """Every instrument's returns kept for this venue: risk picks what the follower holds."""
        return {symbol: returns for symbol, (returns, _) in self._series.get(venue_key, {}).items()}
