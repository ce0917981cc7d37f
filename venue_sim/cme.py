"""CME equity-index futures as the exchange lists them: the simulators' own copy of the venue's
data (the NinjaTrader, Rithmic and IB simulators). Contract specs, the quarterly calendar, CME's
roll date, and each platform's name for a contract month.

Deliberately not production's tables (services/replication/venues/cme.py and roll.py): a
simulator that took its data from the code under test would agree with a wrong table instead
of showing it. Kept by hand from CME's contract specifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

QUARTERLY_MONTHS = (3, 6, 9, 12)  # March, June, September, December
MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}
LISTED_QUARTERS = 3  # the quarterly months trading at once: the front and the next two
ROLL_DAYS_BEFORE_EXPIRY = 8  # CME's roll date: the Thursday eight days before expiry


@dataclass(frozen=True)
class FutureSpec:
    root: str
    multiplier: Decimal  # USD per index point per contract
    tick_size: Decimal
    initial_margin: Decimal  # USD per contract: the simulators refuse orders their cash cannot margin
    exchange: str = "CME"


FUTURES: dict[str, FutureSpec] = {
    "ES": FutureSpec("ES", Decimal(50), Decimal("0.25"), Decimal(15000)),  # E-mini S&P 500
    "MES": FutureSpec("MES", Decimal(5), Decimal("0.25"), Decimal(1500)),  # Micro E-mini S&P 500
    "NQ": FutureSpec("NQ", Decimal(20), Decimal("0.25"), Decimal(22000)),  # E-mini Nasdaq-100
    "MNQ": FutureSpec("MNQ", Decimal(2), Decimal("0.25"), Decimal(2200)),  # Micro E-mini Nasdaq-100
}


def third_friday(year: int, month: int) -> date:
    """A quarterly contract's last trading day."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _day(now: datetime | date | None) -> date:
    if now is None:
        return datetime.now(UTC).date()
    if isinstance(now, datetime):
        return (now.astimezone(UTC) if now.tzinfo else now).date()
    return now


def listed(now: datetime | date | None = None, count: int = LISTED_QUARTERS) -> list[tuple[int, int]]:
    """(year, month) of the quarterly contracts trading on `now` (not yet expired), nearest first."""
    today = _day(now)
    year, month, found = today.year, today.month, []
    while len(found) < count:
        if month in QUARTERLY_MONTHS and today <= third_friday(year, month):
            found.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def front_month(now: datetime | date | None = None) -> tuple[int, int]:
    """(year, month) of the contract volume trades in on `now`: the nearest one before its roll date."""
    today = _day(now)
    return next((y, m) for y, m in listed(today)
                if today < third_friday(y, m) - timedelta(days=ROLL_DAYS_BEFORE_EXPIRY))


def ninjatrader_name(root: str, now: datetime | date | None = None, month: tuple[int, int] | None = None) -> str:
    """NinjaTrader's instrument name of the front month (or of `month`): "ES 12-26"."""
    year, mon = month or front_month(now)
    return f"{root} {mon:02d}-{year % 100:02d}"


def rithmic_name(root: str, now: datetime | date | None = None, month: tuple[int, int] | None = None) -> str:
    """Rithmic's (CME's) symbol of the front month (or of `month`): "ESZ6"."""
    year, mon = month or front_month(now)
    return f"{root}{MONTH_CODES[mon]}{year % 10}"
