"""Joining a master's open positions (CopySettings.copy_open_positions). The master's position
book keeps the average entry price of what is open (MasterPositionRow.entry_price, moved by
fills.record), the price a join's slippage guard measures from."""

from __future__ import annotations

from decimal import Decimal


def entry_after(position: Decimal, entry: Decimal | None, signed: Decimal, price: Decimal) -> Decimal | None:
    """The average entry price of a position after a fill (signed quantity at price): adding
    averages it in, reducing leaves it, flipping starts again at the fill's price, flat has none.
    Unknown (None) stays unknown while the position is open (positions built before it was kept)."""
    after = position + signed
    if after == 0:
        return None
    if position == 0 or (position > 0) != (after > 0):
        return price  # opened, or flipped: what is open now was all bought (sold) at this price
    if (signed > 0) != (position > 0):
        return entry  # reduced: what is left was entered at the same average
    if entry is None:
        return None
    return (abs(position) * entry + abs(signed) * price) / abs(after)
