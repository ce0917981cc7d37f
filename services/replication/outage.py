"""When a master's fill stream is lost, each follower's chosen policy applies (after a grace
period, so a reconnect blip changes nothing):

- FREEZE: the session is frozen; copies of fills recovered later are recorded, sized, as held
  back, and a resync (ForceResync) makes them up and unfreezes; resuming copies on without them.
- FLATTEN: what the session holds is closed, and the session frozen as above.
- RESYNC (also the default): copying goes on; when the stream is back and the fills it missed
  have been recovered and copied, the follower is reconciled to what its copies imply.

Each step is announced on copies.session.changed.<follower_id>.

Only the replica that watches the master (the owner of its shard, see ownership.py) hears its
stream, so only it applies the policies; that they were applied is kept in master_feeds, so
the replica that takes the watcher over does what the stream's return calls for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from copytrade.replication.v1 import replication_service_pb2 as rep
from services.domain import copy_settings
from services.kit.bus import Bus
from services.kit.db import Database
from services.replication import sessions
from services.replication.reconcile import Reconciler
from services.replication.fills import update_feed
from services.replication.store import CopySessionRow, MasterFeedRow

log = logging.getLogger("copytrade.replication.outage")


class FeedOutages:
    def __init__(self, db: Database, bus: Bus, reconciler: Reconciler, *, grace_s: float = 5.0,
                 settle_s: float = 2.0, owns: Callable[[str], bool] | None = None) -> None:
        self.db, self.bus, self.reconciler = db, bus, reconciler
        self.grace_s, self.settle_s = grace_s, settle_s
        self.owns = owns or (lambda master_account_id: True)
        self._pending: dict[str, asyncio.Task] = {}  # master account → its grace period running
        self._applied: set[str] = set()  # master accounts whose outage policies were applied
        self._tasks: set[asyncio.Task] = set()

    def listener(self, master_account_id: str) -> Callable[[str, bool], None]:
        def on_stream(stream: str, up: bool) -> None:
            if stream != "fill":
                return
            if up:
                self._spawn(self.back(master_account_id))
            elif master_account_id not in self._pending:
                self._pending[master_account_id] = self._spawn(self.lost(master_account_id))
        return on_stream

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _sessions(self, master_account_id: str, states: tuple[int, ...]) -> list[CopySessionRow]:
        async with self.db.session() as session:
            return list((await session.execute(select(CopySessionRow).where(
                CopySessionRow.master_account_id == master_account_id,
                CopySessionRow.state.in_(states)))).scalars().all())

    def forget(self, master_account_id: str) -> None:
        """This replica stopped watching the master (another may take over): drop its timers."""
        pending = self._pending.pop(master_account_id, None)
        if pending is not None:
            pending.cancel()
        self._applied.discard(master_account_id)

    async def _mark(self, master_account_id: str, lost_at: datetime | None) -> bool:
        """Record that the policies were applied (or, None, that the stream is back); returns
        whether they had been applied and not yet undone."""
        was = False

        def change(row: MasterFeedRow) -> None:
            nonlocal was
            was = row.stream_lost_time is not None
            row.stream_lost_time = lost_at
        await update_feed(self.db, master_account_id, change, create=lost_at is not None)
        return was

    async def lost(self, master_account_id: str) -> None:
        try:
            await asyncio.sleep(self.grace_s)
        except asyncio.CancelledError:
            return  # back within the grace period: nothing happened as far as followers go
        self._pending.pop(master_account_id, None)
        if not self.owns(master_account_id):
            return  # another replica watches this master now
        self._applied.add(master_account_id)
        lost_at = datetime.now(UTC)
        try:
            await self._mark(master_account_id, lost_at)
        except Exception:  # noqa: BLE001 - the database away: the policies still apply
            log.exception("master account %s: could not record the outage", master_account_id)
        since = lost_at.strftime("%H:%M:%S UTC")
        log.warning("master account %s: fill stream lost; applying followers' outage policies", master_account_id)
        for session in await self._sessions(master_account_id, (rep.SESSION_STATE_ACTIVE,)):
            policy = copy_settings.from_json(session.settings).feed_outage_policy
            try:
                if policy == rep.FEED_OUTAGE_POLICY_FREEZE:
                    await sessions.set_state(
                        self.db, self.bus, session.config_id, rep.SESSION_STATE_FROZEN,
                        f"the master's fill stream was lost at {since}; resync to copy again",
                        only_from=(rep.SESSION_STATE_ACTIVE,))
                elif policy == rep.FEED_OUTAGE_POLICY_FLATTEN:
                    await self.reconciler.flatten(
                        session, f"the master's fill stream was lost at {since}; positions closed; resync to "
                                 "copy again")
                else:
                    await sessions.set_state(
                        self.db, self.bus, session.config_id, rep.SESSION_STATE_ACTIVE,
                        f"the master's fill stream was lost at {since}; you will be resynced when it returns",
                        only_from=(rep.SESSION_STATE_ACTIVE,))
            except Exception:  # noqa: BLE001 - one follower's venue being away must not stop the others
                log.exception("outage policy for session %s failed", session.config_id)

    async def back(self, master_account_id: str) -> None:
        pending = self._pending.pop(master_account_id, None)
        if pending is not None:
            pending.cancel()
        applied = master_account_id in self._applied
        self._applied.discard(master_account_id)
        try:  # applied by this replica, or by the one that watched the master before it
            applied = await self._mark(master_account_id, None) or applied
        except Exception:  # noqa: BLE001 - the database away: what this replica knows
            log.exception("master account %s: could not read the outage record", master_account_id)
        if not applied:
            return
        await asyncio.sleep(self.settle_s)  # the recovered fills are being copied meanwhile
        log.info("master account %s: fill stream back", master_account_id)
        for session in await self._sessions(master_account_id, (rep.SESSION_STATE_ACTIVE, rep.SESSION_STATE_FROZEN)):
            try:
                if session.state == rep.SESSION_STATE_ACTIVE:
                    result = await self.reconciler.reconcile(session, force_resync=True)
                    await sessions.set_state(
                        self.db, self.bus, session.config_id, rep.SESSION_STATE_ACTIVE,
                        f"the master's fill stream is back; reconciled ({result.resolution})",
                        only_from=(rep.SESSION_STATE_ACTIVE,))
                else:
                    await sessions.set_state(
                        self.db, self.bus, session.config_id, rep.SESSION_STATE_FROZEN,
                        f"the master's fill stream is back; {session.state_reason.split('; ')[-1]}",
                        only_from=(rep.SESSION_STATE_FROZEN,))
            except Exception:  # noqa: BLE001
                log.exception("resync after the outage failed for session %s", session.config_id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
