"""Master fills in: stored once (idempotent by venue trade id) and published to JetStream with
Nats-Msg-Id = fill id, from the signal API or from a watcher on the master's own fill stream.
The table is the outbox: a stored fill is published until JetStream acknowledges it, so a NATS
restart (or a crash between the store and the publish) loses none."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from opentelemetry.trace import SpanKind
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.type.v1 import trading_pb2
from services.kit import fillsign, tracing
from services.kit.bus import Bus
from services.kit.db import Database, aware, retry_transient
from services.replication import join
from services.replication.orders import ORDER_TYPE_VALUES
from services.replication.store import (MasterFeedRow, MasterFillRow, MasterOrderRow, MasterPositionRow,
                                        VenueAccountRow)
from services.replication.venue_pool import VenuePool
from services.replication.venues.base import Fill, FillCursor, OrderState

log = logging.getLogger("copytrade.replication.fills")
SIDES = {"buy": trading_pb2.SIDE_BUY, "sell": trading_pb2.SIDE_SELL}


def fill_subject(master_account_id: str) -> str:
    return f"fills.master.filled.{master_account_id}"


def order_subject(master_account_id: str) -> str:
    return f"fills.master.order.{master_account_id}"


def order_change(previous: MasterOrderRow | None, state: OrderState) -> int | None:
    """What a master order update means for its resting copies: opened, amended, canceled, or
    nothing (a fill, a repeat, an order that never rested, a stop that fired). Limit, stop,
    stop-limit and take-profit orders rest; a triggered stop's own order (placed by its trigger,
    as Binance's Algo Service does) is not a new one."""
    if (state.order_type or "").lower() not in ORDER_TYPE_VALUES.keys() - {"market"}:
        return None
    if previous is None:
        resting = state.is_open and not state.triggered and (
            state.filled_quantity < state.quantity or (state.close_position and state.filled_quantity == 0))
        return events.MASTER_ORDER_CHANGE_OPENED if resting else None
    if not previous.open:
        return None
    if state.status in ("canceled", "expired", "rejected"):
        return events.MASTER_ORDER_CHANGE_CANCELED
    if state.is_open and not state.triggered and (
            state.quantity != previous.quantity or (state.price is not None and state.price != previous.price)
            or (state.trigger_price is not None and state.trigger_price != previous.trigger_price)):
        return events.MASTER_ORDER_CHANGE_AMENDED
    return None


async def record_order_change(db: Database, bus: Bus, account: VenueAccountRow, state: OrderState,
                              master_equity: Decimal | None = None) -> events.MasterOrderChanged | None:
    """Store the master order as now seen and, when it opened, changed or was canceled, publish
    that change (Nats-Msg-Id = change id: a republish after a crash is a no-op). A bracket
    child names its parent by the parent's client order id; it is stored as the parent's
    master order id."""
    key = f"{account.account_id}:{state.venue_order_id}"
    async with db.session() as session:
        # An order never stored that does not rest now (a market order: every master fill's own
        # updates) has nothing to store: told by one read, with no lock taken.
        row = await session.get(MasterOrderRow, key)
        if row is None and order_change(None, state) is None:
            return None
        await db.serialise(session, f"master-order:{key}")
        row = await session.get(MasterOrderRow, key, populate_existing=True)  # as it is under the lock
        change = order_change(row, state)
        now = datetime.now(UTC)
        if row is None and change is None:
            return None
        if row is None:
            row = MasterOrderRow(master_order_id=key, master_account_id=account.account_id, symbol=state.symbol,
                                 side=SIDES[state.side], version=0,
                                 order_type=ORDER_TYPE_VALUES[(state.order_type or "limit").lower()],
                                 client_order_id=state.client_order_id or None,
                                 oco_group=f"{account.account_id}:{state.oco_group}" if state.oco_group else None,
                                 reduce_only=state.reduce_only, close_position=state.close_position)
            if state.parent_id:  # known by the client order id the venue named it by, else its venue id
                row.parent_order_id = (await session.execute(select(MasterOrderRow.master_order_id).where(
                    MasterOrderRow.master_account_id == account.account_id,
                    MasterOrderRow.client_order_id == state.parent_id))).scalars().first() or \
                    f"{account.account_id}:{state.parent_id}"
            session.add(row)
        row.quantity, row.filled_quantity = state.quantity, state.filled_quantity
        row.price = state.price if state.price is not None else (row.price if row.price is not None else Decimal(0))
        row.trigger_price = state.trigger_price if state.trigger_price is not None else row.trigger_price
        row.open, row.update_time = state.is_open, now
        if change is None:
            return None
        row.version += 1
        position = await session.get(MasterPositionRow, (account.account_id, state.symbol))
        event = events.MasterOrderChanged(
            change_id=f"{key.replace(':', ':order:', 1)}:{row.version}", master_order_id=key,
            master_account_id=account.account_id, master_id=account.user_id,
            venue=trading_pb2.Venue(kind=account.venue_kind, id=account.venue_id, market_type=account.market_type),
            venue_order_id=state.venue_order_id, client_order_id=state.client_order_id, change=change,
            version=row.version, symbol=state.symbol, side=SIDES[state.side], quantity=str(state.quantity),
            price=str(row.price), filled_quantity=str(state.filled_quantity),
            position=str(position.quantity if position else Decimal(0)),
            master_equity=str(master_equity) if master_equity is not None else "",
            order_type=row.order_type, trigger_price=str(row.trigger_price) if row.trigger_price is not None else "",
            oco_group=row.oco_group or "", parent_master_order_id=row.parent_order_id or "",
            reduce_only=row.reduce_only, close_position=row.close_position)
        event.change_time.FromDatetime(now)
        # Published before the change is committed: if NATS is away the change is not stored
        # either, so the next update of the order finds it again (same change id: no double).
        await bus.publish(order_subject(account.account_id), event, msg_id=event.change_id)
    return event


def master_fill(account: VenueAccountRow, fill: Fill) -> events.MasterFill:
    event = events.MasterFill(
        fill_id=f"{account.account_id}:{fill.venue_trade_id}", master_account_id=account.account_id,
        master_id=account.user_id,
        venue=trading_pb2.Venue(kind=account.venue_kind, id=account.venue_id, market_type=account.market_type),
        venue_trade_id=fill.venue_trade_id, venue_order_id=fill.venue_order_id, client_order_id=fill.client_order_id,
        symbol=fill.symbol, side=SIDES[fill.side], quantity=str(fill.quantity), price=str(fill.price),
        fee=str(fill.fee), fee_currency=fill.fee_currency, order_type=trading_pb2.ORDER_TYPE_MARKET,
        backfilled=fill.backfilled)
    event.execute_time.FromDatetime(fill.timestamp)
    event.receive_time.FromDatetime(datetime.now(UTC))
    return event


async def record(db: Database, event: events.MasterFill) -> tuple[events.MasterFill, bool, bool]:
    """Store the fill unless it is known, moving the master's position in the same transaction
    (the fill carries the position before it). Returns the fill as stored, whether this call
    stored it, and whether JetStream already has it."""
    return (await record_all(db, [event]))[0]


async def record_all(db: Database, fills: list[events.MasterFill]) -> list[tuple[events.MasterFill, bool, bool]]:
    """record() for fills in the order they happened (a watcher's burst), in one transaction:
    one lock per position moved (its row's), one insert. Their record times rise in that order
    (the copier copies unhandled fills by it). One stored before (a replay) fails the insert:
    then each is stored or found on its own."""
    try:
        async with db.session() as session:
            keys = sorted({(f.master_account_id, f.symbol) for f in fills})
            # Each position moved is locked by its row, read in the same statement; one not there
            # yet (the first fill of a symbol) by its name, then read again. Rows first, names
            # after, each in key order: two writers never wait on each other in a circle.
            positions = {key: await session.get(MasterPositionRow, key, with_for_update=db.is_postgres)
                         for key in keys}
            missing = [key for key, row in positions.items() if row is None]
            if missing:
                await db.serialise_all(session, [f"master-position:{account}:{symbol}" for account, symbol in missing])
                positions.update({key: await session.get(MasterPositionRow, key, populate_existing=True,
                                                         with_for_update=db.is_postgres)
                                  for key in missing})  # another writer's since: its row is locked too
            known: dict[str, MasterFillRow] = {}  # one named twice in a burst is stored once
            moved: dict[tuple[str, str], tuple[Decimal, Decimal | None]] = {
                key: (row.quantity, row.entry_price) for key, row in positions.items() if row is not None}
            now = datetime.now(UTC)
            results: list[tuple[events.MasterFill, bool, bool]] = []
            for i, event in enumerate(fills):
                if event.fill_id in known:
                    row = known[event.fill_id]
                    results.append((events.MasterFill.FromString(row.payload), False, row.published))
                    continue
                key = (event.master_account_id, event.symbol)
                before, entry_before = moved.get(key, (Decimal(0), None))
                quantity = Decimal(event.quantity)
                signed = quantity if event.side == trading_pb2.SIDE_BUY else -quantity
                # The average entry of what is open, for a session joining the position (join.py).
                moved[key] = (before + signed, join.entry_after(before, entry_before, signed, Decimal(event.price)))
                event.position_before = str(before)
                row = MasterFillRow(fill_id=event.fill_id, master_account_id=event.master_account_id,
                                    payload=event.SerializeToString(),
                                    execute_time=event.execute_time.ToDatetime(tzinfo=UTC),
                                    published=False, handled=False, record_time=now + timedelta(microseconds=i),
                                    venue_order_id=event.venue_order_id or None, quantity=quantity)
                session.add(row)
                known[event.fill_id] = row
                results.append((event, True, False))
            for (account, symbol), (quantity, entry) in moved.items():
                if any(created and (f.master_account_id, f.symbol) == (account, symbol) for f, created, _ in results):
                    await session.merge(MasterPositionRow(master_account_id=account, symbol=symbol, quantity=quantity,
                                                          entry_price=entry, update_time=now))
        return results
    except IntegrityError:  # another writer stored one of them meanwhile: one by one, each found or stored
        if len(fills) == 1:
            async with db.session() as session:
                row = await session.get(MasterFillRow, fills[0].fill_id)
            return [(events.MasterFill.FromString(row.payload), False, row.published)]
        return [(await record_all(db, [fill]))[0] for fill in fills]


class StoredFills:
    """The payloads of the fills this process stored last, by fill id: the copier checks a fill
    from the bus against these without a database read (one stored by another replica, or
    before a restart, is read from the database)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._payloads: OrderedDict[str, bytes] = OrderedDict()

    def note(self, event: events.MasterFill) -> None:
        self._payloads[event.fill_id] = event.SerializeToString()
        self._payloads.move_to_end(event.fill_id)
        while len(self._payloads) > self.size:
            self._payloads.popitem(last=False)

    def payload(self, fill_id: str) -> bytes | None:
        return self._payloads.get(fill_id)


async def record_and_publish(db: Database, outbox: "FillOutbox", event: events.MasterFill
                             ) -> tuple[events.MasterFill, bool]:
    """Store, then hand to the outbox, which publishes it now or, if NATS is away, as soon as it
    is back: a stored fill is a fill that will be copied."""
    return (await record_and_publish_all(db, outbox, [event]))[0]


async def record_and_publish_all(db: Database, outbox: "FillOutbox", fills: list[events.MasterFill]
                                 ) -> list[tuple[events.MasterFill, bool]]:
    """record_and_publish() for fills in the order they happened, stored together, published in
    that order."""
    stored = await record_all(db, fills)
    for event, _, _ in stored:
        outbox.stored.note(event)  # as stored: what the copier will find on the bus
    for event, _, published in stored:
        if not published:
            await outbox.publish(event)
    return [(event, created) for event, created, _ in stored]


class FillOutbox:
    """Master fills are stored before they are published (master_fills.published is the outbox
    flag). A fill goes out at once when NATS is there; otherwise, and whenever a publish was not
    acknowledged, the sweeper publishes what is stored and unpublished, in the order it was
    stored, until JetStream has it. A fill stored by a replica that died before publishing is
    swept too, once it is `orphan_after_s` old. Nats-Msg-Id = fill id makes any overlap a no-op.
    """

    def __init__(self, db: Database, bus: Bus, signer: fillsign.Signer, *, poll_s: float = 0.5,
                 orphan_after_s: float = 5.0, publish_timeout_s: float = 2.0, batch: int = 500,
                 stored: StoredFills | None = None) -> None:
        self.db, self.bus = db, bus
        self.signer = signer  # every fill published, or republished, carries replication's signature
        self.stored = stored if stored is not None else StoredFills()  # fills stored here, for the copier
        self.poll_s, self.orphan_after_s, self.publish_timeout_s, self.batch = (
            poll_s, orphan_after_s, publish_timeout_s, batch)
        self._acked: set[str] = set()  # acknowledged by JetStream, not yet marked in the table
        self._behind = False  # fills wait in the table: new ones queue behind them (order kept)
        self._deferred = 0  # fills handed to the sweeper, to know when it has caught up
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.republished = 0  # fills the sweeper published (for tests and metrics)

    def start(self) -> "FillOutbox":
        self._task = asyncio.create_task(self._run(), name="fill-outbox")
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self._mark_acked()
        except Exception:  # noqa: BLE001 - left unpublished: the next start republishes (a no-op)
            pass

    async def publish(self, event: events.MasterFill) -> None:
        if not self._behind and self.bus.nc.is_connected:
            try:
                await self.bus.publish(fill_subject(event.master_account_id), event, msg_id=event.fill_id,
                                       timeout=self.publish_timeout_s, signer=self.signer)
                self._acked.add(event.fill_id)
                return
            except Exception as exc:  # noqa: BLE001 - NATS went away mid-publish: stored, so swept
                log.warning("fill %s not acknowledged by JetStream (%s); the outbox publishes it",
                            event.fill_id, exc)
        self._behind = True
        self._deferred += 1
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database or NATS away: next round
                log.warning("fill outbox: sweep failed (%s); retrying", exc)
                await asyncio.sleep(self.poll_s)

    async def sweep(self) -> None:
        """Mark what was acknowledged, then publish what is stored and not yet published."""
        await self._mark_acked()
        while True:
            deferred = self._deferred
            query = select(MasterFillRow.fill_id, MasterFillRow.payload).where(
                MasterFillRow.published.is_(False))
            if not self._behind:  # only another replica's (or a previous run's) leftovers
                query = query.where(MasterFillRow.record_time < datetime.now(UTC) - timedelta(
                    seconds=self.orphan_after_s))
            async with self.db.session() as session:
                rows = (await session.execute(query.order_by(MasterFillRow.record_time, MasterFillRow.fill_id)
                                              .limit(self.batch))).all()
            rows = [r for r in rows if r.fill_id not in self._acked]
            if not rows and deferred == self._deferred:
                self._behind = False  # caught up: new fills go straight out again
                return
            if not self.bus.nc.is_connected:
                return  # the next round, once NATS is back
            for fill_id, payload in rows:
                event = events.MasterFill.FromString(payload)
                await self.bus.publish(fill_subject(event.master_account_id), event, msg_id=fill_id,
                                       timeout=self.publish_timeout_s, signer=self.signer)
                self._acked.add(fill_id)
                self.republished += 1
            await self._mark_acked()

    async def _mark_acked(self) -> None:
        if not self._acked:
            return
        done = list(self._acked)
        async with self.db.session() as session:
            await session.execute(update(MasterFillRow).where(MasterFillRow.fill_id.in_(done))
                                  .values(published=True))
        self._acked.difference_update(done)


def cursor_to_json(cursor: FillCursor) -> dict:
    return {symbol: [trade_id, at.isoformat()] for symbol, (trade_id, at) in cursor.last.items()}


def cursor_from_json(start: datetime, raw: dict | None) -> FillCursor:
    return FillCursor(start=start, last={symbol: (str(trade_id), aware(datetime.fromisoformat(at)))
                                         for symbol, (trade_id, at) in (raw or {}).items()})


async def load_cursor(db: Database, account: VenueAccountRow) -> FillCursor:
    """Where the account's fill history resumes: its feed's cursor from when it was created; an
    account watched before feeds had cursors resumes from its newest recorded fill."""
    async with db.session() as session:
        row = await session.get(MasterFeedRow, account.account_id)
        start = aware(account.create_time)
        if row is None:
            newest = (await session.execute(select(func.max(MasterFillRow.execute_time)).where(
                MasterFillRow.master_account_id == account.account_id))).scalar()
            start = max(start, aware(newest)) if newest is not None else start
    return cursor_from_json(start, row.cursor if row else None)


async def update_feed(db: Database, account_id: str, change: Callable[[MasterFeedRow], None], *,
                      create: bool = True) -> None:
    """Change the account's master_feeds row (made first when missing, if `create`)."""
    for attempt in range(2):
        try:
            async with db.session() as session:
                row = await session.get(MasterFeedRow, account_id)
                if row is None:
                    if not create:
                        return
                    row = MasterFeedRow(master_account_id=account_id, cursor={}, stream_lost_time=None)
                    session.add(row)
                change(row)
                row.update_time = datetime.now(UTC)
            return
        except IntegrityError:  # made meanwhile by the other writer (the cursor, the outage record)
            if attempt:
                raise


async def save_cursor(db: Database, account_id: str, cursor: FillCursor) -> None:
    def change(row: MasterFeedRow) -> None:
        row.cursor = cursor_to_json(cursor)
    await update_feed(db, account_id, change)


class MasterWatchers:
    """A task per watched master account this replica owns (`owns`, by lease: one replica per
    account), following the venue's own fill stream. A watcher that starts reads the venue's
    history from the account's cursor first (the venue adapter does, before trusting the
    stream); the cursor moves on with each fill recorded and is written behind, at most
    `cursor_flush_s` later (a cursor that lags only reads a fill again, which is dropped)."""

    def __init__(self, db: Database, outbox: FillOutbox, pool: VenuePool, rescan_s: float = 1.0,
                 equity_refresh_s: float = 5.0,
                 on_stream: Callable[[str], Callable[[str, bool], None]] | None = None,
                 owns: Callable[[str], bool] | None = None, on_stop: Callable[[str], object] | None = None,
                 cursor_flush_s: float = 0.5) -> None:
        self.db, self.outbox, self.pool, self.rescan_s = db, outbox, pool, rescan_s
        self.equity_refresh_s, self.cursor_flush_s = equity_refresh_s, cursor_flush_s
        self.on_stream = on_stream  # master account id → its stream listener (feed outages)
        self.owns = owns or (lambda account_id: True)
        self.on_stop = on_stop  # a watcher stopped here (another replica may take it)
        self._tasks: dict[str, asyncio.Task] = {}
        self._scanner: asyncio.Task | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._scanner = asyncio.create_task(self._scan_forever())

    def wake(self) -> None:
        """Look again now (ownership changed)."""
        self._wake.set()

    @property
    def watching(self) -> set[str]:
        return {account_id for account_id, task in self._tasks.items() if not task.done()}

    async def _scan_forever(self) -> None:
        while True:
            try:
                async with self.db.session() as session:
                    accounts = (await session.execute(select(VenueAccountRow).where(
                        VenueAccountRow.watch_fills.is_(True)))).scalars().all()
                mine = [a for a in accounts if self.owns(a.account_id)]
                for account in mine:
                    task = self._tasks.get(account.account_id)
                    if task is None or task.done():
                        self._tasks[account.account_id] = asyncio.create_task(self._watch(account))
                for gone in set(self._tasks) - {a.account_id for a in mine}:  # deleted, unwatched, or not ours
                    await self._stop_watching(gone)
            except Exception:  # noqa: BLE001 - keep scanning; the database may be restarting
                log.exception("scanning master accounts failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.rescan_s)

    async def _stop_watching(self, account_id: str) -> None:
        task = self._tasks.pop(account_id)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self.on_stop is not None:
            self.on_stop(account_id)
        # The connection goes too: the replica taking over may need the same API client (IB).
        await self.pool.evict(account_id)

    async def _watch(self, account: VenueAccountRow) -> None:
        equity: list[Decimal] = []  # the latest reading, for equity-proportional followers
        refresher = orders = flusher = None
        try:
            venue = await self.pool.get(account)
            if self.on_stream:
                venue.add_stream_listener("outages", self.on_stream(account.account_id))
            cursor = await retry_transient(lambda: load_cursor(self.db, account),
                                           f"reading the fill cursor of {account.account_id}")
            feed = _Feed(cursor)
            log.info("watching master account %s from %s", account.account_id, cursor.since().isoformat())
            flusher = asyncio.create_task(self._flush_cursor(account.account_id, feed))
            await self._read_equity(venue, account, equity)
            refresher = asyncio.create_task(self._follow_equity(venue, account, equity))
            orders = asyncio.create_task(self._follow_orders(venue, account, equity))
            async for burst in _bursts(venue.fills(since=cursor), BURST_FILLS):
                fills = [master_fill(account, fill) for fill in burst]
                for event in fills:
                    if equity:
                        event.master_equity = str(equity[0])
                # The stream will not hand these fills over again: hold them until the database
                # takes them (a restart of the database costs time, not the fills).
                with tracing.span("master fill", kind=SpanKind.CONSUMER,  # where a watched fill's trace starts
                                  attributes={"copytrade.master_account_id": account.account_id,
                                              "copytrade.fills": len(fills)}):
                    await retry_transient(lambda: record_and_publish_all(self.db, self.outbox, fills),
                                          f"recording master fill {fills[0].fill_id}"
                                          + (f" and {len(fills) - 1} after it" if len(fills) > 1 else ""))
                for fill in burst:
                    feed.advance(fill)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the scanner starts a new watcher
            log.exception("watcher for master account %s stopped", account.account_id)
        finally:
            for task in (refresher, orders, flusher):
                if task:
                    task.cancel()
            if flusher is not None:
                await asyncio.gather(flusher, return_exceptions=True)
                with contextlib.suppress(Exception):  # what was recorded last; else read again next time
                    await asyncio.shield(self._save(account.account_id, feed))

    async def _flush_cursor(self, account_id: str, feed: "_Feed") -> None:
        while True:
            await feed.changed.wait()
            await asyncio.sleep(self.cursor_flush_s)  # one write for a burst of fills
            try:
                await self._save(account_id, feed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database away: the next fill tries again
                log.warning("fill cursor of %s not saved (%s)", account_id, exc)

    async def _save(self, account_id: str, feed: "_Feed") -> None:
        if not feed.changed.is_set():
            return
        feed.changed.clear()
        cursor = feed.cursor
        try:
            await save_cursor(self.db, account_id, cursor)
        except BaseException:
            feed.changed.set()
            raise

    async def _follow_orders(self, venue, account: VenueAccountRow, equity: list[Decimal]) -> None:
        """The master's resting orders, for followers who mirror them."""
        while True:
            try:
                async for state in venue.order_updates():
                    await record_order_change(self.db, self.outbox.bus, account, state, equity[0] if equity else None)
                return  # the venue was closed
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database or bus hiccup: follow on
                log.exception("following orders of master account %s failed", account.account_id)
                await asyncio.sleep(1.0)


    async def _follow_equity(self, venue, account: VenueAccountRow, equity: list[Decimal]) -> None:
        # Off the fill path: a fill never waits for a balance request.
        while True:
            await asyncio.sleep(self.equity_refresh_s)
            await self._read_equity(venue, account, equity)

    @staticmethod
    async def _read_equity(venue, account: VenueAccountRow, equity: list[Decimal]) -> None:
        try:
            equity[:] = [(await venue.account()).equity]
        except Exception:  # noqa: BLE001 - keep the last reading; the venue may be briefly away
            log.warning("equity of master account %s unavailable", account.account_id)

    async def stop(self) -> None:
        for task in [self._scanner, *self._tasks.values()]:
            if task:
                task.cancel()
        await asyncio.gather(*(t for t in [self._scanner, *self._tasks.values()] if t), return_exceptions=True)


BURST_FILLS = 100  # a watcher's fills stored in one transaction at the most


async def _bursts(fills: AsyncIterator[Fill], most: int) -> AsyncIterator[list[Fill]]:
    """The fills of a stream, each time with those that came while the last were stored (a
    burst's, up to `most`): read ahead by a task of their own, in order."""
    queue: asyncio.Queue = asyncio.Queue()
    done = object()

    async def read() -> None:
        try:
            async for fill in fills:
                queue.put_nowait(fill)
        except BaseException as exc:  # noqa: BLE001 - told to the reader, in turn
            queue.put_nowait(exc)
            return
        queue.put_nowait(done)
    reader = asyncio.create_task(read())
    try:
        while True:
            items = [await queue.get()]
            while len(items) < most and not queue.empty():
                items.append(queue.get_nowait())
            burst = [item for item in items if isinstance(item, Fill)]
            if burst:
                yield burst
            for item in items:
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


class _Feed:
    """A watcher's cursor as fills are recorded, and whether it moved since it was last saved."""

    def __init__(self, cursor: FillCursor) -> None:
        self.cursor = cursor
        self.changed = asyncio.Event()

    def advance(self, fill: Fill) -> None:
        moved = self.cursor.after(fill)
        if moved is not self.cursor:
            self.cursor = moved
            self.changed.set()
