"""The guards every live copy passes just before it is sent: the master's fill not older than
the session allows, and the follower venue's price not moved against the follower by more than
the session's max_slippage. Each answer is a refusal (reason, message, metadata) naming the
guard and its numbers, or None. Pure: the copier supplies the times and prices."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

Refusal = tuple[str, str, dict[str, str]]


def too_old(executed: datetime, now: datetime, max_age_s: Decimal) -> Refusal | None:
    """COPY_STALE when the fill executed more than max_age_s before now (0: any age)."""
    if max_age_s <= 0:
        return None
    age = Decimal(str(round((now - executed).total_seconds(), 3)))
    if age <= max_age_s:
        return None
    return ("COPY_STALE", f"the master's fill is {age}s old, older than the {max_age_s}s this session copies",
            {"age_seconds": str(age), "max_age_seconds": str(max_age_s)})


def slipped(side: str, master_price: Decimal, venue_price: Decimal, max_slippage: Decimal, *,
            against: str = "the master's fill") -> Refusal | None:
    """SLIPPAGE_TOO_HIGH when the follower would buy above (sell below) the master's price by
    more than max_slippage, a fraction of the master's price (0: no guard). `against` names that
    price in the message (a join's is the master's average entry)."""
    if max_slippage <= 0 or master_price <= 0 or venue_price <= 0:
        return None
    move = (venue_price - master_price) / master_price
    adverse = move if side == "buy" else -move
    if adverse <= max_slippage:
        return None
    shown = adverse.quantize(Decimal("0.000001"))
    return ("SLIPPAGE_TOO_HIGH", f"the price is {shown:.4%} against {against} ({_plain(master_price)} → "
            f"{_plain(venue_price)}), more than the {max_slippage:.2%} this session allows",
            {"slippage": str(shown), "max_slippage": str(max_slippage), "master_price": _plain(master_price),
             "venue_price": _plain(venue_price)})


def tolerance_limit(side: str, master_price: Decimal, max_slippage: Decimal, tick: Decimal) -> Decimal:
    """The limit price of a copy sent at the tolerance (limit_at_tolerance): the master's price
    moved by max_slippage against the follower, on the tick toward the master's price, so no
    fill can be worse than the tolerance (a buy's limit rounded down, a sell's up)."""
    if side == "buy":
        return (master_price * (1 + max_slippage) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    return (master_price * (1 - max_slippage) / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")  # 64000.0 (a venue's float) and 64000 alike: "64000"
