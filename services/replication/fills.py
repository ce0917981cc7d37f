"""Master fills in: stored once (idempotent by venue trade id) and published to JetStream with
Nats-Msg-Id = fill id, from the signal API or from a watcher on the master's own fill stream."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.type.v1 import trading_pb2
from services.kit.bus import Bus
from services.kit.db import Database
from services.replication.store import MasterFillRow, VenueAccountRow
from services.replication.venue_pool import VenuePool
from services.replication.venues.base import Fill

log = logging.getLogger("copytrade.replication.fills")
SIDES = {"buy": trading_pb2.SIDE_BUY, "sell": trading_pb2.SIDE_SELL}


def fill_subject(master_account_id: str) -> str:
    return f"fills.master.filled.{master_account_id}"


def master_fill(account: VenueAccountRow, fill: Fill) -> events.MasterFill:
    event = events.MasterFill(
        fill_id=f"{account.account_id}:{fill.venue_trade_id}", master_account_id=account.account_id,
        master_id=account.user_id,
        venue=trading_pb2.Venue(kind=account.venue_kind, id=account.venue_id, market_type=account.market_type),
        venue_trade_id=fill.venue_trade_id, venue_order_id=fill.venue_order_id, client_order_id=fill.client_order_id,
        symbol=fill.symbol, side=SIDES[fill.side], quantity=str(fill.quantity), price=str(fill.price),
        fee=str(fill.fee), fee_currency=fill.fee_currency, order_type=trading_pb2.ORDER_TYPE_MARKET)
    event.execute_time.FromDatetime(fill.timestamp)
    event.receive_time.FromDatetime(datetime.now(UTC))
    return event


async def record_and_publish(db: Database, bus: Bus, event: events.MasterFill) -> tuple[events.MasterFill, bool]:
    """Store the fill unless it is known, then publish (a republish is a no-op at JetStream).
    Publishing after a crash between store and publish is safe for the same reason."""
    created = True
    try:
        async with db.session() as session:
            session.add(MasterFillRow(fill_id=event.fill_id, master_account_id=event.master_account_id,
                                      payload=event.SerializeToString(),
                                      execute_time=event.execute_time.ToDatetime(tzinfo=UTC)))
    except IntegrityError:
        created = False
        async with db.session() as session:
            row = await session.get(MasterFillRow, event.fill_id)
        event = events.MasterFill.FromString(row.payload)
    await bus.publish(fill_subject(event.master_account_id), event, msg_id=event.fill_id)
    return event, created


class MasterWatchers:
    """A task per watched master account, following the venue's own fill stream."""

    def __init__(self, db: Database, bus: Bus, pool: VenuePool, rescan_s: float = 1.0) -> None:
        self.db, self.bus, self.pool, self.rescan_s = db, bus, pool, rescan_s
        self._tasks: dict[str, asyncio.Task] = {}
        self._scanner: asyncio.Task | None = None

    def start(self) -> None:
        self._scanner = asyncio.create_task(self._scan_forever())

    async def _scan_forever(self) -> None:
        while True:
            try:
                async with self.db.session() as session:
                    accounts = (await session.execute(select(VenueAccountRow).where(
                        VenueAccountRow.watch_fills.is_(True)))).scalars().all()
                for account in accounts:
                    task = self._tasks.get(account.account_id)
                    if task is None or task.done():
                        self._tasks[account.account_id] = asyncio.create_task(self._watch(account))
            except Exception:  # noqa: BLE001 - keep scanning; the database may be restarting
                log.exception("scanning master accounts failed")
            await asyncio.sleep(self.rescan_s)

    async def _watch(self, account: VenueAccountRow) -> None:
        try:
            venue = await self.pool.get(account)
            async for fill in venue.fills():
                await record_and_publish(self.db, self.bus, master_fill(account, fill))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the scanner starts a new watcher
            log.exception("watcher for master account %s stopped", account.account_id)

    async def stop(self) -> None:
        for task in [self._scanner, *self._tasks.values()]:
            if task:
                task.cancel()
        await asyncio.gather(*(t for t in [self._scanner, *self._tasks.values()] if t), return_exceptions=True)
