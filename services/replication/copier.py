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
from sqlalchemy import select

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.bus import Bus, Delivery
from services.kit.db import Database
from services.replication import copy_settings, sizing
from services.replication.client_order_id import client_order_id
from services.replication.orders import order_to_proto
from services.replication.store import CopySessionRow, FollowerOrderRow, VenueAccountRow
from services.replication.venue_pool import VenuePool
from services.replication.venues.base import ErrorKind, OrderRequest, VenueError

log = logging.getLogger("copytrade.replication.copier")
WORKER = f"{socket.gethostname()}:{os.getpid()}"
S = events  # FollowerOrderStatus values live in the events module
FINAL = {S.FOLLOWER_ORDER_STATUS_PLACED, S.FOLLOWER_ORDER_STATUS_PARTIALLY_FILLED, S.FOLLOWER_ORDER_STATUS_FILLED,
         S.FOLLOWER_ORDER_STATUS_CANCELED, S.FOLLOWER_ORDER_STATUS_REFUSED, S.FOLLOWER_ORDER_STATUS_FAILED}
SIDE_NAMES = {trading_pb2.SIDE_BUY: "buy", trading_pb2.SIDE_SELL: "sell"}
SIDE_VALUES = {v: k for k, v in SIDE_NAMES.items()}
DECISIONS = {risk_pb.DECISION_APPROVED, risk_pb.DECISION_REDUCED}


class UnknownOutcome(Exception):
    """Raised to have the fill redelivered: next time the venue is asked before re-sending."""


class Copier:
    def __init__(self, db: Database, bus: Bus, pool: VenuePool, risk: RiskServiceStub) -> None:
        self.db, self.bus, self.pool, self.risk = db, bus, pool, risk
        self._follower_locks: dict[str, asyncio.Lock] = {}

    async def handle(self, delivery: Delivery) -> None:
        fill: events.MasterFill = delivery.event
        received = datetime.now(UTC)
        async with self.db.session() as session:
            sessions = (await session.execute(select(CopySessionRow).where(
                CopySessionRow.master_account_id == fill.master_account_id,
                CopySessionRow.state.in_([pb.SESSION_STATE_ACTIVE, pb.SESSION_STATE_PAUSED])))).scalars().all()
        results = await asyncio.gather(*(self._copy_locked(fill, s, received) for s in sessions),
                                       return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]  # redelivered; copies already made are skipped by their id

    async def _copy_locked(self, fill: events.MasterFill, session: CopySessionRow, received: datetime) -> None:
        # One follower's copies are made one at a time, in the order the fills arrive.
        async with self._follower_locks.setdefault(session.follower_account_id, asyncio.Lock()):
            await self.copy(fill, session, received)

    async def copy(self, fill: events.MasterFill, session: CopySessionRow, received: datetime) -> None:
        cid = client_order_id(fill.fill_id, session.follower_account_id)
        async with self.db.session() as db_session:
            existing = await db_session.get(FollowerOrderRow, cid)
            account = await db_session.get(VenueAccountRow, session.follower_account_id)
        if existing is not None and existing.status in FINAL:
            return
        row = existing or FollowerOrderRow(
            order_id=cid, config_id=session.config_id, follower_id=session.follower_id,
            follower_account_id=session.follower_account_id, master_fill_id=fill.fill_id, symbol=fill.symbol,
            side=fill.side, quantity=Decimal(0), filled_quantity=Decimal(0), average_fill_price=None,
            status=S.FOLLOWER_ORDER_STATUS_PENDING, venue_order_id="", refusal=None, error_kind="", error_message="",
            master_fill_time=fill.execute_time.ToDatetime(tzinfo=UTC), receive_time=received, worker=WORKER)
        if session.state == pb.SESSION_STATE_PAUSED:
            return await self._refuse(row, "SESSION_PAUSED", "copying is paused for this session", {})
        try:
            venue = await self.pool.get(account)
        except (VenueError, grpc.aio.AioRpcError) as exc:
            return await self._fail(row, "PLATFORM", f"cannot open the follower's venue: {_describe(exc)}")
        if existing is not None:  # sent before, outcome unknown: ask the venue first
            state = await venue.fetch_order(cid, existing.symbol)
            if state is not None:
                return await self._placed(row, state.venue_order_id, state.filled_quantity, state.average_price,
                                          state.status)
        settings = copy_settings.validate(copy_settings.from_json(session.settings))
        trade = sizing.MasterTrade(fill.symbol, SIDE_NAMES[fill.side], Decimal(fill.quantity), Decimal(fill.price))
        routed = sizing.route(settings, trade)
        if isinstance(routed, sizing.Sized):
            return await self._refuse(row, routed.reason, routed.message, routed.metadata)
        try:
            instrument = await venue.instrument(routed[0])
            equity = (await venue.account()).equity if settings.mode in ("EQUITY_PROPORTIONAL", "RISK_PERCENT") \
                else Decimal(0)
        except VenueError as exc:
            return await self._fail(row, exc.kind.value, exc.message)
        master_equity = Decimal(fill.master_equity or 0)
        position_before = Decimal(fill.position_before or 0)
        follower_position = Decimal(0)
        if sizing.closing_fraction(position_before, trade.side, trade.quantity)[0] > 0:
            follower_position = await self._copied_position(session.config_id, instrument.symbol)
        sized = sizing.size(settings, trade, instrument, follower_equity=equity, master_equity=master_equity,
                            position_before=position_before, follower_position=follower_position)
        spot = account.market_type == trading_pb2.MARKET_TYPE_SPOT
        if not sized.refused and sized.closing > 0 and sized.side == "sell" and spot:
            try:
                holding = (await venue.account()).balances.get(instrument.base)
            except VenueError as exc:
                return await self._fail(row, exc.kind.value, exc.message)
            sized = sizing.within_holdings(sized, holding.free if holding else Decimal(0), instrument.lot_size)
        if sized.refused:
            return await self._refuse(row, sized.reason, sized.message, sized.metadata)
        row.symbol, row.side, row.quantity = sized.symbol, SIDE_VALUES[sized.side], sized.quantity
        # A pure close on a derivatives venue must never open the other way.
        reduce_only = sized.closing == sized.quantity and not spot
        decision = await self.risk.ReserveOrder(risk_pb.ReserveOrderRequest(reservation_id=cid, intent=risk_pb.OrderIntent(
            follower_id=session.follower_id, master_id=session.master_id, config_id=session.config_id,
            instrument=trading_pb2.Instrument(symbol=instrument.symbol, lot_size=str(instrument.lot_size),
                                              tick_size=str(instrument.tick_size)),
            side=row.side, quantity=str(sized.quantity), expected_price=fill.price, reference_price=fill.price,
            equity=str(equity), master_fill_time=fill.execute_time)), timeout=5)
        row.risk_decide_time = datetime.now(UTC)
        if decision.decision not in DECISIONS:
            return await self._refuse(row, decision.refusal.reason, decision.refusal.message,
                                      dict(decision.refusal.metadata), domain=decision.refusal.domain)
        row.quantity = Decimal(decision.approved_quantity)
        row.send_time = datetime.now(UTC)
        await self._save(row)  # PENDING before sending: a crash from here on is resolved by asking
        try:
            state = await venue.place_order(OrderRequest(cid, row.symbol, SIDE_NAMES[row.side], row.quantity,
                                                         reduce_only=reduce_only))
        except VenueError as exc:
            if exc.kind == ErrorKind.UNKNOWN_OUTCOME:
                row.status, row.error_kind, row.error_message = S.FOLLOWER_ORDER_STATUS_UNKNOWN, exc.kind.value, exc.message
                await self._save(row)
                raise UnknownOutcome(exc.message) from exc
            await self.risk.ReleaseReservation(risk_pb.ReleaseReservationRequest(reservation_id=cid,
                                                                                 reason=exc.kind.value), timeout=5)
            return await self._fail(row, exc.kind.value, exc.message)
        await self._placed(row, state.venue_order_id, state.filled_quantity, state.average_price, state.status)

    async def _copied_position(self, config_id: str, symbol: str) -> Decimal:
        """The follower's signed position in symbol built by this session's copies."""
        async with self.db.session() as session:
            rows = (await session.execute(select(FollowerOrderRow.side, FollowerOrderRow.filled_quantity).where(
                FollowerOrderRow.config_id == config_id, FollowerOrderRow.symbol == symbol))).all()
        return sum((q if side == trading_pb2.SIDE_BUY else -q for side, q in rows), Decimal(0))

    async def _placed(self, row: FollowerOrderRow, venue_order_id: str, filled: Decimal, price: Decimal | None,
                      venue_status: str) -> None:
        row.ack_time = datetime.now(UTC)
        row.venue_order_id, row.filled_quantity, row.average_fill_price = venue_order_id, filled, price
        row.status = (S.FOLLOWER_ORDER_STATUS_FILLED if filled >= row.quantity and filled > 0 else
                      S.FOLLOWER_ORDER_STATUS_PARTIALLY_FILLED if filled > 0 else
                      S.FOLLOWER_ORDER_STATUS_CANCELED if venue_status in ("canceled", "expired") else
                      S.FOLLOWER_ORDER_STATUS_PLACED)
        row.error_kind = row.error_message = ""
        await self._save(row)
        if filled > 0:
            await self.risk.CommitReservation(risk_pb.CommitReservationRequest(
                reservation_id=row.order_id, filled_quantity=str(filled), fill_price=str(price or 0)), timeout=5)
        order = order_to_proto(row)
        await self._publish("placed", row, events.FollowerOrderPlaced(order=order))
        if filled > 0:
            await self._publish("filled", row, events.FollowerOrderFilled(
                order=order, quantity=str(filled), price=str(price or 0)))

    async def _refuse(self, row: FollowerOrderRow, reason: str, message: str, metadata: dict, *,
                      domain: str = sizing.DOMAIN) -> None:
        refusal = trading_pb2.Refusal(reason=reason, domain=domain, message=message, metadata=metadata)
        row.status = S.FOLLOWER_ORDER_STATUS_REFUSED
        row.refusal = {"reason": reason, "domain": refusal.domain, "message": message, "metadata": metadata}
        await self._save(row)
        await self._publish("refused", row, events.CopyRefused(order=order_to_proto(row), refusal=refusal))

    async def _fail(self, row: FollowerOrderRow, kind: str, message: str) -> None:
        row.status, row.error_kind, row.error_message = S.FOLLOWER_ORDER_STATUS_FAILED, kind, message[:2000]
        await self._save(row)
        await self._publish("failed", row, events.CopyFailed(order=order_to_proto(row), error_kind=kind,
                                                            error_message=message[:2000]))

    async def _save(self, row: FollowerOrderRow) -> None:
        async with self.db.session() as session:
            await session.merge(row)

    async def _publish(self, verb: str, row: FollowerOrderRow, event) -> None:
        await self.bus.publish(f"copies.order.{verb}.{row.follower_id}", event, msg_id=f"{row.order_id}:{verb}")


def _describe(exc: BaseException) -> str:
    return exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
