"""Capturable performance: a master's real fills replayed for a follower's proposed capital,
settings and limits, through the very sizing (services.domain.sizing) and pre-trade
decision (services.domain.risk.checks) that live copies go through. Pure.

Model: each copy fills `latency_ms` after the master, at the master's price moved against the
follower by `SLIPPAGE_BPS_PER_SECOND` per second of delay, pays `fee_rate` of its notional, and
respects a typical crypto spot instrument (lot 0.00001, minimum order value 5) — offline, the
follower venue's own filters are not known. Equity is cash plus positions at the last price.
The master's return is their PnL over the equity their venue reported at the first fill."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.discovery import stats
from services.domain import sizing
from services.domain.instruments import Instrument
from services.domain.risk import checks
from services.domain.risk.limits import DOMAIN as RISK_DOMAIN
from services.domain.risk.limits import RiskLimits

ZERO = Decimal(0)
SLIPPAGE_BPS_PER_SECOND = Decimal(1)


def default_instrument(symbol: str) -> Instrument:
    base, _, quote = symbol.partition("/")
    return Instrument(symbol, symbol.replace("/", ""), base, quote.split(":")[0] or "USDT", Decimal("0.01"),
                      Decimal("0.00001"), Decimal("0.00001"), Decimal(5))


@dataclass(frozen=True)
class MasterFill:
    fill_id: str
    fill: stats.Fill


@dataclass
class Step:
    fill_id: str
    time: datetime
    symbol: str
    side: str
    master_quantity: Decimal
    master_price: Decimal
    follower_quantity: Decimal = ZERO
    follower_price: Decimal = ZERO
    refusal: tuple[str, str, str] | None = None  # (reason, domain, message)


@dataclass
class Result:
    steps: list[Step] = field(default_factory=list)
    equity_curve: list[tuple[datetime, Decimal]] = field(default_factory=list)
    master_return: Decimal | None = None
    follower_return: Decimal = ZERO

    @property
    def capture_gap(self) -> Decimal | None:
        return None if self.master_return is None else self.master_return - self.follower_return


def replay(fills: list[MasterFill], *, capital: Decimal, settings: sizing.Settings, limits: RiskLimits,
           latency_ms: int, fee_rate: Decimal, slippage_bps: Decimal | None = None) -> Result:
    """slippage_bps: the slippage against the follower, in bps of the master's price, when it is
    known (measured on real copies); otherwise the model's SLIPPAGE_BPS_PER_SECOND of delay."""
    result = Result()
    cash = capital
    held: dict[str, Decimal] = {}  # follower, signed, by follower symbol
    marks: dict[str, Decimal] = {}
    master_position: dict[str, Decimal] = {}
    ledger = stats.Ledger()
    master_base = next((m.fill.equity for m in fills if m.fill.equity), None)
    slip = (slippage_bps if slippage_bps is not None
            else SLIPPAGE_BPS_PER_SECOND * Decimal(latency_ms) / 1000) / 10_000

    def equity() -> Decimal:
        return cash + sum((q * marks.get(s, ZERO) for s, q in held.items()), ZERO)

    for master in sorted(fills, key=lambda m: m.fill.time):
        fill = master.fill
        ledger.apply(fill)
        before = master_position.get(fill.symbol, ZERO)
        master_position[fill.symbol] = before + (fill.quantity if fill.side == "buy" else -fill.quantity)
        step = Step(master.fill_id, fill.time, fill.symbol, fill.side, fill.quantity, fill.price)
        result.steps.append(step)
        routed = sizing.route(settings, sizing.MasterTrade(fill.symbol, fill.side, fill.quantity, fill.price))
        symbol = routed.symbol if isinstance(routed, sizing.Sized) else routed[0]
        marks[symbol] = fill.price
        if isinstance(routed, sizing.Sized) and routed.refused:
            step.refusal = (routed.reason, sizing.DOMAIN, routed.message)
            continue
        instrument = default_instrument(symbol)
        sized = sizing.size(settings, sizing.MasterTrade(fill.symbol, fill.side, fill.quantity, fill.price),
                            instrument, follower_equity=equity(), master_equity=fill.equity or master_base or ZERO,
                            position_before=before, follower_position=held.get(symbol, ZERO))
        if sized.refused:
            step.refusal = (sized.reason, sizing.DOMAIN, sized.message)
            continue
        price = fill.price * (1 + slip if sized.side == "buy" else 1 - slip)
        signed = sized.quantity if sized.side == "buy" else -sized.quantity
        book = checks.Book(positions=dict(held), prices=dict(marks), equity=equity())
        decision = checks.decide(limits, checks.ACTIVE, book, checks.Order(symbol, signed, price, fill.price,
                                                                          instrument.lot_size))
        if decision.outcome == "DENIED":
            step.refusal = (decision.reason, RISK_DOMAIN, decision.message)
            continue
        quantity = decision.quantity
        cash -= quantity * price + abs(quantity) * price * fee_rate
        held[symbol] = held.get(symbol, ZERO) + quantity
        step.follower_quantity, step.follower_price = abs(quantity), price
        result.equity_curve.append((fill.time, equity()))
    if capital > 0:
        result.follower_return = (equity() - capital) / capital
    if master_base:
        pnl = sum((t.pnl for t in ledger.trades), ZERO) + ledger.unrealized()
        result.master_return = pnl / master_base
    return result
