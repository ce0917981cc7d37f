"""A background job run every N seconds until stopped. One round failing (the database or NATS
restarting) is logged and the next round runs as usual."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("copytrade.periodic")


class Periodic:
    def __init__(self, name: str, interval_s: float, job: Callable[[], Awaitable[object]], *,
                 first_delay_s: float = 0.0) -> None:
        """interval_s <= 0: never runs (tests drive the job themselves)."""
        self.name, self.interval_s, self.job, self.first_delay_s = name, interval_s, job, first_delay_s
        self._task: asyncio.Task | None = None

    def start(self) -> "Periodic":
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._loop(), name=self.name)
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                await self.job()
            except Exception:  # noqa: BLE001 - next round
                log.exception("%s failed", self.name)
            await asyncio.sleep(self.interval_s)
