"""Reservations and trading states over the risk tables. Reservations for one follower are
serialised: by an asyncio lock within a process and, on PostgreSQL, by a transaction-scoped
advisory lock across replicas, so concurrent checks can never jointly exceed a limit. A batch
(one master fill's copies) takes all its followers' locks at once and is one transaction."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import Database, aware
from services.risk import checks
from services.risk.limits import RiskLimits
from services.risk.store import PositionRow, ReservationRow, TradingStateRow

ORDER_RATE_WINDOW = timedelta(minutes=1)
RESERVATION_TTL = timedelta(seconds=30)
ZERO = Decimal(0)
_SEVERITY = {checks.ACTIVE: 0, checks.REDUCING: 1, checks.HALTED: 2}


def scope_key(user_id: str, master_id: str = "") -> str:
    if not user_id:
        return "global"
    return f"{user_id}/{master_id}" if master_id else user_id


def reservation_key(caller: str, user_id: str, client_id: str) -> str:
    """Risk's key for a caller's reservation for a follower: the same caller's retry finds it,
    and no other caller or follower can name it (a digest, so no choice of ids collides)."""
    return hashlib.sha256(f"{caller}\x00{user_id}\x00{client_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Ask:
    """One order to reserve, parsed and with its follower's limits."""

    client_id: str
    user_id: str
    master_id: str
    order: checks.Order
    equity: Decimal
    limits: RiskLimits
    returns: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Fill:
    """What filled of a caller's reservation: `user_id` empty when the caller did not say whose
    (the single-reservation API), then the caller's id must name one reservation."""

    client_id: str
    user_id: str
    filled: Decimal = ZERO
    price: Decimal = ZERO


class Settled(NamedTuple):
    """What settling a reservation reads of it."""

    reservation_id: str
    user_id: str
    symbol: str
    signed_quantity: Decimal
    contract_size: Decimal | None
    status: str


class ReservationBook:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def _serialised(self, user_ids: set[str]) -> AsyncIterator[AsyncSession]:
        """A transaction holding every follower's lock, taken in one order (by name, then by key
        on PostgreSQL) so batches over overlapping followers never deadlock. The process's own
        locks come first: a call waiting for them holds no database connection."""
        async with AsyncExitStack() as stack:
            for user_id in sorted(user_ids):
                await stack.enter_async_context(self._locks.setdefault(user_id, asyncio.Lock()))
            session = await stack.enter_async_context(self.db.session())
            await self.db.serialise_all(session, [f"risk:{u}" for u in user_ids])
            yield session

    async def effective_state(self, session: AsyncSession, user_id: str, master_id: str) -> str:
        return (await self._effective_states(session, [(user_id, master_id)]))[(user_id, master_id)]

    async def _effective_states(self, session: AsyncSession, pairs: list[tuple[str, str]]
                                ) -> dict[tuple[str, str], str]:
        """The strictest of the platform's, the follower's and the (follower, master) state, for
        every pair, in one read."""
        keys = {"global"} | {scope_key(u) for u, _ in pairs} | {scope_key(u, m) for u, m in pairs if m}
        states = dict((await session.execute(select(TradingStateRow.scope, TradingStateRow.state).where(
            self.db.member(TradingStateRow.scope, keys)))).all())
        return {(u, m): max((states.get(k, checks.ACTIVE) for k in
                             ("global", scope_key(u)) + ((scope_key(u, m),) if m else ())),
                            key=_SEVERITY.__getitem__) for u, m in pairs}

    async def reserve(self, caller: str, asks: list[Ask]) -> list[tuple[checks.Decision, datetime]]:
        """Decide and reserve every ask in one transaction, each on its own: what one approves
        counts against the next of the same follower. A retried ask (same caller, follower and
        id) gets the decision it got before."""
        now = datetime.now(UTC)
        expires = now + RESERVATION_TTL
        keys = [reservation_key(caller, a.user_id, a.client_id) for a in asks]
        users = {a.user_id for a in asks}
        async with self._serialised(users) as session:
            made = {key: (_decision_from_json(decision), aware(expire)) for key, decision, expire in
                    await session.execute(select(ReservationRow.reservation_id, ReservationRow.decision,
                                                 ReservationRow.expire_time).where(
                        self.db.member(ReservationRow.reservation_id, set(keys))))}
            books = await self._books(session, users, now)
            states = await self._effective_states(session, list({(a.user_id, a.master_id) for a in asks}))
            results, rows = [], []
            for key, ask in zip(keys, asks):
                if key in made:
                    results.append(made[key])
                    continue
                positions, prices, counts = books[ask.user_id]
                book = checks.Book(positions=positions, prices=prices, equity=ask.equity,
                                   orders_last_minute=counts[0], returns=ask.returns)
                decision = checks.decide(ask.limits, states[(ask.user_id, ask.master_id)], book, ask.order)
                if decision.outcome != "DENIED":  # the next order of this follower sees this one
                    symbol = ask.order.symbol
                    positions[symbol] = positions.get(symbol, ZERO) + decision.quantity
                    prices.setdefault(symbol, ask.order.expected_price)
                    counts[0] += 1
                made[key] = (decision, expires)
                results.append(made[key])
                rows.append(dict(
                    reservation_id=key, caller=caller, client_id=ask.client_id, user_id=ask.user_id,
                    symbol=ask.order.symbol, signed_quantity=decision.quantity, price=ask.order.expected_price,
                    contract_size=ask.order.contract_size, status="DENIED" if decision.outcome == "DENIED" else "OPEN",
                    decision=_decision_to_json(decision), expire_time=expires))
            if rows:
                await self.db.insert_many(session, ReservationRow.__table__, rows)
        return results

    async def _books(self, session: AsyncSession, users: set[str], now: datetime
                     ) -> dict[str, tuple[dict, dict, list[int]]]:
        """Every follower's positions with open reservations, prices and orders in the last
        minute, in three reads whatever the number of followers."""
        books = {u: ({}, {}, [0]) for u in users}
        for user_id, symbol, quantity, price in await session.execute(select(
                PositionRow.user_id, PositionRow.symbol, PositionRow.signed_quantity, PositionRow.price).where(
                self.db.member(PositionRow.user_id, users))):
            books[user_id][0][symbol] = quantity
            books[user_id][1][symbol] = price
        for user_id, symbol, quantity, price in await session.execute(select(
                ReservationRow.user_id, ReservationRow.symbol, ReservationRow.signed_quantity,
                ReservationRow.price).where(self.db.member(ReservationRow.user_id, users), ReservationRow.status == "OPEN",
                                            ReservationRow.expire_time > now)):
            positions, prices, _ = books[user_id]
            positions[symbol] = positions.get(symbol, ZERO) + quantity
            prices.setdefault(symbol, price)
        # Made in the last minute (the order rate): each reservation expires RESERVATION_TTL after it is made.
        for user_id, count in await session.execute(select(ReservationRow.user_id, func.count()).where(
                self.db.member(ReservationRow.user_id, users), ReservationRow.status != "DENIED",
                ReservationRow.expire_time > now - ORDER_RATE_WINDOW + RESERVATION_TTL).group_by(
                ReservationRow.user_id)):
            books[user_id][2][0] = count
        return books

    async def book(self, session: AsyncSession, user_id: str, equity: Decimal, now: datetime,
                   returns: dict | None = None) -> checks.Book:
        positions, prices, counts = (await self._books(session, {user_id}, now))[user_id]
        return checks.Book(positions=positions, prices=prices, equity=equity, orders_last_minute=counts[0],
                           returns=returns or {})

    async def _keys(self, caller: str, fills: list[Fill]) -> tuple[set[str], set[str], dict[str, list[str]]]:
        """The keys of the caller's reservations the fills name, their followers, and for a fill
        naming no follower the keys its id names (one, or it is ambiguous and found as none)."""
        named = {reservation_key(caller, f.user_id, f.client_id) for f in fills if f.user_id}
        bare = {f.client_id for f in fills if not f.user_id}
        users = {f.user_id for f in fills if f.user_id}
        by_client: dict[str, list[str]] = {}
        if bare:  # whose they are, read apart to lock them first (a row's follower never changes)
            async with self.db.session() as session:
                found = (await session.execute(select(
                    ReservationRow.reservation_id, ReservationRow.client_id, ReservationRow.user_id).where(
                    ReservationRow.caller == caller, self.db.member(ReservationRow.client_id, bare)))).all()
            for key, client_id, user_id in found:
                by_client.setdefault(client_id, []).append(key)
                named.add(key)
                users.add(user_id)
        return named, users, by_client

    async def settle(self, caller: str, fills: list[Fill], *, commit: bool,
                     check: Callable[[Settled | None, Fill], None] | None = None) -> list[Settled | None]:
        """Commit (count what filled into the position) or release (give the exposure back)
        every fill's reservation in one transaction, set by set. Idempotent: a committed one
        stays as it is. `check` may refuse a row (raising) before anything changes. The rows
        need no row locks: every writer of a follower's reservations and positions holds its lock."""
        named, users, by_client = await self._keys(caller, fills)
        table = ReservationRow.__table__
        async with self._serialised(users) as session:
            rows = {r.reservation_id: Settled(*r) for r in await session.execute(select(
                table.c.reservation_id, table.c.user_id, table.c.symbol, table.c.signed_quantity,
                table.c.contract_size, table.c.status).where(self.db.member(table.c.reservation_id, named)))}
            found = []
            for fill in fills:
                if fill.user_id:
                    row = rows.get(reservation_key(caller, fill.user_id, fill.client_id))
                else:
                    keys = by_client.get(fill.client_id, [])
                    row = rows.get(keys[0]) if len(keys) == 1 else None
                if check is not None:
                    check(row, fill)
                found.append(row)
            if commit:
                # A fill counts even when its reservation was released or ran out meanwhile (an
                # order whose outcome was unknown, found later): the exposure is real.
                pending = {}
                for row, fill in zip(found, fills):
                    if row is not None and row.status != "COMMITTED":
                        pending.setdefault(row.reservation_id, (row, fill))  # once, if named twice
                await self._count_fills(session, list(pending.values()))
                changed = list(pending)
                status = "COMMITTED"
            else:
                changed = list({row.reservation_id for row in found if row is not None and row.status == "OPEN"})
                status = "RELEASED"
            if changed:
                await session.execute(update(table).where(self.db.member(table.c.reservation_id, changed)).values(status=status))
        return found

    async def _count_fills(self, session: AsyncSession, pending: list[tuple[Settled, Fill]]) -> None:
        if not pending:
            return
        table = PositionRow.__table__
        held = {(u, sym): q for u, sym, q in await session.execute(select(
            table.c.user_id, table.c.symbol, table.c.signed_quantity).where(
            self.db.member(table.c.user_id, {row.user_id for row, _ in pending})))}
        changed: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for row, fill in pending:
            position = (row.user_id, row.symbol)
            signed = fill.filled if row.signed_quantity > 0 else -fill.filled
            price = fill.price * (row.contract_size or 1)  # positions are valued per contract, as reserved
            before = changed[position][0] if position in changed else held.get(position, ZERO)
            changed[position] = (before + signed, price)
        rows = [{"user_id": u, "symbol": sym, "signed_quantity": q, "price": p} for (u, sym), (q, p) in changed.items()]
        await self.db.update_many(session, table, ["user_id", "symbol"], [r for r in rows if (r["user_id"], r["symbol"]) in held])
        await self.db.insert_many(session, table, [r for r in rows if (r["user_id"], r["symbol"]) not in held])

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
