"""The audit trail: append-only, tamper-evident, and checked against signed checkpoints kept
outside the compliance database.

Every record carries a sequence number (1, 2, 3, ..., never handed out twice) and the
HMAC-SHA256, under the chain's key (keyring.py), of a canonical encoding of its content together
with the previous record's MAC. So:
- editing a record breaks its MAC, and computing a new one needs the key, which the database
  does not hold: a forged record re-signed with plain SHA-256 still fails;
- removing one leaves a gap (or, if later records are renumbered, records whose MACs only fit
  their old numbers), and moving one makes it fit a number other than its own;
- removing the newest ones leaves the head (`audit_head`, which hands out the numbers) beyond
  the last record;
- and whoever holds the key as well — forging a record and re-signing all after it, or cutting
  off the end and moving the head back — no longer matches the signed checkpoints of the head
  kept on a JetStream stream nobody can delete from or purge (checkpoints.py).
`ChainWalker` finds the first such record. Records written before the chain had a key (below
`ChainKey.keyed_from`) keep their SHA-256 links; the first keyed record's MAC covers the last of
them, so they cannot be rewritten without breaking it.

The top half of this module is pure (MACs and verification); `AuditTrail` at the bottom appends
to the table, one writer at a time across every replica (a batch of entries under one lock of
the head row, one look-up of known event ids and one multi-row insert), announces each record
on NATS after its transaction commits, signs checkpoints and verifies.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import Message
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.compliance.store import AuditHeadRow, AuditRow
from services.kit import errors, paging
from services.kit.db import Database, aware

log = logging.getLogger("copytrade.compliance.audit")

GENESIS_HASH = "0" * 64  # what the first record's previous_hash is
CHAIN = "main"  # the head row's key
RECORDED_SUBJECT = "compliance.audit.recorded"
RECORD_CONTEXT = b"copytrade.audit.record.v1\n"  # domain separation: a record MAC is never a checkpoint's
CHECKPOINT_CONTEXT = b"copytrade.audit.checkpoint.v1\n"
INSERT_ROWS = 1000  # rows per INSERT statement (10 parameters each, within every database's limit)
LOOKUP_IDS = 1000  # event ids per look-up
VERIFY_PAGE = 2000

# VerifyAuditChain's `problem` values.
HASH_MISMATCH = "hash mismatch"  # the record's content was changed after it was written
GAP = "gap"  # a record is missing
REORDERED = "reordered"  # a record sits at a position other than the one it was written at
BROKEN_LINK = "broken link"  # a self-consistent record that does not follow its predecessor
TRUNCATED = "truncated"  # records were removed from the end of the chain
REWRITTEN = "rewritten"  # the chain no longer matches a signed checkpoint: edited and re-signed
UNVERIFIABLE_CHECKPOINT = "unverifiable checkpoint"  # a checkpoint this chain's key did not sign

# How far from its position a record's original sequence number is searched for when its hash
# does not fit where it is (a few thousand HMAC computations, only on the failure path).
MOVE_SEARCH = 1000

DOMAIN = "compliance.copytrade"
ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")
ACTION_PREFIX = re.compile(r"[a-z0-9_.]{1,64}")
MAX_DETAILS_JSON = 16 * 1024
# RecordAuditEvent's text fields and their widths (the columns').
REPORTED_WIDTHS = (("actor", 128), ("resource", 256), ("subject_user_id", 64), ("event_id", 128))

_SECRET_KEY = re.compile(r"secret|password|passphrase|token|api_?key|private|document_number", re.IGNORECASE)
REDACTED = "[redacted]"


# --- pure: canonical form, MACs, verification ---------------------------------------------------
@dataclass(frozen=True)
class ChainKey:
    """The chain's HMAC key and the first sequence it signs (earlier records: plain SHA-256)."""

    key_id: str
    secret: bytes = field(repr=False)
    keyed_from: int = 1

    def to_bytes(self) -> bytes:
        return json.dumps({"id": self.key_id, "key": self.secret.hex(), "from": self.keyed_from}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "ChainKey":
        fields_ = json.loads(data)
        return cls(fields_["id"], bytes.fromhex(fields_["key"]), int(fields_["from"]))

    def mac(self, sequence: int, encoded: bytes) -> str:
        if sequence < self.keyed_from:
            return hashlib.sha256(encoded).hexdigest()
        return hmac.new(self.secret, RECORD_CONTEXT + encoded, hashlib.sha256).hexdigest()

    def sign_checkpoint(self, chain: str, sequence: int, head_hash: str, sign_time: datetime) -> str:
        encoded = json.dumps([chain, sequence, head_hash, canonical_time(sign_time), self.key_id],
                             ensure_ascii=True, separators=(",", ":")).encode()
        return hmac.new(self.secret, CHECKPOINT_CONTEXT + encoded, hashlib.sha256).hexdigest()


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


def record_hash(key: ChainKey, sequence: int, occur_time: datetime, actor: str, action: str, resource: str,
                subject_user_id: str, details_json: str, previous_hash: str) -> str:
    """The record's MAC over its canonical encoding: a JSON array (ASCII, no spaces) of every
    field in a fixed order, so the same record signs the same on every database and platform."""
    encoded = json.dumps([sequence, canonical_time(occur_time), actor, action, resource, subject_user_id,
                          details_json, previous_hash], ensure_ascii=True, separators=(",", ":"))
    return key.mac(sequence, encoded.encode())


def hash_of(row: AuditRow, key: ChainKey, sequence: int | None = None) -> str:
    """The MAC `row` should carry (at `sequence`, when asking whether it was written elsewhere)."""
    return record_hash(key, row.sequence if sequence is None else sequence, row.occur_time, row.actor, row.action,
                       row.resource, row.subject_user_id, row.details_json, row.previous_hash)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain's record `sequence` carried `hash` at `sign_time`."""

    sequence: int
    hash: str
    sign_time: datetime


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
    """Feed records in sequence order, then `finish` with the head; the first break is returned
    (and nothing after it is meaningful). Memory stays constant (but for the checkpoints), so
    the walk can page through any number of records."""

    def __init__(self, key: ChainKey, checkpoints: Sequence[Checkpoint] = ()) -> None:
        self.key = key
        self.expected = 1
        self.previous_hash = GENESIS_HASH
        self.checked = 0
        self.checkpoints = sorted(checkpoints, key=lambda c: (c.sequence, c.sign_time))
        self._next_checkpoint = 0
        self._matched = 0  # the newest sequence a checkpoint vouched for

    def feed(self, row: AuditRow) -> Break | None:
        position = self.expected
        self.checked += 1
        if row.sequence != position:
            return Break(position, GAP, f"record {position} is missing (the next record is {row.sequence})")
        if hash_of(row, self.key) != row.hash:
            written_at = next((s for s in _around(position) if hash_of(row, self.key, s) == row.hash), 0)
            if not written_at:
                return Break(position, HASH_MISMATCH,
                             f"record {position} does not match its hash: it was changed after it was written")
            return Break(position, REORDERED, "", written_at=written_at, follows_hash=row.previous_hash)
        if row.previous_hash != self.previous_hash:
            return Break(position, BROKEN_LINK, f"record {position} does not follow record {position - 1}: "
                                                f"a record before it was replaced")
        while self._next_checkpoint < len(self.checkpoints) and \
                self.checkpoints[self._next_checkpoint].sequence <= position:
            signed = self.checkpoints[self._next_checkpoint]
            self._next_checkpoint += 1
            if signed.sequence == position and signed.hash != row.hash:
                return Break(self._matched + 1, REWRITTEN,
                             f"record {position} is not what the checkpoint signed at {canonical_time(signed.sign_time)} "
                             f"says: a record from {self._matched + 1} to {position} was changed and the chain "
                             f"re-signed after it")
            self._matched = max(self._matched, signed.sequence)
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

    def finish(self, head_sequence: int, head_hash: str, newest_record: int) -> Break | None:
        """After the last record up to the head: does the chain end where its head and its
        checkpoints say it does?"""
        last = self.expected - 1
        signed_end = self.checkpoints[-1].sequence if self.checkpoints else 0
        end = max(head_sequence, signed_end)
        if end > last:
            return Break(last + 1, TRUNCATED, f"records {last + 1} to {end} were removed from the end of the chain")
        if newest_record > head_sequence:
            return Break(head_sequence + 1, BROKEN_LINK, f"records after the chain's head ({head_sequence}) were "
                                                         f"not appended by compliance")
        if last and head_hash != self.previous_hash:
            return Break(last, BROKEN_LINK, f"the chain's head does not match record {last}")
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


def check_action_prefix(prefix: str) -> None:
    if prefix and not ACTION_PREFIX.fullmatch(prefix):
        raise errors.invalid_argument("INVALID_ACTION_PREFIX", "action_prefix is the start of a dotted "
                                      "lower-case verb such as copy. (at most 64 characters)",
                                      domain=DOMAIN, field="action_prefix")


def reported_entry(request, recorder: str) -> Entry:
    """The entry a service reports (RecordAuditEvent's request), checked: INVALID_AUDIT_EVENT if
    a field is too long, the action is not a dotted verb or the details are not a JSON object.
    `recorder` (the calling service) is the actor unless the request names one."""
    details = _details(request.details_json)
    for name, limit in REPORTED_WIDTHS:
        if len(getattr(request, name)) > limit:
            raise errors.invalid_argument("INVALID_AUDIT_EVENT", f"{name} is longer than {limit} characters",
                                          domain=DOMAIN, field=name)
    if not ACTION.fullmatch(request.action) or len(request.action) > 64:
        raise errors.invalid_argument("INVALID_AUDIT_EVENT", "action is a dotted lower-case verb such as "
                                      "copy.refused (at most 64 characters)", domain=DOMAIN, field="action")
    actor = request.actor or recorder
    if actor != recorder:  # who said so, beside who it says acted
        details["recorded_by"] = recorder
    return Entry(actor, request.action, request.resource, request.subject_user_id, details,
                 f"rpc:{recorder}:{request.event_id}" if request.event_id else None)


def _details(details_json: str) -> dict:
    if not details_json:
        return {}
    if len(details_json) > MAX_DETAILS_JSON:
        raise errors.invalid_argument("INVALID_AUDIT_EVENT", f"details_json is over {MAX_DETAILS_JSON} bytes",
                                      domain=DOMAIN, field="details_json")
    try:
        details = json.loads(details_json)
    except ValueError:
        details = None
    if not isinstance(details, dict):
        raise errors.invalid_argument("INVALID_AUDIT_EVENT", "details_json must be a JSON object",
                                      domain=DOMAIN, field="details_json")
    return details


def _text(value: str, width: int) -> str:
    """A field as the trail keeps it: cut to its column, NUL (which PostgreSQL cannot hold)
    replaced, since a record of what happened is never refused for its wording."""
    return value.replace("\x00", "\ufffd")[:width]


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


@dataclass(frozen=True)
class Verification:
    found: Break | None
    records_checked: int
    checkpoints_checked: int

    def with_unverifiable(self, unverifiable: Sequence[int]) -> Break | None:
        """The first break, or, for an intact chain, checkpoints its key did not sign as one."""
        if self.found is None and unverifiable:
            return Break(min(unverifiable), UNVERIFIABLE_CHECKPOINT,
                         f"{len(unverifiable)} checkpoints (the first for record {min(unverifiable)}) are not "
                         "signed by this chain's key: the key was replaced, or someone else published them")
        return self.found


class AuditTrail:
    def __init__(self, db: Database, publish: Publish, key: ChainKey) -> None:
        self.db = db
        self.publish = publish
        self.key = key

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AuditedTransaction]:
        async with self.db.session() as session:
            tx = AuditedTransaction(session)
            yield tx
            if tx.entries:  # the lock is taken here, at the end, and held only to commit
                for row, created in await self.append(session, tx.entries):
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

    async def append(self, session: AsyncSession, entries: Sequence[Entry]) -> list[tuple[AuditRow, bool]]:
        """Add `entries` at the end of the chain inside `session`'s transaction, in order: one
        lock of the head (which serialises appenders across replicas), one look-up of the event
        ids already in the chain, one multi-row insert. An entry whose event id is already in the
        chain (or earlier in `entries`) gets the earlier record instead, and False."""
        head = (await session.execute(select(AuditHeadRow).where(AuditHeadRow.chain == CHAIN)
                                      .with_for_update())).scalar_one()
        ids = list({e.event_id for e in entries if e.event_id})
        known: dict[str, AuditRow] = {}
        for start in range(0, len(ids), LOOKUP_IDS):
            known.update((r.event_id, r) for r in (await session.execute(
                select(AuditRow).where(AuditRow.event_id.in_(ids[start:start + LOOKUP_IDS])))).scalars())
        sequence, previous = head.sequence, head.hash
        now = datetime.now(UTC)
        result: list[tuple[AuditRow, bool]] = []
        fresh: list[dict] = []
        for entry in entries:
            if entry.event_id and entry.event_id in known:
                result.append((known[entry.event_id], False))
                continue
            sequence += 1
            row = AuditRow(sequence=sequence, occur_time=now, actor=_text(entry.actor, 128),
                           action=_text(entry.action, 64), resource=_text(entry.resource, 256),
                           subject_user_id=_text(entry.subject_user_id, 64),
                           details_json=canonical_details(entry.details), previous_hash=previous,
                           event_id=_text(entry.event_id, 200) if entry.event_id else None)
            row.hash = previous = hash_of(row, self.key)
            if row.event_id:
                known[row.event_id] = row
            result.append((row, True))
            fresh.append({c: getattr(row, c) for c in _COLUMNS})
        for start in range(0, len(fresh), INSERT_ROWS):
            # Core, not ORM, bulk insert: one statement whatever the rows hold (the ORM splits runs
            # of rows by which columns are None), its compiled form cached across batches.
            await session.execute(insert(AuditRow.__table__), fresh[start:start + INSERT_ROWS])
        if fresh:
            await session.execute(update(AuditHeadRow).where(AuditHeadRow.chain == CHAIN)
                                  .values(sequence=sequence, hash=previous))
        return result

    async def page(self, user_id: str, action_prefix: str, requested_size: int,
                   page_token: str) -> tuple[list[AuditRow], str]:
        """One page of records, newest first: those about or by `user_id` (all when empty) whose
        action starts with `action_prefix`. Keyed by sequence number (kit.paging's keyset
        compares its key as text, which PostgreSQL refuses for an integer column)."""
        query = select(AuditRow)
        if user_id:
            query = query.where(or_(AuditRow.subject_user_id == user_id, AuditRow.actor == user_id))
        if action_prefix:
            query = query.where(AuditRow.action.startswith(action_prefix, autoescape=True))
        size = paging.page_size(requested_size)
        after = paging.decode_token(page_token, (int,))
        if after:
            query = query.where(AuditRow.sequence < after[0])
        async with self.db.session() as session:
            rows = (await session.execute(query.order_by(AuditRow.sequence.desc()).limit(size + 1))).scalars().all()
        token = paging.encode_token([rows[size - 1].sequence]) if len(rows) > size else ""
        return list(rows[:size]), token

    async def head(self) -> tuple[int, str]:
        async with self.db.session() as session:
            row = await session.get(AuditHeadRow, CHAIN)
        return row.sequence, row.hash

    async def verify(self, checkpoints: Sequence[Checkpoint]) -> Verification:
        """Walk the chain as it stood when the walk began (a page per transaction, so appends
        carry on meanwhile) against its head and `checkpoints` (read before the head, so each
        names a record the walk reaches)."""
        async with self.db.session() as session:
            head_sequence, head_hash, newest = (await session.execute(select(
                select(AuditHeadRow.sequence).where(AuditHeadRow.chain == CHAIN).scalar_subquery(),
                select(AuditHeadRow.hash).where(AuditHeadRow.chain == CHAIN).scalar_subquery(),
                select(func.max(AuditRow.sequence)).scalar_subquery()))).one()
        walker, found, after = ChainWalker(self.key, checkpoints), None, 0
        while found is None:
            async with self.db.session() as session:
                rows = (await session.execute(select(AuditRow).where(
                    AuditRow.sequence > after, AuditRow.sequence <= head_sequence)
                    .order_by(AuditRow.sequence).limit(VERIFY_PAGE))).scalars().all()
                found = await asyncio.to_thread(walker.walk, rows)  # MACs over a page are CPU work
                if found is not None and found.written_at:
                    found = found.settle(await session.scalar(
                        select(AuditRow.sequence).where(AuditRow.hash == found.follows_hash).limit(1)) is not None)
            if len(rows) < VERIFY_PAGE:
                break
            after = rows[-1].sequence
        if found is None:
            found = walker.finish(head_sequence, head_hash, newest or 0)
        return Verification(found, walker.checked, len(checkpoints))


_COLUMNS = ("sequence", "occur_time", "actor", "action", "resource", "subject_user_id", "details_json",
            "previous_hash", "hash", "event_id")
