"""Request budgets: every request replication makes to a venue waits for that venue's budget, so a
fan-out to many followers stays within the limits the venue publishes instead of running into
its 429s and bans.

The limits are the venue's own (venues/limits.py): a request weighs what the venue says its
endpoint weighs (Binance: 1 for a spot order, 20 for the account, 80 for every open order; Bybit
counts requests) against its client address's budget (Binance spot 6000 a minute, USDⓈ-M 2400;
Bybit 600 per 5 s), which every API key on that address shares; an order also counts against its
account's order windows (Binance: 100 per 10 s and 200,000 a day on spot), and a call to an
endpoint against the account's limit for that endpoint (Bybit's per-UID limits: order/create 10/s
linear, 20/s spot). Where the venue reports what is used of a window (X-MBX-USED-WEIGHT-1M,
X-MBX-ORDER-COUNT-10S, ...) the budget follows its count: it is the authority, and other
processes on the same address or account spend too.

Buckets serve waiters first come, first served, so in a burst that exceeds the budget followers
are served in the order their copies arrived and none is overtaken or skipped; each only waits.
A refusal the venue still sends (Retry-After, Bybit's reset timestamp, an IP ban) pauses the
buckets it concerns for that long (`penalize`).

The time a request spent waiting is added to the current task's `measure()` cell, which is how
a copy learns the delay the budget cost it."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Mapping
from typing import Any

from services.replication.venues.limits import VENUE_LIMITS, Limits, Window

# Fill a window to this share at most: requests leave here when allowed but may reach the venue
# bunched up a little, and the venue's window and ours do not start at the same moment.
SAFETY = 0.8


class TokenBucket:
    """`rate` tokens a second up to `capacity`; a request takes as many as it weighs. Waiters are
    served in arrival order. Never more than capacity + rate x W weight passes in any W seconds
    (give or take one request heavier than the capacity, which waits for a full bucket)."""

    def __init__(self, rate: float, capacity: float, *, budget: float | None = None, clock=time.monotonic) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a bucket needs a positive rate and room for one request")
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.budget = capacity if budget is None else budget  # what may be used of the venue's window
        self.tokens, self._at = capacity, clock()
        self.paused_until = 0.0
        self._turn = asyncio.Lock()  # FIFO: the first waiter is served first

    @classmethod
    def for_window(cls, window: Window, safety: float = SAFETY) -> TokenBucket:
        """A bucket that keeps any window of the venue's at `safety` of its limit."""
        budget = window.limit * safety
        capacity = max(1.0, budget / 8)
        return cls(rate=max((budget - capacity) / window.seconds, 1e-9), capacity=capacity, budget=budget)

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now

    async def acquire(self, weight: int = 1) -> float:
        """Wait until `weight` may pass; the seconds waited. Weight 0 waits only for a pause."""
        started = self.clock()
        if weight <= 0:  # weighs nothing: queues behind no one
            if self.paused_until > started:
                await asyncio.sleep(self.paused_until - started)
            return self.clock() - started
        need = min(weight, self.capacity)
        async with self._turn:
            while True:
                self._refill()
                wait = max(self.paused_until - self.clock(), (need - self.tokens) / self.rate)
                if wait <= 0:
                    self.tokens -= weight
                    return self.clock() - started
                await asyncio.sleep(wait)

    def follow(self, used: float) -> None:
        """The venue says `used` of its window is spent, by everyone it counts (other processes
        on the address, other clients of the account): no more than the rest of the budget
        passes before the bucket has refilled past it."""
        self._refill()
        self.tokens = min(self.tokens, self.budget - used)

    def penalize(self, seconds: float) -> None:
        """The venue refused: nothing passes for `seconds`, and the bucket starts empty."""
        self._refill()
        self.paused_until = max(self.paused_until, self.clock() + seconds)
        self.tokens = min(self.tokens, 0.0)


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
    request, `observe()` with every answer's headers, `penalize()` when refused anyway."""

    def __init__(self, limits: Limits, ip: TokenBucket) -> None:
        self.limits, self.ip = limits, ip
        self.orders = [TokenBucket.for_window(w) for w in limits.orders]  # the account's order windows
        self.endpoints = {e: TokenBucket.for_window(w) for e, w in limits.per_endpoint.items()}
        # The windows the venue reports on, by header (lower case: HTTP headers are case-insensitive).
        self._reported = {w.header.lower(): bucket for w, bucket in
                          [(limits.ip, ip), *zip(limits.orders, self.orders)] if w.header}

    @property
    def own(self) -> list[TokenBucket]:
        """The buckets of this account alone (not its address's)."""
        return [*self.orders, *self.endpoints.values()]

    async def request(self, endpoint: str, params: Mapping[str, Any] | None = None,
                      ccxt_cost: float | None = None) -> None:
        """Wait for the budgets of one request to `endpoint` ("POST /api/v3/order")."""
        params = params or {}
        waited = 0.0
        # The account's own limits first: a request held back by them holds none of the address's budget.
        placed = self.limits.orders_placed(endpoint, params)
        if placed:
            for bucket in self.orders:
                waited += await bucket.acquire(placed)
        if endpoint in self.endpoints:
            waited += await self.endpoints[endpoint].acquire()
        waited += await self.ip.acquire(self.limits.weight(endpoint, params, ccxt_cost))
        _add_waited(waited)

    def observe(self, headers: Mapping[str, str]) -> None:
        """An answer's headers: where the venue reports what is used of a window, follow it."""
        for name, value in headers.items():
            bucket = self._reported.get(name.lower())
            if bucket is not None:
                try:
                    bucket.follow(int(value))
                except ValueError:
                    pass

    def penalize(self, seconds: float, *, whole_venue: bool) -> None:
        """A per-account limit (Bybit 10006, Binance -1015) pauses this account's requests that
        count against its own limits; a venue-wide one (429, an IP ban) pauses every request
        from the address."""
        for bucket in ([self.ip] if whole_venue or not self.own else self.own):
            bucket.penalize(seconds)


class Budgets:
    """Every venue's address budgets and every API key's own, in one process (one client address)."""

    def __init__(self, limits: dict[str, dict[str, Limits]] | None = None) -> None:
        """limits: venue id -> market type -> Limits, replacing VENUE_LIMITS' entry for that venue."""
        self.limits = {**VENUE_LIMITS, **(limits or {})}
        self._ips: dict[tuple[str, str], TokenBucket] = {}
        self._keys: dict[tuple[str, str, str], KeyBudget] = {}

    def for_key(self, venue_id: str, key_id: str, market_type: str) -> KeyBudget | None:
        """The budget of one API key (one venue account) on a venue's market, or None where the
        venue has no limits here. Every key on the venue's meter shares its address budget."""
        limits = self.limits.get(venue_id, {}).get(market_type)
        if limits is None:
            return None
        if (venue_id, market_type, key_id) not in self._keys:
            ip = self._ips.setdefault((venue_id, limits.meter), TokenBucket.for_window(limits.ip))
            self._keys[(venue_id, market_type, key_id)] = KeyBudget(limits, ip)
        return self._keys[(venue_id, market_type, key_id)]
