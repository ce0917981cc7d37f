"""Values read from a venue at most once per ttl_s per key, concurrent askers sharing the one
read under way: a fill's thousand copies ask once (followers' equity, a venue's last price)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, Hashable, TypeVar

V = TypeVar("V")


class SharedReads(Generic[V]):
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._known: dict[Hashable, tuple[float, V]] = {}  # key → (monotonic time, value)
        self._reading: dict[Hashable, asyncio.Future] = {}

    async def get(self, key: Hashable, read: Callable[[], Awaitable[V]]) -> V:
        known = self._known.get(key)
        if known is not None and time.monotonic() - known[0] < self.ttl_s:
            return known[1]
        reading = self._reading.get(key)
        if reading is None:
            reading = self._reading[key] = asyncio.ensure_future(read())
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        value = await asyncio.shield(reading)
        self.note(key, value)
        return value

    def note(self, key: Hashable, value: V) -> None:
        """A value seen elsewhere serves the next askers too."""
        self._known[key] = (time.monotonic(), value)

    def adjust(self, key: Hashable, change: Callable[[V], V]) -> None:
        """A known value changed by what this process did (its age stays that of its read)."""
        known = self._known.get(key)
        if known is not None:
            self._known[key] = (known[0], change(known[1]))

    def forget(self, key: Hashable) -> None:
        self._known.pop(key, None)

    def forget_where(self, matches: Callable[[Hashable], bool]) -> None:
        for key in [k for k in self._known if matches(k)]:
            del self._known[key]
