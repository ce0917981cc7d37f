"""Helpers for tests and benchmarks (kept in the kit so bench/ can use them too)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], T | Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.02,
                     message: str = "condition") -> T:
    """Poll `check` until it returns a truthy value (or stops raising AssertionError); return it."""
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
        except AssertionError as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout}s") from last_error
        await asyncio.sleep(interval)
