"""The parts of the per-fill copy path that batch: risk decides a fill's copies in one call
(RiskInternalService), acknowledgements are written in groups as they arrive, and a sweeper
redoes the effects (risk commit, copy events) of acknowledged copies that a crash or an outage
left undone. See Copier._copy_fill for how they fit together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import select

from copytrade.risk.v1 import risk_internal_service_pb2 as internal_pb
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_internal_service_pb2_grpc import RiskInternalServiceStub
from services.kit.db import Database
from services.kit.periodic import Periodic
from services.replication.store import FollowerOrderRow

log = logging.getLogger("copytrade.replication.fanout")
RISK_BATCH = 5_000  # the most orders, commits or releases RiskInternalService takes in one call
RISK_TIMEOUT_S = 5.0
T = TypeVar("T")


class RiskBatch:
    """Risk asked per batch (RiskInternalService): a fill's reservations, commits and releases
    one call each, chunked at the most a call takes."""

    def __init__(self, internal: RiskInternalServiceStub) -> None:
        self.internal = internal

    async def reserve(self, orders: list[risk_pb.ReserveOrderRequest]) -> list[risk_pb.ReserveOrderResponse]:
        """One decision per order, in order."""
        decisions: list[risk_pb.ReserveOrderResponse] = []
        for chunk in _chunks(orders):
            reply = await self.internal.ReserveOrders(internal_pb.ReserveOrdersRequest(orders=chunk),
                                                      timeout=RISK_TIMEOUT_S)
            decisions.extend(reply.decisions)
        return decisions

    async def commit(self, commits: list[tuple[str, risk_pb.CommitReservationRequest]]) -> None:
        """(follower id, commit) pairs; idempotent per reservation."""
        for chunk in _chunks(commits):
            await self.internal.CommitReservations(internal_pb.CommitReservationsRequest(commits=[
                internal_pb.ReservationCommit(follower_id=f, commit=c) for f, c in chunk]), timeout=RISK_TIMEOUT_S)

    async def release(self, releases: list[tuple[str, risk_pb.ReleaseReservationRequest]]) -> None:
        """(follower id, release) pairs; idempotent per reservation."""
        for chunk in _chunks(releases):
            await self.internal.ReleaseReservations(internal_pb.ReleaseReservationsRequest(releases=[
                internal_pb.ReservationRelease(follower_id=f, release=r) for f, r in chunk]), timeout=RISK_TIMEOUT_S)


def _chunks(items: list[T]) -> list[list[T]]:
    return [items[i:i + RISK_BATCH] for i in range(0, len(items), RISK_BATCH)]


class GroupWriter(Generic[T]):
    """Items handed in one by one, written in groups: the first is written at once, and those
    arriving while a write is under way go together in the next (group commit). After each
    write, `then(group)` starts for that group, without holding up the next write. `drain()`
    waits until everything handed in is written and followed up, and raises the first failure."""

    def __init__(self, write: Callable[[list[T]], Awaitable[None]],
                 then: Callable[[list[T]], Awaitable[None]] | None = None) -> None:
        self._write, self._then = write, then
        self._waiting: list[T] = []
        self._task: asyncio.Task | None = None
        self._following: list[asyncio.Task] = []
        self._failures: list[BaseException] = []

    def add(self, item: T) -> None:
        self._waiting.append(item)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._write(batch)
            except Exception as exc:  # noqa: BLE001 - told by drain()
                self._failures.append(exc)
                continue
            if self._then is not None:
                self._following.append(asyncio.create_task(self._then(batch)))

    async def drain(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
        for outcome in await asyncio.gather(*self._following, return_exceptions=True):
            if isinstance(outcome, BaseException):
                self._failures.append(outcome)
        if self._failures:
            raise self._failures[0]


class EffectsSweeper:
    """Every interval, the copies acknowledged more than `grace_s` ago whose effects are still
    pending get them redone (each effect is idempotent: risk commits per reservation, events by
    Nats-Msg-Id, compliance's audit by the event's id)."""

    def __init__(self, db: Database, redo: Callable[[list[FollowerOrderRow]], Awaitable[None]], *,
                 interval_s: float = 5.0, grace_s: float = 10.0, batch: int = 500) -> None:
        self.db, self.redo, self.grace_s, self.batch = db, redo, grace_s, batch
        self._periodic = Periodic("copy-effects", interval_s, self.sweep, first_delay_s=interval_s)

    def start(self) -> "EffectsSweeper":
        self._periodic.start()
        return self

    async def stop(self) -> None:
        await self._periodic.stop()

    async def sweep(self) -> int:
        """Redo the pending effects found; how many copies it took up."""
        before = datetime.now(UTC) - timedelta(seconds=self.grace_s)
        async with self.db.session() as session:
            rows = list((await session.execute(select(FollowerOrderRow).where(
                FollowerOrderRow.effects_pending.is_(True), FollowerOrderRow.ack_time <= before)
                .order_by(FollowerOrderRow.ack_time).limit(self.batch))).scalars())
        if rows:
            log.info("redoing the effects of %d acknowledged copies", len(rows))
            await self.redo(rows)
        return len(rows)
