"""Copy-session state changes made by the system (feed outages, reconciliation, erasure) and by
people, each announced on copies.session.changed.<follower_id> so followers are never left
guessing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import or_, select

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from services.kit import auth, errors
from services.kit.bus import Bus
from services.kit.db import Database
from services.replication.accounts import DOMAIN
from services.replication.store import CopySessionRow, VenueAccountRow

log = logging.getLogger("copytrade.replication.sessions")
LIVE = (pb.SESSION_STATE_ACTIVE, pb.SESSION_STATE_PAUSED, pb.SESSION_STATE_FROZEN)
ERASED = "the user was erased"


def owned(row: CopySessionRow | None, config_id: str) -> CopySessionRow:
    """The session, if the caller may act for its follower. Someone else's reads as missing:
    its existence is not the caller's business."""
    if row is None or not auth.require_caller().may_act_for(row.follower_id):
        raise errors.not_found("SESSION_NOT_FOUND", "no such copy session", domain=DOMAIN, config_id=config_id)
    return row


async def announce(bus: Bus, row: CopySessionRow, *, reason: str | None = None) -> None:
    event = events.CopySessionChanged(
        config_id=row.config_id, follower_id=row.follower_id, master_id=row.master_id,
        master_account_id=row.master_account_id, state=pb.SessionState.Name(row.state),
        reason=row.state_reason if reason is None else reason)
    now = datetime.now(UTC)
    event.occur_time.FromDatetime(now)
    await bus.publish(f"copies.session.changed.{row.follower_id}", event,
                      msg_id=f"{row.config_id}:{row.state}:{now.timestamp():.6f}")


async def set_state(db: Database, bus: Bus, config_id: str, state: int, reason: str, *,
                    only_from: tuple[int, ...]) -> CopySessionRow | None:
    """Move a session to `state` if it is in one of `only_from` (None otherwise), and announce it.
    The same state with a new reason is announced too: the follower hears why."""
    async with db.session() as session:
        row = await session.get(CopySessionRow, config_id, with_for_update=db.is_postgres)
        if row is None or (row.state not in only_from and row.state != state):
            return None
        row.state, row.state_reason, row.update_time = state, reason, datetime.now(UTC)
    await announce(bus, row)
    return row


async def erase_user(db: Database, bus: Bus, user_id: str) -> tuple[int, int]:
    """Compliance erased `user_id`: every live session they follow in or that copies them stops,
    and their venue accounts go, so no replica keeps (or reopens) a connection with their keys.
    Idempotent: a redelivery finds nothing left. Returns (sessions stopped, accounts deleted)."""
    now = datetime.now(UTC)
    async with db.session() as session:
        live = (await session.execute(select(CopySessionRow).where(
            or_(CopySessionRow.follower_id == user_id, CopySessionRow.master_id == user_id),
            CopySessionRow.state.in_(LIVE)).with_for_update())).scalars().all()
        for row in live:
            row.state, row.state_reason, row.update_time = pb.SESSION_STATE_STOPPED, ERASED, now
        accounts = (await session.execute(select(VenueAccountRow).where(
            VenueAccountRow.user_id == user_id))).scalars().all()
        for account in accounts:
            await session.delete(account)
    for row in live:  # resting copies are canceled by the session's stop, as for any stop
        await announce(bus, row)
    for account in accounts:  # every replica drops its open connection (venue_pool.evict)
        deleted = events.VenueAccountDeleted(account_id=account.account_id, user_id=user_id)
        deleted.occur_time.FromDatetime(now)
        await bus.publish(f"copies.account.deleted.{user_id}", deleted, msg_id=f"{account.account_id}:deleted")
    if live or accounts:
        log.info("erased user %s: %d sessions stopped, %d venue accounts deleted", user_id, len(live), len(accounts))
    return len(live), len(accounts)
