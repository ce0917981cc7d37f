"""A master's performance from their real fills. Pure.

Fills are matched first-in first-out into round trips per symbol (a short is opened by a sell:
services.domain.ledger). Each closed round trip is a trade: its PnL is net of the fees of both
sides, its holding time from the opening fill to the closing one. Open lots are valued at the
last price seen.

ROI is PnL over the master's equity at the start of the window (the equity the venue reported
with the fills). The equity curve is that equity plus the realised PnL as trades close; daily
returns are each UTC day's realised PnL over the equity at the day's start. Sharpe and Sortino
are the mean daily return over its standard deviation (downside deviation for Sortino, against
0), times sqrt(365): crypto trades every day. Volatility is the daily standard deviation times
sqrt(365). Daily returns run from the window's first fill (days before a master started are
no track record, not days of zero return).

A short history does not make figures: Sharpe and volatility need MINIMUMS.daily_returns daily
returns, Sortino also MINIMUMS.losing_days losing days (a downside deviation of one day is not a
deviation), the trade figures one closed trade. A figure the history is too short for is empty
and listed in `not_enough_history` with what it needs; other undefined figures (no equity, no
losing trade for a profit factor) are empty strings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

# The ledger the figures are counted on is shared (services.domain.ledger): a copy session's money
# in replication is matched by the same rule. Discovery's modules name its Fill as stats.Fill.
from services.domain.ledger import Fill, Ledger

ZERO = Decimal(0)
WINDOW_DAYS = {"7D": 7, "30D": 30, "90D": 90, "ALL_TIME": None}
ANNUALISE = Decimal(365).sqrt()


@dataclass(frozen=True)
class Minimums:
    daily_returns: int = 7  # a week of UTC days from the first fill in the window
    losing_days: int = 2


MINIMUMS = Minimums()


def not_enough(field_name: str, observation: str, required: int, observed: int) -> dict:
    """An InsufficientHistory entry (PerformanceStats.not_enough_history)."""
    return {"field": field_name, "observation": observation, "required": required, "observed": observed}


def decimal_text(value: Decimal | None, places: str = "0.0001") -> str:
    if value is None:
        return ""
    rounded = value.quantize(Decimal(places))
    return str(rounded.copy_abs() if rounded == 0 else rounded)  # never "-0.0000"


def _std(values: list[Decimal]) -> Decimal | None:
    if len(values) < 2:
        return None
    mean = sum(values, ZERO) / len(values)
    return (sum(((v - mean) ** 2 for v in values), ZERO) / (len(values) - 1)).sqrt()


def observed_strategy(average_holding_hours: float, trades_per_day: float) -> str:
    """The style the fills show, whatever the label says."""
    if average_holding_hours < 1 and trades_per_day >= 10:
        return "SCALPING"
    if average_holding_hours < 24:
        return "DAY_TRADING"
    if average_holding_hours < 24 * 7:
        return "SWING"
    return "POSITION"


def compute(fills: list[Fill], window: str, now: datetime, minimums: Minimums = MINIMUMS) -> dict:
    """The statistics of one window, as PerformanceStats fields (decimal strings)."""
    fills = sorted(fills, key=lambda f: f.time)
    ledger = Ledger()
    for fill in fills:
        ledger.apply(fill)
    days = WINDOW_DAYS[window]
    start = now - timedelta(days=days) if days else (fills[0].time if fills else now)
    trades = [t for t in ledger.trades if t.close_time >= start]
    before = [f.equity for f in fills if f.time < start and f.equity]
    within = [f.equity for f in fills if f.time >= start and f.equity]
    base = before[-1] if before else (within[0] if within else None)

    realized = sum((t.pnl for t in trades), ZERO)
    unrealized = ledger.unrealized()
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [t.pnl for t in trades if t.pnl < 0]
    gross_loss = -sum(losses, ZERO)
    # The equity curve as trades close, and its deepest fall from a peak.
    max_drawdown = None
    if base:
        equity = peak = base
        max_drawdown = ZERO
        for trade in sorted(trades, key=lambda t: t.close_time):
            equity += trade.pnl
            peak = max(peak, equity)
            max_drawdown = max(max_drawdown, (peak - equity) / peak if peak > 0 else ZERO)
    # Daily returns, every UTC day of the window (days without trades return 0).
    daily: list[Decimal] = []
    if base and trades:
        by_day: dict = {}
        for trade in trades:
            by_day[trade.close_time.date()] = by_day.get(trade.close_time.date(), ZERO) + trade.pnl
        first = next((f.time for f in fills if f.time >= start), start)  # fills are in time order
        day, last, equity = max(start, first).date(), now.date(), base
        while day <= last:
            pnl = by_day.get(day, ZERO)
            daily.append(pnl / equity if equity > 0 else ZERO)
            equity += pnl
            day += timedelta(days=1)
    losing_days = sum(1 for r in daily if r < 0)
    short: list[dict] = []
    if trades and base and len(daily) < minimums.daily_returns:
        short += [not_enough(name, "daily returns", minimums.daily_returns, len(daily))
                  for name in ("sharpe_ratio", "sortino_ratio", "volatility")]
        daily = []
    elif trades and base and losing_days < minimums.losing_days:
        short.append(not_enough("sortino_ratio", "losing days", minimums.losing_days, losing_days))
    if not trades:
        short += [not_enough(name, "closed trades", 1, 0)
                  for name in ("win_rate", "sharpe_ratio", "sortino_ratio", "volatility")]
    std = _std(daily)
    downside = [min(r, ZERO) for r in daily] if losing_days >= minimums.losing_days else []
    downside_dev = (sum((r * r for r in downside), ZERO) / len(downside)).sqrt() if downside else None
    mean = sum(daily, ZERO) / len(daily) if daily else None
    span_days = max(Decimal((now - max(start, fills[0].time)).total_seconds()) / 86400, Decimal(1)) if fills \
        else Decimal(1)
    holding = [(t.close_time - t.open_time).total_seconds() / 3600 for t in trades]
    track = (now - fills[0].time).days if fills else 0
    return {
        "roi": decimal_text((realized + unrealized) / base) if base else "",
        "realized_pnl": decimal_text(realized, "0.01"),
        "unrealized_pnl": decimal_text(unrealized, "0.01"),
        "win_rate": decimal_text(Decimal(len(wins)) / len(trades)) if trades else "",
        "profit_factor": decimal_text(sum(wins, ZERO) / gross_loss) if gross_loss else "",
        "average_win": decimal_text(sum(wins, ZERO) / len(wins), "0.01") if wins else "",
        "average_loss": decimal_text(sum(losses, ZERO) / len(losses), "0.01") if losses else "",
        "max_drawdown": decimal_text(max_drawdown),
        "sharpe_ratio": decimal_text(mean / std * ANNUALISE) if std else "",
        "sortino_ratio": decimal_text(mean / downside_dev * ANNUALISE) if downside_dev else "",
        "volatility": decimal_text(std * ANNUALISE) if std is not None else "",
        "average_holding_hours": round(sum(holding) / len(holding), 4) if holding else 0.0,
        "trades_per_day": round(float(len(trades) / span_days), 4),
        "trade_count": len(trades),
        "track_record_days": track,
        "not_enough_history": short,
    }


def sort_value(stats: dict, name: str) -> float | None:
    """A statistic as a number to rank by (None: not known, ranked last)."""
    raw = stats.get(name)
    if raw in (None, ""):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class OpenPosition:
    symbol: str
    quantity: Decimal  # signed
    entry_price: Decimal  # average of the open lots
    last_price: Decimal
    open_time: datetime


def activity(fills: list[Fill]) -> tuple[list[OpenPosition], list[Decimal | None]]:
    """What the fills leave open, and for each fill (in the order given, oldest first) the PnL
    after fees of what it closed (None when it closed nothing): the ledger the statistics use."""
    ledger = Ledger()
    closed: list[Decimal | None] = []
    for fill in fills:
        before = len(ledger.trades)
        ledger.apply(fill)
        made = ledger.trades[before:]
        closed.append(sum((t.pnl for t in made), ZERO) if made else None)
    positions = []
    for symbol, lots in sorted(ledger.lots.items()):
        held = sum((lot.signed_quantity for lot in lots), ZERO)
        if held:
            entry = sum((lot.signed_quantity * lot.price for lot in lots), ZERO) / held
            positions.append(OpenPosition(symbol, held, entry, ledger.marks[symbol], lots[0].time))
    return positions, closed
