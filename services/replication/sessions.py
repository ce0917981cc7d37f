"""Copy-session state changes made by the system (feed outages, reconciliation) and by people,
each announced on copies.session.changed.<follower_id> so followers are never left guessing."""

from __future__ import annotations

from datetime import UTC, datetime

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from services.kit import auth, errors
from services.kit.bus import Bus
from services.kit.db import Database
from services.replication.accounts import DOMAIN
from services.replication.store import CopySessionRow


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
