"""A venue's instrument and the rounding every order quantity goes through: whole lots, never
more than asked, and whether the venue would still take it (minimum quantity and order value).
Shared by the venue adapters (services.replication.venues.base, whose interface speaks it),
sizing and discovery's preview."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal


@dataclass(frozen=True)
class RoundedQuantity:
    """A quantity rounded down to the lot size, and whether the venue would still take it."""

    quantity: Decimal
    below_min_quantity: bool
    below_min_notional: bool  # only known when a price was given

    @property
    def ok(self) -> bool:
        return self.quantity > 0 and not self.below_min_quantity and not self.below_min_notional


@dataclass(frozen=True)
class Instrument:
    symbol: str  # unified: "BTC/USDT" (spot), "BTC/USDT:USDT" (USDT-margined perpetual)
    venue_symbol: str  # the venue's own: "BTCUSDT"
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal  # quantity step
    min_quantity: Decimal
    min_notional: Decimal  # price * quantity * contract_size, in the quote currency (0: none)
    contract_size: Decimal = Decimal(1)  # base units per contract (1 for spot)
    market_type: str = "spot"  # "spot" | "swap"

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """Down to a whole number of lots: never more than asked."""
        return (quantity / self.lot_size).to_integral_value(rounding=ROUND_DOWN) * self.lot_size

    def round_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(rounding=ROUND_DOWN) * self.tick_size

    def fit_quantity(self, quantity: Decimal, price: Decimal | None = None) -> RoundedQuantity:
        """Round down to the lot size and say whether the result still meets the venue's minimum
        quantity and (given a price) minimum order value."""
        rounded = self.round_quantity(quantity)
        return RoundedQuantity(
            rounded, below_min_quantity=rounded <= 0 or rounded < self.min_quantity,
            below_min_notional=price is not None and rounded * price * self.contract_size < self.min_notional)
