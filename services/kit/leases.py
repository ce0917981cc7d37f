"""Named leases in a NATS JetStream key-value bucket: one holder per name at a time, across
processes, with takeover when a holder dies.

    leases = await Leases(bus, "replication-jobs", holder="replication:host:1234", ttl_s=6).open()
    if await leases.try_acquire("shard.3"):      # create-if-absent: only one process can win
        ...                                      # do the job while leases.held("shard.3")
    await leases.release("shard.3")              # or stop renewing: it expires ttl_s later

How two holders are made impossible:
- acquire is a KV *create* (the write carries "expected last revision 0"), so it succeeds for
  one process only; everyone else is refused while the key exists;
- renewal is a KV *update* with the revision this holder last wrote, so it fails as soon as
  anyone else has written the key;
- the bucket's TTL (its stream's max_age) removes a key that has not been renewed for ttl_s, and
  only then can another process create it;
- a holder counts from the moment it *sent* its last successful write, and considers itself
  not holding once ttl_s - margin_s has passed (`held()`), i.e. before the server can let anyone
  else in. Work guarded by a lease must stop when `held()` turns False (the keeper calls
  `on_lost` then).

`LeaseKeeper` holds a changing set of names: it acquires what is free, renews what it holds,
releases what is no longer wanted, and calls `on_gained(name)` / `on_lost(name)`. Names are KV
keys: letters, digits and `-/_=.`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nats.js import api
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = logging.getLogger("copytrade.leases")


@dataclass
class _Held:
    revision: int  # of the holder's last write: the next renewal must find it still the latest
    renewed_at: float  # monotonic time the last successful write was *sent*


class Leases:
    """Leases named in one KV bucket, held by `holder` (unique per process: host, pid and a
    random part). ttl_s: how long a lease outlives its holder's last renewal; margin_s: how
    long before that the holder stops trusting it (default: a third of the TTL)."""

    def __init__(self, bus, bucket: str, holder: str, ttl_s: float = 6.0, *, margin_s: float | None = None,
                 replicas: int | None = None, request_timeout_s: float | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.js = bus.js if hasattr(bus, "js") else bus
        self.bucket, self.holder, self.ttl_s = bucket, holder, float(ttl_s)
        self.margin_s = ttl_s / 3 if margin_s is None else float(margin_s)
        if not 0 <= self.margin_s < self.ttl_s:
            raise ValueError("margin_s must be in [0, ttl_s)")
        # The bucket is a stream: as many copies as the bus gives its streams, unless told.
        self.replicas = replicas or getattr(bus, "replicas", 1)
        # A write that takes longer than this is treated as failed (it may still land: see renew).
        self.request_timeout_s = request_timeout_s or max(0.1, min(2.0, self.margin_s / 2))
        self.kv: KeyValue | None = None
        self._held: dict[str, _Held] = {}

    async def open(self) -> "Leases":
        """Bind the bucket, creating it (with the TTL) when it does not exist yet."""
        try:
            self.kv = await self.js.key_value(self.bucket)
        except BucketNotFoundError:
            try:
                self.kv = await self.js.create_key_value(api.KeyValueConfig(
                    bucket=self.bucket, ttl=self.ttl_s, history=1, replicas=self.replicas,
                    storage=api.StorageType.FILE, description="copytrade leases: one holder per name"))
            except Exception:  # noqa: BLE001 - another process created it first
                self.kv = await self.js.key_value(self.bucket)
        return self

    @property
    def renew_every_s(self) -> float:
        """How often a holder renews: three chances before it stops trusting the lease."""
        return max(0.05, (self.ttl_s - self.margin_s) / 3)

    def held(self, name: str) -> bool:
        """True while this process holds the lease and its last renewal is recent enough that
        nobody else can have it."""
        lease = self._held.get(name)
        return lease is not None and time.monotonic() - lease.renewed_at < self.ttl_s - self.margin_s

    @property
    def holding(self) -> set[str]:
        return {name for name in self._held if self.held(name)}

    def age(self, name: str) -> float | None:
        """Seconds since the held lease's last successful write was sent (None: not held)."""
        lease = self._held.get(name)
        return None if lease is None else time.monotonic() - lease.renewed_at

    async def try_acquire(self, name: str) -> bool:
        """Take the lease if nobody holds it (renew it if this process does). False when someone
        else holds it, or NATS did not answer."""
        if name in self._held:
            return await self.renew(name)
        sent = time.monotonic()
        try:
            revision = await asyncio.wait_for(self.kv.create(name, self.holder.encode()), self.request_timeout_s)
        except KeyWrongLastSequenceError:
            return await self._adopt(name, sent)
        except Exception as exc:  # noqa: BLE001 - NATS away or slow: not acquired this time
            log.debug("lease %s: acquire failed (%s)", name, exc)
            return False
        self._held[name] = _Held(revision, sent)
        return True

    async def renew(self, name: str) -> bool:
        """Extend a held lease. False (and no longer held) when someone else has written it; False
        (still held until it ages out) when NATS did not answer."""
        lease = self._held.get(name)
        if lease is None:
            return False
        sent = time.monotonic()
        try:
            revision = await asyncio.wait_for(self.kv.update(name, self.holder.encode(), last=lease.revision),
                                              self.request_timeout_s)
        except KeyWrongLastSequenceError:
            # Either another process has it, or our previous write landed after we gave up on it.
            self._held.pop(name, None)
            return await self._adopt(name, sent)
        except Exception as exc:  # noqa: BLE001 - NATS away or slow: held() ages the lease out
            log.debug("lease %s: renewal failed (%s)", name, exc)
            return self.held(name)
        lease.revision, lease.renewed_at = revision, sent
        return True

    async def _adopt(self, name: str, sent: float) -> bool:
        """The key exists: take it only if this holder wrote its latest value (a write of ours
        whose answer was lost), by updating that revision."""
        try:
            entry = await asyncio.wait_for(self.kv.get(name), self.request_timeout_s)
            if (entry.value or b"").decode() != self.holder:
                return False
            revision = await asyncio.wait_for(self.kv.update(name, self.holder.encode(), last=entry.revision),
                                              self.request_timeout_s)
        except Exception:  # noqa: BLE001 - gone meanwhile, someone else's, or NATS away
            return False
        self._held[name] = _Held(revision, sent)
        return True

    async def release(self, name: str) -> None:
        """Give the lease up now (deleting it only if it is still ours), so another process can
        take it without waiting for the TTL."""
        lease = self._held.pop(name, None)
        if lease is None:
            return
        with contextlib.suppress(Exception):  # not ours any more, or NATS away: it expires by itself
            await asyncio.wait_for(self.kv.delete(name, last=lease.revision), self.request_timeout_s)

    async def release_all(self) -> None:
        for name in list(self._held):
            await self.release(name)

    def forget(self, name: str) -> None:
        """Stop holding without telling NATS (the lease expires after the TTL)."""
        self._held.pop(name, None)

    async def holder_of(self, name: str) -> str | None:
        """Who holds the lease now, as NATS sees it (None: nobody)."""
        try:
            entry = await self.kv.get(name)
        except KeyNotFoundError:
            return None
        return (entry.value or b"").decode() or None

    def keeper(self, *, on_gained: Callable[[str], object] | None = None,
               on_lost: Callable[[str], object] | None = None, tick_s: float | None = None) -> "LeaseKeeper":
        return LeaseKeeper(self, on_gained=on_gained, on_lost=on_lost, tick_s=tick_s)


class LeaseKeeper:
    """Keeps a changing set of wanted names leased to this process, in the background.

    `want(names)` says which names this process would like (the rest it releases); each tick it
    renews what it holds when due, tries to acquire the wanted names it lacks, and calls
    `on_gained(name)` when it starts holding one and `on_lost(name)` when it stops (released,
    taken over, or aged out while NATS was away). The callbacks run on the event loop and must
    not block: start or cancel the guarded work there."""

    def __init__(self, leases: Leases, *, on_gained: Callable[[str], object] | None = None,
                 on_lost: Callable[[str], object] | None = None, tick_s: float | None = None) -> None:
        self.leases = leases
        self.on_gained, self.on_lost = on_gained, on_lost
        # Between two looks at held(): at most a tick and one request timeout, within the margin.
        self.tick_s = tick_s or max(0.02, min(0.5, leases.renew_every_s / 2, leases.margin_s / 4))
        self._wanted: set[str] = set()
        self._holding: set[str] = set()  # names on_gained was called for, and not yet on_lost
        self._next_try: dict[str, float] = {}
        self._task: asyncio.Task | None = None
        self._changed = asyncio.Event()

    @property
    def holding(self) -> frozenset[str]:
        return frozenset(self._holding)

    def want(self, names: Iterable[str]) -> None:
        names = set(names)
        if names != self._wanted:
            self._wanted = names
            self._changed.set()

    def start(self) -> "LeaseKeeper":
        self._task = asyncio.create_task(self._run(), name=f"leases:{self.leases.bucket}")
        return self

    async def stop(self, *, release: bool = True) -> None:
        """Stop keeping; release what is held (so others take over at once) unless told not to."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for name in sorted(self._holding):
            self._lost(name)
            if release:
                await self.leases.release(name)
            else:
                self.leases.forget(name)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - next tick
                log.exception("lease keeper %s: tick failed", self.leases.bucket)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.tick_s)

    async def tick(self) -> None:
        """One round: release the unwanted, renew what is due, acquire what is free. Requests go
        out together, so a slow NATS delays the round by one request timeout, not one per name."""
        leases, now = self.leases, time.monotonic()
        unwanted = sorted(self._holding - self._wanted)
        for name in unwanted:
            self._lost(name)
        due = [name for name in sorted(self._holding) if (leases.age(name) or 0.0) >= leases.renew_every_s]
        await asyncio.gather(*(leases.release(n) for n in unwanted), *(leases.renew(n) for n in due))
        now = time.monotonic()
        for name in sorted(self._holding):
            if not leases.held(name):  # taken over, or too long without a renewal
                self._lost(name)
                leases.forget(name)
                self._next_try[name] = now + leases.renew_every_s  # let whoever took it keep it
        free = [name for name in sorted(self._wanted - self._holding) if self._next_try.get(name, 0.0) <= now]
        for name, won in zip(free, await asyncio.gather(*(leases.try_acquire(n) for n in free))):
            if won and name in self._wanted:
                self._holding.add(name)
                self._next_try.pop(name, None)
                self._call(self.on_gained, name)
            elif won:  # unwanted meanwhile
                await leases.release(name)
            else:
                self._next_try[name] = time.monotonic() + leases.renew_every_s / 2

    def _lost(self, name: str) -> None:
        if name in self._holding:
            self._holding.discard(name)
            self._call(self.on_lost, name)

    @staticmethod
    def _call(callback: Callable[[str], object] | None, name: str) -> None:
        if callback is None:
            return
        try:
            callback(name)
        except Exception:  # noqa: BLE001 - a callback's trouble is not the keeper's
            log.exception("lease callback failed for %s", name)
