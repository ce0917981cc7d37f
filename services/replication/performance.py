"""What a copy session's copies made and hold, from the follower venue's own fills. Pure.

One definition for every screen that shows a copy's money (see CopySessionPerformance in the
contract): PnL is matched first in, first out with the master statistics' own ledger
(services/domain/ledger.py), fees are the venue's, open positions are marked at the venue's
last price, and ROI is net PnL over what was invested."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.domain.ledger import Fill as LedgerFill
from services.domain.ledger import Ledger
from services.replication.venues.base import Fill

ZERO = Decimal(0)


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: Decimal  # signed
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal


@dataclass
class Performance:
    invested: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    volume: Decimal = ZERO
    fill_count: int = 0
    positions: list[Position] = field(default_factory=list)
    curve: list[tuple[datetime, Decimal]] = field(default_factory=list)  # net PnL after each fill

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl - self.fees

    @property
    def roi(self) -> Decimal | None:
        return self.net_pnl / self.invested if self.invested > 0 else None


def fee_in_quote(fill: Fill, base: str) -> Decimal:
    """A fee taken in the asset bought is worth its quantity at the fill's price."""
    fee = fill.fee or ZERO
    return fee * fill.price if fill.fee_currency and fill.fee_currency == base else fee


def compute(fills: list[Fill], marks: dict[str, Decimal], *, contract_sizes: dict[str, Decimal] | None = None,
            allocated_capital: Decimal | None = None) -> Performance:
    """fills: the session's own fills at the venue (any order); marks: the last price per symbol."""
    sizes = contract_sizes or {}
    ledger = Ledger()
    out = Performance()
    peak_cost = ZERO
    for fill in sorted(fills, key=lambda f: (f.timestamp, f.venue_trade_id)):
        size = sizes.get(fill.symbol, Decimal(1))
        base = fill.symbol.split("/")[0]
        quantity = fill.quantity * size  # base units, so PnL is price difference x quantity
        # A fee taken from the asset bought leaves less of it held; its worth is counted as a fee.
        held = quantity - fill.fee if fill.side == "buy" and fill.fee_currency == base and fill.fee else quantity
        ledger.apply(LedgerFill(fill.symbol, fill.side, held, fill.price, ZERO, fill.timestamp))
        out.fees += fee_in_quote(fill, base)
        out.volume += quantity * fill.price
        out.fill_count += 1
        cost = sum((abs(lot.signed_quantity) * lot.price for lots in ledger.lots.values() for lot in lots), ZERO)
        peak_cost = max(peak_cost, cost)
        realized = sum((t.pnl for t in ledger.trades), ZERO)
        out.curve.append((fill.timestamp, realized + ledger.unrealized() - out.fees))
    out.realized_pnl = sum((t.pnl for t in ledger.trades), ZERO)
    for symbol, lots in sorted(ledger.lots.items()):
        held = sum((lot.signed_quantity for lot in lots), ZERO)
        if not held:
            continue
        size = sizes.get(symbol, Decimal(1))
        entry = sum((lot.signed_quantity * lot.price for lot in lots), ZERO) / held
        mark = marks.get(symbol) or ledger.marks[symbol]
        unrealized = held * (mark - entry)
        out.unrealized_pnl += unrealized
        out.positions.append(Position(symbol, held / size, entry, mark, unrealized))
    out.invested = allocated_capital if allocated_capital else peak_cost
    return out
