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

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import Database, aware
from services.domain.risk import checks
from services.domain.risk.limits import RiskLimits
from services.risk.store import PositionRow, ReservationRow, RiskBookRow, TradingStateRow

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


@dataclass
class FollowerBook:
    """A follower's exposure as the database held it at `version` (None: no version row yet, so
    never taken as current): committed positions, open reservations, and the expiry of every
    recent reservation not denied (the order rate). Kept in memory between batches, like
    NautilusTrader's RiskEngine cache, and used only after its version is checked under the
    follower's lock: the database stays the one truth shared by every replica."""

    version: int | None
    positions: dict[str, Decimal] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    open: dict[str, tuple[str, Decimal, Decimal, datetime]] = field(default_factory=dict)
    made: list[datetime] = field(default_factory=list)

    def view(self, now: datetime) -> tuple[dict[str, Decimal], dict[str, Decimal], list[int]]:
        """Positions with what is open and unexpired, prices, and [orders in the last minute]."""
        for key in [k for k, entry in self.open.items() if entry[3] <= now]:
            del self.open[key]  # ran out: it no longer counts (a later commit still does)
        cutoff = now - ORDER_RATE_WINDOW + RESERVATION_TTL  # each expires RESERVATION_TTL after it is made
        self.made = [t for t in self.made if t > cutoff]
        positions, prices = dict(self.positions), dict(self.prices)
        for symbol, quantity, price, _ in self.open.values():
            positions[symbol] = positions.get(symbol, ZERO) + quantity
            prices.setdefault(symbol, price)
        return positions, prices, [len(self.made)]


MAX_BOOKS = 100_000  # followers kept in memory; past it the cache starts over (they reload)


class ReservationBook:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._locks: dict[str, asyncio.Lock] = {}
        self._books: dict[str, FollowerBook] = {}

    @asynccontextmanager
    async def _serialised(self, user_ids: set[str]) -> AsyncIterator[tuple[AsyncSession, list[Callable[[], None]]]]:
        """A transaction holding every follower's lock, taken in one order (by name, then by key
        on PostgreSQL) so batches over overlapping followers never deadlock. The process's own
        locks come first: a call waiting for them holds no database connection. The callables
        put in the list run once the transaction has committed, still under the locks (the
        in-memory books change only with what the database holds)."""
        async with AsyncExitStack() as locks:
            for user_id in sorted(user_ids):
                await locks.enter_async_context(self._locks.setdefault(user_id, asyncio.Lock()))
            after: list[Callable[[], None]] = []
            async with self.db.session() as session:
                await self.db.serialise_all(session, [f"risk:{u}" for u in user_ids])
                yield session, after
            for apply in after:
                apply()

    async def _versions(self, session: AsyncSession, users: set[str]) -> dict[str, int]:
        return dict((await session.execute(select(RiskBookRow.user_id, RiskBookRow.version).where(
            self.db.member(RiskBookRow.user_id, users)))).all())

    async def _bump(self, session: AsyncSession, users: set[str], versions: dict[str, int]) -> None:
        """Every follower in `users` changed in this transaction: a new version, so other
        replicas' books of them are reloaded."""
        known = [u for u in users if u in versions]
        if known:
            table = RiskBookRow.__table__
            await session.execute(update(table).where(self.db.member(table.c.user_id, known)).values(
                version=table.c.version + 1))
        await self.db.insert_many(session, RiskBookRow.__table__,
                                  [{"user_id": u, "version": 1} for u in users if u not in versions])

    async def _current_books(self, session: AsyncSession, users: set[str], now: datetime
                             ) -> tuple[dict[str, FollowerBook], dict[str, int]]:
        """The followers' books, from memory where its version is the database's, else loaded."""
        versions = await self._versions(session, users)
        books = {}
        for user_id in users:
            book = self._books.get(user_id)
            if book is not None and user_id in versions and book.version == versions[user_id]:
                books[user_id] = book
        stale = users - books.keys()
        if stale:
            books.update(await self._load(session, stale, now, versions))
        return books, versions

    def _keep(self, books: dict[str, FollowerBook]) -> None:
        if len(self._books) + len(books) > MAX_BOOKS:
            self._books.clear()
        self._books.update(books)

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
        async with self._serialised(users) as (session, after):
            made = {key: (_decision_from_json(decision), aware(expire)) for key, decision, expire in
                    await session.execute(select(ReservationRow.reservation_id, ReservationRow.decision,
                                                 ReservationRow.expire_time).where(
                        self.db.member(ReservationRow.reservation_id, set(keys))))}
            books, versions = await self._current_books(session, users, now)
            views = {u: books[u].view(now) for u in users}
            states = await self._effective_states(session, list({(a.user_id, a.master_id) for a in asks}))
            results, rows, opened = [], [], []
            for key, ask in zip(keys, asks):
                if key in made:
                    results.append(made[key])
                    continue
                positions, prices, counts = views[ask.user_id]
                book = checks.Book(positions=positions, prices=prices, equity=ask.equity,
                                   orders_last_minute=counts[0], returns=ask.returns)
                decision = checks.decide(ask.limits, states[(ask.user_id, ask.master_id)], book, ask.order)
                if decision.outcome != "DENIED":  # the next order of this follower sees this one
                    symbol = ask.order.symbol
                    positions[symbol] = positions.get(symbol, ZERO) + decision.quantity
                    prices.setdefault(symbol, ask.order.expected_price)
                    counts[0] += 1
                    opened.append((ask.user_id, key, (symbol, decision.quantity, ask.order.expected_price, expires)))
                made[key] = (decision, expires)
                results.append(made[key])
                rows.append(dict(
                    reservation_id=key, caller=caller, client_id=ask.client_id, user_id=ask.user_id,
                    symbol=ask.order.symbol, signed_quantity=decision.quantity, price=ask.order.expected_price,
                    contract_size=ask.order.contract_size, status="DENIED" if decision.outcome == "DENIED" else "OPEN",
                    decision=_decision_to_json(decision), expire_time=expires))
            changed = {user_id for user_id, _, _ in opened}  # a denial changes no book
            if rows:
                await self.db.insert_many(session, ReservationRow.__table__, rows)
                await self._bump(session, changed, versions)

            def apply() -> None:
                for user_id, key, entry in opened:
                    books[user_id].open[key] = entry
                    books[user_id].made.append(entry[3])
                for user_id in changed:
                    books[user_id].version = versions.get(user_id, 0) + 1
                self._keep(books)
            after.append(apply)
        return results

    async def _load(self, session: AsyncSession, users: set[str], now: datetime, versions: dict[str, int]
                    ) -> dict[str, FollowerBook]:
        """Followers' books from the database, in three reads whatever their number."""
        books = {u: FollowerBook(versions.get(u)) for u in users}
        for user_id, symbol, quantity, price in await session.execute(select(
                PositionRow.user_id, PositionRow.symbol, PositionRow.signed_quantity, PositionRow.price).where(
                self.db.member(PositionRow.user_id, users))):
            books[user_id].positions[symbol] = quantity
            books[user_id].prices[symbol] = price
        for user_id, key, symbol, quantity, price, expire in await session.execute(select(
                ReservationRow.user_id, ReservationRow.reservation_id, ReservationRow.symbol,
                ReservationRow.signed_quantity, ReservationRow.price, ReservationRow.expire_time).where(
                self.db.member(ReservationRow.user_id, users), ReservationRow.status == "OPEN",
                ReservationRow.expire_time > now)):
            books[user_id].open[key] = (symbol, quantity, price, aware(expire))
        for user_id, expire in await session.execute(select(ReservationRow.user_id, ReservationRow.expire_time).where(
                self.db.member(ReservationRow.user_id, users), ReservationRow.status != "DENIED",
                ReservationRow.expire_time > now - ORDER_RATE_WINDOW + RESERVATION_TTL)):
            books[user_id].made.append(aware(expire))
        return books

    async def book(self, session: AsyncSession, user_id: str, equity: Decimal, now: datetime,
                   returns: dict | None = None) -> checks.Book:
        """A follower's book as the database holds it now (for a check that reserves nothing)."""
        positions, prices, counts = (await self._load(session, {user_id}, now, {}))[user_id].view(now)
        return checks.Book(positions=positions, prices=prices, equity=equity, orders_last_minute=counts[0],
                           returns=returns or {})

    async def _keys(self, caller: str, fills: list[Fill]) -> tuple[set[str], set[str], dict[str, list[str]]]:
        """The keys of the caller's reservations the fills name, their followers, and for a fill
        naming no follower the key its id names: the one row, or of one follower's two (one made
        before ids were scoped, migration 0006, and its retry after) the scoped one; an id of two
        followers' is ambiguous and found as none."""
        named = {reservation_key(caller, f.user_id, f.client_id) for f in fills if f.user_id}
        bare = {f.client_id for f in fills if not f.user_id}
        users = {f.user_id for f in fills if f.user_id}
        by_client: dict[str, list[str]] = {}
        if bare:  # whose they are, read apart to lock them first (a row's follower never changes)
            async with self.db.session() as session:
                found = (await session.execute(select(
                    ReservationRow.reservation_id, ReservationRow.client_id, ReservationRow.user_id).where(
                    ReservationRow.caller == caller, self.db.member(ReservationRow.client_id, bare)))).all()
            owners: dict[str, set[str]] = {}
            for key, client_id, user_id in found:
                owners.setdefault(client_id, set()).add(user_id)
                by_client.setdefault(client_id, []).append(key)
            for client_id, keys in list(by_client.items()):
                if len(owners[client_id]) > 1:
                    del by_client[client_id]
                    continue
                user_id = next(iter(owners[client_id]))
                scoped = reservation_key(caller, user_id, client_id)
                by_client[client_id] = [scoped if scoped in keys else keys[0]]
                named.update(by_client[client_id])
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
        async with self._serialised(users) as (session, after):
            versions = await self._versions(session, users)
            rows = {r.reservation_id: Settled(*r) for r in await session.execute(select(
                table.c.reservation_id, table.c.user_id, table.c.symbol, table.c.signed_quantity,
                table.c.contract_size, table.c.status).where(self.db.member(table.c.reservation_id, named)))}
            found = []
            for fill in fills:
                if fill.user_id:
                    row = rows.get(reservation_key(caller, fill.user_id, fill.client_id))
                else:
                    keys = by_client.get(fill.client_id, [])
                    row = rows.get(keys[0]) if keys else None
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
                positions = await self._count_fills(session, list(pending.values()))
                changed = list(pending)
                status = "COMMITTED"
            else:
                positions = {}
                changed = list({row.reservation_id for row in found if row is not None and row.status == "OPEN"})
                status = "RELEASED"
            if changed:
                await session.execute(update(table).where(self.db.member(table.c.reservation_id, changed)).values(
                    status=status))
                touched = {rows[key].user_id for key in changed}
                await self._bump(session, touched, versions)

                def apply() -> None:  # the books this replica holds at the version changed follow it
                    for user_id in touched:
                        book = self._books.get(user_id)
                        if book is None or user_id not in versions or book.version != versions[user_id]:
                            self._books.pop(user_id, None)
                            continue
                        book.version += 1
                    for key in changed:
                        book = self._books.get(rows[key].user_id)
                        if book is not None:
                            book.open.pop(key, None)
                    for (user_id, symbol), (quantity, price) in positions.items():
                        book = self._books.get(user_id)
                        if book is not None:
                            book.positions[symbol], book.prices[symbol] = quantity, price
                after.append(apply)
        return found

    async def _count_fills(self, session: AsyncSession, pending: list[tuple[Settled, Fill]]
                           ) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
        """Add what filled to the positions; returns the positions changed, as they now are."""
        if not pending:
            return {}
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
        return changed

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
