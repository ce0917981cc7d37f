"""Automatic circuit breakers: when a follower's account or copies cross a line, trading moves to
REDUCING (only orders that shrink exposure) or HALTED, and stays there until the user or an
operator resets it. Pure: the service feeds it numbers and applies what it says.

- DAILY_LOSS: equity fell by more than max_daily_loss since the day's first snapshot (UTC day),
  realised and unrealised together (equity carries both) → REDUCING.
- DRAWDOWN: equity is more than max_drawdown below its high-water mark → REDUCING.
- EMERGENCY_STOP: equity fell by more than emergency_stop_loss (a fraction) within the day → HALTED.
- VENUE_FAILURES: this many copies in a row failed at the venue → REDUCING.
- LATENCY: the median of the last copies' fill-to-acknowledgement time is above max_latency_ms
  → REDUCING (late copies get worse prices than the master's)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import Decimal

from services.domain.risk import checks
from services.domain.risk.limits import RiskLimits

DAILY_LOSS, DRAWDOWN, EMERGENCY_STOP, VENUE_FAILURES, LATENCY = (
    "DAILY_LOSS", "DRAWDOWN", "EMERGENCY_STOP", "VENUE_FAILURES", "LATENCY")
KINDS = (DAILY_LOSS, DRAWDOWN, EMERGENCY_STOP, VENUE_FAILURES, LATENCY)
STATE_ON_TRIP = {DAILY_LOSS: checks.REDUCING, DRAWDOWN: checks.REDUCING, EMERGENCY_STOP: checks.HALTED,
                 VENUE_FAILURES: checks.REDUCING, LATENCY: checks.REDUCING}
VENUE_FAILURES_IN_A_ROW = 5
LATENCY_WINDOW = 10  # copies whose median is compared with max_latency_ms


@dataclass(frozen=True)
class Trip:
    kind: str
    value: Decimal
    threshold: Decimal
    reason: str


def equity_trips(limits: RiskLimits, *, equity: Decimal, day_start_equity: Decimal,
                 high_water_mark: Decimal) -> list[Trip]:
    if not limits.circuit_breaker_enabled:
        return []
    trips = []
    day_loss = day_start_equity - equity
    if day_loss > limits.max_daily_loss:
        trips.append(Trip(DAILY_LOSS, day_loss, limits.max_daily_loss,
                          f"lost {day_loss:.2f} today, more than the daily limit of {limits.max_daily_loss}"))
    if high_water_mark > 0:
        drawdown = (high_water_mark - equity) / high_water_mark
        if drawdown > limits.max_drawdown:
            trips.append(Trip(DRAWDOWN, drawdown.quantize(Decimal("0.0001")), limits.max_drawdown,
                              f"equity is {drawdown:.2%} below its high of {high_water_mark:.2f}, more than "
                              f"{limits.max_drawdown:.2%}"))
    if day_start_equity > 0:
        day_drop = day_loss / day_start_equity
        if day_drop > limits.emergency_stop_loss:
            trips.append(Trip(EMERGENCY_STOP, day_drop.quantize(Decimal("0.0001")), limits.emergency_stop_loss,
                              f"equity fell {day_drop:.2%} today, past the emergency stop of "
                              f"{limits.emergency_stop_loss:.2%}: trading halted"))
    return trips


def failure_trip(limits: RiskLimits, failures_in_a_row: int) -> Trip | None:
    if not limits.circuit_breaker_enabled or failures_in_a_row < VENUE_FAILURES_IN_A_ROW:
        return None
    return Trip(VENUE_FAILURES, Decimal(failures_in_a_row), Decimal(VENUE_FAILURES_IN_A_ROW),
                f"{failures_in_a_row} copies in a row failed at the venue")


def latency_trip(limits: RiskLimits, recent_ms: list[float]) -> Trip | None:
    if not limits.circuit_breaker_enabled or len(recent_ms) < LATENCY_WINDOW:
        return None
    median = Decimal(str(round(statistics.median(recent_ms[-LATENCY_WINDOW:]), 1)))
    if median <= limits.max_latency_ms:
        return None
    return Trip(LATENCY, median, Decimal(limits.max_latency_ms),
                f"copies take {median} ms from the master's fill (median of the last {LATENCY_WINDOW}), more than "
                f"the {limits.max_latency_ms} ms allowed")
