"""Trading-state changes (announced on NATS) and the circuit breakers behind the automatic ones:
fed by account snapshots (RecordAccountSnapshot) and by replication's copy events (failures in
a row, latency), each counted once. A tripped breaker moves the follower to REDUCING or HALTED
(never to a milder state than it is in) until the user or an operator resets it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from copytrade.replication.v1 import replication_events_pb2 as copies
from copytrade.risk.v1 import risk_events_pb2 as events
from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.kit.bus import Bus, Delivery
from services.kit.db import Database, aware
from services.risk import breakers, checks
from services.risk.limits import RiskLimits
from services.risk.reservations import ReservationBook, scope_key
from services.risk.store import AccountMarksRow, BreakerRow, ProcessedEventRow, TradingStateRow

log = logging.getLogger("copytrade.risk.monitor")
STATES = {checks.ACTIVE: trading_pb2.TRADING_STATE_ACTIVE, checks.REDUCING: trading_pb2.TRADING_STATE_REDUCING,
          checks.HALTED: trading_pb2.TRADING_STATE_HALTED}
SEVERITY = {checks.ACTIVE: 0, checks.REDUCING: 1, checks.HALTED: 2}
BREAKER_KINDS = {name: pb.BreakerKind.Value(f"BREAKER_KIND_{name}") for name in breakers.KINDS}
# Failures that say the venue (or the way to it) is in trouble, not that the order was wrong.
VENUE_TROUBLE = {"NETWORK", "TIMEOUT", "PLATFORM", "UNKNOWN_OUTCOME"}  # a 429 is paced by its schedule, not a breach


def scope_of(key: str) -> pb.TradingScope:
    if key == "global":
        return pb.TradingScope()
    user_id, _, master_id = key.partition("/")
    return pb.TradingScope(user_id=user_id, master_id=master_id)


class StateKeeper:
    """Every trading-state change goes through here, so each is announced."""

    def __init__(self, book: ReservationBook, bus: Bus) -> None:
        self.book, self.bus = book, bus

    async def set(self, key: str, state: str, reason: str, actor: str, *,
                  kill_switch: bool | None = None) -> TradingStateRow:
        before = await self.book.get_state(key)
        row = await self.book.set_state(key, state, reason, actor, kill_switch=kill_switch)
        event = events.TradingStateChanged(
            event_id=uuid.uuid4().hex, scope=scope_of(key), previous_state=STATES[before.state if before else
                                                                                  checks.ACTIVE],
            state=STATES[row.state], reason=row.reason, changed_by=actor, kill_switch_active=row.kill_switch)
        event.occur_time.FromDatetime(datetime.now(UTC))
        await self.bus.publish(f"risk.state.changed.{key.replace('/', '.')}", event, msg_id=event.event_id)
        return row


class BreakerMonitor:
    def __init__(self, db: Database, bus: Bus, states: StateKeeper,
                 limits_for: Callable[[str], Awaitable[RiskLimits]]) -> None:
        self.db, self.bus, self.states, self.limits_for = db, bus, states, limits_for

    async def record_snapshot(self, user_id: str, equity: Decimal, at: datetime) -> str:
        """Track the day's start and the high-water mark; trip what the new equity breaches.
        Returns the follower's resulting state."""
        day = at.astimezone(UTC).date().isoformat()
        async with self.db.session() as session:
            await self.db.serialise(session, f"risk-marks:{user_id}")
            marks = await session.get(AccountMarksRow, user_id)
            if marks is None:
                marks = AccountMarksRow(user_id=user_id, recent_latencies_ms=[], failures_in_a_row=0)
                session.add(marks)
            if marks.day != day or marks.day_start_equity is None:
                marks.day, marks.day_start_equity = day, equity
            marks.high_water_mark = max(marks.high_water_mark or equity, equity)
            marks.equity, marks.snapshot_time = equity, at
            day_start, high = marks.day_start_equity, marks.high_water_mark
        limits = await self.limits_for(user_id)
        for trip in breakers.equity_trips(limits, equity=equity, day_start_equity=day_start, high_water_mark=high):
            await self.trip(user_id, trip)
        row = await self.states.book.get_state(scope_key(user_id))
        return row.state if row else checks.ACTIVE

    async def on_copy_event(self, delivery: Delivery) -> None:
        event = delivery.event
        if not isinstance(event, (copies.FollowerOrderPlaced, copies.CopyFailed)):
            return
        order = event.order
        user_id = order.follower_id
        try:
            async with self.db.session() as session:
                session.add(ProcessedEventRow(event_id=delivery.msg_id or f"{order.order_id}:{type(event).__name__}"))
                await self.db.serialise(session, f"risk-marks:{user_id}")
                marks = await session.get(AccountMarksRow, user_id)
                if marks is None:
                    marks = AccountMarksRow(user_id=user_id, recent_latencies_ms=[], failures_in_a_row=0)
                    session.add(marks)
                if isinstance(event, copies.FollowerOrderPlaced):
                    marks.failures_in_a_row = 0
                    if order.HasField("ack_time") and order.HasField("master_fill_time"):
                        latency = (order.ack_time.ToMilliseconds() - order.master_fill_time.ToMilliseconds())
                        marks.recent_latencies_ms = [*marks.recent_latencies_ms, latency][-breakers.LATENCY_WINDOW:]
                elif event.error_kind in VENUE_TROUBLE:
                    marks.failures_in_a_row += 1
                failures, latencies = marks.failures_in_a_row, list(marks.recent_latencies_ms)
        except IntegrityError:
            return  # counted already
        limits = await self.limits_for(user_id)
        for trip in (breakers.failure_trip(limits, failures), breakers.latency_trip(limits, latencies)):
            if trip is not None:
                await self.trip(user_id, trip)

    async def trip(self, user_id: str, trip: breakers.Trip) -> None:
        now = datetime.now(UTC)
        async with self.db.session() as session:
            if await session.get(BreakerRow, (user_id, trip.kind)) is not None:
                return  # tripped already; it stays until reset
            session.add(BreakerRow(user_id=user_id, kind=trip.kind, trip_time=now, value=trip.value,
                                   threshold=trip.threshold, reason=trip.reason))
        target = breakers.STATE_ON_TRIP[trip.kind]
        current = await self.states.book.get_state(scope_key(user_id))
        if current is None or SEVERITY[target] > SEVERITY[current.state]:
            await self.states.set(scope_key(user_id), target, f"{trip.kind.lower()} breaker: {trip.reason}",
                                  "risk:breaker", kill_switch=current.kill_switch if current else False)
        tripped = events.CircuitBreakerTripped(event_id=uuid.uuid4().hex, user_id=user_id,
                                               breaker=breaker_to_proto(user_id, trip.kind, None, trip, now))
        tripped.occur_time.FromDatetime(now)
        await self.bus.publish(f"risk.breaker.tripped.{user_id}", tripped, msg_id=tripped.event_id)
        log.warning("breaker %s tripped for %s: %s", trip.kind, user_id, trip.reason)

    async def reset(self, user_id: str) -> None:
        async with self.db.session() as session:
            await session.execute(delete(BreakerRow).where(BreakerRow.user_id == user_id))
            marks = await session.get(AccountMarksRow, user_id)
            if marks is not None:  # counting starts over
                marks.failures_in_a_row, marks.recent_latencies_ms = 0, []

    async def list(self, user_id: str) -> list[pb.CircuitBreaker]:
        async with self.db.session() as session:
            rows = {r.kind: r for r in (await session.execute(select(BreakerRow).where(
                BreakerRow.user_id == user_id))).scalars()}
        limits = await self.limits_for(user_id)
        thresholds = {breakers.DAILY_LOSS: limits.max_daily_loss, breakers.DRAWDOWN: limits.max_drawdown,
                      breakers.EMERGENCY_STOP: limits.emergency_stop_loss,
                      breakers.VENUE_FAILURES: Decimal(breakers.VENUE_FAILURES_IN_A_ROW),
                      breakers.LATENCY: Decimal(limits.max_latency_ms)}
        return [breaker_to_proto(user_id, kind, rows.get(kind), None, None, thresholds[kind])
                for kind in breakers.KINDS]


def breaker_to_proto(user_id: str, kind: str, row: BreakerRow | None, trip: breakers.Trip | None,
                     at: datetime | None, threshold: Decimal | None = None) -> pb.CircuitBreaker:
    breaker = pb.CircuitBreaker(kind=BREAKER_KINDS[kind], tripped=row is not None or trip is not None)
    source = row or trip
    if source is not None:
        breaker.value, breaker.threshold, breaker.reason = str(source.value), str(source.threshold), source.reason
        breaker.trip_time.FromDatetime(aware(row.trip_time) if row else at)
    elif threshold is not None:
        breaker.threshold = str(threshold)
    return breaker
