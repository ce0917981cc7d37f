"""CME equity-index futures as data: the contracts the futures adapters (NinjaTrader, Rithmic)
trade, their multipliers and ticks, and which contract month is the front one.

Our unified symbol for a future is its root ("ES"): the adapter trades the front quarterly
month, which each platform names its own way ("ES 12-26" in NinjaTrader, "ESZ6" on Rithmic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.replication.venues.base import Instrument

MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}  # quarterly cycle of the equity-index futures
ROLL_DAYS_BEFORE_EXPIRY = 8  # volume moves to the next month about a week before expiry


@dataclass(frozen=True)
class FutureSpec:
    root: str
    multiplier: Decimal  # USD per index point per contract
    tick_size: Decimal
    exchange: str = "CME"
    initial_margin: Decimal = Decimal(0)  # USD per contract (simulators use it to refuse oversize orders)


FUTURES: dict[str, FutureSpec] = {
    "ES": FutureSpec("ES", Decimal(50), Decimal("0.25"), initial_margin=Decimal(15000)),
    "MES": FutureSpec("MES", Decimal(5), Decimal("0.25"), initial_margin=Decimal(1500)),
    "NQ": FutureSpec("NQ", Decimal(20), Decimal("0.25"), initial_margin=Decimal(22000)),
    "MNQ": FutureSpec("MNQ", Decimal(2), Decimal("0.25"), initial_margin=Decimal(2200)),
}


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def front_month(now: datetime | None = None) -> tuple[int, int]:
    """(year, month) of the quarterly contract most traded at `now`."""
    today = (now or datetime.now(UTC)).date()
    year, month = today.year, today.month
    while True:
        if month in MONTH_CODES and today <= third_friday(year, month) - timedelta(days=ROLL_DAYS_BEFORE_EXPIRY):
            return year, month
        month += 1
        if month > 12:
            year, month = year + 1, 1


def ninjatrader_name(root: str, now: datetime | None = None) -> str:
    """NinjaTrader's instrument name: "ES 12-26"."""
    year, month = front_month(now)
    return f"{root} {month:02d}-{year % 100:02d}"


def rithmic_name(root: str, now: datetime | None = None) -> str:
    """Rithmic's (CME's) symbol: "ESZ6"."""
    year, month = front_month(now)
    return f"{root}{MONTH_CODES[month]}{year % 10}"


def instrument(root: str, venue_symbol: str) -> Instrument:
    spec = FUTURES[root]
    return Instrument(symbol=root, venue_symbol=venue_symbol, base=root, quote="USD", tick_size=spec.tick_size,
                      lot_size=Decimal(1), min_quantity=Decimal(1), min_notional=Decimal(0),
                      contract_size=spec.multiplier, market_type="future")
