"""What the REST modules (spot, futures) hand the server: endpoints as data, and the
parameter helpers they share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from venue_sim.book import ApiKey, BinanceError, mandatory

# handler(key, params): key is None on public endpoints
Handler = Callable[[ApiKey | None, dict[str, str]], Awaitable[Any]]
# A request's weight, or the orders it places: a number, or one computed from the parameters.
Cost = int | Callable[[dict[str, str]], int]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    signed: bool = False  # signed (USER_DATA / TRADE)
    trade: bool = False  # needs a key allowed to trade
    weight: Cost = 1  # Binance's request weight (against the IP)
    orders: Cost = 0  # orders it places (against the account's order count)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def weight_of(self, params: dict[str, str]) -> int:
        return self.weight(params) if callable(self.weight) else self.weight

    def orders_of(self, params: dict[str, str]) -> int:
        return self.orders(params) if callable(self.orders) else self.orders


def by_symbol(one: int, every: int) -> Callable[[dict[str, str]], int]:
    """Weight `one` for a symbol, `every` without one (all symbols)."""
    return lambda params: one if params.get("symbol") else every


def by_limit(steps: tuple[tuple[int, int], ...], default_limit: int) -> Callable[[dict[str, str]], int]:
    """Weight by the `limit` asked: steps of (up to this limit, weight), the last for anything larger."""
    def weight(params: dict[str, str]) -> int:
        try:
            limit = int(params.get("limit") or default_limit)
        except ValueError:
            limit = default_limit
        return next((w for upto, w in steps if limit <= upto), steps[-1][1])
    return weight


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise mandatory(name)
    return value


def int_param(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                       f"'^[0-9]{{1,20}}$'.") from None


def bool_param(params: dict[str, str], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                       f"'true, false'.")
    return raw.lower() == "true"


def order_ref(params: dict[str, str]) -> tuple[int | None, str | None]:
    return int_param(params, "orderId"), params.get("origClientOrderId") or None


INTERVALS_MS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
                "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
                "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
                "1M": 2_592_000_000}


def interval_ms(params: dict[str, str]) -> int:
    interval = required(params, "interval")
    if interval not in INTERVALS_MS:
        raise BinanceError(400, -1120, "Invalid interval.")
    return INTERVALS_MS[interval]
