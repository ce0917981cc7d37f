"""What the copier reads for every fill, kept in memory so planning a fill's copies costs one
small query, not a read per copy: a master account's live sessions (with their parsed
settings), the followers' venue accounts, and followers' equity and spot holdings for a minute.

Sessions are checked per fill against a version (how many live sessions the master account
has and when one last changed; every session write sets update_time) and dropped when a
copies.session.changed event says so, on every replica. Accounts never change while a session
uses them; a deleted one is dropped on copies.account.deleted."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from copytrade.replication.v1 import replication_service_pb2 as pb
from services.kit.db import Database
from services.domain import copy_settings
from services.replication.shared_reads import SharedReads
from services.replication.store import CopySessionRow, VenueAccountRow

LIVE = (pb.SESSION_STATE_ACTIVE, pb.SESSION_STATE_PAUSED, pb.SESSION_STATE_FROZEN)
# A follower's equity read from her venue (or noted by the snapshots) sizes her copies this long:
# a copy moves it only by its fee and the price, so it is not read again per fill.
EQUITY_TTL_S = 60.0
# A spot follower's holdings read from her venue serve her closes this long: in between, this
# process's own copies keep them exact (holdings_moved), and a close her venue refuses drops them.
HOLDINGS_TTL_S = 60.0


async def live_follower_accounts(db: Database) -> list[VenueAccountRow]:
    """Every follower account in a live session (what the copier may have to send to)."""
    async with db.session() as session:
        return list((await session.execute(select(VenueAccountRow).where(VenueAccountRow.account_id.in_(
            select(CopySessionRow.follower_account_id).where(CopySessionRow.state.in_(LIVE)))))).scalars())


class Catalog:
    def __init__(self, db: Database, *, equity_ttl_s: float = EQUITY_TTL_S,
                 holdings_ttl_s: float = HOLDINGS_TTL_S) -> None:
        self.db = db
        self._sessions: dict[str, tuple[tuple, list[CopySessionRow]]] = {}  # master account → (version, rows)
        self._accounts: dict[str, VenueAccountRow] = {}
        self._settings: dict[str, tuple[object, object]] = {}  # config id → (update_time, validated settings)
        self._equity: SharedReads[Decimal] = SharedReads(equity_ttl_s)  # account id → equity
        self._holdings: SharedReads[Decimal] = SharedReads(holdings_ttl_s)  # (account id, asset) → free

    async def plan(self, session: AsyncSession, master_account_id: str
                   ) -> tuple[list[CopySessionRow], dict[str, VenueAccountRow]]:
        """The master account's live sessions and their followers' accounts (read in the caller's
        transaction where memory is out of date)."""
        live = (CopySessionRow.master_account_id == master_account_id, CopySessionRow.state.in_(LIVE))
        version = tuple((await session.execute(select(
            func.count(CopySessionRow.config_id), func.max(CopySessionRow.update_time)).where(*live))).one())
        known = self._sessions.get(master_account_id)
        if known is not None and known[0] == version:
            sessions = known[1]
        else:
            sessions = list((await session.execute(select(CopySessionRow).where(*live))).scalars())
            self._sessions[master_account_id] = (version, sessions)
        wanted = {s.follower_account_id for s in sessions} - self._accounts.keys()
        if wanted:
            for account in (await session.execute(select(VenueAccountRow).where(
                    VenueAccountRow.account_id.in_(wanted)))).scalars():
                self._accounts[account.account_id] = account
        return sessions, {s.follower_account_id: self._accounts[s.follower_account_id]
                          for s in sessions if s.follower_account_id in self._accounts}

    def settings(self, session: CopySessionRow):
        """The session's settings, parsed and validated once per change."""
        known = self._settings.get(session.config_id)
        if known is None or known[0] != session.update_time:
            known = (session.update_time, copy_settings.validate(copy_settings.from_json(session.settings)))
            self._settings[session.config_id] = known
        return known[1]

    async def equity(self, account_id: str, venue) -> Decimal:
        """The follower's equity, read from its venue at most once per equity_ttl_s (the copies
        of her fills share the read, and the snapshots' reads serve them too)."""
        async def read() -> Decimal:
            return (await venue.account()).equity
        return await self._equity.get(account_id, read)

    async def holdings(self, account_id: str, asset: str, venue) -> Decimal:
        """A spot follower's free `asset`, read from her venue at most once per holdings_ttl_s:
        her closes share the read, each moved by what the copies before it filled
        (holdings_moved), so a master closing every few seconds costs no balance request per
        close. What she moves herself is seen at the next read: until then her venue refuses a
        close larger than what she holds, says so, and the read is dropped (the copier's
        holdings_moved(…, None)), so her next close reads again."""
        return await self._holdings.get((account_id, asset), lambda: venue.free_balance(asset))

    def holdings_moved(self, account_id: str, asset: str, change: Decimal | None) -> None:
        """A copy of this process changed the account's free `asset` by `change` (None: by an
        amount it cannot tell, e.g. a fee the venue did not report): the next close reads again."""
        if change is None:
            self._holdings.forget((account_id, asset))
        else:
            self._holdings.adjust((account_id, asset), lambda free: free + change)

    def note_equity(self, account_id: str, equity: Decimal) -> None:
        """Equity seen elsewhere (the snapshots) serves the next copies too."""
        self._equity.note(account_id, equity)

    def forget_master(self, master_account_id: str) -> None:
        self._sessions.pop(master_account_id, None)

    def forget_account(self, account_id: str) -> None:
        self._accounts.pop(account_id, None)
        self._equity.forget(account_id)
        self._holdings.forget_where(lambda key: key[0] == account_id)

    async def on_session_changed(self, subject: str, event) -> None:
        """copies.session.changed: this replica's view of the master's sessions is out of date."""
        self.forget_master(event.master_account_id)
        self._settings.pop(event.config_id, None)
