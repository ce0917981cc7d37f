"""Followers' account equity, read from their venues every SNAPSHOT_INTERVAL_S and reported to
risk (RecordAccountSnapshot), so the daily-loss, drawdown and emergency-stop breakers see what
the venue sees. One follower's venue being away never stops the others'. With several
replicas, each account is snapshotted by the one owning its shard (ownership.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import grpc

from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.kit.db import Database
from services.kit.periodic import Periodic
from services.replication.catalog import live_follower_accounts
from services.replication.venue_pool import VenuePool
from services.replication.venues.base import VenueError

log = logging.getLogger("copytrade.replication.snapshots")


class EquitySnapshots:
    def __init__(self, db: Database, pool: VenuePool, risk: RiskServiceStub, interval_s: float,
                 owns: Callable[[str], bool] | None = None,
                 on_equity: Callable[[str, object], None] | None = None) -> None:
        """owns(follower account id): snapshot only the accounts this replica owns (one replica
        snapshots each account). on_equity(account id, equity): told each equity read (the
        copier sizes by it)."""
        self.db, self.pool, self.risk = db, pool, risk
        self.on_equity = on_equity or (lambda account_id, equity: None)
        self.owns = owns or (lambda account_id: True)
        self._periodic = Periodic("equity-snapshots", interval_s, self.take)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def take(self) -> int:
        """One snapshot of every follower account in a live session; returns how many were sent."""
        accounts = await live_follower_accounts(self.db)
        sent = 0
        for account in accounts:
            if not self.owns(account.account_id):
                continue
            try:
                venue = await self.pool.get(account)
                snapshot = await venue.account()
                self.on_equity(account.account_id, snapshot.equity)
                request = risk_pb.RecordAccountSnapshotRequest(user_id=account.user_id, equity=str(snapshot.equity))
                request.snapshot_time.FromDatetime(datetime.now(UTC))
                await self.risk.RecordAccountSnapshot(request, timeout=5)
                sent += 1
            except (VenueError, grpc.aio.AioRpcError) as exc:
                log.warning("equity of account %s not snapshotted: %s", account.account_id, exc)
        return sent
