"""The pre-trade decision: approve, reduce to what fits, or deny with a reason a follower can
read. Pure: the caller supplies the follower's exposure, limits and trading state (risk's
service for a live copy, discovery's preview for a replayed one)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal

from services.domain.risk.limits import DOMAIN, RiskLimits

ZERO = Decimal(0)
ACTIVE, REDUCING, HALTED = "ACTIVE", "REDUCING", "HALTED"


@dataclass(frozen=True)
class Order:
    symbol: str
    signed_quantity: Decimal  # + buy, - sell
    expected_price: Decimal
    reference_price: Decimal  # the master's fill price
    lot_size: Decimal = ZERO  # 0: any quantity
    contract_size: Decimal = Decimal(1)  # the prices above are per contract: unit price × this


@dataclass(frozen=True)
class Book:
    """What the follower holds and has reserved, signed, by symbol, with equity."""

    positions: dict[str, Decimal] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    equity: Decimal = ZERO
    orders_last_minute: int = 0  # reservations made (not denied) in the last 60 s
    # Recent returns by symbol, and periods per year of their sampling (volatility, correlation).
    returns: dict[str, tuple[list[float], float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    outcome: str  # APPROVED | REDUCED | DENIED
    quantity: Decimal  # signed, what may be sent
    reason: str = ""
    message: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


def _deny(reason: str, message: str, **numbers) -> Decision:
    return Decision("DENIED", ZERO, reason, message, {k: str(v) for k, v in numbers.items()})


def reduces_exposure(current: Decimal, signed_quantity: Decimal) -> bool:
    """True when the order only shrinks the position toward zero (never flips it)."""
    after = current + signed_quantity
    return current != 0 and abs(after) <= abs(current) and (after == 0 or (after > 0) == (current > 0))


def _round_to_lot(quantity: Decimal, lot: Decimal) -> Decimal:
    if lot <= 0:
        return quantity
    return (quantity / lot).to_integral_value(rounding=ROUND_DOWN) * lot


# Volatility and correlation are judged on the returns the caller sends (replication: hourly,
# close to close, over the last 48 hours of the follower's venue). An observation is a period in
# which the price moved: on sparse data (no trade in most hours) the flat hours say nothing, and
# two instruments that each moved once the same way would "correlate" at 1.00. With fewer than
# MIN_OBSERVATIONS (for a correlation: periods in which both moved) risk does not judge: the
# order is not denied on that check, and the decision's metadata says so.
MIN_OBSERVATIONS = 24
NOT_JUDGED = "not judged"


def _observations(returns: tuple[float, ...]) -> int:
    return sum(1 for r in returns if r != 0)


# Plain float arithmetic: these run on the copy path, and the statistics module's exact
# fractions cost milliseconds for what floats do in microseconds.
@functools.lru_cache(maxsize=1024)  # a fill's copies share one symbol's series: computed once
def _volatility_of(returns: tuple[float, ...], periods_per_year: float) -> tuple[float | None, int]:
    """(annualised volatility over the whole window, or None below MIN_OBSERVATIONS; observations)."""
    observed = _observations(returns)
    if observed < MIN_OBSERVATIONS:
        return None, observed
    n = len(returns)
    mean = math.fsum(returns) / n
    return math.sqrt(math.fsum((r - mean) ** 2 for r in returns) / (n - 1) * periods_per_year), observed


@functools.lru_cache(maxsize=4096)
def _correlation_of(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float | None, int]:
    """(correlation over the periods in which both moved, or None below MIN_OBSERVATIONS; those
    periods). The series end at the same period (the latest), so they are aligned from the end."""
    n = min(len(a), len(b))
    pairs = [(x, y) for x, y in zip(a[len(a) - n:], b[len(b) - n:]) if x != 0 and y != 0]
    if len(pairs) < MIN_OBSERVATIONS:
        return None, len(pairs)
    m = len(pairs)
    mean_a, mean_b = math.fsum(x for x, _ in pairs) / m, math.fsum(y for _, y in pairs) / m
    cov = math.fsum((x - mean_a) * (y - mean_b) for x, y in pairs)
    var_a, var_b = math.fsum((x - mean_a) ** 2 for x, _ in pairs), math.fsum((y - mean_b) ** 2 for _, y in pairs)
    if var_a <= 0 or var_b <= 0:  # a flat series has no correlation
        return None, m
    return cov / math.sqrt(var_a * var_b), m


def _market_check(limits: RiskLimits, book: Book, order: Order) -> tuple[Decision | None, dict[str, str]]:
    """An order adding exposure to an instrument that moves too much, or that moves with what
    the follower already holds in the same direction, is denied. Also returns what was measured
    and what could not be judged, for the decision's metadata."""
    notes = {"min_observations": str(MIN_OBSERVATIONS)}
    returns, periods = book.returns.get(order.symbol, ((), 0.0))
    returns = tuple(returns)
    volatility, observed = _volatility_of(returns, periods) if periods > 0 else (None, 0)
    notes["volatility_observations"] = str(observed)
    if volatility is None:
        notes["volatility"] = NOT_JUDGED
    else:
        notes["volatility"] = str(round(volatility, 4))
        if volatility > float(limits.volatility_limit):
            return _deny("VOLATILITY_TOO_HIGH", f"{order.symbol} moves {volatility:.1%} a year, more than the "
                         f"{limits.volatility_limit:.0%} allowed", volatility=round(volatility, 4),
                         limit=limits.volatility_limit, observations=observed), notes
    direction = 1 if order.signed_quantity > 0 else -1
    unjudged = []
    for symbol, held in book.positions.items():
        if symbol == order.symbol or held == 0:
            continue
        other = book.returns.get(symbol)
        correlation, together = _correlation_of(returns, tuple(other[0])) if other else (None, 0)
        if correlation is None:
            unjudged.append(symbol)
            continue
        # Same-direction bets on instruments that move together, or opposite ones that move apart,
        # are one bet: concentration.
        if correlation * direction * (1 if held > 0 else -1) > float(limits.correlation_limit):
            return _deny("CORRELATION_TOO_HIGH", f"{order.symbol} moves with your {symbol} position "
                         f"(correlation {correlation:.2f}, limit {limits.correlation_limit})",
                         correlation=round(correlation, 4), symbol=symbol, limit=limits.correlation_limit,
                         observations=together), notes
    if unjudged:
        notes["correlation"] = f"{NOT_JUDGED} with {', '.join(sorted(unjudged))}"
    return None, notes


def decide(limits: RiskLimits, state: str, book: Book, order: Order) -> Decision:
    current = book.positions.get(order.symbol, ZERO)
    if order.signed_quantity == 0:
        return _deny("ZERO_QUANTITY", "the order has no quantity")
    if reduces_exposure(current, order.signed_quantity):
        return Decision("APPROVED", order.signed_quantity)  # reducing risk is always allowed
    if state == HALTED:
        return _deny("TRADING_HALTED", "trading is halted: only orders that reduce a position are accepted")
    if state == REDUCING:
        return _deny("REDUCE_ONLY", "trading is reduce-only: this order would add exposure")
    if book.orders_last_minute >= limits.max_orders_per_minute:
        return _deny("ORDER_RATE_EXCEEDED", f"{book.orders_last_minute} orders in the last minute; the limit is "
                     f"{limits.max_orders_per_minute}", orders=book.orders_last_minute,
                     limit=limits.max_orders_per_minute)
    market, notes = _market_check(limits, book, order)
    if market is not None:
        return market
    decision = _size_check(limits, book, order, current)
    if book.equity <= 0:
        notes["leverage"] = f"{NOT_JUDGED}: equity unknown"
    return replace(decision, metadata={**notes, **decision.metadata})


def _size_check(limits: RiskLimits, book: Book, order: Order, current: Decimal) -> Decision:
    """Slippage, then the position's notional and the account's leverage: an order over either
    is reduced to what fits, or denied when nothing does. Every sizing mode comes here."""
    price = order.expected_price
    if order.reference_price > 0:
        slippage = abs(price - order.reference_price) / order.reference_price
        if slippage > limits.max_slippage:
            return _deny("SLIPPAGE_TOO_HIGH", f"the price moved {slippage:.4%} from the master's, more than the "
                         f"{limits.max_slippage:.2%} allowed", slippage=slippage.quantize(Decimal("0.000001")),
                         limit=limits.max_slippage)
    direction = 1 if order.signed_quantity > 0 else -1
    # The most the position may hold in this direction, by notional, then by leverage.
    room = limits.max_position_size / price - abs(current) if (current * direction) >= 0 else \
        limits.max_position_size / price + abs(current)
    reason, limit_name = "POSITION_LIMIT_EXCEEDED", "max_position_size"
    if book.equity > 0:
        gross_other = sum(abs(q) * book.prices.get(s, price) for s, q in book.positions.items() if s != order.symbol)
        leverage_room_notional = limits.max_leverage * book.equity - gross_other
        leverage_room = leverage_room_notional / price - (abs(current) if (current * direction) >= 0 else -abs(current))
        if leverage_room < room:
            room, reason, limit_name = leverage_room, "LEVERAGE_LIMIT_EXCEEDED", "max_leverage"
    wanted = abs(order.signed_quantity)
    if wanted <= room:
        return Decision("APPROVED", order.signed_quantity)
    allowed = _round_to_lot(max(room, ZERO), order.lot_size)
    numbers = {"limit": getattr(limits, limit_name), "requested": wanted, "allowed": allowed,
               "position": current, "price": price}
    if limit_name == "max_leverage":
        numbers["equity"] = book.equity
    if allowed <= 0:
        return _deny(reason, f"this order would exceed your {limit_name.replace('_', ' ')}", **numbers)
    return Decision("REDUCED", allowed * direction, reason,
                    f"reduced from {wanted} to {allowed} to stay within your {limit_name.replace('_', ' ')}",
                    {k: str(v) for k, v in numbers.items()})


__all__ = ["decide", "Decision", "Order", "Book", "reduces_exposure", "DOMAIN", "ACTIVE", "REDUCING", "HALTED"]
