"""Copies out: for each master fill and each session on that master account, size the copy,
reserve it with risk, place it on the follower's venue under a client order id derived from
(master fill, follower account), record it and publish what happened. A redelivered fill, or
a worker that died after sending, never makes a second order: a copy already sent is looked up
at the venue by its client order id before anything is sent again.

A fill's copies go in batches of FANOUT_CHUNK (_copy_fill), pipelined: planned in memory
(catalog.py), each batch decided by risk in one call, recorded PENDING by one insert (the fence),
sent concurrently while the next batch is planned, acknowledged in group writes. What follows an
acknowledgement (risk commit, placed/filled events, hence the audit record) is marked pending in
the same write and cleared once done, so a crash or an outage right after the venue's answer is
finished by the fill's retry or the sweeper (fanout.py)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_internal_service_pb2_grpc import RiskInternalServiceStub
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.domain import copy_settings, sizing
from services.kit import metrics, tracing
from services.kit.bus import Bus, Delivery
from services.kit.db import Database, aware, insert_ignoring
from services.replication import (budget, guards, isolation, join, master_stops, recovery, symbol_map,
                                  trading_hours)
from services.replication.catalog import Catalog
from services.replication.client_order_id import client_order_id
from services.replication.fanout import GroupWriter, RiskBatch
from services.replication.fills import StoredFills
from services.replication.orders import order_request, order_to_proto
from services.replication.error_book import Attempt, ErrorBook
from services.replication.market_data import PERIODS_PER_YEAR, MarketData
from services.replication.store import (CopySessionRow, FollowerOrderRow, MasterFillRow, MasterPositionRow,
                                        VenueAccountRow)
from services.replication.venue_pool import VenuePool
from services.replication.venues.base import ErrorKind, Fill, Instrument, OrderState, VenueError

log = logging.getLogger("copytrade.replication.copier")
WORKER = f"{socket.gethostname()}:{os.getpid()}"
S = events  # FollowerOrderStatus values live in the events module
# Copies a redelivered fill leaves alone: done, or handed to the retry processor (failed, unknown).
HANDED_OVER = {S.FOLLOWER_ORDER_STATUS_UNKNOWN, S.FOLLOWER_ORDER_STATUS_PLACED, S.FOLLOWER_ORDER_STATUS_PARTIALLY_FILLED, S.FOLLOWER_ORDER_STATUS_FILLED,
         S.FOLLOWER_ORDER_STATUS_CANCELED, S.FOLLOWER_ORDER_STATUS_REFUSED, S.FOLLOWER_ORDER_STATUS_FAILED}
# A resting copy in one of these is still at the venue (or may be).
RESTING = {S.FOLLOWER_ORDER_STATUS_PENDING, S.FOLLOWER_ORDER_STATUS_UNKNOWN, S.FOLLOWER_ORDER_STATUS_PLACED,
           S.FOLLOWER_ORDER_STATUS_PARTIALLY_FILLED}
SIDE_NAMES = {trading_pb2.SIDE_BUY: "buy", trading_pb2.SIDE_SELL: "sell"}
SIDE_VALUES = {v: k for k, v in SIDE_NAMES.items()}
DECISIONS = {risk_pb.DECISION_APPROVED, risk_pb.DECISION_REDUCED}
OVERTAKEN_LIMIT = 100  # earlier uncopied fills a fill copies first (bounded: one fill's work stays small)
FANOUT_CHUNK = 100  # copies per risk call and fence write; a fill's chunks are pipelined
HOLD_S = 60.0  # how long a fill whose copying fails is retried in place before JetStream has it back
EFFECTS_HELD_MOST = 500  # acknowledged copies whose effects a pass holds back, at the most
# Set while a pass copies a master's fills: the acknowledged copies whose effects wait for its end.
_HELD_EFFECTS: contextvars.ContextVar[list | None] = contextvars.ContextVar("held_effects", default=None)


def _base_moved(row: FollowerOrderRow, state: OrderState, base: str) -> Decimal | None:
    """What a copy's first acknowledgement moved its account's free base asset by, on spot:
    bought less the fee taken in it, or sold (and its fee, if taken in it); None when it cannot
    be told (a fee not reported, or not in one currency)."""
    filled = state.filled_quantity
    if state.fills:
        if any(not f.fee_currency or f.fee < 0 for f in state.fills):
            return None
        fee = sum((f.fee for f in state.fills if f.fee_currency == base), Decimal(0))
    elif state.fee is not None and state.fee >= 0 and state.fee_currency:
        fee = state.fee if state.fee_currency == base else Decimal(0)
    elif filled == 0:
        fee = Decimal(0)
    else:
        return None
    return (filled if row.side == trading_pb2.SIDE_BUY else -filled) - fee


def _commits(rows: list[FollowerOrderRow]) -> list[tuple[str, risk_pb.CommitReservationRequest]]:
    """Risk's commits of what the copies filled. A resting copy's exposure is committed when it
    is done (the resting module follows it)."""
    return [(row.follower_id, risk_pb.CommitReservationRequest(
        reservation_id=row.reservation_id or row.order_id, filled_quantity=str(row.filled_quantity),
        fill_price=str(row.average_fill_price or 0)))
        for row in rows if row.filled_quantity > 0 and not _rests(row)]


def closes(fill: events.MasterFill) -> bool | None:
    """Whether the fill closes (some of) the master's position; None when its numbers cannot be
    read (its copies are then refused, each with the reason)."""
    try:
        return sizing.closing_fraction(Decimal(fill.position_before or 0), SIDE_NAMES[fill.side],
                                       Decimal(fill.quantity))[0] > 0
    except (KeyError, ArithmeticError, ValueError):
        return None


def waves(fills: list[events.MasterFill]) -> list[list[events.MasterFill]]:
    """Consecutive fills, in order, in waves copied together: a wave is a fill and the fills
    after it that only open. Sizing an opening copy needs nothing the copies before it change;
    a close is sized by the follower's position, so it waits for the acknowledgements before
    it and starts a wave (as does a fill whose numbers cannot be read: it is refused alone)."""
    result: list[list[events.MasterFill]] = []
    for fill in fills:
        if result and closes(fill) is False:
            result[-1].append(fill)
        else:
            result.append([fill])
    return result


class CopyInFlight(Exception):
    """Another worker recorded this copy first and is sending it: the fill is tried again later,
    and its copy is then found and asked for at the venue."""


@dataclass
class Intent:
    """A copy sized and ready for risk: its record, where it goes, what risk is told."""

    row: FollowerOrderRow
    session: CopySessionRow
    account: VenueAccountRow | None
    venue: object
    instrument: Instrument
    reservation_id: str
    expected_price: Decimal
    reference_price: Decimal
    equity: Decimal
    master_fill_time: object
    reduce_only: bool
    market: str = ""
    fill: events.MasterFill | None = None  # the master fill it copies (None: a retry's resend)


class Copier:
    def __init__(self, db: Database, bus: Bus, pool: VenuePool, risk: RiskServiceStub, error_book: ErrorBook,
                 risk_internal: RiskInternalServiceStub, stored_fills: StoredFills | None = None) -> None:
        self.db, self.bus, self.pool, self.risk, self.error_book = db, bus, pool, risk, error_book
        self.stored_fills = stored_fills or StoredFills()  # fills this process stored: checked without a read
        self.risks = RiskBatch(risk_internal)  # a fill's reservations, commits, releases: one call each
        self.catalog = Catalog(db)  # sessions, settings, accounts, equity: in memory
        self._clearing: set[asyncio.Task] = set()  # copies' events going out, then their markers cleared
        self.market = MarketData()
        self.clock = lambda: datetime.now(UTC)  # what the trading-hours check reads (tests pin it)
        self._venue_ids: dict[str, str] = {}  # follower account → venue id, for metrics labels
        self._follower_locks: dict[str, asyncio.Lock] = {}
        self._accounts: dict[str, VenueAccountRow] = {}  # accounts, for their venue and market (see account())

    @staticmethod
    def lane(delivery: Delivery) -> str:
        """The bus lane of a fill: its master account (the subject's key). Masters are copied
        concurrently, each master's fills in order."""
        return delivery.subject

    async def handle(self, delivery: Delivery) -> None:
        await self.handle_run([delivery])

    async def handle_run(self, deliveries: list[Delivery]) -> None:
        """Copy a master's fills (what waits in its lane, in order) to every session, before the
        fills after them. A failure here is the database or risk being away (venue failures are
        recorded and retried per copy, and a copy no retry can make is refused alone): it is
        retried in place, not handed back to JetStream at once, which would let the next fill
        (a close after this open) overtake it. Only past HOLD_S, or for an error no retry
        mends, do the fills go back."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + HOLD_S, 0.1
        while True:
            try:
                return await self._handle(deliveries)
            except Exception as exc:  # noqa: BLE001 - re-raised past the deadline
                task = asyncio.current_task()
                # Shutting down: a call cut short by it (a closed channel) is no reason to hold on.
                if loop.time() + delay > deadline or self.bus.closing or (task is not None and task.cancelling()) \
                        or isolation.non_transient(exc) is not None:
                    raise
                log.warning("copying fill %s%s failed (%s: %s); trying again in %.1fs", deliveries[0].msg_id,
                            f" and {len(deliveries) - 1} after it" if len(deliveries) > 1 else "",
                            type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "", delay)
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
                for delivery in deliveries:
                    if delivery.working is not None:
                        try:
                            await delivery.working()  # still ours: JetStream waits instead of redelivering
                        except Exception:  # noqa: BLE001 - NATS away too: it may redeliver; copies are idempotent
                            pass

    async def _handle(self, deliveries: list[Delivery]) -> None:
        verified = [fill for delivery in deliveries if (fill := await self._verified(delivery)) is not None]
        by_master: dict[str, list[events.MasterFill]] = {}  # one master per lane: one group, in order
        for fill in verified:
            by_master.setdefault(fill.master_account_id, []).append(fill)
        for master_account_id, fills in by_master.items():
            async with self.db.session() as lock:
                # One master's fills are copied one pass at a time across replicas (on PostgreSQL;
                # SQLite runs one process), so the check for fills overtaken below sees none in the works.
                await self.db.serialise(lock, f"copying-master:{master_account_id}")
                await self._copy_in_order(fills, lock)

    @asynccontextmanager
    async def _reading(self, lock):
        """Where copying a fill reads first: on PostgreSQL the transaction holding the master's
        lock (one begin and commit fewer per fill); on SQLite, whose one connection must not stay
        with a lock it does not need while the copies are written, a transaction of its own."""
        if self.db.is_postgres:
            yield lock
            lock.expunge_all()  # what it read is saved by other transactions while this one holds the lock
            return
        async with self.db.session() as session:
            yield session

    async def _verified(self, delivery: Delivery) -> events.MasterFill | None:
        """The fill, when it is one replication stored with this very payload; anything else on
        the bus (forged, tampered, another type) is refused, not copied, and raises an alert
        (fills.master.rejected.<account>, kept in the FILLS stream)."""
        event, stored = delivery.event, None
        if isinstance(event, events.MasterFill) and (stored := self.stored_fills.payload(event.fill_id)) is None:
            async with self.db.session() as session:
                stored = (await session.execute(select(MasterFillRow.payload).where(
                    MasterFillRow.fill_id == event.fill_id))).scalar()
        refusal = isolation.unverified(delivery.subject, event, stored)
        if refusal is None:
            return event
        metrics.FILLS_REJECTED.labels(refusal.reason).inc()
        log.warning("not copied: %s on %s (delivery %s, stream sequence %d): %s", refusal.reason, delivery.subject,
                    delivery.msg_id, delivery.stream_sequence, refusal.message)
        alert = events.MasterFillRejected(subject=delivery.subject, stream_sequence=delivery.stream_sequence,
                                          msg_id=delivery.msg_id, refusal=refusal)
        if isinstance(event, events.MasterFill):
            alert.fill.CopyFrom(event)
        alert.reject_time.FromDatetime(datetime.now(UTC))
        await self.bus.publish(isolation.rejected_subject(delivery.subject), alert,
                               msg_id=f"fills.master.rejected:{delivery.stream_sequence}")
        return None

    async def _copy_in_order(self, fills: list[events.MasterFill], lock) -> None:
        """One master's fills (a lane's run, in order) copied in one pass: one lock, one set of
        reads, and the copies of consecutive fills that only open decided, fenced and sent
        together (waves())."""
        received = datetime.now(UTC)
        master_account_id = fills[0].master_account_id
        async with self._reading(lock) as session:
            # The live sessions and their followers' accounts, from memory (checked against a version).
            sessions, accounts = await self.catalog.plan(session, master_account_id)
            # JetStream does not keep order across a redelivery: a fill lost in flight when NATS
            # restarted comes back after its ack wait, behind later fills. Earlier fills of this
            # master not yet copied are copied first, so a close never overtakes its open.
            stored_at = select(func.max(MasterFillRow.record_time)).where(
                self.db.member(MasterFillRow.fill_id, [fill.fill_id for fill in fills])).scalar_subquery()
            uncopied = (await session.execute(select(MasterFillRow.fill_id, MasterFillRow.payload).where(
                MasterFillRow.master_account_id == master_account_id, MasterFillRow.handled.is_(False),
                MasterFillRow.record_time <= stored_at).order_by(MasterFillRow.record_time, MasterFillRow.fill_id)
                .limit(OVERTAKEN_LIMIT))).all()
            given = {fill.fill_id: fill for fill in fills}
            in_order = [given.get(fill_id) or events.MasterFill.FromString(payload) for fill_id, payload in uncopied]
            listed = {fill.fill_id for fill in in_order}
            in_order += [fill for fill in fills if fill.fill_id not in listed]  # redeliveries: copied before
            made = await self._made_before(session, in_order, sessions)
        # The copies' effects (risk's commits, their events) wait for the pass to end, so that
        # the waves after them do not compete with them for risk's locks and this process's CPU.
        held: list[FollowerOrderRow] = []
        token = _HELD_EFFECTS.set(held)
        try:
            done = 0
            for wave in waves(in_order):
                ids = {fill.fill_id for fill in wave}
                # Each fill's copies stamped apart, in the master's order (listed newest first by it).
                await self._copy_wave(wave, sessions, accounts,
                                      {key: row for key, row in made.items() if row.master_fill_id in ids},
                                      received + timedelta(microseconds=done))
                done += len(wave)
        finally:
            _HELD_EFFECTS.reset(token)
            self._start_effects(held)
        # Only fills stored here and not yet marked need marking (a redelivery, or a fill another
        # deployment stored, does not).
        if uncopied:
            marked = update(MasterFillRow).where(self.db.member(
                MasterFillRow.fill_id, [fill_id for fill_id, _ in uncopied])).values(handled=True) \
                .execution_options(synchronize_session=False)
            async with self._reading(lock) as session:  # on PostgreSQL committed as the master's lock is let go
                await session.execute(marked)

    async def _made_before(self, session, fills: list[events.MasterFill], sessions: list[CopySessionRow]
                           ) -> dict[str, FollowerOrderRow]:
        """The fills' copies made before (a redelivery, a fill copied first by a later one), by
        order id, in one read. A second worker copying the same fill meanwhile is stopped by the
        fence (copies' keys)."""
        if not sessions:
            return {}
        ids = [client_order_id(fill.fill_id, s.follower_account_id) for fill in fills for s in sessions]
        return {row.order_id: row for row in (await session.execute(
            select(FollowerOrderRow).where(self.db.member(FollowerOrderRow.order_id, ids)))).scalars()}

    async def _copy_fill(self, fill: events.MasterFill, sessions: list[CopySessionRow],
                         accounts: dict[str, VenueAccountRow], existing: dict[str, FollowerOrderRow],
                         received: datetime) -> None:
        await self._copy_wave([fill], sessions, accounts, existing, received)

    async def _copy_wave(self, fills: list[events.MasterFill], sessions: list[CopySessionRow],
                         accounts: dict[str, VenueAccountRow], existing: dict[str, FollowerOrderRow],
                         received: datetime) -> None:
        """A wave's copies (one fill, or consecutive fills of which only the first may close:
        waves()) in pipelined batches of sessions: each planned (sized) in memory, risk asked
        once per batch, one fence write of a batch's PENDING copies, sent concurrently (each
        follower's in the fills' order), acknowledgements written in groups and their effects
        (risk commit, events) done per group. `existing`: their copies made before."""
        fill = fills[0]  # the one that may close: sizing a close reads the followers' positions
        stamps = {f.fill_id: received + timedelta(microseconds=i) for i, f in enumerate(fills)}
        failures: list[BaseException] = []
        # Acknowledged before, effects left undone by a crash or an outage: done now.
        await self._effects([row for row in existing.values() if row.effects_pending])
        # Followers' venues not open yet (after a restart, a new follower): opened together.
        await self.pool.open_many([accounts[s.follower_account_id] for s in sessions if s.follower_account_id in accounts])
        with tracing.span("copy fill", attributes={"copytrade.copies": len(sessions) * len(fills),
                                                   "copytrade.fills": len(fills)}):
            # One follower's copies are made one at a time, in the order the fills arrive.
            async with self._followers_locked({s.follower_account_id for s in sessions}):
                positions = await self._positions_before(fill, sessions)
                refusals = [isolation.fill_problem(f) for f in fills]  # the same for every copy of a fill
                # In chunks of sessions, pipelined: while one chunk is with risk, the fence or the
                # venues, the next is planned, so the first copies go out before the last are sized.
                chunk = max(1, FANOUT_CHUNK // len(fills))
                async with asyncio.TaskGroup() as sending:
                    for start in range(0, len(sessions), chunk):
                        planned = await asyncio.gather(*(  # by fill, then session: each follower's in order
                            self._plan_alone(f, s, accounts.get(s.follower_account_id),
                                             existing.get(client_order_id(f.fill_id, s.follower_account_id)),
                                             stamps[f.fill_id], positions, refusal)
                            for f, refusal in zip(fills, refusals) for s in sessions[start:start + chunk]),
                            return_exceptions=True)
                        failures += [p for p in planned if isinstance(p, BaseException)]
                        intents = [p for p in planned if isinstance(p, Intent)]
                        if intents:
                            sending.create_task(self._send_chunk(intents, stamps, failures))
        if failures:
            raise failures[0]  # tried again; copies already made are skipped by their id

    async def join(self, session: CopySessionRow, fills: list[events.MasterFill]) -> None:
        """A starting session joins its master's open positions (join.py): each position's
        stand-in fill copied to this one session by the path every master fill takes, its copy
        made before (a join run again) found by its client order id. The master's copy lock is
        the caller's. Raises what could not be decided (risk or the database away)."""
        received = datetime.now(UTC)
        async with self.db.session() as db_session:
            account = await db_session.get(VenueAccountRow, session.follower_account_id)
            made = [await self._made_before(db_session, [fill], [session]) for fill in fills]
        accounts = {account.account_id: account} if account is not None else {}
        for fill, existing in zip(fills, made):
            await self._copy_fill(fill, [session], accounts, existing, received)

    async def _send_chunk(self, intents: list[Intent], received: dict[str, datetime],
                          failures: list[BaseException]) -> None:
        """Send a chunk of planned copies; a copy no retry can make is refused alone, and what
        may pass is put in `failures` (the fill is tried again), never raised."""
        try:
            attempts = await self._send_all(intents)
            for intent, attempt in zip(intents, attempts):
                if isinstance(attempt, BaseException):
                    try:
                        refusal = self._cannot_be_made(intent.fill, intent.session, attempt)
                    except BaseException as transient:  # noqa: BLE001 - the fill is tried again
                        failures.append(transient)
                        continue
                    await self._refuse_alone(intent.fill, intent.session, intent.account,
                                             received[intent.fill.fill_id], refusal)
                elif attempt.outcome == "failed":
                    await self.error_book.record(intent.row, intent.account.venue_id, attempt.error)
        except Exception as exc:  # noqa: BLE001 - the fill is tried again
            failures.append(exc)

    async def _plan_alone(self, fill: events.MasterFill, session: CopySessionRow, account: VenueAccountRow | None,
                          existing: FollowerOrderRow | None, received: datetime,
                          positions: dict[tuple[str, str], Decimal] | None,
                          fill_refusal: trading_pb2.Refusal | None) -> Intent | None:
        """_plan(), except that a copy no retry can make (poison input stored before the edges
        checked it, an error saying the input is wrong) is refused at once with its reason,
        alone, instead of failing the fill for every session and holding it."""
        # A copy sent before is asked about at its venue first, whatever its inputs.
        refusal = isolation.before_copy(fill_refusal, session, account, self.catalog.settings) \
            if existing is None else None
        if refusal is None:
            try:
                return await self._plan(fill, session, account, existing, received, positions)
            except Exception as exc:
                refusal = self._cannot_be_made(fill, session, exc)
        await self._refuse_alone(fill, session, account, received, refusal)
        return None

    @staticmethod
    def _cannot_be_made(fill: events.MasterFill, session: CopySessionRow, exc: BaseException) -> trading_pb2.Refusal:
        """The refusal for an error no retry can mend; the error itself (raised) for one that may pass."""
        refusal = isolation.non_transient(exc)
        if refusal is None:
            raise exc  # the fill is tried again; copies already made are skipped by their id
        log.warning("copy of fill %s for session %s cannot be made (%s: %s): refused", fill.fill_id,
                    session.config_id, type(exc).__name__, str(exc)[:200])
        return refusal

    async def _refuse_alone(self, fill: events.MasterFill, session: CopySessionRow, account: VenueAccountRow | None,
                            received: datetime, refusal: trading_pb2.Refusal) -> None:
        async with self.db.session() as db_session:  # the copy may have got as far as PENDING
            row = await db_session.get(FollowerOrderRow, client_order_id(fill.fill_id, session.follower_account_id))
        if row is not None and row.status in HANDED_OVER:
            return
        if account is not None:
            self._venue_ids[session.follower_account_id] = account.venue_id
        if row is not None and row.send_time is not None:  # maybe at the venue: asked there, never refused blind
            error = VenueError(ErrorKind.UNKNOWN_OUTCOME, refusal.message)
            await self.fail(row, error.kind.value, error.message, unknown=True)
            await self.error_book.record(row, account.venue_id if account else "", error)
            return
        await self.refuse(row or self.new_row(fill, session, received), refusal.reason, refusal.message,
                          dict(refusal.metadata), domain=refusal.domain)

    @asynccontextmanager
    async def _followers_locked(self, follower_account_ids: set[str]):
        """Every follower lock of a fill, taken in one order (so two fills never wait on each other)."""
        held: list[asyncio.Lock] = []
        try:
            for account_id in sorted(follower_account_ids):
                lock = self.follower_lock(account_id)
                await lock.acquire()
                held.append(lock)
            yield
        finally:
            for lock in reversed(held):
                lock.release()

    async def _positions_before(self, fill: events.MasterFill, sessions: list[CopySessionRow]
                                ) -> dict[tuple[str, str], Decimal] | None:
        """For a fill that closes (some of) the master's position: each session's copied position
        per symbol, in one read for the whole fill (under the followers' locks, so no copy of
        theirs is in flight). None for a fill that only opens (sizing needs none)."""
        if not closes(fill) or not sessions:  # (unreadable: sized per copy, which refuses it)
            return None
        async with self.db.session() as db_session:
            return await self.db.signed_sums(
                db_session, (FollowerOrderRow.config_id, FollowerOrderRow.symbol), FollowerOrderRow.filled_quantity,
                FollowerOrderRow.side == trading_pb2.SIDE_BUY,
                self.db.member(FollowerOrderRow.config_id, {s.config_id for s in sessions}))

    async def _plan(self, fill: events.MasterFill, session: CopySessionRow, account: VenueAccountRow | None,
                    existing: FollowerOrderRow | None, received: datetime,
                    positions: dict[tuple[str, str], Decimal] | None = None) -> Intent | None:
        """The copy for one session, sized, ready for risk; None when it is decided without
        sending (made before, refused, failed, found at the venue)."""
        cid = client_order_id(fill.fill_id, session.follower_account_id)
        if existing is not None and existing.status in HANDED_OVER:
            return None
        if account is not None:
            self._venue_ids[session.follower_account_id] = account.venue_id
        row = existing or self.new_row(fill, session, received)
        if account is None:  # cannot happen while the session uses it (deletion is refused); said if it does
            return await self.refuse(row, "ACCOUNT_NOT_FOUND", "the follower's venue account no longer exists", {})
        if session.state == pb.SESSION_STATE_PAUSED:
            return await self.refuse(row, "SESSION_PAUSED", "copying is paused for this session", {})
        try:
            venue = await self.pool.get(account)
        except (VenueError, grpc.aio.AioRpcError) as exc:
            return await self._give_up_for_now(row, account, _as_venue_error(exc, "cannot open the follower's venue"))
        if existing is not None:  # sent before, outcome unknown: ask the venue first
            state = await venue.fetch_order(cid, existing.symbol)
            if state is not None:
                return await self._placed(row, state)
        trade = sizing.MasterTrade(fill.symbol, SIDE_NAMES[fill.side], Decimal(fill.quantity), Decimal(fill.price))
        if mirrors_resting_orders(session) and await self.resting_copy_covers(session, fill):
            return None  # the follower's resting copy of that master order fills at its own venue
        try:
            sized, instrument, equity, price = await self.size(
                session, account, venue, trade, master_account_id=fill.master_account_id,
                master_equity=Decimal(fill.master_equity or 0), position_before=Decimal(fill.position_before or 0),
                positions=positions)
        except VenueError as exc:
            return await self._give_up_for_now(row, account, exc)
        if sized.refused:
            return await self.refuse(row, sized.reason, sized.message, sized.metadata)
        spot = account.market_type == trading_pb2.MARKET_TYPE_SPOT
        row.symbol, row.side, row.quantity = sized.symbol, SIDE_VALUES[sized.side], sized.quantity
        row.reduction = sized.reduction  # risk's own reduction, should it cut further, replaces it
        if not trading_hours.is_open(sized.symbol, now := self.clock()):  # before risk reserves anything
            return await self.refuse(row, "MARKET_CLOSED", *trading_hours.closed(sized.symbol, now))
        if session.state == pb.SESSION_STATE_FROZEN:  # recorded sized, so a resync makes it up
            return await self.refuse(row, "SESSION_FROZEN", f"copying is frozen: {session.state_reason}", {})
        guarded = self.catalog.settings(session)
        joining = join.is_join(fill.fill_id)
        # A join copies a position the master holds now, not a fill that may have gone stale: no age guard.
        if fill.execute_time.seconds and not joining and (stale := guards.too_old(
                fill.execute_time.ToDatetime(tzinfo=UTC), datetime.now(UTC), guarded.max_fill_age_s)):
            return await self.refuse(row, *stale)
        expected = price
        if guarded.max_slippage > 0:  # the follower venue's price now, against the master's (a join's: its entry)
            try:
                expected = await self.market.price(venue, venue_key(venue, session), instrument.symbol)
            except VenueError as exc:
                return await self._give_up_for_now(row, account, exc)
            if (slipped := guards.slipped(sized.side, price, expected, guarded.max_slippage,
                                          against="the master's average entry" if joining else "the master's fill")):
                return await self.refuse(row, *slipped)
        if guarded.limit_at_tolerance:  # an IOC limit at the tolerance (order_request), not a market order
            row.order_type = trading_pb2.ORDER_TYPE_LIMIT
            row.limit_price = guards.tolerance_limit(sized.side, price, guarded.max_slippage, instrument.tick_size)
        return Intent(row, session, account, venue, instrument, reservation_id=cid, expected_price=expected,
                      reference_price=price, equity=equity, master_fill_time=fill.execute_time,
                      # A pure close on a derivatives venue must never open the other way.
                      reduce_only=sized.closing == sized.quantity and not spot, fill=fill)

    @staticmethod
    def new_row(fill: events.MasterFill, session: CopySessionRow, received: datetime) -> FollowerOrderRow:
        """The record of a copy not yet made."""
        return FollowerOrderRow(
            order_id=client_order_id(fill.fill_id, session.follower_account_id), config_id=session.config_id,
            follower_id=session.follower_id, follower_account_id=session.follower_account_id,
            master_fill_id=fill.fill_id, symbol=fill.symbol, side=fill.side, quantity=Decimal(0),
            filled_quantity=Decimal(0), average_fill_price=None, status=S.FOLLOWER_ORDER_STATUS_PENDING,
            venue_order_id="", refusal=None, error_kind="", error_message="",
            master_fill_time=fill.execute_time.ToDatetime(tzinfo=UTC), receive_time=received, worker=WORKER)

    def note_venue(self, account: VenueAccountRow) -> None:
        self._venue_ids[account.account_id] = account.venue_id  # the metrics label of its copies

    def follower_lock(self, follower_account_id: str) -> asyncio.Lock:
        """Held while a follower's copy is being made, so its copies go out one at a time."""
        return self._follower_locks.setdefault(follower_account_id, asyncio.Lock())

    async def size(self, session: CopySessionRow, account: VenueAccountRow, venue, trade: sizing.MasterTrade, *,
                   master_account_id: str, master_equity: Decimal, position_before: Decimal,
                   positions: dict[tuple[str, str], Decimal] | None = None
                   ) -> tuple[sizing.Sized, Instrument | None, Decimal, Decimal]:
        """The follower's order for a master trade, by the session's settings: (sized, the
        follower's instrument, the follower's equity when the mode needs it, the master's price
        per follower unit). sized may be a refusal with its reason. The symbol map is the
        follower's, else found from the markets both venues publish. Raises VenueError when the
        follower's venue cannot tell."""
        settings = await symbol_map.resolve(self.catalog.settings(session), trade.symbol, venue,
                                            lambda: self._master_venue(master_account_id, account))
        routed = sizing.route(settings, trade)
        if isinstance(routed, sizing.Sized):
            return routed, None, Decimal(0), trade.price
        instrument = await venue.instrument(routed[0])
        # The master's price per follower unit, in the follower instrument's quoting: one master unit
        # is worth price × its contract size, and is `ratio` follower units (ES 5,000 → MES 5,000).
        # The master's own contract size, even under the same symbol: BTC/USDT:USDT is 0.01 BTC on
        # OKX, 0.001 on KuCoin, 1 on Binance.
        master_size = await self._master_contract_size(trade.symbol, master_account_id, account, venue)
        price = trade.price * master_size / (routed[1] * instrument.contract_size)
        equity = await self.catalog.equity(account.account_id, venue) \
            if settings.mode in ("EQUITY_PROPORTIONAL", "RISK_PERCENT") else Decimal(0)
        quoted = None  # a notional buys the follower's instrument at its own price (risk values it so too)
        if settings.mode == "FIXED_NOTIONAL" and routed[0] != trade.symbol:
            quoted = price = await venue.price(instrument.symbol)
        follower_position = Decimal(0)
        if sizing.closing_fraction(position_before, trade.side, trade.quantity)[0] > 0:
            follower_position = positions.get((session.config_id, instrument.symbol), Decimal(0)) \
                if positions is not None else await self._copied_position(session.config_id, instrument.symbol)
        master_stop = await master_stops.protecting_stop(self.db, master_account_id, trade.symbol, trade.side) \
            if settings.mode == "RISK_PERCENT" else None  # risk is measured to the master's own stop when it has one
        with tracing.span("copy sizing"):
            sized = sizing.size(settings, trade, instrument, follower_equity=equity, master_equity=master_equity,
                                position_before=position_before, follower_position=follower_position,
                                follower_price=quoted, master_stop=master_stop)
        spot = account.market_type == trading_pb2.MARKET_TYPE_SPOT
        if not sized.refused and sized.closing > 0 and sized.side == "sell" and spot:
            sized = sizing.within_holdings(sized, await self.catalog.holdings(account.account_id, instrument.base, venue),
                                           instrument.lot_size)
        return sized, instrument, equity, price

    async def resting_copy_covers(self, session: CopySessionRow, fill: events.MasterFill) -> bool:
        """Whether this session mirrors the master order the fill belongs to with a resting copy
        that reached the venue (then the fill is not copied again)."""
        async with self.db.session() as db_session:
            found = (await db_session.execute(select(FollowerOrderRow.order_id).where(
                FollowerOrderRow.config_id == session.config_id,
                FollowerOrderRow.master_order_id == f"{fill.master_account_id}:{fill.venue_order_id}",
                FollowerOrderRow.status.not_in([S.FOLLOWER_ORDER_STATUS_REFUSED, S.FOLLOWER_ORDER_STATUS_FAILED])
            ).limit(1))).first()
        return found is not None

    async def retry(self, order_id: str, attempt_number: int) -> Attempt:
        """One more try at a failed or uncertain copy: the venue is asked for the client order id
        first, and only an order it does not know is sent again (same id), unless the copy has
        gone stale meanwhile."""
        async with self.db.session() as db_session:
            row = await db_session.get(FollowerOrderRow, order_id)
            session = await db_session.get(CopySessionRow, row.config_id)
            account = await db_session.get(VenueAccountRow, row.follower_account_id)
            stored = await db_session.get(MasterFillRow, row.master_fill_id)
            if stored is not None:
                fill = events.MasterFill.FromString(stored.payload)
            elif join.is_join(row.master_fill_id):  # the master's position now stands for its fill
                master_account_id, _, symbol = join.parse(row.master_fill_id)
                fill = join.retried(session, row, await db_session.get(MasterPositionRow,
                                                                       (master_account_id, symbol)))
            else:
                raise LookupError(f"copy {order_id} follows no recorded master fill ({row.master_fill_id})")
            master_position = await db_session.get(MasterPositionRow, (fill.master_account_id, fill.symbol))
        self._venue_ids[row.follower_account_id] = account.venue_id
        try:
            venue = await self.pool.get(account)
            state = await venue.fetch_order(row.order_id, row.symbol)
            if state is not None:
                await self._placed(row, state)
                return Attempt("placed")
            if row.reservation_id:  # the unknown attempt's reservation: that order never came to be
                await self.risks.release([(row.follower_id, risk_pb.ReleaseReservationRequest(
                    reservation_id=row.reservation_id, reason="not at the venue"))])
            reason = ""
            if session.state != pb.SESSION_STATE_ACTIVE:
                reason = f"the session is {pb.SessionState.Name(session.state).removeprefix('SESSION_STATE_').lower()}"
            price_now = await venue.price(row.symbol)
            if not reason:
                quantity = Decimal(fill.quantity)
                before = Decimal(fill.position_before or 0)
                master_side = SIDE_NAMES[fill.side]
                reason = recovery.stale_reason(
                    side=SIDE_NAMES[row.side], fill_price=Decimal(fill.price or 0), price_now=price_now,
                    max_slippage=Decimal(copy_settings.from_json(session.settings).max_slippage or 0),
                    opens=sizing.closing_fraction(before, master_side, quantity)[0] == 0,
                    master_position_now=master_position.quantity if master_position else Decimal(0),
                    master_position_after_fill=before + (quantity if master_side == "buy" else -quantity))
            if reason:
                await self.refuse(row, "COPY_STALE", reason, {})
                return Attempt("stale", reason=reason)
            instrument = await venue.instrument(row.symbol)
            settings = await symbol_map.resolve(copy_settings.validate(copy_settings.from_json(session.settings)),
                                                fill.symbol, venue, lambda: self._master_venue(fill.master_account_id, account))
            ratio = settings.symbol_map.get(fill.symbol, (row.symbol, Decimal(1)))[1]
        except VenueError as exc:
            return Attempt("failed", error=exc)
        except grpc.aio.AioRpcError as exc:
            return Attempt("failed", error=_as_venue_error(exc, "cannot reach the follower's venue"))
        return await self.send(row, session, venue, instrument, reservation_id=f"{row.order_id}:{attempt_number}",
                                expected_price=price_now, reference_price=Decimal(fill.price or 0) / ratio, equity=Decimal(0),
                                master_fill_time=fill.execute_time, reduce_only=False)

    async def send(self, row: FollowerOrderRow, session: CopySessionRow, venue, instrument, *, reservation_id: str,
                    expected_price: Decimal, reference_price: Decimal, equity: Decimal, master_fill_time,
                    reduce_only: bool) -> Attempt:
        """Reserve with risk, then place under the copy's client order id."""
        [attempt] = await self._send_all([Intent(
            row, session, None, venue, instrument, reservation_id=reservation_id, expected_price=expected_price,
            reference_price=reference_price, equity=equity, master_fill_time=master_fill_time,
            reduce_only=reduce_only)])
        if isinstance(attempt, BaseException):
            raise attempt
        return attempt

    async def _send_all(self, intents: list[Intent]) -> list[Attempt | BaseException]:
        """Reserve every intent with risk in one call while the new ones are fenced in one write,
        place the approved ones concurrently and write their acknowledgements in groups. One
        Attempt (or the exception that stopped it: for a placed copy, its record's or effects'
        failure, which the fill's retry finishes) per intent; raises when risk could not decide."""
        markets: dict[tuple[str, str], object] = {}
        for intent in intents:
            intent.market = venue_key(intent.venue, intent.session)
            markets.setdefault((intent.market, intent.instrument.symbol), intent.venue)
        await asyncio.gather(*(self.market.ensure(venue, market, symbol) for (market, symbol), venue in markets.items()))
        series = {market: [risk_pb.ReturnSeries(symbol=symbol, returns=values, periods_per_year=PERIODS_PER_YEAR)
                           for symbol, values in self.market.series(market).items()]
                  for market in {intent.market for intent in intents}}
        # New copies are fenced PENDING while risk decides (one write, overlapping the call), each
        # with its reservation and a send time: from here on a crash leaves a copy that is asked
        # for at its venue, never one made twice or refused blind. Copies made before are fenced
        # once approved, as the retry of an earlier attempt finds them.
        fenced_at, new = datetime.now(UTC), []
        for intent in intents:
            if inspect(intent.row).transient:
                intent.row.reservation_id, intent.row.send_time = intent.reservation_id, fenced_at
                new.append(intent.row)
        fencing = asyncio.ensure_future(self._fence(new)) if new else None
        try:
            decisions = await self._reserve(intents, series)
        except asyncio.CancelledError:
            if fencing is not None:
                fencing.cancel()  # whatever it wrote stays PENDING: asked for at the venues
            raise
        except Exception:
            if fencing is not None:
                await self._unfence(fencing)
            raise
        decided = datetime.now(UTC)  # risk's answer (the fence may still be writing)
        fenced_now = await fencing if fencing is not None else set()
        ours = set(fenced_now)
        results: list[Attempt | BaseException | None] = [None] * len(intents)
        refused, approved, before_send = [], [], []
        for i, (intent, decision) in enumerate(zip(intents, decisions)):
            row = intent.row
            row.risk_decide_time = decided
            if inspect(row).transient:  # another worker recorded this copy first: its retry asks the venue
                results[i] = CopyInFlight(f"copy {row.order_id} is being made elsewhere")
                continue
            if decision.decision not in DECISIONS:
                if row.order_id in fenced_now:
                    row.send_time = None  # never sent
                refused.append((i, intent, decision))
                continue
            if decision.decision == risk_pb.DECISION_REDUCED:  # said on the order: which limit, by how much
                row.reduction = reduction(decision, row.quantity)
            quantity = Decimal(decision.approved_quantity)
            if row.order_id not in fenced_now or row.quantity != quantity:  # its record says so before it is sent
                before_send.append(row)
            row.quantity = quantity
            row.send_time, row.reservation_id, row.status = decided, intent.reservation_id, S.FOLLOWER_ORDER_STATUS_PENDING
            approved.append((i, intent))

        async def refuse(i: int, intent: Intent, decision) -> None:
            refusal = decision.refusal
            await self.refuse(intent.row, refusal.reason, refusal.message, dict(refusal.metadata), domain=refusal.domain)
            results[i] = Attempt("refused", reason=refusal.reason)
        if before_send:
            ours |= await self._fence(before_send)
        acks = GroupWriter(self._record_acks, then=self._effects)

        async def place_in_turn(turn: list[tuple[int, Intent]]) -> None:
            """One follower's copies, one after the other (in the fills' order)."""
            for i, intent in turn:
                if intent.row.order_id not in ours:  # another worker is making this copy: its retry asks the venue
                    results[i] = CopyInFlight(f"copy {intent.row.order_id} is being made elsewhere")
                    continue
                try:
                    results[i] = await self._place(intent, acks)
                except Exception as exc:  # noqa: BLE001 - told per copy
                    results[i] = exc
        turns: dict[str, list[tuple[int, Intent]]] = {}
        for i, intent in approved:
            turns.setdefault(intent.row.follower_account_id, []).append((i, intent))
        outcomes = await asyncio.gather(*(refuse(*r) for r in refused), *(place_in_turn(t) for t in turns.values()),
                                        return_exceptions=True)
        for (i, *_), outcome in zip(refused, outcomes):
            if isinstance(outcome, BaseException):
                results[i] = outcome
        try:
            await acks.drain()
        except Exception as exc:  # noqa: BLE001 - the placed copies' record or effects: their retry finishes them
            results = [exc if isinstance(r, Attempt) and r.outcome == "placed" else r for r in results]
        return results

    async def _reserve(self, intents: list[Intent], series: dict) -> list:
        """Risk's decision on every intent, in one call."""
        return await self.risks.reserve([risk_pb.ReserveOrderRequest(
            reservation_id=intent.reservation_id, intent=risk_pb.OrderIntent(
                follower_id=intent.session.follower_id, master_id=intent.session.master_id,
                config_id=intent.session.config_id,
                instrument=trading_pb2.Instrument(symbol=intent.instrument.symbol,
                                                  lot_size=str(intent.instrument.lot_size),
                                                  tick_size=str(intent.instrument.tick_size),
                                                  contract_size=str(intent.instrument.contract_size)),
                side=intent.row.side, quantity=str(intent.row.quantity), expected_price=str(intent.expected_price),
                reference_price=str(intent.reference_price), equity=str(intent.equity),
                master_fill_time=intent.master_fill_time, returns=series[intent.market]))
            for intent in intents])

    async def _unfence(self, fencing: asyncio.Future) -> None:
        """Risk did not decide: the copies just fenced were never sent, so their records go (the
        fill's retry makes them anew instead of asking a venue for each). Should that fail, they
        stay PENDING and are asked for: slower, never wrong."""
        try:
            inserted = await fencing
            if inserted:
                async with self.db.session() as session:
                    await session.execute(delete(FollowerOrderRow).where(
                        self.db.member(FollowerOrderRow.order_id, inserted),
                        FollowerOrderRow.status == S.FOLLOWER_ORDER_STATUS_PENDING))
        except Exception as exc:  # noqa: BLE001 - the risk failure is what is raised
            log.warning("copies fenced before risk failed left PENDING (asked for at their venues): %s", exc)

    async def _fence(self, rows: list[FollowerOrderRow]) -> set[str]:
        """Record the copies about to be sent as PENDING, in one transaction: new ones by one
        multi-row insert that leaves copies already there alone, ones made before (whose earlier
        attempt the venue did not know) by update. The order ids this worker may send."""
        new = [row for row in rows if inspect(row).transient]
        async with self.db.session() as session:
            inserted = await insert_ignoring(session, FollowerOrderRow, [_column_values(row) for row in new])
            for row in rows:
                if not inspect(row).transient:
                    session.add(row)
        for row in new:
            if row.order_id in inserted:
                make_transient_to_detached(row)  # from here on saved by update, like a loaded row
        return inserted | {row.order_id for row in rows if not inspect(row).transient}

    async def _place(self, intent: Intent, acks: GroupWriter) -> Attempt:
        row = intent.row
        try:
            with budget.measure() as waited:  # the venue's request budget may hold the order back
                state = await intent.venue.place_order(order_request(row, intent.venue, reduce_only=intent.reduce_only))
        except VenueError as exc:
            row.budget_delay_ms = round(waited[0] * 1000)
            unknown = exc.kind == ErrorKind.UNKNOWN_OUTCOME
            if exc.kind == ErrorKind.REJECTED and row.side == trading_pb2.SIDE_SELL:  # she may hold less than known
                self.catalog.holdings_moved(row.follower_account_id, sizing.base_asset(row.symbol), None)
            if not unknown:  # surely not executed: give the exposure back
                await self.risks.release([(row.follower_id, risk_pb.ReleaseReservationRequest(
                    reservation_id=intent.reservation_id, reason=exc.kind.value))])
            await self.fail(row, exc.kind.value, exc.message, unknown=unknown)
            return Attempt("failed", error=exc)
        row.budget_delay_ms = round(waited[0] * 1000)
        base = sizing.base_asset(row.symbol)  # the spot holdings a close is cut to, moved by this copy
        self.catalog.holdings_moved(row.follower_account_id, base, _base_moved(row, state, base))
        self._acknowledged(row, state)
        acks.add(row)
        return Attempt("placed")

    async def _record_acks(self, rows: list[FollowerOrderRow]) -> None:
        """A group of acknowledgements in one transaction, marked effects pending (GroupWriter
        then does their effects while the next group is written)."""
        async with self.db.session() as session:
            session.add_all(rows)

    async def _master_contract_size(self, symbol: str, master_account_id: str, follower: VenueAccountRow,
                                    follower_venue) -> Decimal:
        """The master instrument's contract size, from the master's venue (or the follower's, when
        both trade on one); 1 when neither can tell."""
        venue = await self._master_venue(master_account_id, follower) or follower_venue
        try:
            return (await venue.instrument(symbol)).contract_size
        except VenueError:
            return Decimal(1)

    async def _master_venue(self, master_account_id: str, follower: VenueAccountRow):
        """The master's venue when it is another venue or market than the follower's (its markets
        decide the symbol mapping), else None."""
        master = await self.account(master_account_id)
        if master is None or (master.venue_id, master.market_type) == (follower.venue_id, follower.market_type):
            return None
        try:
            return await self.pool.get(master)
        except (VenueError, grpc.aio.AioRpcError):
            return None

    async def _give_up_for_now(self, row: FollowerOrderRow, account: VenueAccountRow, error: VenueError) -> None:
        """A copy that could not be sent at all: failed, and handed to the retry processor."""
        await self.fail(row, error.kind.value, error.message)
        await self.error_book.record(row, account.venue_id, error)

    async def _copied_position(self, config_id: str, symbol: str) -> Decimal:
        """The follower's signed position in symbol built by this session's copies."""
        async with self.db.session() as session:
            sums = await self.db.signed_sums(
                session, (FollowerOrderRow.symbol,), FollowerOrderRow.filled_quantity,
                FollowerOrderRow.side == trading_pb2.SIDE_BUY,
                (FollowerOrderRow.config_id == config_id) & (FollowerOrderRow.symbol == symbol))
        return sums.get((symbol,), Decimal(0))

    def _acknowledged(self, row: FollowerOrderRow, state: OrderState) -> None:
        """What the venue said of the copy, on the row (not yet written), its effects pending."""
        venue_order_id, filled, price, venue_status = (state.venue_order_id, state.filled_quantity,
                                                       state.average_price, state.status)
        row.ack_time = datetime.now(UTC)
        venue = self._venue_ids.get(row.follower_account_id, "")
        fill_time = aware(row.master_fill_time)
        for stage, moment in (("received", row.receive_time), ("risk_decided", row.risk_decide_time),
                              ("sent", row.send_time), ("acknowledged", row.ack_time)):
            if moment is not None:
                metrics.COPY_STAGE_SECONDS.labels(venue, stage).observe(
                    max(0.0, (aware(moment) - fill_time).total_seconds()))
        metrics.COPIES.labels(venue, "placed").inc()
        row.venue_order_id, row.filled_quantity, row.average_fill_price = venue_order_id, filled, price
        row.venue_fills = venue_fills_json(state)
        # Done at the venue with part filled (an IOC copy's rest canceled) is CANCELED with what filled.
        row.status = (S.FOLLOWER_ORDER_STATUS_FILLED if filled >= row.quantity and filled > 0 else
                      S.FOLLOWER_ORDER_STATUS_CANCELED if venue_status in ("canceled", "expired") else
                      S.FOLLOWER_ORDER_STATUS_PARTIALLY_FILLED if filled > 0 else
                      S.FOLLOWER_ORDER_STATUS_PLACED)
        row.error_kind = row.error_message = ""
        row.effects_pending = True

    async def _placed(self, row: FollowerOrderRow, state: OrderState) -> None:
        """A copy found at the venue (asked after an unknown outcome, or a resting one moving):
        what it moved may be in a holdings read already, so the next close reads again."""
        self.catalog.holdings_moved(row.follower_account_id, sizing.base_asset(row.symbol), None)
        self._acknowledged(row, state)
        await self._save(row)
        await self._effects([row])

    async def _effects(self, rows: list[FollowerOrderRow], *, wait: bool = False) -> None:
        """What follows a venue's acknowledgement, for a group of copies: risk commits what filled
        (one call), and each copy's events go out (_announce). Each is idempotent (per
        reservation; by Nats-Msg-Id, which compliance's audit record is keyed by), so a redo
        after a failure makes no second one. A copy's marker is cleared once all its effects are
        done. On the copy path they run in the background once the pass of the master's fills
        is over (or EFFECTS_HELD_MOST copies are waiting), so the master's next fill waits for
        neither risk's commit nor a thousand publishes: until the commit lands, risk counts the
        copy's open reservation, which holds the quantity the venue filled (or more, for a
        partial fill), so the follower's next copy is decided on no less exposure. With `wait`
        (the sweeper) everything is awaited and what failed raises. Whatever failed keeps its
        marker for the fill's retry or the sweeper."""
        if not rows:
            return
        if wait:
            await self._commit_and_announce(_commits(rows), rows)
            return
        held = _HELD_EFFECTS.get()
        if held is None:
            self._start_effects(rows)
            return
        held.extend(rows)  # a pass under way: at its end, or once this many wait
        if len(held) >= EFFECTS_HELD_MOST:
            self._start_effects(held[:])
            held.clear()

    def _start_effects(self, rows: list[FollowerOrderRow]) -> None:
        """_effects() in the background: what fails is told, and its markers stay for the sweeper."""
        if not rows:
            return
        task = asyncio.create_task(self._commit_and_announce(_commits(rows), rows))
        self._clearing.add(task)
        task.add_done_callback(self._cleared)

    async def _commit_and_announce(self, commits: list, rows: list[FollowerOrderRow]) -> None:
        await self.risks.commit(commits)  # first: a marker is cleared only once its commit is done
        await self._announce_all(rows)

    async def _announce_all(self, rows: list[FollowerOrderRow]) -> None:
        """Each copy's events, concurrently (their commits done before); the markers of those
        announced cleared. Raises the first failure."""
        outcomes = await asyncio.gather(*(self._announce(row) for row in rows), return_exceptions=True)
        done = [row for row, outcome in zip(rows, outcomes) if not isinstance(outcome, BaseException)]
        if done:
            for row in done:
                set_committed_value(row, "effects_pending", False)
            # Only acknowledgements up to this group's are cleared: a copy acknowledged again
            # meanwhile (a resting one filling) keeps the marker its own effects will clear.
            await self._clear_effects([row.order_id for row in done], max(aware(row.ack_time) for row in done))
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            raise failures[0]

    async def _clear_effects(self, order_ids: list[str], acknowledged_by: datetime) -> None:
        async with self.db.session() as session:
            await session.execute(update(FollowerOrderRow).where(
                self.db.member(FollowerOrderRow.order_id, order_ids), FollowerOrderRow.ack_time <= acknowledged_by)
                .values(effects_pending=False))

    def _cleared(self, task: asyncio.Task) -> None:
        self._clearing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("copy effects not all done: risk's commit, the events or their markers (the sweeper "
                        "redoes them): %s", task.exception())

    async def redo_effects(self, rows: list[FollowerOrderRow]) -> None:
        """The sweeper's work: effects of acknowledged copies left pending, redone in groups."""
        for start in range(0, len(rows), 500):
            await self._effects(rows[start:start + 500], wait=True)

    async def _announce(self, row: FollowerOrderRow) -> None:
        """A copy's placed event while it is not filled in full, then its filled ones: in that
        order on the bus. A copy filled in full (a market copy, at once) is announced by its
        filled events alone, which carry the order as placed: one event a copy, not two, for
        each consumer to take in. A filled event is one fill as the follower's venue reported it
        (its trade id, quantity, price, time and the fee it charged), naming that venue: the
        fills the acknowledgement listed, else those the venue's trade history shows for the
        order, else the order's total with the fee the venue gave for the order (or none: the
        fee is then unknown, never made up here)."""
        order = order_to_proto(row)
        if not 0 < row.quantity <= row.filled_quantity:
            await self.publish("placed", row, events.FollowerOrderPlaced(order=order))
        if row.filled_quantity <= 0:
            return
        fills = row.venue_fills or []
        if not any(f.get("venue_trade_id") for f in fills):  # the venue listed no fills with the order
            found = await self._fills_at_venue(row)
            fills = [fill_json(f) for f in found] if found else fills
        venue = await self.venue_of(row.follower_account_id)
        if not fills:
            fills = [{"quantity": str(row.filled_quantity), "price": str(row.average_fill_price or 0)}]
        for fill in fills:
            # One fill keeps the copy's one filled message id; each of several is its own.
            attempt = (fill.get("venue_trade_id") or fill["quantity"]) if len(fills) > 1 else ""
            await self.publish("filled", row, filled_event(order, venue, fill), attempt=attempt)

    async def _fills_at_venue(self, row: FollowerOrderRow) -> list[Fill] | None:
        """The copy's fills from its venue's trade history (None when it cannot tell now)."""
        account = await self.account(row.follower_account_id)
        if account is None:
            return None
        try:
            return await order_fills(await self.pool.get(account), row, Decimal(0))
        except (VenueError, grpc.aio.AioRpcError) as exc:
            log.warning("fills of copy %s not read from its venue (%s): its filled event goes without them",
                        row.order_id, _describe(exc))
            return None

    async def account(self, account_id: str) -> VenueAccountRow | None:
        """A venue account, read once (its venue and market never change)."""
        account = self._accounts.get(account_id)
        if account is None:
            async with self.db.session() as db_session:
                account = await db_session.get(VenueAccountRow, account_id)
            if account is not None:
                self._accounts[account_id] = account
        return account

    async def venue_of(self, account_id: str) -> trading_pb2.Venue:
        """The venue an account trades on, as the events name it."""
        account = await self.account(account_id)
        return trading_pb2.Venue(kind=account.venue_kind, id=account.venue_id, market_type=account.market_type) \
            if account else trading_pb2.Venue()

    async def refuse(self, row: FollowerOrderRow, reason: str, message: str, metadata: dict, *,
                      domain: str = sizing.DOMAIN) -> None:
        refusal = trading_pb2.Refusal(reason=reason, domain=domain, message=message, metadata=metadata)
        metrics.REFUSALS.labels(reason).inc()
        metrics.COPIES.labels(self._venue_ids.get(row.follower_account_id, ""), "refused").inc()
        row.status = S.FOLLOWER_ORDER_STATUS_REFUSED
        row.refusal = {"reason": reason, "domain": refusal.domain, "message": message, "metadata": metadata}
        await self._save(row)
        await self.publish("refused", row, events.CopyRefused(order=order_to_proto(row), refusal=refusal))

    async def fail(self, row: FollowerOrderRow, kind: str, message: str, *, unknown: bool = False) -> None:
        venue = self._venue_ids.get(row.follower_account_id, "")
        metrics.VENUE_ERRORS.labels(venue, kind).inc()
        metrics.COPIES.labels(venue, "failed").inc()
        row.status = S.FOLLOWER_ORDER_STATUS_UNKNOWN if unknown else S.FOLLOWER_ORDER_STATUS_FAILED
        row.error_kind, row.error_message = kind, message[:2000]
        await self._save(row)
        await self.publish("failed", row, events.CopyFailed(order=order_to_proto(row), error_kind=kind,
                                                            error_message=message[:2000]),
                            attempt=row.reservation_id or "")

    async def _save(self, row: FollowerOrderRow) -> None:
        # add, not merge: a new row is one INSERT, a loaded or saved one an UPDATE of what changed —
        # merge would read the row back first. A second worker inserting the same copy fails here
        # (the fill is redelivered and finds the first one's record), instead of overwriting it.
        async with self.db.session() as session:
            session.add(row)

    async def publish(self, verb: str, row: FollowerOrderRow, event, *, attempt: str = "") -> None:
        msg_id = f"{row.order_id}:{verb}" + (f":{attempt}" if attempt else "")  # each failed attempt is news
        await self.bus.publish(f"copies.order.{verb}.{row.follower_id}", event, msg_id=msg_id)


def fill_json(fill: Fill) -> dict:
    """A venue's fill as a copy keeps it (venue_fills): decimal strings, its time in UTC ISO 8601."""
    return {"venue_trade_id": fill.venue_trade_id, "quantity": str(fill.quantity), "price": str(fill.price),
            "fee": str(fill.fee), "fee_currency": fill.fee_currency, "time": fill.timestamp.astimezone(UTC).isoformat()}


def venue_fills_json(state: OrderState) -> list[dict] | None:
    """What a venue's answer says a copy paid, as venue_fills: the order's fills when it listed
    all of them; else its total with the order's fee and no trade id, when it gave that fee;
    else None (it did not say)."""
    if state.filled_quantity <= 0:
        return None
    if state.fills and sum((f.quantity for f in state.fills), Decimal(0)) == state.filled_quantity:
        return [fill_json(f) for f in state.fills]
    if state.fee is None:
        return None
    return [{"venue_trade_id": "", "quantity": str(state.filled_quantity), "price": str(state.average_price or 0),
             "fee": str(state.fee), "fee_currency": state.fee_currency,
             "time": state.timestamp.astimezone(UTC).isoformat() if state.timestamp else ""}]


def filled_event(order: events.FollowerOrder, venue: trading_pb2.Venue, fill: dict) -> events.FollowerOrderFilled:
    """A copy's filled event for one of its fills (fill_json's form; fee and time may be missing)."""
    event = events.FollowerOrderFilled(order=order, venue_trade_id=fill.get("venue_trade_id") or "",
                                       quantity=fill["quantity"], price=fill["price"], venue=venue,
                                       fee=fill.get("fee") or "", fee_currency=fill.get("fee_currency") or "")
    if fill.get("time"):
        event.execute_time.FromDatetime(datetime.fromisoformat(fill["time"]).astimezone(UTC))
    return event


HISTORY_MARGIN_S = 60  # a venue's clock may be behind ours: its trades are read from this long before the send


async def order_fills(venue, row: FollowerOrderRow, before: Decimal) -> list[Fill] | None:
    """The copy's fills past the first `before` of its filled quantity, from its venue's trade
    history (the venue's trade ids, fees and times), oldest first; None when the history does not
    show all that filled (not yet, or the venue lists trades without the order)."""
    since = aware(row.send_time or row.ack_time or datetime.now(UTC))
    trades = sorted((t for t in await venue.trades(row.symbol, since - timedelta(seconds=HISTORY_MARGIN_S))
                     if (row.venue_order_id and t.venue_order_id == row.venue_order_id)
                     or t.client_order_id == row.order_id), key=lambda t: (t.timestamp, t.venue_trade_id))
    total, new = Decimal(0), []
    for trade in trades:
        if total >= before:
            new.append(trade)
        total += trade.quantity
    return new if new and total >= row.filled_quantity else None


def reduction(decision: risk_pb.ReserveOrderResponse, sized: Decimal) -> dict:
    """A reduced copy's record of why (a Refusal's fields): risk's limit and numbers, and the
    quantity sized before and approved after."""
    refusal = decision.refusal
    return {"reason": refusal.reason or "REDUCED_BY_RISK", "domain": refusal.domain, "message": refusal.message,
            "metadata": {**refusal.metadata, "sized_quantity": str(sized),
                         "approved_quantity": decision.approved_quantity}}


def _column_values(row: FollowerOrderRow) -> dict:
    """A new copy's row as column values, defaults filled in on the row too (so the row, made
    detached after the insert, has every column loaded)."""
    values, loaded = {}, row.__dict__  # read as stored: a thousand rows' instrumented getattrs add up
    for column in _COLUMNS:
        value = loaded.get(column.key)
        if value is None and column.default is not None and column.default.is_scalar:
            value = column.default.arg
        if column.key not in loaded or loaded[column.key] is not value:
            setattr(row, column.key, value)  # an attribute never set would read as expired when detached
        values[column.key] = value
    return values


_COLUMNS = tuple(FollowerOrderRow.__table__.columns)


def _rests(row: FollowerOrderRow) -> bool:
    """A resting copy still at the venue: its exposure is committed when it is done."""
    return row.order_type not in (None, trading_pb2.ORDER_TYPE_MARKET) and row.status in RESTING


def _describe(exc: BaseException) -> str:
    return exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)


def _as_venue_error(exc: BaseException, context: str) -> VenueError:
    if isinstance(exc, VenueError):
        return VenueError(exc.kind, f"{context}: {exc.message}", exc.retry_after)
    return VenueError(ErrorKind.PLATFORM, f"{context}: {_describe(exc)}")


def mirrors_resting_orders(session: CopySessionRow) -> bool:
    """Whether the session mirrors any of the master's resting orders (limits, or stops and
    take-profits): then a master fill its resting copy covers is not copied again."""
    settings = session.settings  # the settings' proto JSON
    return bool(settings.get("mirror_resting_orders") or settings.get("mirror_stop_orders"))


def venue_key(venue, session: CopySessionRow) -> str:
    """Market data is the same for every account on one venue and market (ccxt venues say which);
    otherwise it is kept per follower account."""
    exchange, market = getattr(venue, "exchange_id", None), getattr(venue, "market_type", None)
    return f"{exchange}:{market}" if exchange and market else session.follower_account_id
