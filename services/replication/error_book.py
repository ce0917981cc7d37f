"""Error events in the database: recorded when a copy fails, claimed by exactly one retry
processor when due (any number of replicas may look at once), settled after each attempt, and
changed by people (retry now, cancel, resolve). Every change is published on
copies.error.recorded.<follower_id>."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update

from copytrade.replication.v1 import error_recovery_service_pb2 as pb
from copytrade.replication.v1 import replication_events_pb2 as events
from services.kit.bus import Bus
from services.kit.db import Database, aware
from services.replication import recovery
from services.replication.store import ErrorEventRow, FollowerOrderRow
from services.replication.venues.base import VenueError

CLAIM_LEASE = timedelta(minutes=2)  # an attempt taking longer is presumed dead and taken over
OPEN = (pb.ERROR_STATUS_PENDING_RETRY, pb.ERROR_STATUS_RETRYING, pb.ERROR_STATUS_NEEDS_ATTENTION)


@dataclass(frozen=True)
class Attempt:
    """How one try at a follower order ended."""

    outcome: str  # "placed" | "refused" | "stale" | "failed"
    error: VenueError | None = None
    reason: str = ""


def event_to_proto(row: ErrorEventRow) -> pb.ErrorEvent:
    event = pb.ErrorEvent(
        error_id=row.error_id, error_type=row.error_type, status=row.status, venue_id=row.venue_id,
        follower_id=row.follower_id, config_id=row.config_id, order_id=row.order_id, message=row.message,
        attempt_count=row.attempt_count, resolution_comment=row.resolution_comment)
    for name in ("next_attempt_time", "create_time", "update_time"):
        value = aware(getattr(row, name))
        if value is not None:
            getattr(event, name).FromDatetime(value)
    return event


class ErrorBook:
    def __init__(self, db: Database, bus: Bus, schedules: recovery.Schedules,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db, self.bus, self.schedules, self.clock = db, bus, schedules, clock

    async def record(self, order: FollowerOrderRow, venue_id: str, error: VenueError) -> ErrorEventRow:
        """A copy's first failure: a new event, due by its type's schedule (or for a person)."""
        now = self.clock()
        error_type = recovery.ERROR_TYPES[error.kind]
        row = ErrorEventRow(
            error_id=f"err-{uuid.uuid4().hex[:20]}", order_id=order.order_id, follower_id=order.follower_id,
            config_id=order.config_id, venue_id=venue_id, error_type=error_type, message=error.message[:2000],
            attempt_count=0, retry_after=error.retry_after, resolution_comment="", create_time=now, update_time=now)
        self._schedule(row, now)
        async with self.db.session() as session:
            existing = (await session.execute(select(ErrorEventRow).where(
                ErrorEventRow.order_id == order.order_id))).scalar_one_or_none()
            if existing is not None:  # a redelivered fill failing again: the event is already kept
                return existing
            session.add(row)
        await self._publish(row)
        return row

    def _schedule(self, row: ErrorEventRow, now: datetime) -> None:
        due = self.schedules.next_attempt(row.error_type, row.attempt_count, now, row.retry_after)
        row.status = pb.ERROR_STATUS_PENDING_RETRY if due else pb.ERROR_STATUS_NEEDS_ATTENTION
        row.next_attempt_time = due
        row.claim_until = None

    async def claim_due(self, limit: int = 32) -> list[ErrorEventRow]:
        """Events whose retry is due (or whose last attempt's holder died), each claimed here and
        nowhere else."""
        now = self.clock()
        async with self.db.session() as session:
            candidates = (await session.execute(select(ErrorEventRow).where(or_(
                (ErrorEventRow.status == pb.ERROR_STATUS_PENDING_RETRY) & (ErrorEventRow.next_attempt_time <= now),
                (ErrorEventRow.status == pb.ERROR_STATUS_RETRYING) & (ErrorEventRow.claim_until < now),
            )).order_by(ErrorEventRow.next_attempt_time).limit(limit))).scalars().all()
        claimed = []
        for row in candidates:
            taken = await self.claim(row, (pb.ERROR_STATUS_PENDING_RETRY, pb.ERROR_STATUS_RETRYING))
            if taken is not None:
                claimed.append(taken)
        return claimed

    async def claim(self, row: ErrorEventRow, from_statuses: tuple[int, ...]) -> ErrorEventRow | None:
        """Take the event for one attempt, if nobody changed it since it was read: a compare-and-set
        on (status, attempt_count), so of two processors only one wins."""
        if row.status not in from_statuses:
            return None
        now = self.clock()
        async with self.db.session() as session:
            result = await session.execute(update(ErrorEventRow).where(
                ErrorEventRow.error_id == row.error_id, ErrorEventRow.status == row.status,
                ErrorEventRow.attempt_count == row.attempt_count,
            ).values(status=pb.ERROR_STATUS_RETRYING, attempt_count=row.attempt_count + 1,
                     claim_until=now + CLAIM_LEASE, update_time=now))
            if result.rowcount != 1:
                return None
            return await session.get(ErrorEventRow, row.error_id, populate_existing=True)

    async def settle(self, row: ErrorEventRow, attempt: Attempt) -> ErrorEventRow:
        """Record how a claimed attempt ended: done, dropped, or due again (or for a person)."""
        now = self.clock()
        async with self.db.session() as session:
            row = await session.get(ErrorEventRow, row.error_id, populate_existing=True)
            if attempt.outcome == "placed":
                row.status, row.next_attempt_time = pb.ERROR_STATUS_SUCCEEDED, None
            elif attempt.outcome == "stale":
                row.status, row.next_attempt_time, row.message = pb.ERROR_STATUS_STALE, None, attempt.reason
            elif attempt.outcome == "refused":
                row.status, row.next_attempt_time = pb.ERROR_STATUS_CANCELED, None
                row.message = f"refused on retry: {attempt.reason}"
            else:
                error = attempt.error
                row.error_type, row.message = recovery.ERROR_TYPES[error.kind], error.message[:2000]
                row.retry_after = error.retry_after
                self._schedule(row, now)
            row.claim_until, row.update_time = None, now
        await self._publish(row)
        return row

    async def close(self, error_id: str, status: int, comment: str) -> ErrorEventRow | None:
        """A person's decision (cancel, resolve) on an open event; None when it is not open."""
        now = self.clock()
        async with self.db.session() as session:
            row = await session.get(ErrorEventRow, error_id, with_for_update=self.db.is_postgres)
            if row is None or row.status not in OPEN or (
                    row.status == pb.ERROR_STATUS_RETRYING and row.claim_until and aware(row.claim_until) > now):
                return None
            row.status, row.resolution_comment, row.next_attempt_time = status, comment[:2000], None
            row.claim_until, row.update_time = None, now
        await self._publish(row)
        return row

    async def pending_counts(self) -> dict[str, int]:
        """Open events by error type name (for the retries-pending gauge)."""
        async with self.db.session() as session:
            rows = (await session.execute(select(ErrorEventRow.error_type, func.count()).where(
                ErrorEventRow.status.in_(OPEN)).group_by(ErrorEventRow.error_type))).all()
        counts = {pb.ErrorType.Name(t).removeprefix("ERROR_TYPE_"): 0 for t in pb.ErrorType.values() if t}
        counts.update({pb.ErrorType.Name(t).removeprefix("ERROR_TYPE_"): n for t, n in rows})
        return counts

    async def get(self, error_id: str) -> ErrorEventRow | None:
        async with self.db.session() as session:
            return await session.get(ErrorEventRow, error_id)

    async def _publish(self, row: ErrorEventRow) -> None:
        event = events.ErrorEventRecorded(
            error_id=row.error_id, follower_id=row.follower_id, config_id=row.config_id, order_id=row.order_id,
            error_type=pb.ErrorType.Name(row.error_type), status=pb.ErrorStatus.Name(row.status),
            attempt_count=row.attempt_count)
        event.occur_time.FromDatetime(row.update_time)
        await self.bus.publish(f"copies.error.recorded.{row.follower_id}", event,
                               msg_id=f"{row.error_id}:{row.status}:{row.attempt_count}")
