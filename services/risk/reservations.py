"""Reservations and trading states over the risk tables. Reservations for one follower are
serialised: by an asyncio lock within a process and, on PostgreSQL, by a transaction-scoped
advisory lock across replicas, so concurrent checks can never jointly exceed a limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import Database, aware
from services.risk import checks
from services.risk.limits import RiskLimits
from services.risk.store import PositionRow, ReservationRow, TradingStateRow

ORDER_RATE_WINDOW = timedelta(minutes=1)
RESERVATION_TTL = timedelta(seconds=30)
_SEVERITY = {checks.ACTIVE: 0, checks.REDUCING: 1, checks.HALTED: 2}


def scope_key(user_id: str, master_id: str = "") -> str:
    if not user_id:
        return "global"
    return f"{user_id}/{master_id}" if master_id else user_id


class ReservationBook:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, user_id: str) -> asyncio.Lock:
        return self._locks.setdefault(user_id, asyncio.Lock())

    async def _serialise(self, session: AsyncSession, user_id: str) -> None:
        await self.db.serialise(session, f"risk:{user_id}")

    async def effective_state(self, session: AsyncSession, user_id: str, master_id: str) -> str:
        keys = ["global", scope_key(user_id)] + ([scope_key(user_id, master_id)] if master_id else [])
        states = (await session.execute(select(TradingStateRow.state).where(TradingStateRow.scope.in_(keys)))).scalars()
        return max(states, key=_SEVERITY.__getitem__, default=checks.ACTIVE)

    async def reserve(self, reservation_id: str, user_id: str, master_id: str, order: checks.Order,
                      equity: Decimal, limits: RiskLimits,
                      returns: dict | None = None) -> tuple[checks.Decision, datetime]:
        now = datetime.now(UTC)
        expires = now + RESERVATION_TTL
        try:
            async with self._lock(user_id), self.db.session() as session:
                await self._serialise(session, user_id)
                book = await self._book(session, user_id, equity, now, returns)
                state = await self.effective_state(session, user_id, master_id)
                decision = checks.decide(limits, state, book, order)
                session.add(ReservationRow(
                    reservation_id=reservation_id, user_id=user_id, symbol=order.symbol,
                    signed_quantity=decision.quantity, price=order.expected_price, contract_size=order.contract_size,
                    status="DENIED" if decision.outcome == "DENIED" else "OPEN",
                    decision=_decision_to_json(decision), expire_time=expires))
        except IntegrityError:  # a retried request: it gets the answer it got before (rare, so not looked up first)
            async with self.db.session() as session:
                existing = await session.get(ReservationRow, reservation_id)
            if existing is None:
                raise
            return _decision_from_json(existing.decision), aware(existing.expire_time)
        return decision, expires

    async def _book(self, session: AsyncSession, user_id: str, equity: Decimal, now: datetime,
                    returns: dict | None = None) -> checks.Book:
        positions: dict[str, Decimal] = {}
        prices: dict[str, Decimal] = {}
        for symbol, quantity, price in await session.execute(select(
                PositionRow.symbol, PositionRow.signed_quantity, PositionRow.price).where(
                PositionRow.user_id == user_id)):
            positions[symbol] = quantity
            prices[symbol] = price
        for symbol, quantity, price in await session.execute(select(
                ReservationRow.symbol, ReservationRow.signed_quantity, ReservationRow.price).where(
                ReservationRow.user_id == user_id, ReservationRow.status == "OPEN", ReservationRow.expire_time > now)):
            positions[symbol] = positions.get(symbol, Decimal(0)) + quantity
            prices.setdefault(symbol, price)
        # Made in the last minute (the order rate): each reservation expires RESERVATION_TTL after it is made.
        recent = (await session.execute(select(func.count()).select_from(ReservationRow).where(
            ReservationRow.user_id == user_id, ReservationRow.status != "DENIED",
            ReservationRow.expire_time > now - ORDER_RATE_WINDOW + RESERVATION_TTL))).scalar_one()
        return checks.Book(positions=positions, prices=prices, equity=equity, orders_last_minute=recent,
                           returns=returns or {})

    async def commit(self, reservation_id: str, filled: Decimal, price: Decimal,
                     check: Callable[[ReservationRow | None], None]) -> ReservationRow | None:
        """Count the reservation's fill into its user's position. `check` may refuse the row
        (raising) before anything changes."""
        async with self.db.session() as session:
            row = await session.get(ReservationRow, reservation_id, with_for_update=True)
            check(row)
            # A fill counts even when its reservation was released or ran out meanwhile (an order
            # whose outcome was unknown, found later): the exposure is real.
            if row is None or row.status == "COMMITTED":
                return row
            await self._serialise(session, row.user_id)
            signed = filled if row.signed_quantity > 0 else -filled
            price = price * (row.contract_size or 1)  # positions are valued per contract, as reserved
            position = await session.get(PositionRow, (row.user_id, row.symbol), with_for_update=True)
            if position is None:
                session.add(PositionRow(user_id=row.user_id, symbol=row.symbol, signed_quantity=signed, price=price))
            else:
                position.signed_quantity += signed
                position.price = price
            row.status = "COMMITTED"
            return row

    async def release(self, reservation_id: str,
                      check: Callable[[ReservationRow | None], None]) -> ReservationRow | None:
        """Give the reservation's exposure back. `check` may refuse the row (raising) first."""
        async with self.db.session() as session:
            row = await session.get(ReservationRow, reservation_id, with_for_update=True)
            check(row)
            if row is not None and row.status == "OPEN":
                row.status = "RELEASED"
            return row

    async def get_state(self, scope: str) -> TradingStateRow | None:
        async with self.db.session() as session:
            return await session.get(TradingStateRow, scope)

    async def set_state(self, scope: str, state: str, reason: str, actor: str, *, kill_switch: bool | None = None
                        ) -> TradingStateRow:
        async with self.db.session() as session:
            row = await session.get(TradingStateRow, scope, with_for_update=True)
            if row is None:
                row = TradingStateRow(scope=scope, state=state, kill_switch=False, reason="", changed_by=actor,
                                      change_time=datetime.now(UTC))
                session.add(row)
            row.state, row.reason, row.changed_by, row.change_time = state, reason, actor, datetime.now(UTC)
            if kill_switch is not None:
                row.kill_switch = kill_switch
            return row


def _decision_to_json(decision: checks.Decision) -> dict:
    return {"outcome": decision.outcome, "quantity": str(decision.quantity), "reason": decision.reason,
            "message": decision.message, "metadata": decision.metadata}


def _decision_from_json(data: dict) -> checks.Decision:
    return checks.Decision(data["outcome"], Decimal(data["quantity"]), data["reason"], data["message"],
                           data["metadata"])
