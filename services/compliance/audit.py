"""The audit trail: append-only and tamper-evident.

Every record carries a sequence number (1, 2, 3, ... with no gaps) and the SHA-256 of a
canonical encoding of its own content together with the previous record's hash, so that
editing a record breaks its hash, removing one leaves a gap (or, if later records are
renumbered, records whose hashes only fit their old numbers), and moving one makes it fit a
number other than its own. `ChainWalker` finds the first such record.

The top half of this module is pure (hashing and verification); `AuditTrail` at the bottom
appends to the table, one writer at a time across every replica, and announces each record on
NATS after its transaction commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.compliance.store import AuditRow
from services.kit.db import Database, aware

log = logging.getLogger("copytrade.compliance.audit")

GENESIS_HASH = "0" * 64  # what the first record's previous_hash is
AUDIT_LOCK = "compliance.audit"
RECORDED_SUBJECT = "compliance.audit.recorded"

# VerifyAuditChain's `problem` values.
HASH_MISMATCH = "hash mismatch"  # the record's content was changed after it was written
GAP = "gap"  # a record is missing
REORDERED = "reordered"  # a record sits at a position other than the one it was written at
BROKEN_LINK = "broken link"  # a self-consistent record that does not follow its predecessor

# How far from its position a record's original sequence number is searched for when its hash
# does not fit where it is (a few thousand SHA-256 computations, only on the failure path).
MOVE_SEARCH = 1000

_SECRET_KEY = re.compile(r"secret|password|passphrase|token|api_?key|private|document_number", re.IGNORECASE)
REDACTED = "[redacted]"


# --- pure: canonical form, hashing, verification ------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """What to append: the chain supplies the sequence, time and hashes."""

    actor: str  # a user id, "service:<name>" or "system:<name>"
    action: str  # dotted verb: "credential.stored", "copy.refused"
    resource: str = ""  # what was acted on: "credential:cred_123"
    subject_user_id: str = ""  # whose data this concerns
    details: dict = field(default_factory=dict)
    # Where the entry came from (a NATS message id, a caller's event id); appended once.
    event_id: str | None = None


def redact(value):
    """`value` with anything under a secret-sounding key replaced: a safety net, since the
    trail is permanent and callers put free-form details in it."""
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def canonical_details(details: dict) -> str:
    return json.dumps(redact(details), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_time(moment: datetime) -> str:
    return aware(moment).astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(sequence: int, occur_time: datetime, actor: str, action: str, resource: str,
                subject_user_id: str, details_json: str, previous_hash: str) -> str:
    """Hex SHA-256 of the record's canonical encoding: a JSON array (ASCII, no spaces) of every
    field in a fixed order, so the same record hashes the same on every database and platform."""
    encoded = json.dumps([sequence, canonical_time(occur_time), actor, action, resource, subject_user_id,
                          details_json, previous_hash], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def hash_of(row: AuditRow, sequence: int | None = None) -> str:
    """The hash `row` should carry (at `sequence`, when asking whether it was written elsewhere)."""
    return record_hash(row.sequence if sequence is None else sequence, row.occur_time, row.actor, row.action,
                       row.resource, row.subject_user_id, row.details_json, row.previous_hash)


@dataclass(frozen=True)
class Break:
    """Where the chain first fails, and why."""

    sequence: int
    problem: str
    explanation: str
    # For a record whose hash fits another position: that position, and the hash it follows.
    written_at: int = 0
    follows_hash: str = ""

    def settle(self, predecessor_present: bool) -> "Break":
        """Name a moved record once it is known whether the record it followed still exists:
        if so, records were swapped; if not, records were removed and later ones renumbered."""
        if not self.written_at:
            return self
        if predecessor_present or self.follows_hash == GENESIS_HASH or self.written_at < self.sequence:
            return Break(self.sequence, REORDERED, f"record {self.sequence} holds the record written as "
                                                   f"{self.written_at}: records were reordered")
        return Break(self.sequence, GAP, f"records {self.sequence} to {self.written_at - 1} were removed "
                                         f"and later records renumbered")


class ChainWalker:
    """Feed records in sequence order; the first break is returned (and nothing after it is
    meaningful). Memory stays constant, so the walk can page through any number of records."""

    def __init__(self) -> None:
        self.expected = 1
        self.previous_hash = GENESIS_HASH
        self.checked = 0

    def feed(self, row: AuditRow) -> Break | None:
        position = self.expected
        self.checked += 1
        if row.sequence != position:
            return Break(position, GAP, f"record {position} is missing (the next record is {row.sequence})")
        if hash_of(row) != row.hash:
            written_at = next((s for s in _around(position) if hash_of(row, s) == row.hash), 0)
            if not written_at:
                return Break(position, HASH_MISMATCH,
                             f"record {position} does not match its hash: it was changed after it was written")
            return Break(position, REORDERED, "", written_at=written_at, follows_hash=row.previous_hash)
        if row.previous_hash != self.previous_hash:
            return Break(position, BROKEN_LINK, f"record {position} does not follow record {position - 1}: "
                                                f"a record before it was replaced")
        self.expected += 1
        self.previous_hash = row.hash
        return None

    def walk(self, rows) -> Break | None:
        """Feed `rows` in order up to the first break."""
        for row in rows:
            found = self.feed(row)
            if found is not None:
                return found
        return None


def _around(position: int):
    for offset in range(1, MOVE_SEARCH + 1):
        yield position + offset
        if position - offset >= 1:
            yield position - offset


def to_proto(row: AuditRow) -> pb.AuditEvent:
    event = pb.AuditEvent(sequence=row.sequence, actor=row.actor, action=row.action, resource=row.resource,
                          subject_user_id=row.subject_user_id, details_json=row.details_json, hash=row.hash,
                          previous_hash=row.previous_hash)
    event.occur_time.FromDatetime(aware(row.occur_time))
    return event


# --- the table ------------------------------------------------------------------------------------
Publish = Callable[[str, Message, str], Awaitable[None]]


@dataclass
class AuditedTransaction:
    """A database transaction whose audit entries join the chain just before it commits (so the
    action and its record commit together), and whose announcements go out after it commits."""

    session: AsyncSession
    entries: list[Entry] = field(default_factory=list)
    announcements: list[tuple[str, Message, str]] = field(default_factory=list)
    rows: list[AuditRow] = field(default_factory=list)  # one per entry (the earlier one for a repeat)

    def record(self, entry: Entry) -> None:
        self.entries.append(entry)

    def announce(self, subject: str, event: Message, msg_id: str) -> None:
        self.announcements.append((subject, event, msg_id))


class AuditTrail:
    def __init__(self, db: Database, publish: Publish) -> None:
        self.db = db
        self.publish = publish

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AuditedTransaction]:
        async with self.db.session() as session:
            tx = AuditedTransaction(session)
            yield tx
            for entry in tx.entries:  # the lock is taken here, at the end, and held only to commit
                row, created = await self.append(session, entry)
                tx.rows.append(row)
                if created:
                    tx.announce(RECORDED_SUBJECT, events_pb.AuditEventRecorded(event=to_proto(row)),
                                f"audit:{row.sequence}:{row.hash[:16]}")
        for subject, event, msg_id in tx.announcements:
            await self.publish(subject, event, msg_id)

    async def record(self, entry: Entry) -> AuditRow:
        async with self.transaction() as tx:
            tx.record(entry)
        return tx.rows[0]

    async def seen(self, session: AsyncSession, event_id: str) -> bool:
        return await session.scalar(select(AuditRow.sequence).where(AuditRow.event_id == event_id)) is not None

    async def append(self, session: AsyncSession, entry: Entry) -> tuple[AuditRow, bool]:
        """Add `entry` at the end of the chain inside `session`'s transaction; with an event id
        already in the chain, the earlier record instead (and False)."""
        await self.db.serialise(session, AUDIT_LOCK)  # one appender at a time, across replicas
        if entry.event_id:
            existing = (await session.execute(select(AuditRow).where(AuditRow.event_id == entry.event_id))
                        ).scalar_one_or_none()
            if existing is not None:
                return existing, False
        last = (await session.execute(select(AuditRow.sequence, AuditRow.hash)
                                      .order_by(AuditRow.sequence.desc()).limit(1))).first()
        sequence, previous = (last.sequence + 1, last.hash) if last else (1, GENESIS_HASH)
        row = AuditRow(sequence=sequence, occur_time=datetime.now(UTC), actor=entry.actor[:128],
                       action=entry.action[:64], resource=entry.resource[:256],
                       subject_user_id=entry.subject_user_id[:64], details_json=canonical_details(entry.details),
                       previous_hash=previous, event_id=entry.event_id)
        row.hash = hash_of(row)
        session.add(row)
        await session.flush()
        return row, True
