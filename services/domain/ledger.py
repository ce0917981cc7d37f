"""The performance ledger: fills matched first in, first out into round trips per symbol (a
short is opened by a sell), each closed round trip a trade with its PnL net of both sides' fees;
open lots are valued at the last price seen. Pure. One definition of a trade's PnL for the
master statistics and the preview (discovery) and a copy session's money (replication)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Fill:
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    price: Decimal
    fee: Decimal  # in the quote currency
    time: datetime
    equity: Decimal | None = None  # the master's equity when known


@dataclass(frozen=True)
class Trade:
    """A closed round trip."""

    symbol: str
    quantity: Decimal
    entry: Decimal
    exit: Decimal
    pnl: Decimal
    open_time: datetime
    close_time: datetime


@dataclass
class _Lot:
    signed_quantity: Decimal
    price: Decimal
    fee_per_unit: Decimal
    time: datetime


@dataclass
class Ledger:
    lots: dict[str, deque] = field(default_factory=dict)
    marks: dict[str, Decimal] = field(default_factory=dict)  # last price per symbol
    trades: list[Trade] = field(default_factory=list)

    def apply(self, fill: Fill) -> None:
        self.marks[fill.symbol] = fill.price
        lots = self.lots.setdefault(fill.symbol, deque())
        signed = fill.quantity if fill.side == "buy" else -fill.quantity
        fee_per_unit = fill.fee / fill.quantity if fill.quantity else ZERO
        while signed and lots and (lots[0].signed_quantity > 0) != (signed > 0):
            lot = lots[0]
            matched = min(abs(signed), abs(lot.signed_quantity))
            direction = 1 if lot.signed_quantity > 0 else -1
            pnl = (fill.price - lot.price) * matched * direction - (lot.fee_per_unit + fee_per_unit) * matched
            self.trades.append(Trade(fill.symbol, matched, lot.price, fill.price, pnl, lot.time, fill.time))
            lot.signed_quantity -= matched * direction
            signed += matched * direction
            if lot.signed_quantity == 0:
                lots.popleft()
        if signed:
            lots.append(_Lot(signed, fill.price, fee_per_unit, fill.time))

    def unrealized(self) -> Decimal:
        return sum((lot.signed_quantity * (self.marks[s] - lot.price) for s, lots in self.lots.items()
                    for lot in lots), ZERO)
