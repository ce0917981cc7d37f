"""Copy-session state changes made by the system (feed outages, reconciliation, erasure) and by
people, each announced on copies.session.changed.<follower_id> so followers are never left
guessing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from services.kit import auth, errors
from services.kit.bus import Bus
from services.kit.db import Database
from services.replication.accounts import DOMAIN
from services.replication.store import AllowedFollowerRow, CopySessionRow, MasterAccessRow, VenueAccountRow

log = logging.getLogger("copytrade.replication.sessions")
LIVE = (pb.SESSION_STATE_ACTIVE, pb.SESSION_STATE_PAUSED, pb.SESSION_STATE_FROZEN)
ERASED = "the user was erased"
NOT_ALLOWED = "the master no longer allows this follower"


# --- private masters: who may copy ------------------------------------------------------------
async def may_copy(session, master_account: VenueAccountRow, follower_id: str) -> bool:
    """An open master account may be copied by anyone; a private one by the followers on its
    allow-list (and by its own master)."""
    if follower_id == master_account.user_id:
        return True
    access = await session.get(MasterAccessRow, master_account.account_id)
    if access is None or not access.private:
        return True
    return await session.get(AllowedFollowerRow, (master_account.account_id, follower_id)) is not None


def not_allowed(account_id: str) -> errors.DomainError:
    return errors.permission_denied("MASTER_NOT_ALLOWED", "this master account is private and its master has not "
                                    "allowed you to copy it", domain=DOMAIN, master_account_id=account_id)


async def stop_disallowed(db: Database, bus: Bus, account_id: str, follower_id: str | None = None) -> list[str]:
    """Stop the live sessions copying `account_id` whose follower may no longer copy it (only
    `follower_id`'s, when given). Returns their ids."""
    now = datetime.now(UTC)
    async with db.session() as session:
        master = await session.get(VenueAccountRow, account_id)
        query = select(CopySessionRow).where(CopySessionRow.master_account_id == account_id,
                                             CopySessionRow.state.in_(LIVE))
        if follower_id is not None:
            query = query.where(CopySessionRow.follower_id == follower_id)
        stopped = []
        for row in (await session.execute(query.with_for_update())).scalars().all():
            if master is None or not await may_copy(session, master, row.follower_id):
                row.state, row.state_reason, row.update_time = pb.SESSION_STATE_STOPPED, NOT_ALLOWED, now
                stopped.append(row)
    for row in stopped:
        await announce(bus, row)
    return [row.config_id for row in stopped]


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
        ids = [a.account_id for a in accounts]
        await session.execute(delete(AllowedFollowerRow).where(
            or_(AllowedFollowerRow.follower_id == user_id, AllowedFollowerRow.account_id.in_(ids or [""]))))
        await session.execute(delete(MasterAccessRow).where(MasterAccessRow.account_id.in_(ids or [""])))
    for row in live:  # resting copies are canceled by the session's stop, as for any stop
        await announce(bus, row)
    for account in accounts:  # every replica drops its open connection (venue_pool.evict)
        deleted = events.VenueAccountDeleted(account_id=account.account_id, user_id=user_id)
        deleted.occur_time.FromDatetime(now)
        await bus.publish(f"copies.account.deleted.{user_id}", deleted, msg_id=f"{account.account_id}:deleted")
    if live or accounts:
        log.info("erased user %s: %d sessions stopped, %d venue accounts deleted", user_id, len(live), len(accounts))
    return len(live), len(accounts)
