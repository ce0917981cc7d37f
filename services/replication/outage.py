"""When a master's fill stream is lost, each follower's chosen policy applies (after a grace
period, so a reconnect blip changes nothing):

- FREEZE: the session is frozen; copies of fills recovered later are recorded, sized, as held
  back, and a resync (ForceResync) makes them up and unfreezes; resuming copies on without them.
- FLATTEN: what the session holds is closed, and the session frozen as above.
- RESYNC (also the default): copying goes on; when the stream is back and the fills it missed
  have been recovered and copied, the follower is reconciled to what its copies imply.

Each step is announced on copies.session.changed.<follower_id>."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from copytrade.replication.v1 import replication_service_pb2 as rep
from services.kit.bus import Bus
from services.kit.db import Database
from services.replication import copy_settings, sessions
from services.replication.reconcile import Reconciler
from services.replication.store import CopySessionRow

log = logging.getLogger("copytrade.replication.outage")


class FeedOutages:
    def __init__(self, db: Database, bus: Bus, reconciler: Reconciler, *, grace_s: float = 5.0,
                 settle_s: float = 2.0) -> None:
        self.db, self.bus, self.reconciler = db, bus, reconciler
        self.grace_s, self.settle_s = grace_s, settle_s
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

    async def lost(self, master_account_id: str) -> None:
        try:
            await asyncio.sleep(self.grace_s)
        except asyncio.CancelledError:
            return  # back within the grace period: nothing happened as far as followers go
        self._pending.pop(master_account_id, None)
        self._applied.add(master_account_id)
        since = datetime.now(UTC).strftime("%H:%M:%S UTC")
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
        if master_account_id not in self._applied:
            return
        self._applied.discard(master_account_id)
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
