"""Copies out: for each master fill and each session on that master account, size the copy,
reserve it with risk, place it on the follower's venue under a client order id derived from
(master fill, follower account), record it and publish what happened. A redelivered fill, or
a worker that died after sending, never makes a second order: a copy already sent is looked up
at the venue by its client order id before anything is sent again."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime
from decimal import Decimal

import grpc
from sqlalchemy import select, update

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import metrics, tracing
from services.kit.bus import Bus, Delivery
from services.kit.db import Database, aware
from services.replication import (budget, copy_settings, isolation, master_stops, recovery, sizing, symbol_map,
                                  trading_hours)
from services.replication.client_order_id import client_order_id
from services.replication.orders import order_request, order_to_proto
from services.replication.error_book import Attempt, ErrorBook
from services.replication.market_data import PERIODS_PER_YEAR, MarketData
from services.replication.store import (CopySessionRow, FollowerOrderRow, MasterFillRow, MasterPositionRow,
                                        VenueAccountRow)
from services.replication.venue_pool import VenuePool
from services.replication.venues.base import ErrorKind, Instrument, VenueError

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
HOLD_S = 60.0  # how long a fill whose copying fails is retried in place before JetStream has it back


class Copier:
    def __init__(self, db: Database, bus: Bus, pool: VenuePool, risk: RiskServiceStub, error_book: ErrorBook) -> None:
        self.db, self.bus, self.pool, self.risk, self.error_book = db, bus, pool, risk, error_book
        self.market = MarketData()
        self.clock = lambda: datetime.now(UTC)  # what the trading-hours check reads (tests pin it)
        self._venue_ids: dict[str, str] = {}  # follower account → venue id, for metrics labels
        self._follower_locks: dict[str, asyncio.Lock] = {}
        self._accounts: dict[str, VenueAccountRow] = {}  # master accounts, for their venue and market

    @staticmethod
    def lane(delivery: Delivery) -> str:
        """The bus lane of a fill: its master account (the subject's key). Masters are copied
        concurrently, each master's fills in order."""
        return delivery.subject

    async def handle(self, delivery: Delivery) -> None:
        """Copy one master fill to every session, before the next fill. A failure here is the
        database or risk being away (venue failures are recorded and retried per copy, and a
        copy no retry can make is refused alone): it is retried in place, not handed back to
        JetStream at once, which would let the next fill (a close after this open) overtake
        it. Only past HOLD_S, or for an error no retry mends, does the fill go back."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + HOLD_S, 0.1
        while True:
            try:
                return await self._handle(delivery)
            except Exception as exc:  # noqa: BLE001 - re-raised past the deadline
                task = asyncio.current_task()
                # Shutting down: a call cut short by it (a closed channel) is no reason to hold on.
                if loop.time() + delay > deadline or self.bus.closing or (task is not None and task.cancelling()) \
                        or isolation.non_transient(exc) is not None:
                    raise
                log.warning("copying fill %s failed (%s: %s); trying again in %.1fs", delivery.msg_id,
                            type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "", delay)
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
                if delivery.working is not None:
                    try:
                        await delivery.working()  # still ours: JetStream waits instead of redelivering
                    except Exception:  # noqa: BLE001 - NATS away too: it may redeliver; copies are idempotent
                        pass

    async def _handle(self, delivery: Delivery) -> None:
        fill = await self._verified(delivery)
        if fill is None:
            return
        async with self.db.session() as lock:
            # One master's fills are copied one at a time across replicas (on PostgreSQL; SQLite
            # runs one process), so the check for fills overtaken below sees none in the works.
            await self.db.serialise(lock, f"copying-master:{fill.master_account_id}")
            await self._copy_in_order(fill)

    async def _verified(self, delivery: Delivery) -> events.MasterFill | None:
        """The fill, when it is one replication stored with this very payload; anything else on
        the bus (forged, tampered, another type) is refused, not copied, and raises an alert
        (fills.master.rejected.<account>, kept in the FILLS stream)."""
        event, stored = delivery.event, None
        if isinstance(event, events.MasterFill):
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

    async def _copy_in_order(self, fill: events.MasterFill) -> None:
        received = datetime.now(UTC)
        async with self.db.session() as session:
            sessions = (await session.execute(select(CopySessionRow).where(
                CopySessionRow.master_account_id == fill.master_account_id,
                CopySessionRow.state.in_([pb.SESSION_STATE_ACTIVE, pb.SESSION_STATE_PAUSED,
                                          pb.SESSION_STATE_FROZEN])))).scalars().all()
            # JetStream does not keep order across a redelivery: a fill lost in flight when NATS
            # restarted comes back after its ack wait, behind later fills. Earlier fills of this
            # master not yet copied are copied first, so a close never overtakes its open.
            stored_at = select(MasterFillRow.record_time).where(
                MasterFillRow.fill_id == fill.fill_id).scalar_subquery()
            uncopied = (await session.execute(select(MasterFillRow.fill_id, MasterFillRow.payload).where(
                MasterFillRow.master_account_id == fill.master_account_id, MasterFillRow.handled.is_(False),
                MasterFillRow.record_time <= stored_at).order_by(MasterFillRow.record_time, MasterFillRow.fill_id)
                .limit(OVERTAKEN_LIMIT))).all()
            # The followers' accounts, read once for the fill rather than once per copy.
            accounts = {account.account_id: account for account in (await session.execute(
                select(VenueAccountRow).where(VenueAccountRow.account_id.in_(
                    {s.follower_account_id for s in sessions})))).scalars()} if sessions else {}
        for fill_id, payload in uncopied:
            if fill_id != fill.fill_id:
                await self._copy_fill(events.MasterFill.FromString(payload), sessions, accounts, received, mark=True)
        # Only a fill stored here and not yet marked needs marking (a redelivery, or a fill
        # another deployment stored, does not).
        await self._copy_fill(fill, sessions, accounts, received,
                              mark=any(fill_id == fill.fill_id for fill_id, _ in uncopied))

    async def _copy_fill(self, fill: events.MasterFill, sessions: list[CopySessionRow],
                         accounts: dict[str, VenueAccountRow], received: datetime, *, mark: bool) -> None:
        # Copies made before (a redelivery, a fill copied first by a later one), in one read. A
        # second worker copying the same fill meanwhile is stopped by the copy's primary key.
        ids = {s.config_id: client_order_id(fill.fill_id, s.follower_account_id) for s in sessions}
        existing: dict[str, FollowerOrderRow] = {}
        if sessions:
            async with self.db.session() as db_session:
                existing = {row.order_id: row for row in (await db_session.execute(
                    select(FollowerOrderRow).where(FollowerOrderRow.order_id.in_(ids.values())))).scalars()}
        results = await asyncio.gather(*(
            self._copy_locked(fill, s, accounts.get(s.follower_account_id), existing.get(ids[s.config_id]), received)
            for s in sessions), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]  # tried again; copies already made are skipped by their id
        if mark:
            async with self.db.session() as session:
                await session.execute(update(MasterFillRow).where(MasterFillRow.fill_id == fill.fill_id)
                                      .values(handled=True))

    async def _copy_locked(self, fill: events.MasterFill, session: CopySessionRow, account: VenueAccountRow | None,
                           existing: FollowerOrderRow | None, received: datetime) -> None:
        # One follower's copies are made one at a time, in the order the fills arrive.
        async with self.follower_lock(session.follower_account_id):
            with tracing.span("copy", attributes={"copytrade.config_id": session.config_id}):
                await self.copy_alone(fill, session, account, existing, received)

    async def copy_alone(self, fill: events.MasterFill, session: CopySessionRow, account: VenueAccountRow | None,
                         existing: FollowerOrderRow | None, received: datetime) -> None:
        """copy(), except that a copy no retry can make (poison input stored before the edges
        checked it, an error saying the input is wrong) is refused at once with its reason,
        alone, instead of failing the fill for every session and holding it."""
        # A copy sent before is asked about at its venue first, whatever its inputs.
        refusal = isolation.before_copy(fill, session, account) if existing is None else None
        if refusal is None:
            try:
                return await self.copy(fill, session, account, existing, received)
            except Exception as exc:
                refusal = isolation.non_transient(exc)
                if refusal is None:
                    raise  # the fill is tried again; copies already made are skipped by their id
                log.warning("copy of fill %s for session %s cannot be made (%s: %s): refused", fill.fill_id,
                            session.config_id, type(exc).__name__, str(exc)[:200])
        await self._refuse_alone(fill, session, account, received, refusal)

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

    async def copy(self, fill: events.MasterFill, session: CopySessionRow, account: VenueAccountRow | None,
                   existing: FollowerOrderRow | None, received: datetime) -> None:
        """Copy fill for one session to its follower account, given the copy made before, if any."""
        cid = client_order_id(fill.fill_id, session.follower_account_id)
        if existing is not None and existing.status in HANDED_OVER:
            return
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
                return await self._placed(row, state.venue_order_id, state.filled_quantity, state.average_price,
                                          state.status)
        trade = sizing.MasterTrade(fill.symbol, SIDE_NAMES[fill.side], Decimal(fill.quantity), Decimal(fill.price))
        if mirrors_resting_orders(session) and await self.resting_copy_covers(session, fill):
            return  # the follower's resting copy of that master order fills at its own venue
        try:
            sized, instrument, equity, price = await self.size(
                session, account, venue, trade, master_account_id=fill.master_account_id,
                master_equity=Decimal(fill.master_equity or 0), position_before=Decimal(fill.position_before or 0))
        except VenueError as exc:
            return await self._give_up_for_now(row, account, exc)
        if sized.refused:
            return await self.refuse(row, sized.reason, sized.message, sized.metadata)
        spot = account.market_type == trading_pb2.MARKET_TYPE_SPOT
        row.symbol, row.side, row.quantity = sized.symbol, SIDE_VALUES[sized.side], sized.quantity
        if not trading_hours.is_open(sized.symbol, now := self.clock()):  # before risk reserves anything
            return await self.refuse(row, "MARKET_CLOSED", *trading_hours.closed(sized.symbol, now))
        if session.state == pb.SESSION_STATE_FROZEN:  # recorded sized, so a resync makes it up
            return await self.refuse(row, "SESSION_FROZEN", f"copying is frozen: {session.state_reason}", {})
        attempt = await self.send(
            row, session, venue, instrument, reservation_id=cid, expected_price=price,
            reference_price=price, equity=equity, master_fill_time=fill.execute_time,
            # A pure close on a derivatives venue must never open the other way.
            reduce_only=sized.closing == sized.quantity and not spot)
        if attempt.outcome == "failed":
            await self.error_book.record(row, account.venue_id, attempt.error)

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
                   master_account_id: str, master_equity: Decimal, position_before: Decimal
                   ) -> tuple[sizing.Sized, Instrument | None, Decimal, Decimal]:
        """The follower's order for a master trade, by the session's settings: (sized, the
        follower's instrument, the follower's equity when the mode needs it, the master's price
        per follower unit). sized may be a refusal with its reason. The symbol map is the
        follower's, else found from the markets both venues publish. Raises VenueError when the
        follower's venue cannot tell."""
        settings = copy_settings.validate(copy_settings.from_json(session.settings))
        settings = await symbol_map.resolve(settings, trade.symbol, venue,
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
        equity = (await venue.account()).equity if settings.mode in ("EQUITY_PROPORTIONAL", "RISK_PERCENT") \
            else Decimal(0)
        quoted = None  # a notional buys the follower's instrument at its own price (risk values it so too)
        if settings.mode == "FIXED_NOTIONAL" and routed[0] != trade.symbol:
            quoted = price = await venue.price(instrument.symbol)
        follower_position = Decimal(0)
        if sizing.closing_fraction(position_before, trade.side, trade.quantity)[0] > 0:
            follower_position = await self._copied_position(session.config_id, instrument.symbol)
        master_stop = await master_stops.protecting_stop(self.db, master_account_id, trade.symbol, trade.side) \
            if settings.mode == "RISK_PERCENT" else None  # risk is measured to the master's own stop when it has one
        with tracing.span("copy sizing"):
            sized = sizing.size(settings, trade, instrument, follower_equity=equity, master_equity=master_equity,
                                position_before=position_before, follower_position=follower_position,
                                follower_price=quoted, master_stop=master_stop)
        spot = account.market_type == trading_pb2.MARKET_TYPE_SPOT
        if not sized.refused and sized.closing > 0 and sized.side == "sell" and spot:
            holding = (await venue.account()).balances.get(instrument.base)
            sized = sizing.within_holdings(sized, holding.free if holding else Decimal(0), instrument.lot_size)
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
            fill = events.MasterFill.FromString((await db_session.get(MasterFillRow, row.master_fill_id)).payload)
            master_position = await db_session.get(MasterPositionRow, (fill.master_account_id, fill.symbol))
        self._venue_ids[row.follower_account_id] = account.venue_id
        try:
            venue = await self.pool.get(account)
            state = await venue.fetch_order(row.order_id, row.symbol)
            if state is not None:
                await self._placed(row, state.venue_order_id, state.filled_quantity, state.average_price,
                                   state.status)
                return Attempt("placed")
            if row.reservation_id:  # the unknown attempt's reservation: that order never came to be
                await self.risk.ReleaseReservation(risk_pb.ReleaseReservationRequest(
                    reservation_id=row.reservation_id, reason="not at the venue"), timeout=5)
            reason = ""
            if session.state != pb.SESSION_STATE_ACTIVE:
                reason = f"the session is {pb.SessionState.Name(session.state).removeprefix('SESSION_STATE_').lower()}"
            price_now = await venue.price(row.symbol)
            if not reason:
                quantity = Decimal(fill.quantity)
                before = Decimal(fill.position_before or 0)
                master_side = SIDE_NAMES[fill.side]
                reason = recovery.stale_reason(
                    side=SIDE_NAMES[row.side], fill_price=Decimal(fill.price), price_now=price_now,
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
                                expected_price=price_now, reference_price=Decimal(fill.price) / ratio, equity=Decimal(0),
                                master_fill_time=fill.execute_time, reduce_only=False)

    async def send(self, row: FollowerOrderRow, session: CopySessionRow, venue, instrument, *, reservation_id: str,
                    expected_price: Decimal, reference_price: Decimal, equity: Decimal, master_fill_time,
                    reduce_only: bool) -> Attempt:
        """Reserve with risk, then place under the copy's client order id."""
        market = venue_key(venue, session)
        await self.market.ensure(venue, market, instrument.symbol)
        returns = [risk_pb.ReturnSeries(symbol=symbol, returns=series, periods_per_year=PERIODS_PER_YEAR)
                   for symbol, series in self.market.series(market).items()]
        decision = await self.risk.ReserveOrder(risk_pb.ReserveOrderRequest(
            reservation_id=reservation_id, intent=risk_pb.OrderIntent(
                follower_id=session.follower_id, master_id=session.master_id, config_id=session.config_id,
                instrument=trading_pb2.Instrument(symbol=instrument.symbol, lot_size=str(instrument.lot_size),
                                                  tick_size=str(instrument.tick_size),
                                                  contract_size=str(instrument.contract_size)),
                side=row.side, quantity=str(row.quantity), expected_price=str(expected_price),
                reference_price=str(reference_price), equity=str(equity), master_fill_time=master_fill_time,
                returns=returns)),
            timeout=5)
        row.risk_decide_time = datetime.now(UTC)
        if decision.decision not in DECISIONS:
            await self.refuse(row, decision.refusal.reason, decision.refusal.message,
                               dict(decision.refusal.metadata), domain=decision.refusal.domain)
            return Attempt("refused", reason=decision.refusal.reason)
        row.quantity = Decimal(decision.approved_quantity)
        row.send_time, row.reservation_id, row.status = datetime.now(UTC), reservation_id, S.FOLLOWER_ORDER_STATUS_PENDING
        await self._save(row)  # PENDING before sending: a crash from here on is resolved by asking
        try:
            with budget.measure() as waited:  # the venue's request budget may hold the order back
                state = await venue.place_order(order_request(row, venue, reduce_only=reduce_only))
        except VenueError as exc:
            row.budget_delay_ms = round(waited[0] * 1000)
            unknown = exc.kind == ErrorKind.UNKNOWN_OUTCOME
            if not unknown:  # surely not executed: give the exposure back
                await self.risk.ReleaseReservation(risk_pb.ReleaseReservationRequest(
                    reservation_id=reservation_id, reason=exc.kind.value), timeout=5)
            await self.fail(row, exc.kind.value, exc.message, unknown=unknown)
            return Attempt("failed", error=exc)
        row.budget_delay_ms = round(waited[0] * 1000)
        await self._placed(row, state.venue_order_id, state.filled_quantity, state.average_price, state.status)
        return Attempt("placed")

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
        master = self._accounts.get(master_account_id)
        if master is None:  # an account's venue and market never change: read once
            async with self.db.session() as db_session:
                master = await db_session.get(VenueAccountRow, master_account_id)
            if master is not None:
                self._accounts[master_account_id] = master
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
            rows = (await session.execute(select(FollowerOrderRow.side, FollowerOrderRow.filled_quantity).where(
                FollowerOrderRow.config_id == config_id, FollowerOrderRow.symbol == symbol))).all()
        return sum((q if side == trading_pb2.SIDE_BUY else -q for side, q in rows), Decimal(0))

    async def _placed(self, row: FollowerOrderRow, venue_order_id: str, filled: Decimal, price: Decimal | None,
                      venue_status: str) -> None:
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
        row.status = (S.FOLLOWER_ORDER_STATUS_FILLED if filled >= row.quantity and filled > 0 else
                      S.FOLLOWER_ORDER_STATUS_PARTIALLY_FILLED if filled > 0 else
                      S.FOLLOWER_ORDER_STATUS_CANCELED if venue_status in ("canceled", "expired") else
                      S.FOLLOWER_ORDER_STATUS_PLACED)
        row.error_kind = row.error_message = ""
        await self._save(row)
        # A resting copy's exposure is committed when it is done (the resting module follows it).
        resting = row.order_type not in (None, trading_pb2.ORDER_TYPE_MARKET) and row.status in RESTING
        order = order_to_proto(row)

        async def announce() -> None:  # placed, then filled: in that order on the bus
            await self.publish("placed", row, events.FollowerOrderPlaced(order=order))
            if filled > 0:
                await self.publish("filled", row, events.FollowerOrderFilled(
                    order=order, quantity=str(filled), price=str(price or 0)))
        steps = [announce()]
        if filled > 0 and not resting:
            steps.append(self.risk.CommitReservation(risk_pb.CommitReservationRequest(
                reservation_id=row.reservation_id or row.order_id, filled_quantity=str(filled),
                fill_price=str(price or 0)), timeout=5))
        await asyncio.gather(*steps)  # risk and the bus are told at once

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
