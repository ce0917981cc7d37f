"""The retry processor: a background loop in every replication replica that runs due retries.
Each due event is claimed by exactly one replica (see ErrorBook.claim), so running several is
safe; an attempt whose replica dies is taken over once its claim lapses."""

from __future__ import annotations

import logging

from copytrade.replication.v1 import error_recovery_service_pb2 as pb
from services.kit import metrics
from services.kit.periodic import Periodic
from services.replication.copier import Copier
from services.replication.error_book import Attempt, ErrorBook
from services.replication.store import ErrorEventRow
from services.replication.venues.base import ErrorKind, VenueError

log = logging.getLogger("copytrade.replication.retries")


class RetryProcessor:
    def __init__(self, book: ErrorBook, copier: Copier, interval_s: float = 1.0) -> None:
        self.book, self.copier = book, copier
        self._periodic = Periodic("retry-processor", interval_s, self._round)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def _round(self) -> None:
        await self.run_due()
        for error_type, count in (await self.book.pending_counts()).items():
            metrics.RETRIES_PENDING.labels(error_type).set(count)

    async def run_due(self) -> list[ErrorEventRow]:
        """Claim and run every retry that is due now; returns the settled events."""
        return [await self.attempt(event) for event in await self.book.claim_due()]

    async def run_now(self, event: ErrorEventRow) -> ErrorEventRow | None:
        """A person's "retry now", whatever the schedule says; None if another holds it."""
        claimed = await self.book.claim(event, (pb.ERROR_STATUS_PENDING_RETRY, pb.ERROR_STATUS_NEEDS_ATTENTION))
        return await self.attempt(claimed) if claimed else None

    async def attempt(self, event: ErrorEventRow) -> ErrorEventRow:
        try:
            outcome = await self.copier.retry(event.order_id, event.attempt_count)
        except Exception as exc:  # noqa: BLE001 - our own trouble (risk unreachable...): try again later
            log.warning("retry of %s failed: %s", event.order_id, exc)
            outcome = Attempt("failed", error=VenueError(ErrorKind.PLATFORM, f"retry could not run: {exc}"))
        settled = await self.book.settle(event, outcome)
        log.info("retry %d of %s: %s", event.attempt_count, event.order_id, pb.ErrorStatus.Name(settled.status))
        return settled
