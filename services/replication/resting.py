"""Mirrored resting orders: a master's limit order that rests is placed as a resting limit order
on each follower's venue (for sessions with mirror_resting_orders), and a master's stop,
stop-limit or take-profit order as the same type (for sessions with mirror_stop_orders); their
amendments become a cancel and a new copy, their cancels cancel the copies; and each copy is
followed at the venue until it is done, so its fills reach the feed and risk. Trading halted
(kill switch, breaker) cancels the copies it concerns, but for those that protect a position (a
halt adds no exposure and takes away no stop-loss); a session stopped cancels them all.

Stops that protect the master's position (they close it) are carried only while the follower's
risk limits say so (stop_loss_enabled / take_profit_enabled), are sized to the follower's
position (proportionally, as a close is) and go reduce-only, or close-position where the venue
has it. An OCO pair's copies and a bracket's children are linked at the venue where it links
them (IB's OCA groups and parentId, NinjaTrader's OCO ids); elsewhere the first copy of a group to
fill cancels the others here, and a bracket child waits here for its parent copy to fill. A
take-profit type the follower's venue lacks goes out as the limit order it amounts to.

The follower's own protective orders (copy settings protective_stop_loss / _take_profit) are
placed when an opening resting copy has filled (place_protective; the market-copy path calls it
too), each the other's OCO.

A copy's client order id is derived from (master order change, follower account), so a
redelivered change never makes a second order; a copy whose sending ended in doubt is settled by
asking the venue for that id."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import grpc
from sqlalchemy import or_, select

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.risk.v1 import risk_events_pb2 as risk_events
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.type.v1 import trading_pb2
from services.domain import copy_settings, sizing
from services.kit.bus import Delivery
from services.kit.db import aware
from services.replication.client_order_id import client_order_id
from services.replication.copier import (HANDED_OVER, RESTING, S, SIDE_NAMES, SIDE_VALUES, WORKER, Copier,
                                         fill_json, filled_event, order_fills)
from services.replication.orders import ORDER_TYPE_NAMES, ORDER_TYPE_VALUES, order_request, order_to_proto
from services.replication.protective import protective_orders
from services.replication.store import (CopySessionRow, FollowerOrderRow, MasterFillRow, MasterOrderRow,
                                        MasterPositionRow, VenueAccountRow)
from services.replication.venues.base import LIMIT_TYPES, Fill, Instrument, OrderRequest, OrderState, VenueError

log = logging.getLogger("copytrade.replication.resting")
LIVE_SESSION_STATES = (pb.SESSION_STATE_ACTIVE, pb.SESSION_STATE_PAUSED, pb.SESSION_STATE_FROZEN)
DONE = {"closed": S.FOLLOWER_ORDER_STATUS_FILLED, "canceled": S.FOLLOWER_ORDER_STATUS_CANCELED,
        "expired": S.FOLLOWER_ORDER_STATUS_CANCELED, "rejected": S.FOLLOWER_ORDER_STATUS_CANCELED}
SETTLE_AFTER = timedelta(seconds=5)  # a copy still PENDING this long after sending is asked about
T = trading_pb2
STOP_TYPES = (T.ORDER_TYPE_STOP_MARKET, T.ORDER_TYPE_STOP_LIMIT)
TAKE_PROFIT_TYPES = (T.ORDER_TYPE_TAKE_PROFIT_MARKET, T.ORDER_TYPE_TAKE_PROFIT_LIMIT)
TRIGGERED_TYPES = STOP_TYPES + TAKE_PROFIT_TYPES
RESTING_TYPES = (T.ORDER_TYPE_LIMIT, *TRIGGERED_TYPES)  # the copies this module follows
GONE = (S.FOLLOWER_ORDER_STATUS_REFUSED, S.FOLLOWER_ORDER_STATUS_FAILED, S.FOLLOWER_ORDER_STATUS_CANCELED)


def kind_of(change: events.MasterOrderChanged) -> int:
    return change.order_type or T.ORDER_TYPE_LIMIT  # changes from before stops were mirrored are limits


def mirrors(session: CopySessionRow, change: events.MasterOrderChanged) -> bool:
    """Limit orders by mirror_resting_orders, stops and take-profits by mirror_stop_orders."""
    setting = "mirror_stop_orders" if kind_of(change) in TRIGGERED_TYPES else "mirror_resting_orders"
    return bool(session.settings.get(setting))  # the settings' proto JSON


def protective_kind(change: events.MasterOrderChanged) -> str:
    """"stop_loss" / "take_profit" for a stop or take-profit that closes the master's position
    (a bracket child closes what its parent opens), "" for anything else (an entry stop)."""
    if kind_of(change) not in TRIGGERED_TYPES:
        return ""
    position = Decimal(change.position or 0)
    closes = change.close_position or change.reduce_only or bool(change.parent_master_order_id) or (
        position != 0 and (position > 0) == (change.side == T.SIDE_SELL))
    if not closes:
        return ""
    return "stop_loss" if kind_of(change) in STOP_TYPES else "take_profit"


def on_tick(value: Decimal, tick: Decimal) -> Decimal:
    return (value / tick).to_integral_value(ROUND_HALF_UP) * tick


class RestingCopies:
    def __init__(self, copier: Copier, poll_s: float = 5.0) -> None:
        self.copier, self.db, self.pool, self.bus = copier, copier.db, copier.pool, copier.bus
        self.poll_s = poll_s
        self._trackers: dict[str, asyncio.Task] = {}
        self._poller: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()

    def start(self) -> None:
        self._poller = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        tasks = [t for t in [self._poller, *self._trackers.values(), *self._background] if t]
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
                                         if mirrors(s, change)), return_exceptions=True)
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
        kind = kind_of(change)
        cid = client_order_id(change.change_id, session.follower_account_id)
        async with self.db.session() as db_session:
            existing = await db_session.get(FollowerOrderRow, cid)
            account = await db_session.get(VenueAccountRow, session.follower_account_id)
        if existing is not None and existing.status in HANDED_OVER:
            return
        quantity = Decimal(change.quantity)
        if change.close_position and quantity <= 0:  # whatever the master holds
            quantity = abs(Decimal(change.position or 0))
        remaining = quantity - max(Decimal(change.filled_quantity or 0), await self._master_filled(change))
        if remaining <= 0:
            return  # filled meanwhile: its fills were copied as they came
        copier.note_venue(account)
        row = existing or FollowerOrderRow(
            order_id=cid, config_id=session.config_id, follower_id=session.follower_id,
            follower_account_id=session.follower_account_id, master_fill_id=change.change_id, symbol=change.symbol,
            side=change.side, quantity=Decimal(0), filled_quantity=Decimal(0), average_fill_price=None,
            status=S.FOLLOWER_ORDER_STATUS_PENDING, venue_order_id="", refusal=None, error_kind="", error_message="",
            master_fill_time=change.change_time.ToDatetime(tzinfo=UTC), receive_time=received, worker=WORKER,
            order_type=kind, master_order_id=change.master_order_id, cancel_reason="")
        if session.state != pb.SESSION_STATE_ACTIVE:
            state = pb.SessionState.Name(session.state).removeprefix("SESSION_STATE_")
            return await copier.refuse(row, f"SESSION_{state}", f"copying is {state.lower()} for this session", {})
        if session.settings.get("reverse"):
            return await copier.refuse(
                row, "RESTING_ORDER_NOT_MIRRORED", "a reversed copy of a resting order would trade at once; "
                "its fills are copied instead", {})
        protective = protective_kind(change)
        try:
            if protective and not await self._carried(session.follower_id, protective):
                what = protective.replace("_", "-")
                return await copier.refuse(
                    row, f"{protective.upper()}_NOT_CARRIED", f"your risk limits do not carry the master's {what}; "
                    f"its fill is copied when it comes", {"limit": f"{protective}_enabled"})
            venue = await self.pool.get(account)
            if existing is not None:  # sent before, outcome unknown: ask the venue first
                state = await venue.fetch_order(cid, existing.symbol)
                if state is not None:
                    await self.apply(cid, state)
                    return self.track(account)
            parent = None
            if change.parent_master_order_id:
                parent, master_parent = await self._parent_copy(session, change)
                if parent is None:
                    return await copier.refuse(row, "PARENT_NOT_COPIED", "the bracket's entry order was not "
                                               "copied, so neither are its stop-loss and take-profit", {})
                sized, instrument, equity, price = await self._child_size(venue, change, parent, master_parent)
            else:
                reference = Decimal(change.price) if ORDER_TYPE_NAMES[kind] in LIMIT_TYPES else \
                    Decimal(change.trigger_price or change.price)
                trade = sizing.MasterTrade(change.symbol, SIDE_NAMES[change.side], remaining, reference)
                sized, instrument, equity, price = await copier.size(
                    session, account, venue, trade, master_account_id=change.master_account_id,
                    master_equity=Decimal(change.master_equity or 0), position_before=Decimal(change.position or 0))
        except (VenueError, grpc.aio.AioRpcError) as exc:
            error = exc if isinstance(exc, VenueError) else None
            return await copier.fail(row, error.kind.value if error else "PLATFORM",
                                      error.message if error else "cannot open the follower's venue")
        if sized.refused:
            return await copier.refuse(row, sized.reason, sized.message, sized.metadata)
        # The master's prices per follower unit (price is the reference's), on the follower's tick.
        spot = account.market_type == trading_pb2.MARKET_TYPE_SPOT
        factor = price / (Decimal(change.price) if ORDER_TYPE_NAMES[kind] in LIMIT_TYPES else
                          Decimal(change.trigger_price or change.price))
        row.symbol, row.side, row.quantity = sized.symbol, SIDE_VALUES[sized.side], sized.quantity
        if ORDER_TYPE_NAMES[kind] in LIMIT_TYPES:
            row.limit_price = instrument.round_price(Decimal(change.price) * factor)
        if kind in TRIGGERED_TYPES:
            row.trigger_price = on_tick(Decimal(change.trigger_price) * factor, instrument.tick_size)
        row.close_position = change.close_position and not spot
        if change.oco_group:  # the follower's copies of one master group share a group of their own
            row.oco_group = client_order_id(change.oco_group, session.follower_account_id)
        reduce_only = (bool(protective) or sized.closing == sized.quantity) and not spot
        if parent is not None:
            row.parent_order_id = parent.order_id
            linked = replace(order_request(row, venue, reduce_only=reduce_only), parent_client_order_id=parent.order_id)
            if parent.status != S.FOLLOWER_ORDER_STATUS_FILLED and not venue.supports(linked):
                return  # this venue has no bracket: the child goes out here once its parent copy fills
        if not self._adapt(row, venue, reduce_only):
            return await copier.refuse(row, "ORDER_TYPE_NOT_SUPPORTED", f"the follower's venue takes no "
                                       f"{ORDER_TYPE_NAMES[kind].replace('_', ' ')} order", {"venue": account.venue_id})
        self.track(account)  # before sending: a copy that fills at once is seen filling
        await copier.send(row, session, venue, instrument, reservation_id=cid,
                          expected_price=row.limit_price or row.trigger_price, reference_price=price, equity=equity,
                          master_fill_time=change.change_time, reduce_only=reduce_only)

    @staticmethod
    def _adapt(row: FollowerOrderRow, venue, reduce_only: bool) -> bool:
        """Make the copy one the venue takes: a take-profit type it lacks becomes the limit order
        it amounts to (at its limit, or at the trigger). False when even that will not do."""
        request = order_request(row, venue, reduce_only=reduce_only)
        if venue.supports(request):
            return True
        if row.order_type in TAKE_PROFIT_TYPES:
            row.limit_price = row.limit_price or row.trigger_price
            row.order_type, row.trigger_price = T.ORDER_TYPE_LIMIT, None
            return venue.supports(order_request(row, venue, reduce_only=reduce_only))
        return False

    async def _carried(self, follower_id: str, protective: str) -> bool:
        limits = (await self.copier.risk.GetRiskLimits(risk_pb.GetRiskLimitsRequest(user_id=follower_id),
                                                       timeout=5)).limits
        return limits.stop_loss_enabled if protective == "stop_loss" else limits.take_profit_enabled

    async def _parent_copy(self, session: CopySessionRow, change: events.MasterOrderChanged
                           ) -> tuple[FollowerOrderRow | None, MasterOrderRow | None]:
        """This session's live (or filled) copy of the bracket's parent, and the master's parent."""
        async with self.db.session() as db_session:
            master_parent = await db_session.get(MasterOrderRow, change.parent_master_order_id)
            copies = (await db_session.execute(select(FollowerOrderRow).where(
                FollowerOrderRow.config_id == session.config_id,
                FollowerOrderRow.master_order_id == change.parent_master_order_id,
                FollowerOrderRow.status.not_in(GONE)).order_by(FollowerOrderRow.receive_time.desc()))).scalars().all()
        return (copies[0] if copies else None), master_parent

    async def _child_size(self, venue, change: events.MasterOrderChanged, parent: FollowerOrderRow,
                          master_parent: MasterOrderRow | None) -> tuple[sizing.Sized, Instrument, Decimal, Decimal]:
        """A bracket child closes what its parent copy opens: the same share of it as the master's
        child is of the master's parent, priced as the parent copy was (per follower unit)."""
        instrument = await venue.instrument(parent.symbol)
        share = Decimal(1)
        if master_parent is not None and master_parent.quantity:
            share = min(Decimal(change.quantity) / master_parent.quantity, Decimal(1))
        quantity = instrument.round_quantity(parent.quantity * share)
        factor = Decimal(1)
        if master_parent is not None and master_parent.price and parent.limit_price:
            factor = parent.limit_price / master_parent.price
        reference = Decimal(change.price) if ORDER_TYPE_NAMES[kind_of(change)] in LIMIT_TYPES else \
            Decimal(change.trigger_price or change.price)
        if quantity <= 0:
            return sizing.Sized(reason="QUANTITY_ROUNDS_TO_ZERO", message="the bracket child rounds to zero",
                                metadata={"lot_size": str(instrument.lot_size)}), instrument, Decimal(0), reference
        side = "sell" if parent.side == T.SIDE_BUY else "buy"
        return (sizing.Sized(symbol=parent.symbol, side=side, quantity=quantity, closing=quantity), instrument,
                Decimal(0), reference * factor)

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
            if not await self._protects(row):  # a halt adds no exposure, and takes away no stop-loss
                await self.cancel(row, reason)

    async def _protects(self, row: FollowerOrderRow) -> bool:
        """A stop, take-profit or bracket child that closes what the session's copies hold."""
        if row.close_position:
            return True
        if row.order_type not in TRIGGERED_TYPES and row.parent_order_id is None:
            return False
        held = await self.copier._copied_position(row.config_id, row.symbol)  # noqa: SLF001 - one query, kept there
        return held != 0 and (held > 0) == (row.side == T.SIDE_SELL)

    async def on_session_changed(self, delivery: Delivery) -> None:
        event: events.CopySessionChanged = delivery.event
        if event.state != pb.SessionState.Name(pb.SESSION_STATE_STOPPED):
            return
        for row in await self._live_copies(FollowerOrderRow.config_id == event.config_id):
            await self.cancel(row, "the copy session was stopped")

    async def _live_copies(self, *conditions) -> list[FollowerOrderRow]:
        async with self.db.session() as session:
            return list((await session.execute(select(FollowerOrderRow).where(
                FollowerOrderRow.order_type.in_(RESTING_TYPES),
                or_(FollowerOrderRow.master_order_id.is_not(None), FollowerOrderRow.parent_order_id.is_not(None)),
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
        if row is None or (row.master_order_id is None and row.parent_order_id is None) or row.status not in RESTING:
            return  # not a resting copy (a fill's own copy is settled by its acknowledgement)
        state = await venue.fetch_order(row.order_id, row.symbol)  # the order's cumulative fill, exactly
        if state is not None:
            await self.apply(row.order_id, state, fill)

    async def _fills_at_venue(self, row: FollowerOrderRow, before: Decimal) -> list[Fill] | None:
        """The copy's fills past `before` from its venue's trade history (None: it cannot tell now)."""
        account = await self.copier.account(row.follower_account_id)
        if account is None:
            return None
        try:
            return await order_fills(await self.pool.get(account), row, before)
        except (VenueError, grpc.aio.AioRpcError) as exc:
            log.warning("fills of resting copy %s not read from its venue (%s)", row.order_id, exc)
            return None

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
            # The venue's own fills of this step (their trade ids, times and the fees it charged,
            # for trade reports): the one its stream delivered, else those its trade history shows.
            order, venue = order_to_proto(row), await copier.venue_of(row.follower_account_id)
            fills = [fill] if fill is not None and fill.quantity >= row.filled_quantity - before else \
                await self._fills_at_venue(row, before)
            if fills:
                for step in fills:
                    await copier.publish("filled", row, filled_event(order, venue, fill_json(step)),
                                         attempt=f"{row.filled_quantity}:{step.venue_trade_id}"
                                         if len(fills) > 1 else str(row.filled_quantity))
            else:  # what filled, from the order: the venue's fee for it is not known here
                await copier.publish("filled", row, filled_event(order, venue, {
                    "quantity": str(row.filled_quantity - before), "price": str(row.average_fill_price or 0)}),
                                     attempt=str(row.filled_quantity))
            if row.oco_group:  # the first of a group to fill takes the others (the venue may have already)
                for sibling in await self._live_copies(FollowerOrderRow.config_id == row.config_id,
                                                       FollowerOrderRow.oco_group == row.oco_group,
                                                       FollowerOrderRow.order_id != row.order_id):
                    await self.cancel(sibling, "its OCO sibling filled")
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
        if row.status == S.FOLLOWER_ORDER_STATUS_FILLED and row.parent_order_id is None:
            # Off this call: what follows takes the follower's lock, which this call may be under.
            self._spawn(self._after_entry_filled(row))

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _after_entry_filled(self, row: FollowerOrderRow) -> None:
        """A resting copy filled: the bracket children waiting here for it go out, and an
        opening copy gets the follower's own protective orders."""
        try:
            await self._release_children(row)
            await self.place_protective(row)
        except Exception:  # noqa: BLE001 - the copy is done; what follows it is retried by the next change
            log.exception("following up the filled copy %s failed", row.order_id)

    async def _release_children(self, row: FollowerOrderRow) -> None:
        """The master's open bracket children of the order this copy mirrors, for venues that
        took no child before its parent filled: mirrored now, under the change they opened with
        (same client order id, so one that went out already is found, not sent twice)."""
        async with self.db.session() as db_session:
            session = await db_session.get(CopySessionRow, row.config_id)
            children = (await db_session.execute(select(MasterOrderRow).where(
                MasterOrderRow.parent_order_id == row.master_order_id, MasterOrderRow.open.is_(True)))).scalars().all()
            positions = {c.master_order_id: await db_session.get(MasterPositionRow, (c.master_account_id, c.symbol))
                         for c in children}
        if session is None:
            return
        for child in children:
            change = events.MasterOrderChanged(
                change_id=f"{child.master_order_id.replace(':', ':order:', 1)}:{child.version}",
                master_order_id=child.master_order_id, master_account_id=child.master_account_id,
                master_id=session.master_id, venue_order_id=child.master_order_id.split(":", 1)[1],
                client_order_id=child.client_order_id or "", change=events.MASTER_ORDER_CHANGE_OPENED,
                version=child.version, symbol=child.symbol, side=child.side, quantity=str(child.quantity),
                price=str(child.price), filled_quantity=str(child.filled_quantity),
                position=str(positions[child.master_order_id].quantity if positions[child.master_order_id] else 0),
                order_type=child.order_type, trigger_price=str(child.trigger_price or ""),
                oco_group=child.oco_group or "", parent_master_order_id=child.parent_order_id or "",
                reduce_only=child.reduce_only, close_position=child.close_position)
            change.change_time.FromDatetime(datetime.now(UTC))
            if not mirrors(session, change):
                continue
            async with self.copier.follower_lock(session.follower_account_id):
                await self._place_copy(change, session, datetime.now(UTC))

    async def place_protective(self, row: FollowerOrderRow) -> None:
        """The follower's own stop-loss and take-profit (copy settings protective_stop_loss /
        _take_profit) for an opening copy that has filled: sized to its fill, one the other's
        OCO, reserved with risk and followed like any resting copy. A copy that only closed or
        reduced gets none. The market-copy path calls this too, once its copy has filled."""
        async with self.db.session() as db_session:
            session = await db_session.get(CopySessionRow, row.config_id)
            account = await db_session.get(VenueAccountRow, row.follower_account_id)
        settings = copy_settings.protective(copy_settings.from_json(session.settings)) if session else None
        if not settings or row.filled_quantity <= 0 or not row.average_fill_price or \
                session.state != pb.SESSION_STATE_ACTIVE:
            return
        held = await self.copier._copied_position(row.config_id, row.symbol)  # noqa: SLF001 - one query, kept there
        if (held > 0) != (row.side == T.SIDE_BUY) or held == 0:
            return  # it closed or reduced a position: nothing new to protect
        venue = await self.pool.get(account)
        instrument = await venue.instrument(row.symbol)
        requests = protective_orders(settings, row.average_fill_price, SIDE_NAMES[row.side],
                                     min(row.filled_quantity, abs(held)), instrument, for_order=row.order_id)
        self.track(account)
        for request in requests:
            async with self.copier.follower_lock(row.follower_account_id):
                await self._send_protective(row, request, session, account, venue, instrument)

    async def _send_protective(self, entry: FollowerOrderRow, request: OrderRequest, session: CopySessionRow,
                               account: VenueAccountRow, venue, instrument) -> None:
        async with self.db.session() as db_session:
            if await db_session.get(FollowerOrderRow, request.client_order_id) is not None:
                return  # asked before
        now = datetime.now(UTC)
        row = FollowerOrderRow(
            order_id=request.client_order_id, config_id=entry.config_id, follower_id=entry.follower_id,
            follower_account_id=entry.follower_account_id, master_fill_id=entry.master_fill_id, symbol=request.symbol,
            side=SIDE_VALUES[request.side], quantity=request.quantity, filled_quantity=Decimal(0),
            average_fill_price=None, status=S.FOLLOWER_ORDER_STATUS_PENDING, venue_order_id="", refusal=None,
            error_kind="", error_message="", master_fill_time=entry.master_fill_time, receive_time=now, worker=WORKER,
            order_type=ORDER_TYPE_VALUES[request.order_type], trigger_price=request.trigger_price,
            oco_group=request.oco_group or None, parent_order_id=entry.order_id, cancel_reason="")
        if not self._adapt(row, venue, request.reduce_only):
            what = request.order_type.replace("_", " ")
            return await self.copier.refuse(row, "ORDER_TYPE_NOT_SUPPORTED", f"the follower's venue takes no {what} "
                                            "order", {"venue": account.venue_id})
        await self.copier.send(row, session, venue, instrument, reservation_id=row.order_id,
                               expected_price=row.limit_price or row.trigger_price,
                               reference_price=row.limit_price or row.trigger_price, equity=Decimal(0),
                               master_fill_time=entry.master_fill_time, reduce_only=request.reduce_only)

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

