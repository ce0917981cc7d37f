"""One owner per background job across replication replicas.

Master accounts (and follower accounts) fall into SHARDS shards by a hash of their id; each
shard is a lease in the KV bucket BUCKET (services/kit/leases.py), held by one replica at a
time. The holder of a shard runs, for the accounts in it: the master watchers and with them
the feed-outage policies, reconciliation of the masters' sessions, and the followers' equity
snapshots. When a holder dies its shards expire after the lease TTL and the other replicas
take them over; a replica shutting down releases its shards at once.

Each replica also holds one replica slot (`slot.<n>`, the lowest free), a small number unique
among the live replicas: IB API client ids are derived from it, since TWS refuses a second
connection with a client id already connected."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable

from services.kit.leases import LeaseKeeper, Leases

log = logging.getLogger("copytrade.replication.ownership")

BUCKET = "replication-jobs"
SHARDS = 16
SLOTS = 64  # replicas at most (IB client ids leave room for this many per account)


def shard_of(account_id: str) -> str:
    return f"shard.{zlib.crc32(account_id.encode()) % SHARDS}"


class Ownership:
    """Which accounts' background jobs this replica runs. `owns(account_id)` is True while this
    replica holds the account's shard lease (and stops being True a margin before the lease
    could expire, so two replicas never both act); listeners hear of every change."""

    def __init__(self, leases: Leases, *, shards: int = SHARDS) -> None:
        self.leases = leases
        self.shards = [f"shard.{i}" for i in range(shards)]
        self._listeners: list[Callable[[], None]] = []
        self._keeper: LeaseKeeper = leases.keeper(on_gained=self._changed, on_lost=self._changed)
        self.slot: int | None = None

    def owns(self, account_id: str) -> bool:
        shard = shard_of(account_id)
        return shard in self._keeper.holding and self.leases.held(shard)

    @property
    def holding(self) -> frozenset[str]:
        return self._keeper.holding

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self, shard: str) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:  # noqa: BLE001 - one listener's trouble is not the others'
                log.exception("ownership listener failed")

    async def start(self, *, slot_timeout_s: float = 30.0) -> "Ownership":
        """Take a replica slot (waiting for one to free up if all are held), then keep the shards."""
        deadline = asyncio.get_running_loop().time() + slot_timeout_s
        while self.slot is None:
            for n in range(SLOTS):
                if await self.leases.try_acquire(f"slot.{n}"):
                    self.slot = n
                    break
            else:
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"no free replica slot among {SLOTS} in {self.leases.bucket}")
                await asyncio.sleep(self.leases.renew_every_s)
        self._keeper.want([f"slot.{self.slot}", *self.shards])
        await self._keeper.tick()  # the free shards are ours before the first job looks
        self._keeper.start()
        return self

    async def stop(self) -> None:
        await self._keeper.stop()
