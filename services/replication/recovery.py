"""What happens to a follower order that failed or whose outcome is unknown: its error type, when
it is tried again, and when a retry has gone stale. Pure: the retry processor and the tests of
the schedules share it.

Schedules default to the product's: network 1s, 5s, 15s, 1m, 5m; rate limit 1m, 5m, 15m, 1h
(or the venue's Retry-After); timeout 5s, 15s, 1m, 5m; platform 30s, 2m, 10m, 1h. An unknown
outcome is asked about on the timeout schedule. Rejections and refused credentials are never
retried: they wait for a person."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from copytrade.replication.v1 import error_recovery_service_pb2 as pb
from services.replication.venues.base import ErrorKind

ERROR_TYPES = {
    ErrorKind.NETWORK: pb.ERROR_TYPE_NETWORK,
    ErrorKind.RATE_LIMIT: pb.ERROR_TYPE_RATE_LIMIT,
    ErrorKind.TIMEOUT: pb.ERROR_TYPE_TIMEOUT,
    ErrorKind.PLATFORM: pb.ERROR_TYPE_PLATFORM,
    ErrorKind.UNKNOWN_OUTCOME: pb.ERROR_TYPE_UNKNOWN_OUTCOME,
    ErrorKind.REJECTED: pb.ERROR_TYPE_REJECTED,
    ErrorKind.AUTH: pb.ERROR_TYPE_REJECTED,  # a person must fix the keys
}
NAMES = {pb.ERROR_TYPE_NETWORK: "NETWORK", pb.ERROR_TYPE_RATE_LIMIT: "RATE_LIMIT", pb.ERROR_TYPE_TIMEOUT: "TIMEOUT",
         pb.ERROR_TYPE_PLATFORM: "PLATFORM", pb.ERROR_TYPE_UNKNOWN_OUTCOME: "UNKNOWN_OUTCOME"}
DEFAULT_SCHEDULES: dict[int, tuple[float, ...]] = {
    pb.ERROR_TYPE_NETWORK: (1, 5, 15, 60, 300),
    pb.ERROR_TYPE_RATE_LIMIT: (60, 300, 900, 3600),
    pb.ERROR_TYPE_TIMEOUT: (5, 15, 60, 300),
    pb.ERROR_TYPE_PLATFORM: (30, 120, 600, 3600),
    pb.ERROR_TYPE_UNKNOWN_OUTCOME: (5, 15, 60, 300),
}


@dataclass(frozen=True)
class Schedules:
    delays: Mapping[int, tuple[float, ...]]

    @classmethod
    def parse(cls, env: Mapping[str, str]) -> "Schedules":
        """The defaults, with RETRY_SCHEDULE_NETWORK="1,5,15" (seconds) and so on replacing a type's."""
        delays = dict(DEFAULT_SCHEDULES)
        for error_type, name in NAMES.items():
            raw = env.get(f"RETRY_SCHEDULE_{name}")
            if raw:
                try:
                    parsed = tuple(float(part) for part in raw.split(",") if part.strip())
                except ValueError:
                    raise ValueError(f"RETRY_SCHEDULE_{name} must be seconds separated by commas, not {raw!r}")
                if any(d < 0 for d in parsed):
                    raise ValueError(f"RETRY_SCHEDULE_{name} must not hold negative delays")
                delays[error_type] = parsed
        return cls(delays)

    def retried(self, error_type: int) -> bool:
        return bool(self.delays.get(error_type))

    def next_attempt(self, error_type: int, attempts_made: int, now: datetime,
                     retry_after: float | None = None) -> datetime | None:
        """When to try again after `attempts_made` retries have failed; None once the schedule is
        spent (or the type is never retried). A venue's Retry-After replaces the rate-limit
        delay, and is never undercut by any schedule."""
        schedule = self.delays.get(error_type, ())
        if attempts_made >= len(schedule):
            return None
        delay = schedule[attempts_made]
        if retry_after is not None and retry_after > 0:
            delay = retry_after if error_type == pb.ERROR_TYPE_RATE_LIMIT else max(delay, retry_after)
        return now + timedelta(seconds=delay)


def stale_reason(*, side: str, fill_price: Decimal, price_now: Decimal, max_slippage: Decimal,
                 opens: bool, master_position_now: Decimal, master_position_after_fill: Decimal) -> str:
    """Why a retry should no longer be sent ('' when it should): the price has moved past the
    follower's slippage limit against them, or the master has since closed what the copy opens."""
    if max_slippage > 0 and fill_price > 0:
        adverse = (price_now - fill_price) if side == "buy" else (fill_price - price_now)
        if adverse / fill_price > max_slippage:
            return (f"the price moved {adverse / fill_price:.2%} against the copy since the master's fill "
                    f"({fill_price} → {price_now}); the limit is {max_slippage:.2%}")
    if opens and master_position_after_fill != 0:
        same_side = (master_position_now > 0) == (master_position_after_fill > 0)
        if master_position_now == 0 or not same_side:
            return "the master has since closed the position this copy would open"
    return ""
