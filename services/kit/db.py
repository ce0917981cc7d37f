"""The database: async SQLAlchemy on SQLite (one file per service, the zero-setup default) or
PostgreSQL through psycopg 3 (one schema per service, so no service can read another's tables
by accident), and Alembic migrations with a history per service.
"""

from __future__ import annotations

import hashlib
import json
import re
import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from decimal import Decimal

from sqlalchemy import (JSON, Numeric, String, Table, TypeDecorator, any_, bindparam, case, cast, event, func,
                        select, text)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session

from services.kit import validation
from services.kit.config import Settings


class DecimalText(TypeDecorator):
    """Decimal stored as its exact text: SQLite has no decimal type and would round via float."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


def aware(moment: datetime | None) -> datetime | None:
    """A stored time as UTC-aware: SQLite hands datetimes back without their zone."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


log = logging.getLogger("copytrade.db")
T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """The database is away (restarting, unreachable, a connection cut), not a wrong statement:
    the same work succeeds once it is back."""
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


async def retry_transient(work: Callable[[], Awaitable[T]], what: str, *, first_delay_s: float = 0.05,
                             max_delay_s: float = 1.0) -> T:
    """Run `work` (a whole transaction) until it gets through the database's absence: for work
    that holds something nobody else will hand over again, such as a fill read off a venue's
    stream. The pool's pre-ping replaces the dead connections once the database is back."""
    delay = first_delay_s
    while True:
        try:
            return await work()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("%s: database unavailable (%s); retrying in %.2fs", what,
                        str(exc).splitlines()[0][:200], delay)
        await asyncio.sleep(delay)
        delay = min(max_delay_s, delay * 2)


# Bound parameters per statement: SQLite allows 32,766, PostgreSQL 65,535.
MAX_PARAMETERS = 30_000
UNNEST_ROWS = 5_000  # rows per unnest insert


async def insert_ignoring(session: AsyncSession, model, rows: list[dict]) -> set:
    """Insert many rows in one statement per chunk, leaving rows whose key is already there alone
    (INSERT ... ON CONFLICT DO NOTHING RETURNING, on PostgreSQL and SQLite alike). Returns the
    primary keys of the rows this call inserted (tuples for a composite key): the rows that are
    the caller's to act on."""
    if not rows:
        return set()
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = model.__table__
    keys = table.primary_key.columns.values()
    columns = [column.key for column in table.columns]
    defaults = {column.key: column.default.arg for column in table.columns
                if column.default is not None and column.default.is_scalar}
    rows = [{c: defaults.get(c) if row.get(c) is None else row[c] for c in columns} for row in rows]
    for row in rows:  # each row's values through the same checks a flush makes
        validation.check_row(table, row)
    postgres = session.bind.dialect.name == "postgresql"
    chunk = UNNEST_ROWS if postgres else max(1, MAX_PARAMETERS // len(columns))
    inserted: set = set()
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        if postgres:  # one array per column: the statement's text is the same for any number of rows
            statement = _unnest_insert(table)
            params = {f"a_{c}": [row[c] for row in part] for c in columns}
            returned = await session.execute(statement, params)
        else:
            returned = await session.execute(insert(table).values(part).on_conflict_do_nothing().returning(*keys))
        inserted.update(returned.scalars() if len(keys) == 1 else (tuple(r) for r in returned))
    return inserted


@cache
def _unnest_insert(table):
    """INSERT ... SELECT FROM unnest(one array per column) ON CONFLICT DO NOTHING RETURNING key,
    for PostgreSQL. A multi-row VALUES of a thousand copies has 30,000 placeholders, which
    SQLAlchemy compiles and psycopg converts anew each time (a quarter of a second of CPU); this
    statement is compiled once and takes the rows as 30 arrays."""
    from sqlalchemy.dialects.postgresql import insert

    columns = list(table.columns)
    arrays = [bindparam(f"a_{c.key}", type_=ARRAY(c.type)) for c in columns]  # psycopg casts each: %(a)s::T[]
    rows = func.unnest(*arrays).table_valued(*(c.key for c in columns)).render_derived()
    return (insert(table).from_select([c.key for c in columns], select(*(rows.c[c.key] for c in columns)))
            .on_conflict_do_nothing().returning(*table.primary_key.columns.values()))


class CheckedSession(Session):
    """A session whose rows are checked against their columns before each flush (text that fits,
    no NUL), so SQLite and PostgreSQL refuse the same values, as INVALID_ARGUMENT."""


event.listen(CheckedSession, "before_flush", validation.check_flush)


class Base(DeclarativeBase):
    """Each service declares its own subclass so its tables live in its own metadata."""


def database_url(settings: Settings) -> str:
    if settings.database_url:
        url = settings.database_url
        # Accept the libpq spelling; SQLAlchemy needs the driver named.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{settings.data_dir / (settings.service + '.db')}"


class Database:
    def __init__(self, settings: Settings, migrations: Path | None = None) -> None:
        self.url = database_url(settings)
        self.schema = settings.service
        self.migrations = migrations
        self.is_postgres = self.url.startswith("postgresql")
        if self.is_postgres:
            # Last in, first out, so a busy service keeps reusing its warm connections; a
            # connection is pinged only after sitting idle (see _ping_if_idle).
            self.engine: AsyncEngine = create_async_engine(
                self.url, pool_size=10, max_overflow=20, pool_use_lifo=True,
                connect_args={"options": f"-csearch_path={self.schema}"},
            )
            event.listen(self.engine.sync_engine, "connect", _note_use)
            event.listen(self.engine.sync_engine, "checkin", _note_use)
            event.listen(self.engine.sync_engine, "checkout", _ping_if_idle(self.engine.dialect))
        else:
            # One connection: SQLite has one writer, and concurrent transactions on several
            # connections wait in its busy handler, which sleeps in steps of up to 100 ms.
            self.engine = create_async_engine(self.url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, sync_session_class=CheckedSession)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def serialise(self, session: AsyncSession, name: str) -> None:
        """Hold a lock named `name` until this transaction ends, across every replica: an
        advisory lock on PostgreSQL; SQLite needs none, having one writer and one connection."""
        if self.is_postgres:
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(name)})

    async def serialise_all(self, session: AsyncSession, names: list[str]) -> None:
        """serialise() for many names in one statement, taken in one global order (by key) so
        two transactions locking overlapping sets never deadlock."""
        if self.is_postgres and names:
            keys = sorted({_lock_key(name) for name in names})
            await session.execute(text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
                                  {"keys": keys})

    def member(self, column, values):
        """`column IN values`, as one array parameter on PostgreSQL (`= ANY(:values)`): a list of
        thousands is then one bind, not thousands for the driver to split and the server to parse."""
        values = list(values)
        if not self.is_postgres:
            return column.in_(values)
        return column == any_(bindparam(None, values, type_=ARRAY(column.type), unique=True))

    async def signed_sums(self, session: AsyncSession, keys: tuple, amount, buy, where) -> dict[tuple, Decimal]:
        """Per group of `keys`, the sum of a DecimalText `amount` counted positive where `buy` holds
        and negative otherwise, over the rows `where` selects. PostgreSQL adds them up itself, as
        exact numerics (one row per group, however long the history); SQLite, whose CAST would
        round through a float, reads the rows and adds them here."""
        if self.is_postgres:
            exact = cast(amount, Numeric)
            rows = await session.execute(select(*keys, func.sum(case((buy, exact), else_=-exact)))
                                         .where(where).group_by(*keys))
            return {tuple(row[:-1]): Decimal(row[-1]) for row in rows}
        sums: dict[tuple, Decimal] = {}
        for *group, is_buy, value in await session.execute(select(*keys, buy, amount).where(where)):
            sums[tuple(group)] = sums.get(tuple(group), Decimal(0)) + (value if is_buy else -value)
        return sums

    async def insert_many(self, session: AsyncSession, table: Table, rows: list[dict]) -> None:
        """Insert rows in one statement on PostgreSQL (INSERT ... SELECT FROM unnest of one array
        per column), an executemany elsewhere. Every row names the same columns."""
        if not rows:
            return
        if not self.is_postgres:
            await session.execute(table.insert(), rows)
            return
        columns = [table.c[name] for name in rows[0]]
        arrays = []
        for column in columns:
            arrays.append(f"%b::{self._array_type(column)}[]")  # binary arrays: text ones cost a regex per element
        names = ", ".join(f'"{c.name}"' for c in columns)
        values = [[_db_value(row[column.name]) for row in rows] for column in columns]
        raw = (await (await session.connection()).get_raw_connection()).driver_connection
        async with raw.cursor() as cursor:  # the session's own connection: the same transaction
            await cursor.execute(f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({", ".join(arrays)})',
                                 values)

    def _array_type(self, column) -> str:
        """The column's type without its length: an explicit cast to varchar(64) would silently
        cut a longer value, where storing it into the column refuses it."""
        if isinstance(column.type, JSON):
            return "json"
        return re.sub(r"\(.*\)", "", column.type.compile(self.engine.dialect))

    async def update_many(self, session: AsyncSession, table: Table, keys: list[str], rows: list[dict]) -> None:
        """Update rows found by their `keys` columns, setting the other columns each row names: one
        statement on PostgreSQL (UPDATE ... FROM unnest), an executemany elsewhere."""
        if not rows:
            return
        names = list(rows[0])
        if not self.is_postgres:
            where = [table.c[k] == bindparam(f"k_{k}") for k in keys]
            values = {n: bindparam(f"v_{n}") for n in names if n not in keys}
            await session.execute(table.update().where(*where).values(values),
                                  [{(f"k_{n}" if n in keys else f"v_{n}"): _db_value(v) for n, v in row.items()}
                                   for row in rows])
            return
        arrays = ", ".join(f"%b::{self._array_type(table.c[n])}[]" for n in names)
        sets = ", ".join(f'"{n}" = v."{n}"' for n in names if n not in keys)
        where = " AND ".join(f't."{k}" = v."{k}"' for k in keys)
        columns = ", ".join(f'"{n}"' for n in names)
        raw = (await (await session.connection()).get_raw_connection()).driver_connection
        async with raw.cursor() as cursor:
            await cursor.execute(f'UPDATE "{table.name}" AS t SET {sets} FROM unnest({arrays}) AS v({columns}) '
                                 f'WHERE {where}', [[_db_value(row[n]) for row in rows] for n in names])

    async def migrate(self) -> None:
        """Bring this service's tables to the newest revision. Safe with N replicas starting
        at once: on PostgreSQL an advisory lock serialises them."""
        if self.migrations is None:
            return
        async with self.engine.begin() as conn:
            if self.is_postgres:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(self.schema)})
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(self._upgrade)

    def _upgrade(self, connection) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.migrations))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    async def ready(self) -> bool:
        """A cheap round trip (gRPC health asks it every few seconds)."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    async def close(self) -> None:
        await self.engine.dispose()


def _db_value(value):
    """A value as a bound array element: Decimal as its text (DecimalText), JSON as its text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


PING_AFTER_IDLE_S = 2.0


def _note_use(_dbapi_conn, record) -> None:
    record.info["last_use"] = time.monotonic()


def _ping_if_idle(dialect):
    """Before a connection that sat idle is handed out, check the server still has it (a restart
    or an idle timeout drops connections); the pool then replaces it. A connection used moments
    ago is not checked: pinging at every checkout cost a round trip per transaction on the copy
    path. After a PostgreSQL restart the first statement that fails invalidates the whole pool."""

    def on_checkout(dbapi_conn, record, _proxy) -> None:
        if time.monotonic() - record.info.get("last_use", 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_conn)  # what pool_pre_ping runs
        except Exception as exc:
            raise DisconnectionError(f"connection lost while idle: {exc}") from exc
    return on_checkout


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def run_migrations_online(target_metadata) -> None:
    """The body of every service's migrations/env.py: use the connection Database.migrate gave."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
