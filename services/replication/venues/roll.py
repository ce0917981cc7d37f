"""The futures roll rule every futures adapter (IB, Rithmic, NinjaTrader) and its simulator
shares, so a copy of one master fill trades the same contract month on each of them.

CME's equity-index futures (ES, MES, NQ, MNQ) expire on the third Friday of March, June,
September and December. Volume moves to the next quarter on CME's roll date, the Thursday eight
days before expiry (the second Thursday of the expiry month): from that day on the next month
is the front one. Before the rule was shared, IB traded the nearest expiry up to its last day
while Rithmic and NinjaTrader rolled early, so on 2026-12-11 the same copy went to ESZ6 on IB
and ESH7 on Rithmic."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

# A fixed day (tests, a replay), a clock returning now, or None for the real clock.
When = datetime | date | Callable[[], datetime] | None

QUARTERLY_MONTHS = (3, 6, 9, 12)
MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}
ROLL_DAYS_BEFORE_EXPIRY = 8  # third Friday - 8 days = the second Thursday, CME's roll date
LISTED_QUARTERS = 3  # how many quarterly months a venue lists at once (the front and the next two)


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def roll_date(expiry: date) -> date:
    """The first day the contract expiring on `expiry` is no longer the front month."""
    return expiry - timedelta(days=ROLL_DAYS_BEFORE_EXPIRY)


def utc_day(now: When = None) -> date:
    if callable(now):
        now = now()
    if now is None:
        return datetime.now(UTC).date()
    if isinstance(now, datetime):
        return (now.astimezone(UTC) if now.tzinfo else now).date()
    return now


def listed(now: When = None, count: int = LISTED_QUARTERS) -> list[tuple[int, int]]:
    """(year, month) of the quarterly contracts trading on `now` (not yet expired), nearest first."""
    today = utc_day(now)
    year, month, found = today.year, today.month, []
    while len(found) < count:
        if month in QUARTERLY_MONTHS and today <= third_friday(year, month):
            found.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def front_expiry(expiries: Iterable[date], now: When = None) -> date | None:
    """Of the expiries a venue lists, the front month's on `now`: the nearest one whose roll
    date has not come. None when every listed contract is past its roll."""
    today = utc_day(now)
    return min((e for e in expiries if today < roll_date(e)), default=None)


def front_month(now: When = None) -> tuple[int, int]:
    """(year, month) of the front quarterly contract on `now`."""
    months = listed(now)
    chosen = front_expiry((third_friday(y, m) for y, m in months), now)
    return next((y, m) for y, m in months if third_friday(y, m) == chosen)


class FrontMonths:
    """An adapter's instruments, the front month of each root on the current UTC day: chosen
    again when the day changes, so a process running across a roll date rolls with it. `named`
    maps (root, (year, month)) to the venue's name for that contract."""

    def __init__(self, roots: Iterable[str], make: Callable[[str, str], object],
                 named: Callable[[str, tuple[int, int]], str], now: When = None) -> None:
        self.roots, self.make, self.named, self.now = tuple(roots), make, named, now
        self._day: date | None = None
        self._current: dict = {}
        self.roots_by_name: dict[str, str] = {}  # every listed month's name seen -> its root

    def current(self) -> dict:
        day = utc_day(self.now)
        if day != self._day:
            front = front_month(day)
            self._current = {root: self.make(root, self.named(root, front)) for root in self.roots}
            for month in listed(day):  # a position or fill in any listed month is the root's
                self.roots_by_name.update({self.named(root, month): root for root in self.roots})
            self._day = day
        return self._current
