"""When a follower's futures instrument trades. Pure: a symbol and a moment in, an answer out.

CME Globex equity-index futures (ES, MES, NQ, MNQ) trade from Sunday 17:00 to Friday 16:00
US Central time, with a daily halt from 16:00 to 17:00 Central, Monday to Thursday. Central
time moves with US daylight saving, so in UTC the session opens at 23:00 in winter and 22:00
in summer. Exchange holidays are not modelled. Symbols not listed here (crypto, which never
closes) are always open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

CENTRAL = ZoneInfo("America/Chicago")
SUNDAY, FRIDAY, SATURDAY = 6, 4, 5  # datetime.weekday()


@dataclass(frozen=True)
class Hours:
    tz: ZoneInfo
    opens: time  # Sunday's open, and each day's reopen after the halt
    closes: time  # each day's halt, and Friday's close
    name: str


CME_EQUITY_INDEX = Hours(CENTRAL, time(17), time(16), "CME equity-index futures")
HOURS: dict[str, Hours] = {root: CME_EQUITY_INDEX for root in ("ES", "MES", "NQ", "MNQ")}


def is_open(symbol: str, at: datetime) -> bool:
    """Whether `symbol` trades at the (timezone-aware) moment `at`."""
    hours = HOURS.get(symbol)
    if hours is None:
        return True
    local = at.astimezone(hours.tz)
    day, clock = local.weekday(), local.time()
    if day == SATURDAY:
        return False
    if day == SUNDAY:
        return clock >= hours.opens
    if day == FRIDAY:
        return clock < hours.closes
    return not hours.closes <= clock < hours.opens


def next_open(symbol: str, at: datetime) -> datetime:
    """The first moment from `at` on when `symbol` trades, in UTC."""
    hours = HOURS.get(symbol)
    if hours is None or is_open(symbol, at):
        return at.astimezone(UTC)
    local = at.astimezone(hours.tz).date()
    while True:  # the next day's reopen (a closed market reopens at `opens`, local time)
        candidate = datetime.combine(local, hours.opens, tzinfo=hours.tz)
        if candidate > at and is_open(symbol, candidate):
            return candidate.astimezone(UTC)
        local += timedelta(days=1)


def closed(symbol: str, at: datetime) -> tuple[str, dict[str, str]]:
    """A MARKET_CLOSED refusal's message and metadata: what is closed and when it reopens."""
    hours = HOURS[symbol]
    opens = next_open(symbol, at)
    local = opens.astimezone(hours.tz)
    return (f"{symbol} is outside its trading hours ({hours.name}: Sunday 17:00 to Friday 16:00 US Central, "
            f"halted 16:00-17:00 daily); it reopens {local:%A %Y-%m-%d %H:%M} Central "
            f"({opens:%Y-%m-%d %H:%M} UTC)"), {"symbol": symbol, "opens": opens.isoformat()}
