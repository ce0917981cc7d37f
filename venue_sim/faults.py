"""Fault injection, per account and endpoint, one-shot or N times.

Faults that strike *after acceptance* are the dangerous ones for a client: the venue executed
the request (the order exists) but the caller hears an error, or nothing at all."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

from venue_sim.book import BinanceError

KINDS = {
    "latency": "hold the request latency_ms before handling it",
    "latency_after_accept": "execute, then hold the answer latency_ms",
    "http_5xx_after_accept": "execute, then answer HTTP 5xx (-1001 internal error)",
    "unknown_after_accept": "execute, then answer -1007: send status unknown, execution status unknown",
    "disconnect_after_accept": "execute, then close the connection without an answer",
    "rate_limit": "refuse with HTTP 429 (or 418) and a Retry-After header",
    "reject": "refuse with the given code and message",
}
_ids = itertools.count(1)


@dataclass
class Fault:
    kind: str
    endpoint: str = "POST /api/v3/order"  # "METHOD /path", or "*" for every signed endpoint
    account: str = "*"  # account name, or "*"
    count: int = 1  # how many requests it strikes; -1 for all of them
    latency_ms: int = 0
    status: int = 0  # HTTP status; a default per kind when 0
    code: int = 0  # Binance error code (reject); a default per kind when 0
    msg: str = ""
    retry_after: int = 1  # seconds (rate_limit)
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        if self.count == 0 or self.count < -1:
            raise ValueError("count is a positive number of requests, or -1 for all")

    def matches(self, endpoint: str, account: str | None) -> bool:
        return self.count != 0 and self.endpoint in ("*", endpoint) and self.account in ("*", account)

    def to_json(self) -> dict:
        return asdict(self)


class Injected(Exception):  # noqa: N818 - what struck, not an error of the simulator's
    """A fault struck the request: answer `error` (instead of doing it, or after), or with no
    error drop the connection unanswered (it was done)."""

    def __init__(self, error: BinanceError | None) -> None:
        super().__init__(error.msg if error else "dropped")
        self.error = error


@dataclass
class FaultPlan:
    """What the matching faults do to one request."""

    latency_s: float = 0.0
    latency_after_s: float = 0.0  # executed, the answer held back
    refuse: BinanceError | None = None  # answer this instead of executing
    after: BinanceError | None = None  # execute, then answer this
    disconnect: bool = False  # execute, then drop the connection

    async def run(self, action: Callable[[], Awaitable]):
        """The request's action under the plan: held, refused, done and answered late, or done
        and then answered otherwise (Injected)."""
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.refuse:
            raise Injected(self.refuse)
        result = await action()
        if self.latency_after_s:
            await asyncio.sleep(self.latency_after_s)
        if self.disconnect or self.after:
            raise Injected(self.after if not self.disconnect else None)
        return result


class FaultBook:
    """Faults waiting for requests, each simulator with its own kind of fault (`fault_type`):
    added, removed, and struck by the requests they match."""

    fault_type: type = Fault

    def __init__(self) -> None:
        self.items: list = []

    def add(self, **spec):
        fault = self.fault_type(**spec)
        self.items.append(fault)
        return fault

    def remove(self, fault_id: int | None = None) -> int:
        before = len(self.items)
        self.items = [] if fault_id is None else [f for f in self.items if f.id != fault_id]
        return before - len(self.items)

    def strike(self, matches: Callable[[object], bool]) -> list:
        """The faults a request matches, oldest first, each counted; one used up is gone."""
        struck = []
        for fault in list(self.items):
            if not matches(fault):
                continue
            fault.hits += 1
            if fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self.items.remove(fault)
            struck.append(fault)
        return struck


class Faults(FaultBook):
    def plan(self, endpoint: str, account: str | None) -> FaultPlan:
        """Consume the faults matching this request (oldest first) and say what they do."""
        plan = FaultPlan()
        for fault in self.strike(lambda f: f.matches(endpoint, account)):
            if fault.kind == "latency":
                plan.latency_s += fault.latency_ms / 1000
            elif fault.kind == "latency_after_accept":
                plan.latency_after_s += fault.latency_ms / 1000
            elif fault.kind == "rate_limit":
                status = fault.status or 429
                msg = fault.msg or ("Way too much request weight used; IP banned until further notice."
                                    if status == 418 else
                                    "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. "
                                    "Please use the websocket for live updates to avoid polling the API.")
                plan.refuse = plan.refuse or BinanceError(status, fault.code or -1003, msg,
                                                          {"Retry-After": str(fault.retry_after)})
            elif fault.kind == "reject":
                plan.refuse = plan.refuse or BinanceError(fault.status or 400, fault.code or -2010,
                                                          fault.msg or "Order was rejected.")
            elif fault.kind == "http_5xx_after_accept":
                plan.after = BinanceError(fault.status or 503, fault.code or -1001,
                                          fault.msg or "Internal error; unable to process your request. "
                                                       "Please try again.")
            elif fault.kind == "unknown_after_accept":
                # Binance answers -1007 with HTTP 408 ("timeout waiting for the backend").
                plan.after = BinanceError(fault.status or 408, -1007,
                                          fault.msg or "Timeout waiting for response from backend server. "
                                                       "Send status unknown; execution status unknown.")
            elif fault.kind == "disconnect_after_accept":
                plan.disconnect = True
        return plan
