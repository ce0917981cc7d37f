"""Request budgets: every request replication makes to a venue waits for that venue's budget, so a
fan-out to many followers stays within the limits the venue publishes instead of running into
its 429s and bans.

Two token buckets gate a request: the venue's (what one client address may send: Bybit 600
requests per 5 s per IP, Binance 6000 request weight a minute) and, for orders, the API key's
own (Bybit's order/create per UID: 10/s linear, 20/s spot). Buckets serve waiters first come,
first served, so in a burst that exceeds the budget followers are served in the order their
copies arrived and none is overtaken or skipped; each only waits. A refusal the venue still
sends (Retry-After, Bybit's reset timestamp, an IP ban) pauses the bucket it concerns for that
long (`penalize`).

The time a request spent waiting is added to the current task's `measure()` cell, which is how
a copy learns the delay the budget cost it."""

from __future__ import annotations

import asyncio
import contextvars
import time
from dataclasses import dataclass, field

# Fill a window to this share at most: requests leave here when allowed but may reach the venue
# bunched up a little, and the venue's window and ours do not start at the same moment.
SAFETY = 0.8


@dataclass(frozen=True)
class Limits:
    """A venue's published limits."""

    requests: int  # per client address in `window_s`
    window_s: float
    orders_per_s: dict[str, float] = field(default_factory=dict)  # per API key, by market type ("spot", "swap")


VENUE_LIMITS: dict[str, Limits] = {
    "bybit": Limits(600, 5.0, {"spot": 20, "swap": 10}),
    # Binance counts request weight (1 for an order, more for some reads); counted here as requests.
    "binance": Limits(6000, 60.0, {"spot": 10, "swap": 20}),
}


class TokenBucket:
    """`rate` tokens a second up to `capacity`. Waiters are served in arrival order. Never more
    than capacity + rate x W requests pass in any W seconds."""

    def __init__(self, rate: float, capacity: float, *, clock=time.monotonic) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a bucket needs a positive rate and room for one request")
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.tokens, self._at = capacity, clock()
        self.paused_until = 0.0
        self._turn = asyncio.Lock()  # FIFO: the first waiter is served first

    @classmethod
    def for_window(cls, requests: float, window_s: float, safety: float = SAFETY) -> TokenBucket:
        """A bucket that keeps any `window_s` window at `safety` of `requests`."""
        budget = requests * safety
        capacity = max(1.0, budget / 8)
        return cls(rate=max((budget - capacity) / window_s, 1e-9), capacity=capacity)

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now

    async def acquire(self) -> float:
        """Wait for a token; the seconds waited."""
        started = self.clock()
        async with self._turn:
            while True:
                self._refill()
                wait = max(self.paused_until - self.clock(), (1 - self.tokens) / self.rate if self.tokens < 1 else 0.0)
                if wait <= 0:
                    self.tokens -= 1
                    return self.clock() - started
                await asyncio.sleep(wait)

    def penalize(self, seconds: float) -> None:
        """The venue refused: nothing passes for `seconds`, and the bucket starts empty."""
        self._refill()
        self.paused_until = max(self.paused_until, self.clock() + seconds)
        self.tokens = 0.0


_waited: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("budget_waited", default=None)


class measure:  # noqa: N801 - used as a function: `with measure() as waited:`
    """`with measure() as waited:` ... `waited[0]` is the seconds this task's requests spent
    waiting for budgets meanwhile. (A plain class: exceptions pass through untouched.)"""

    def __enter__(self) -> list[float]:
        self.cell = [0.0]
        self._token = _waited.set(self.cell)
        return self.cell

    def __exit__(self, *exc) -> None:
        _waited.reset(self._token)


def _add_waited(seconds: float) -> None:
    cell = _waited.get()
    if cell is not None:
        cell[0] += seconds


class KeyBudget:
    """What one venue account (API key) hands its venue client: `request()` before every REST
    request, `order()` before every order, `penalize()` when refused anyway."""

    def __init__(self, venue: TokenBucket, orders: TokenBucket | None) -> None:
        self.venue, self.orders = venue, orders

    async def request(self) -> None:
        _add_waited(await self.venue.acquire())

    async def order(self) -> None:
        if self.orders is not None:
            _add_waited(await self.orders.acquire())

    def penalize(self, seconds: float, *, whole_venue: bool) -> None:
        """A per-key limit (Bybit 10006) pauses this key's orders; a venue-wide one (429, an IP
        ban) pauses every request to the venue."""
        if whole_venue or self.orders is None:
            self.venue.penalize(seconds)
        else:
            self.orders.penalize(seconds)


class Budgets:
    """Every venue's and every API key's buckets, in one process (one client address)."""

    def __init__(self, limits: dict[str, Limits] | None = None) -> None:
        self.limits = {**VENUE_LIMITS, **(limits or {})}
        self._venues: dict[str, TokenBucket] = {}
        self._keys: dict[tuple[str, str], KeyBudget] = {}

    def for_key(self, venue_id: str, key_id: str, market_type: str) -> KeyBudget | None:
        """The budget of one API key on a venue, or None for a venue without published limits."""
        limits = self.limits.get(venue_id)
        if limits is None:
            return None
        if (venue_id, key_id) not in self._keys:
            venue = self._venues.setdefault(venue_id, TokenBucket.for_window(limits.requests, limits.window_s))
            per_second = limits.orders_per_s.get(market_type)
            orders = TokenBucket.for_window(per_second, 1.0) if per_second else None
            self._keys[(venue_id, key_id)] = KeyBudget(venue, orders)
        return self._keys[(venue_id, key_id)]
