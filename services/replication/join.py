"""Joining a master's open positions (CopySettings.copy_open_positions): a session that starts
with it is copied into what the master holds at that moment, as if the master had just opened
each position, by the copier's own path for a master fill (sizing mode, symbol map and
filters, trading hours, the slippage guard, risk, the venue, events). Each join is a follower
order with master_fill_id "join:<master account>:<config id>:<master symbol>", so its client
order id is one per session and symbol: a retried start, or a join run again after a crash,
finds it made (or asks the venue) instead of sending it twice.

What is joined is the master's position as replication's book of its recorded fills has it,
less what the session's own copies will build or have built: fills recorded and not yet copied
are copied to the new session when the copier reaches them (the join takes the position before
the first of them), and fills the session already copied (a join run again later) are held
through those copies. Taken under the master's copy lock, so no fill is being copied meanwhile.

max_slippage is measured from the master's average entry price (MasterPositionRow.entry_price,
kept by fills.record); the fill-age guard does not apply: the position is current, not a fill
that could have gone stale."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from decimal import Decimal

import grpc
from sqlalchemy import select

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.kit.db import Database
from services.domain import copy_settings
from services.replication.store import (CopySessionRow, FollowerOrderRow, MasterFillRow, MasterPositionRow,
                                        VenueAccountRow)
from services.replication.venues.base import VenueError

log = logging.getLogger("copytrade.replication.join")
PREFIX = "join:"
ZERO = Decimal(0)


def fill_id(master_account_id: str, config_id: str, symbol: str) -> str:
    """The join's stand-in for a master fill id (and so, with the follower account, its client
    order id): one per session and master symbol. It starts "join:", never an account id, so it
    is never a real fill's (<account>:<venue trade id>)."""
    return f"{PREFIX}{master_account_id}:{config_id}:{symbol}"


def is_join(master_fill_id: str) -> bool:
    return master_fill_id.startswith(PREFIX)


def parse(master_fill_id: str) -> tuple[str, str, str]:
    """(master account id, config id, master symbol) of a join's id; symbols may hold ':'."""
    master_account_id, config_id, symbol = master_fill_id.removeprefix(PREFIX).split(":", 2)
    return master_account_id, config_id, symbol


def entry_after(position: Decimal, entry: Decimal | None, signed: Decimal, price: Decimal) -> Decimal | None:
    """The average entry price of a position after a fill (signed quantity at price): adding
    averages it in, reducing leaves it, flipping starts again at the fill's price, flat has none.
    Unknown (None) stays unknown while the position is open (positions built before it was kept)."""
    after = position + signed
    if after == 0:
        return None
    if position == 0 or (position > 0) != (after > 0):
        return price  # opened, or flipped: what is open now was all bought (sold) at this price
    if (signed > 0) != (position > 0):
        return entry  # reduced: what is left was entered at the same average
    if entry is None:
        return None
    return (abs(position) * entry + abs(signed) * price) / abs(after)


def position_to_join(book: Decimal, before_first_uncopied: Decimal | None, copied: Decimal) -> Decimal:
    """The master's signed position the session joins: the book's, or the position before the
    first fill not yet copied (the copier copies that one and those after it to the session),
    less what the session's copies of the master's fills already hold (in master units)."""
    base = book if before_first_uncopied is None else before_first_uncopied
    return base - copied


def as_fill(session: CopySessionRow, master: VenueAccountRow | None, symbol: str, position: Decimal,
            entry: Decimal | None, master_equity: Decimal | None, now: datetime) -> events.MasterFill:
    """The master's position as if the master had just opened it: what the copier sizes and sends."""
    fill = events.MasterFill(
        fill_id=fill_id(session.master_account_id, session.config_id, symbol),
        master_account_id=session.master_account_id, master_id=session.master_id, symbol=symbol,
        side=trading_pb2.SIDE_BUY if position > 0 else trading_pb2.SIDE_SELL, quantity=str(abs(position)),
        price=str(entry) if entry is not None else "", position_before="0",
        master_equity=str(master_equity) if master_equity is not None else "",
        order_type=trading_pb2.ORDER_TYPE_MARKET)
    if master is not None:
        fill.venue.CopyFrom(trading_pb2.Venue(kind=master.venue_kind, id=master.venue_id,
                                              market_type=master.market_type))
    fill.execute_time.FromDatetime(now)  # the moment joined (not checked for age: see _plan)
    fill.receive_time.FromDatetime(now)
    return fill


def retried(session: CopySessionRow, row: FollowerOrderRow, held: MasterPositionRow | None) -> events.MasterFill:
    """A join's stand-in fill when its copy is tried again (copier.retry): the side the master
    held when it was joined (the copy's, unless reversed), the master's entry now. Against the
    master's position now, the retry is stale once the master has closed or flipped it. Its
    quantity is the master's now (1 when flat): the copy's own was sized when it was joined."""
    _, _, symbol = parse(row.master_fill_id)
    bought = (row.side == trading_pb2.SIDE_BUY) != copy_settings.from_json(session.settings).reverse
    quantity = abs(held.quantity) if held is not None and held.quantity else Decimal(1)
    return as_fill(session, None, symbol, quantity if bought else -quantity,
                   held.entry_price if held is not None else None, None, datetime.now(UTC))


class Joiner:
    """Joins a starting session to its master's open positions, through the copier."""

    def __init__(self, db: Database, copier) -> None:
        self.db, self.copier = db, copier

    @staticmethod
    def wanted(session: CopySessionRow) -> bool:
        return session.state == pb.SESSION_STATE_ACTIVE and \
            copy_settings.from_json(session.settings).copy_open_positions

    @contextlib.asynccontextmanager
    async def master_settled(self, master_account_id: str):
        """Held while a session is started and joined: none of the master's fills is being copied
        (the copier holds the same lock per fill), so each fill is either in the position joined
        or copied to the session afterwards, never both."""
        async with self.db.session() as lock:
            await self.db.serialise(lock, f"copying-master:{master_account_id}")
            yield

    async def join(self, session: CopySessionRow) -> list[FollowerOrderRow]:
        """Join the session to what its master holds (again: what was joined is found, not sent twice)."""
        async with self.master_settled(session.master_account_id):
            return await self.join_settled(session)

    async def join_settled(self, session: CopySessionRow) -> list[FollowerOrderRow]:
        """join(), the master's lock already held: the session's joins. Raises what the copier
        raises when a join could not be decided (risk or the database away): joining again
        finishes it."""
        if not self.wanted(session):  # (a retried start of a session since stopped or paused: as they stand)
            return await self.joined(session)
        held = await self._held(session)
        async with self.db.session() as db_session:
            master = await db_session.get(VenueAccountRow, session.master_account_id)
        equity = await self._master_equity(session, master) if held else None
        now = datetime.now(UTC)
        fills = [as_fill(session, master, symbol, position, entry, equity, now)
                 for symbol, (position, entry) in sorted(held.items())]
        if fills:
            log.info("session %s joins %s", session.config_id, ", ".join(
                f"{f.symbol} {'long' if f.side == trading_pb2.SIDE_BUY else 'short'} {f.quantity}" for f in fills))
            await self.copier.join(session, fills)
        return await self.joined(session)

    async def joined(self, session: CopySessionRow) -> list[FollowerOrderRow]:
        """The session's joins, each as it stands (placed, filled, refused with its reason)."""
        async with self.db.session() as db_session:
            return list((await db_session.execute(select(FollowerOrderRow).where(
                FollowerOrderRow.config_id == session.config_id,
                FollowerOrderRow.master_fill_id.startswith(PREFIX, autoescape=True))
                .order_by(FollowerOrderRow.symbol))).scalars())

    async def _held(self, session: CopySessionRow) -> dict[str, tuple[Decimal, Decimal | None]]:
        """Per master symbol, the signed position to join and the master's average entry."""
        master_account_id = session.master_account_id
        async with self.db.session() as db_session:
            # The book first, then the fills not yet copied: a fill recorded in between is among
            # them, with the position it met (recording is serialised per symbol), so it is
            # neither joined nor missed.
            book = {row.symbol: row for row in (await db_session.execute(select(MasterPositionRow).where(
                MasterPositionRow.master_account_id == master_account_id))).scalars()}
            uncopied: dict[str, Decimal] = {}
            for payload in (await db_session.execute(select(MasterFillRow.payload).where(
                    MasterFillRow.master_account_id == master_account_id, MasterFillRow.handled.is_(False))
                    .order_by(MasterFillRow.record_time, MasterFillRow.fill_id))).scalars():
                fill = events.MasterFill.FromString(payload)
                uncopied.setdefault(fill.symbol, Decimal(fill.position_before or 0))
            copied = await self._copied(db_session, session)
        held = {}
        for symbol in book.keys() | uncopied.keys():
            row = book.get(symbol)
            position = position_to_join(row.quantity if row else ZERO, uncopied.get(symbol), copied.get(symbol, ZERO))
            if position == 0:
                continue
            entry = row.entry_price if row is not None else None
            if entry is None:  # a position built before entries were kept: from its fills
                entry = await self._replayed_entry(master_account_id, symbol)
            held[symbol] = (position, entry)
        return held

    async def _copied(self, db_session, session: CopySessionRow) -> dict[str, Decimal]:
        """The master fills (copied ones: handled) this session's copies follow, signed per
        symbol. Nothing on a first join: the session is new and its master's copying held."""
        ids = [i for i in (await db_session.execute(select(FollowerOrderRow.master_fill_id).where(
            FollowerOrderRow.config_id == session.config_id))).scalars() if not is_join(i)]
        copied: dict[str, Decimal] = {}
        if not ids:
            return copied
        for payload in (await db_session.execute(select(MasterFillRow.payload).where(
                self.db.member(MasterFillRow.fill_id, ids), MasterFillRow.handled.is_(True)))).scalars():
            fill = events.MasterFill.FromString(payload)
            signed = Decimal(fill.quantity) if fill.side == trading_pb2.SIDE_BUY else -Decimal(fill.quantity)
            copied[fill.symbol] = copied.get(fill.symbol, ZERO) + signed
        return copied

    async def _replayed_entry(self, master_account_id: str, symbol: str) -> Decimal | None:
        async with self.db.session() as db_session:
            payloads = (await db_session.execute(select(MasterFillRow.payload).where(
                MasterFillRow.master_account_id == master_account_id)
                .order_by(MasterFillRow.record_time, MasterFillRow.fill_id))).scalars().all()
        position, entry = ZERO, None
        for payload in payloads:
            fill = events.MasterFill.FromString(payload)
            if fill.symbol != symbol:
                continue
            signed = Decimal(fill.quantity) if fill.side == trading_pb2.SIDE_BUY else -Decimal(fill.quantity)
            entry = entry_after(position, entry, signed, Decimal(fill.price))
            position += signed
        return entry

    async def _master_equity(self, session: CopySessionRow, master: VenueAccountRow | None) -> Decimal | None:
        """The master's equity now, for equity-proportional sizing (only it reads it): from the
        master's venue, else as the master's latest fill carried it."""
        if copy_settings.from_json(session.settings).sizing_mode != pb.SIZING_MODE_EQUITY_PROPORTIONAL:
            return None
        if master is not None:
            try:
                return (await (await self.copier.pool.get(master)).account()).equity
            except (VenueError, grpc.aio.AioRpcError) as exc:  # a signal-only master may have no venue to ask
                log.info("equity of master account %s not read from its venue (%s); its latest fill's is used",
                         master.account_id, exc)
        async with self.db.session() as db_session:
            for payload in (await db_session.execute(select(MasterFillRow.payload).where(
                    MasterFillRow.master_account_id == session.master_account_id)
                    .order_by(MasterFillRow.record_time.desc()).limit(20))).scalars():
                fill = events.MasterFill.FromString(payload)
                if fill.master_equity:
                    return Decimal(fill.master_equity)
        return None  # sizing refuses EQUITY_UNKNOWN, and says so
