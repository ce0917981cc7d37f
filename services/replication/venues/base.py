"""The one interface every venue adapter implements, and the failure classes replication and
error recovery act on. Money and quantities are Decimal; times are UTC."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Protocol, runtime_checkable

ZERO = Decimal(0)


class ErrorKind(enum.Enum):
    NETWORK = "NETWORK"  # never reached the venue: safe to retry
    RATE_LIMIT = "RATE_LIMIT"  # the venue asked us to slow down (see retry_after)
    TIMEOUT = "TIMEOUT"  # a read timed out; for an order, see UNKNOWN_OUTCOME
    PLATFORM = "PLATFORM"  # the venue failed or refused for its own reasons (auth, maintenance)
    REJECTED = "REJECTED"  # the venue refused this order (funds, filters): do not retry
    UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"  # an order may or may not exist: ask before re-sending


@dataclass(frozen=True)
class VenueError(Exception):
    kind: ErrorKind
    message: str
    retry_after: float | None = None  # seconds, when the venue said

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


@dataclass(frozen=True)
class Instrument:
    symbol: str  # unified, "BTC/USDT"
    venue_symbol: str  # the venue's own, "BTCUSDT"
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal
    min_notional: Decimal
    contract_size: Decimal = Decimal(1)

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """Down to a whole number of lots: never more than asked."""
        return (quantity / self.lot_size).to_integral_value(rounding=ROUND_DOWN) * self.lot_size

    def round_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(rounding=ROUND_DOWN) * self.tick_size


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    order_type: str = "market"  # "market" | "limit"
    price: Decimal | None = None
    time_in_force: str = "GTC"
    reduce_only: bool = False


@dataclass(frozen=True)
class OrderState:
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    filled_quantity: Decimal
    average_price: Decimal | None
    status: str  # "open" | "closed" | "canceled" | "rejected" | "expired"
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Fill:
    venue_trade_id: str
    venue_order_id: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: datetime


@dataclass(frozen=True)
class Balance:
    asset: str
    free: Decimal
    used: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.used


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: Decimal  # signed
    entry_price: Decimal = ZERO
    leverage: Decimal = Decimal(1)


@dataclass
class AccountSnapshot:
    balances: dict[str, Balance] = field(default_factory=dict)
    equity: Decimal = ZERO  # in the quote currency the adapter values in


@runtime_checkable
class Venue(Protocol):
    """One account on one venue. Every method raises VenueError on failure."""

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def instruments(self) -> dict[str, Instrument]: ...
    async def instrument(self, symbol: str) -> Instrument: ...
    async def account(self) -> AccountSnapshot: ...
    async def positions(self) -> list[Position]: ...
    async def place_order(self, order: OrderRequest) -> OrderState: ...
    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderState: ...
    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderState | None:
        """None when the venue has no order with this client order id."""
        ...
    def fills(self) -> AsyncIterator[Fill]:
        """Own fills as they happen; reconnects by itself and never ends until close()."""
        ...
    def order_updates(self) -> AsyncIterator[OrderState]:
        """Own orders' changes (new, filled, canceled) as they happen; reconnects by itself."""
        ...
