"""Trading-state changes (announced on NATS) and the circuit breakers behind the automatic ones:
fed by account snapshots (RecordAccountSnapshot) and by replication's copy events (failures in
a row, latency), each counted once. A tripped breaker moves the follower to REDUCING or HALTED
(never to a milder state than it is in) until the user or an operator resets it."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, select

from copytrade.replication.v1 import replication_events_pb2 as copies
from copytrade.risk.v1 import risk_events_pb2 as events
from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.kit import errors, validation
from services.kit.bus import Bus, Delivery
from services.kit.db import Database, aware
from services.domain.risk import checks
from services.domain.risk.limits import RiskLimits
from services.risk import breakers
from services.risk.reservations import ReservationBook, scope_key
from services.risk.store import AccountMarksRow, BreakerRow, ProcessedEventRow, TradingStateRow

log = logging.getLogger("copytrade.risk.monitor")
STATES = {checks.ACTIVE: trading_pb2.TRADING_STATE_ACTIVE, checks.REDUCING: trading_pb2.TRADING_STATE_REDUCING,
          checks.HALTED: trading_pb2.TRADING_STATE_HALTED}
SEVERITY = {checks.ACTIVE: 0, checks.REDUCING: 1, checks.HALTED: 2}
BREAKER_KINDS = {name: pb.BreakerKind.Value(f"BREAKER_KIND_{name}") for name in breakers.KINDS}
# Failures that say the venue (or the way to it) is in trouble, not that the order was wrong.
VENUE_TROUBLE = {"NETWORK", "TIMEOUT", "PLATFORM", "UNKNOWN_OUTCOME"}  # a 429 is paced by its schedule, not a breach
# A follower's equity from its latest account snapshot serves the leverage limit when the order
# brings none (sizing modes that need no equity): up to this old (ten of replication's default
# snapshot intervals), read at most once per EQUITY_TTL_S on the copy path.
EQUITY_MAX_AGE = timedelta(minutes=10)
EQUITY_TTL_S = 5.0


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
                 limits_of: Callable[[set[str]], Awaitable[dict[str, RiskLimits]]]) -> None:
        """limits_of(user ids): their limits, in one read of those not in memory."""
        self.db, self.bus, self.states, self.limits_of = db, bus, states, limits_of
        self._equity: dict[str, tuple[Decimal | None, datetime | None, float]] = {}  # user → (equity, at, read)

    async def equity_of(self, user_ids: set[str], now: datetime) -> dict[str, Decimal]:
        """The followers' equity from their latest snapshots not older than EQUITY_MAX_AGE (the
        others are left out), the ones not in memory in one read."""
        clock = time.monotonic()
        missing = {u for u in user_ids if u not in self._equity or clock - self._equity[u][2] >= EQUITY_TTL_S}
        if missing:
            async with self.db.session() as session:
                read = {u: (e, aware(t) if t else None) for u, e, t in await session.execute(select(
                    AccountMarksRow.user_id, AccountMarksRow.equity, AccountMarksRow.snapshot_time).where(
                    self.db.member(AccountMarksRow.user_id, missing)))}
            if len(self._equity) + len(missing) > 100_000:
                self._equity.clear()
            for user_id in missing:
                self._equity[user_id] = (*read.get(user_id, (None, None)), clock)
        found = {}
        for user_id in user_ids:
            equity, at, _ = self._equity[user_id]
            if equity is not None and at is not None and now - at <= EQUITY_MAX_AGE:
                found[user_id] = equity
        return found

    async def limits_for(self, user_id: str) -> RiskLimits:
        return (await self.limits_of({user_id}))[user_id]

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
        self._equity[user_id] = (equity, at, time.monotonic())
        limits = await self.limits_for(user_id)
        for trip in breakers.equity_trips(limits, equity=equity, day_start_equity=day_start, high_water_mark=high):
            await self.trip(user_id, trip)
        row = await self.states.book.get_state(scope_key(user_id))
        return row.state if row else checks.ACTIVE

    async def on_copy_event(self, delivery: Delivery) -> None:
        await self.on_copy_events([delivery])

    async def on_copy_events(self, deliveries: list[Delivery]) -> None:
        """Count copy outcomes into their followers' marks: a whole fetch in one transaction (a
        fill's thousand copies are one write, not a thousand), each event once (a redelivery is
        recognised by its id), in stream order per follower. Should the batch fail, each event
        is tried alone, so one bad event holds back no one else's (it alone is redelivered)."""
        try:
            await self._count(deliveries)
        except Exception:
            if len(deliveries) == 1:
                raise
            log.exception("breaker marks: a batch of %d failed; counting one by one", len(deliveries))
            failed = None
            for delivery in deliveries:
                try:
                    await self._count([delivery])
                except Exception as exc:  # noqa: BLE001 - logged, then raised for the redelivery
                    log.exception("breaker marks: event %s failed", delivery.msg_id)
                    failed = exc
            if failed is not None:
                raise failed

    async def _count(self, deliveries: list[Delivery]) -> None:
        seen: dict[str, tuple[str, copies.FollowerOrderPlaced | copies.FollowerOrderFilled | copies.CopyFailed]] = {}
        for delivery in deliveries:
            event = delivery.event
            if isinstance(event, (copies.FollowerOrderPlaced, copies.FollowerOrderFilled)):
                # A copy's placement, counted once: told by its placed event, or (a copy filled in
                # full at once has none) its first filled one.
                event_id = f"{event.order.order_id}:placed"
            elif isinstance(event, copies.CopyFailed):
                event_id = delivery.msg_id or f"{event.order.order_id}:{type(event).__name__}"
            else:
                continue
            try:  # one risk could never store is dropped, not redelivered forever
                validation.check_row(ProcessedEventRow.__table__, {"event_id": event_id})
                validation.check_row(AccountMarksRow.__table__, {"user_id": event.order.follower_id})
            except errors.DomainError as exc:
                log.warning("breaker marks: event %r dropped: %s", event_id[:80], exc.message)
                continue
            seen.setdefault(event_id, (event.order.follower_id, event))
        if not seen:
            return
        users = {user_id for user_id, _ in seen.values()}
        async with self.db.session() as session:
            await self.db.serialise_all(session, [f"risk-marks:{u}" for u in users])
            counted = set((await session.execute(select(ProcessedEventRow.event_id).where(
                self.db.member(ProcessedEventRow.event_id, seen)))).scalars())
            fresh = [(event_id, user_id, event) for event_id, (user_id, event) in seen.items()
                     if event_id not in counted]
            if not fresh:
                return
            await self.db.insert_many(session, ProcessedEventRow.__table__, [{"event_id": e} for e, _, _ in fresh])
            marks = {m.user_id: m for m in (await session.execute(select(AccountMarksRow).where(
                self.db.member(AccountMarksRow.user_id, {u for _, u, _ in fresh})))).scalars()}
            for _, user_id, event in fresh:
                mark = marks.get(user_id)
                if mark is None:
                    mark = marks[user_id] = AccountMarksRow(user_id=user_id, recent_latencies_ms=[], failures_in_a_row=0)
                    session.add(mark)
                order = event.order
                if not isinstance(event, copies.CopyFailed):  # placed
                    mark.failures_in_a_row = 0
                    if order.HasField("ack_time") and order.HasField("master_fill_time"):
                        latency = order.ack_time.ToMilliseconds() - order.master_fill_time.ToMilliseconds()
                        mark.recent_latencies_ms = [*mark.recent_latencies_ms, latency][-breakers.LATENCY_WINDOW:]
                elif event.error_kind in VENUE_TROUBLE:
                    mark.failures_in_a_row += 1
            touched = {u: (marks[u].failures_in_a_row, list(marks[u].recent_latencies_ms)) for _, u, _ in fresh}
        limits_of = await self.limits_of(set(touched))  # a fill's thousand followers: one read
        for user_id, (failures, latencies) in touched.items():
            limits = limits_of[user_id]
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
