"""Mirrored resting orders: a master's limit order that rests is placed as a resting limit order
on each follower's venue (for sessions with mirror_resting_orders), its amendments become a
cancel and a new copy, its cancel cancels the copies; and each copy is followed at the venue
until it is done, so its fills reach the feed and risk. Trading halted (kill switch, breaker)
or a session stopped cancels the copies it concerns.

A copy's client order id is derived from (master order change, follower account), so a
redelivered change never makes a second order; a copy whose sending ended in doubt is settled by
asking the venue for that id."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
from sqlalchemy import select

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.risk.v1 import risk_events_pb2 as risk_events
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.type.v1 import trading_pb2
from services.kit.bus import Delivery
from services.kit.db import aware
from services.replication import sizing
from services.replication.client_order_id import client_order_id
from services.replication.copier import (HANDED_OVER, RESTING, S, SIDE_NAMES, SIDE_VALUES, WORKER, Copier,
                                         mirrors_resting_orders)
from services.replication.orders import order_to_proto
from services.replication.store import CopySessionRow, FollowerOrderRow, MasterFillRow, VenueAccountRow
from services.replication.venues.base import Fill, OrderState, VenueError

log = logging.getLogger("copytrade.replication.resting")
LIVE_SESSION_STATES = (pb.SESSION_STATE_ACTIVE, pb.SESSION_STATE_PAUSED, pb.SESSION_STATE_FROZEN)
DONE = {"closed": S.FOLLOWER_ORDER_STATUS_FILLED, "canceled": S.FOLLOWER_ORDER_STATUS_CANCELED,
        "expired": S.FOLLOWER_ORDER_STATUS_CANCELED, "rejected": S.FOLLOWER_ORDER_STATUS_CANCELED}
SETTLE_AFTER = timedelta(seconds=5)  # a copy still PENDING this long after sending is asked about


class RestingCopies:
    def __init__(self, copier: Copier, poll_s: float = 5.0) -> None:
        self.copier, self.db, self.pool, self.bus = copier, copier.db, copier.pool, copier.bus
        self.poll_s = poll_s
        self._trackers: dict[str, asyncio.Task] = {}
        self._poller: asyncio.Task | None = None

    def start(self) -> None:
        self._poller = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        tasks = [t for t in [self._poller, *self._trackers.values()] if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- master order changes -------------------------------------------------------------
    async def on_master_order(self, delivery: Delivery) -> None:
        change: events.MasterOrderChanged = delivery.event
        received = datetime.now(UTC)
        async with self.db.session() as session:
            sessions = (await session.execute(select(CopySessionRow).where(
                CopySessionRow.master_account_id == change.master_account_id,
                CopySessionRow.state.in_(LIVE_SESSION_STATES)))).scalars().all()
        results = await asyncio.gather(*(self._mirror_locked(change, s, received) for s in sessions
                                         if mirrors_resting_orders(s)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]  # redelivered; what was done is recognised by its client order id

    async def _mirror_locked(self, change: events.MasterOrderChanged, session: CopySessionRow,
                             received: datetime) -> None:
        async with self.copier.follower_lock(session.follower_account_id):
            if change.change in (events.MASTER_ORDER_CHANGE_AMENDED, events.MASTER_ORDER_CHANGE_CANCELED):
                reason = ("the master amended its order" if change.change == events.MASTER_ORDER_CHANGE_AMENDED
                          else "the master canceled its order")
                for row in await self._live_copies(FollowerOrderRow.config_id == session.config_id,
                                                   FollowerOrderRow.master_order_id == change.master_order_id):
                    await self.cancel(row, reason)
            if change.change in (events.MASTER_ORDER_CHANGE_OPENED, events.MASTER_ORDER_CHANGE_AMENDED):
                await self._place_copy(change, session, received)

    async def _place_copy(self, change: events.MasterOrderChanged, session: CopySessionRow,
                          received: datetime) -> None:
        copier = self.copier
        cid = client_order_id(change.change_id, session.follower_account_id)
        async with self.db.session() as db_session:
            existing = await db_session.get(FollowerOrderRow, cid)
            account = await db_session.get(VenueAccountRow, session.follower_account_id)
        if existing is not None and existing.status in HANDED_OVER:
            return
        remaining = Decimal(change.quantity) - max(Decimal(change.filled_quantity or 0),
                                                   await self._master_filled(change))
        if remaining <= 0:
            return  # filled meanwhile: its fills were copied as they came
        copier.note_venue(account)
        row = existing or FollowerOrderRow(
            order_id=cid, config_id=session.config_id, follower_id=session.follower_id,
            follower_account_id=session.follower_account_id, master_fill_id=change.change_id, symbol=change.symbol,
            side=change.side, quantity=Decimal(0), filled_quantity=Decimal(0), average_fill_price=None,
            status=S.FOLLOWER_ORDER_STATUS_PENDING, venue_order_id="", refusal=None, error_kind="", error_message="",
            master_fill_time=change.change_time.ToDatetime(tzinfo=UTC), receive_time=received, worker=WORKER,
            order_type=trading_pb2.ORDER_TYPE_LIMIT, master_order_id=change.master_order_id, cancel_reason="")
        if session.state != pb.SESSION_STATE_ACTIVE:
            state = pb.SessionState.Name(session.state).removeprefix("SESSION_STATE_")
            return await copier.refuse(row, f"SESSION_{state}", f"copying is {state.lower()} for this session", {})
        if session.settings.get("reverse"):
            return await copier.refuse(
                row, "RESTING_ORDER_NOT_MIRRORED", "a reversed copy of a resting order would trade at once; "
                "its fills are copied instead", {})
        try:
            venue = await self.pool.get(account)
            if existing is not None:  # sent before, outcome unknown: ask the venue first
                state = await venue.fetch_order(cid, existing.symbol)
                if state is not None:
                    await self.apply(cid, state)
                    return self.track(account)
            trade = sizing.MasterTrade(change.symbol, SIDE_NAMES[change.side], remaining, Decimal(change.price))
            sized, instrument, equity, price = await copier.size(
                session, account, venue, trade, master_account_id=change.master_account_id,
                master_equity=Decimal(change.master_equity or 0), position_before=Decimal(change.position or 0))
        except (VenueError, grpc.aio.AioRpcError) as exc:
            error = exc if isinstance(exc, VenueError) else None
            return await copier.fail(row, error.kind.value if error else "PLATFORM",
                                      error.message if error else "cannot open the follower's venue")
        if sized.refused:
            return await copier.refuse(row, sized.reason, sized.message, sized.metadata)
        # The master's limit (per follower unit), on the follower's tick; a reversed side never gets here.
        row.symbol, row.side, row.quantity = sized.symbol, SIDE_VALUES[sized.side], sized.quantity
        row.limit_price = instrument.round_price(price)
        spot = account.market_type == trading_pb2.MARKET_TYPE_SPOT
        self.track(account)  # before sending: a copy that fills at once is seen filling
        await copier.send(row, session, venue, instrument, reservation_id=cid, expected_price=row.limit_price,
                          reference_price=price, equity=equity, master_fill_time=change.change_time,
                          reduce_only=sized.closing == sized.quantity and not spot)

    async def _master_filled(self, change: events.MasterOrderChanged) -> Decimal:
        """What of the master order its fills recorded here say is filled (they may be ahead of the change)."""
        async with self.db.session() as session:
            quantities = (await session.execute(select(MasterFillRow.quantity).where(
                MasterFillRow.master_account_id == change.master_account_id,
                MasterFillRow.venue_order_id == change.venue_order_id))).scalars().all()
        return sum((q for q in quantities if q is not None), Decimal(0))

    # --- cancels: master canceled or amended, halted, stopped ------------------------------
    async def cancel(self, row: FollowerOrderRow, reason: str) -> None:
        """Cancel a resting copy at its venue, recording why; a copy that filled meanwhile is
        recorded as filled."""
        async with self.db.session() as session:
            account = await session.get(VenueAccountRow, row.follower_account_id)
            stored = await session.get(FollowerOrderRow, row.order_id)
            stored.cancel_reason = reason
        try:
            venue = await self.pool.get(account)
            try:
                state = await venue.cancel_order(row.order_id, row.symbol)
            except VenueError:  # done already, or never arrived: the venue says which
                state = await venue.fetch_order(row.order_id, row.symbol)
        except (VenueError, grpc.aio.AioRpcError) as exc:
            log.warning("cancelling resting copy %s failed (%s); the poller tries again", row.order_id, exc)
            return
        if state is None:
            state = OrderState(row.order_id, "", row.symbol, SIDE_NAMES[row.side], row.quantity, row.filled_quantity,
                               row.average_fill_price, "canceled")
        await self.apply(row.order_id, state)

    async def on_trading_state(self, delivery: Delivery) -> None:
        event: risk_events.TradingStateChanged = delivery.event
        if event.state not in (trading_pb2.TRADING_STATE_HALTED, trading_pb2.TRADING_STATE_REDUCING):
            return
        conditions = []
        if event.scope.user_id:
            conditions.append(FollowerOrderRow.follower_id == event.scope.user_id)
        if event.scope.master_id:
            async with self.db.session() as session:
                configs = (await session.execute(select(CopySessionRow.config_id).where(
                    CopySessionRow.master_id == event.scope.master_id))).scalars().all()
            conditions.append(FollowerOrderRow.config_id.in_(configs))
        state = trading_pb2.TradingState.Name(event.state).removeprefix("TRADING_STATE_").lower()
        reason = f"trading is {state}" + (f": {event.reason}" if event.reason else "")
        for row in await self._live_copies(*conditions):
            await self.cancel(row, reason)

    async def on_session_changed(self, delivery: Delivery) -> None:
        event: events.CopySessionChanged = delivery.event
        if event.state != pb.SessionState.Name(pb.SESSION_STATE_STOPPED):
            return
        for row in await self._live_copies(FollowerOrderRow.config_id == event.config_id):
            await self.cancel(row, "the copy session was stopped")

    async def _live_copies(self, *conditions) -> list[FollowerOrderRow]:
        async with self.db.session() as session:
            return list((await session.execute(select(FollowerOrderRow).where(
                FollowerOrderRow.order_type == trading_pb2.ORDER_TYPE_LIMIT,
                FollowerOrderRow.master_order_id.is_not(None),
                FollowerOrderRow.status.in_(RESTING), *conditions))).scalars())

    # --- following copies at the venue ----------------------------------------------------
    def track(self, account: VenueAccountRow) -> None:
        """Follow the account's fills at its venue (once per account, for as long as we run)."""
        task = self._trackers.get(account.account_id)
        if task is None or task.done():
            self._trackers[account.account_id] = asyncio.create_task(self._track(account))

    async def _track(self, account: VenueAccountRow) -> None:
        while True:
            try:
                venue = await self.pool.get(account)
                async for fill in venue.fills():
                    await self._on_fill(venue, fill)
                return  # the venue was closed
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the poller covers the gap; follow on
                log.exception("following fills of follower account %s failed", account.account_id)
                await asyncio.sleep(1.0)

    async def _on_fill(self, venue, fill: Fill) -> None:
        async with self.db.session() as session:
            row = await session.get(FollowerOrderRow, fill.client_order_id) if fill.client_order_id else None
        if row is None or row.master_order_id is None or row.status not in RESTING:
            return  # not a resting copy (a fill's own copy is settled by its acknowledgement)
        state = await venue.fetch_order(row.order_id, row.symbol)  # the order's cumulative fill, exactly
        if state is not None:
            await self.apply(row.order_id, state, fill)

    async def apply(self, order_id: str, state: OrderState, fill: Fill | None = None) -> None:
        """Bring the copy's record in line with the venue's view of its order and tell the feed
        (each step of filling, the cancel with its reason); when it is done, settle its risk
        reservation. Applying the same view twice changes nothing."""
        copier = self.copier
        async with self.db.session() as session:
            row = await session.get(FollowerOrderRow, order_id, with_for_update=self.db.is_postgres)
            if row is None or row.status not in RESTING:
                return
            was = row.status
            before = row.filled_quantity
            row.venue_order_id = state.venue_order_id or row.venue_order_id
            row.filled_quantity = max(state.filled_quantity, row.filled_quantity)
            row.average_fill_price = state.average_price or row.average_fill_price
            row.status = DONE.get(state.status) or (S.FOLLOWER_ORDER_STATUS_PARTIALLY_FILLED
                                                    if row.filled_quantity > 0 else S.FOLLOWER_ORDER_STATUS_PLACED)
            if row.status == S.FOLLOWER_ORDER_STATUS_CANCELED and row.filled_quantity >= row.quantity > 0:
                row.status = S.FOLLOWER_ORDER_STATUS_FILLED
            if was in (S.FOLLOWER_ORDER_STATUS_PENDING, S.FOLLOWER_ORDER_STATUS_UNKNOWN):
                row.ack_time = datetime.now(UTC)
            if row.status == S.FOLLOWER_ORDER_STATUS_CANCELED and not row.cancel_reason:
                row.cancel_reason = f"{state.status} at the venue"
        done = row.status not in RESTING
        if was in (S.FOLLOWER_ORDER_STATUS_PENDING, S.FOLLOWER_ORDER_STATUS_UNKNOWN):
            await copier.publish("placed", row, events.FollowerOrderPlaced(order=order_to_proto(row)))
        if row.filled_quantity > before:
            filled = events.FollowerOrderFilled(
                order=order_to_proto(row), venue_trade_id=fill.venue_trade_id if fill else "",
                quantity=str(fill.quantity if fill else row.filled_quantity - before),
                price=str(fill.price if fill else row.average_fill_price or 0))
            if fill:
                filled.execute_time.FromDatetime(fill.timestamp)
            await copier.publish("filled", row, filled, attempt=str(row.filled_quantity))
        if not done:
            return
        reservation = row.reservation_id or row.order_id
        if row.filled_quantity > 0:
            await copier.risk.CommitReservation(risk_pb.CommitReservationRequest(
                reservation_id=reservation, filled_quantity=str(row.filled_quantity),
                fill_price=str(row.average_fill_price or 0)), timeout=5)
        else:
            await copier.risk.ReleaseReservation(risk_pb.ReleaseReservationRequest(
                reservation_id=reservation, reason=row.cancel_reason or "canceled"), timeout=5)
        if row.status == S.FOLLOWER_ORDER_STATUS_CANCELED:
            await copier.publish("canceled", row, events.FollowerOrderCanceled(order=order_to_proto(row),
                                                                                 reason=row.cancel_reason))

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.poll()
            except Exception:  # noqa: BLE001 - next round
                log.exception("polling resting copies failed")

    async def poll(self) -> None:
        """Ask the venues about every copy still resting (or in doubt): what the fill streams
        missed, cancels made elsewhere, and copies whose sending ended in doubt."""
        now = datetime.now(UTC)
        for row in await self._live_copies():
            async with self.db.session() as session:
                account = await session.get(VenueAccountRow, row.follower_account_id)
            in_doubt = row.status in (S.FOLLOWER_ORDER_STATUS_PENDING, S.FOLLOWER_ORDER_STATUS_UNKNOWN)
            if in_doubt and row.send_time is not None and now - aware(row.send_time) < SETTLE_AFTER:
                continue  # still being sent
            try:
                venue = await self.pool.get(account)
                self.track(account)
                state = await venue.fetch_order(row.order_id, row.symbol)
            except (VenueError, grpc.aio.AioRpcError) as exc:
                log.warning("asking about resting copy %s failed: %s", row.order_id, exc)
                continue
            if state is not None:
                await self.apply(row.order_id, state)
            elif in_doubt and row.send_time is not None:  # never arrived: nothing rests, nothing to settle
                await self.copier.fail(row, "NETWORK", "the resting copy never reached the venue")
                await self.copier.risk.ReleaseReservation(risk_pb.ReleaseReservationRequest(
                    reservation_id=row.reservation_id or row.order_id, reason="not at the venue"), timeout=5)

