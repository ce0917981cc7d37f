"""Signed checkpoints of the audit chain's head, kept outside the compliance database.

Where: a JetStream stream of their own, AUDIT_CHECKPOINTS (subjects audit.checkpoint.>), created
with no expiry and with deny_delete and deny_purge, which nats-server refuses to lift once set.
So no client — compliance included — can remove a checkpoint once it is published. Why not a
file: a file lives on the compliance host beside the database it is meant to check, and several
replicas would each keep their own; the stream lives with NATS (replicated in a cluster), every
replica publishes to and reads the same one, and NATS's permissions (not compliance's) decide
who may delete or re-configure the stream itself.

Each checkpoint is an AuditCheckpoint (compliance_events.proto) signed with the chain's key.
Replicas sign the head every AUDIT_CHECKPOINT_INTERVAL_S while it grows, and at shutdown; the
message id (chain, sequence, hash) makes the replicas' checkpoints of one head a single message.
Records appended since the newest checkpoint are covered only by the head row and the MACs.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import UTC, datetime

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from services.compliance import audit
from services.kit import errors
from services.kit.bus import TYPE_HEADER, Bus

log = logging.getLogger("copytrade.compliance.checkpoints")

STREAM = "AUDIT_CHECKPOINTS"
SUBJECTS = "audit.checkpoint.>"
READ_BATCH = 1000
READ_TIMEOUT_S = 5.0


def subject(chain: str) -> str:
    return f"audit.checkpoint.signed.{chain}"


class CheckpointLog:
    def __init__(self, bus: Bus, chain: str, key: audit.ChainKey) -> None:
        self.bus = bus
        self.chain = chain  # the compliance schema: several deployments may share one NATS
        self.key = key
        self._signed: tuple[int, str] | None = None

    async def ensure_stream(self) -> None:
        config = api.StreamConfig(
            name=STREAM, subjects=[SUBJECTS], storage=api.StorageType.FILE, retention=api.RetentionPolicy.LIMITS,
            deny_delete=True, deny_purge=True, allow_rollup_hdrs=False, duplicate_window=120.0)
        await self.bus.ensure_stream(config)  # replicated as the bus's other streams are

    async def sign(self, sequence: int, head_hash: str) -> bool:
        """Publish a checkpoint of the head, unless this replica already signed that head."""
        if sequence <= 0 or self._signed == (sequence, head_hash):
            return False
        now = datetime.now(UTC)
        checkpoint = events_pb.AuditCheckpoint(chain=self.chain, sequence=sequence, hash=head_hash,
                                               key_id=self.key.key_id,
                                               signature=self.key.sign_checkpoint(self.chain, sequence, head_hash, now))
        checkpoint.sign_time.FromDatetime(now)
        await self.bus.publish(subject(self.chain), checkpoint, f"checkpoint:{self.chain}:{sequence}:{head_hash[:16]}")
        self._signed = (sequence, head_hash)
        return True

    async def read_all(self) -> tuple[list[audit.Checkpoint], list[int]]:
        """(this chain's checkpoints signed by its key, the sequences of those that are not).
        UNAVAILABLE when NATS cannot be read: a verification without them vouches for less."""
        try:
            messages = await asyncio.wait_for(self._messages(), READ_TIMEOUT_S * 6)
        except (NatsTimeoutError, TimeoutError, ConnectionError, OSError) as exc:
            raise errors.unavailable("CHECKPOINTS_UNAVAILABLE", f"the audit checkpoints cannot be read from NATS "
                                     f"({type(exc).__name__}); try again", domain="compliance.copytrade") from None
        verified, unverifiable = [], []
        for data, headers in messages:
            if (headers or {}).get(TYPE_HEADER) != events_pb.AuditCheckpoint.DESCRIPTOR.full_name:
                continue
            try:
                checkpoint = events_pb.AuditCheckpoint.FromString(data)
            except Exception:  # noqa: BLE001 - not a checkpoint at all
                continue
            sign_time = checkpoint.sign_time.ToDatetime(tzinfo=UTC)
            expected = self.key.sign_checkpoint(checkpoint.chain, checkpoint.sequence, checkpoint.hash, sign_time)
            if checkpoint.chain != self.chain or checkpoint.key_id != self.key.key_id or \
                    not _equal(checkpoint.signature, expected):
                unverifiable.append(checkpoint.sequence)
                continue
            verified.append(audit.Checkpoint(checkpoint.sequence, checkpoint.hash, sign_time))
        return verified, unverifiable

    async def _messages(self) -> list[tuple[bytes, dict]]:
        """Every message on this chain's subject, oldest first, through an ephemeral consumer."""
        config = api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, deliver_policy=api.DeliverPolicy.ALL,
                                    inactive_threshold=30.0)
        sub = await self.bus.js.pull_subscribe(subject(self.chain), stream=STREAM, config=config)
        try:
            pending = (await sub.consumer_info()).num_pending
            found: list[tuple[bytes, dict]] = []
            while len(found) < pending:
                batch = await sub.fetch(min(READ_BATCH, pending - len(found)), timeout=READ_TIMEOUT_S)
                found.extend((m.data, m.headers) for m in batch)
            return found
        finally:
            try:
                await sub.unsubscribe()
            except Exception:  # noqa: BLE001 - gone with the connection
                pass


async def verify_chain(trail: audit.AuditTrail, log: CheckpointLog,
                       actor: str) -> tuple[audit.Verification, audit.Break | None]:
    """Walk the chain against its signed checkpoints (read before the head, so each names a
    walked record) and audit the verdict: (what was checked, the first break or None)."""
    signed, unverifiable = await log.read_all()
    checked = await trail.verify(signed)
    found = checked.with_unverifiable(unverifiable)
    await trail.record(audit.Entry(actor, "audit.verified", "audit-trail", "", {
        "intact": found is None, "records_checked": checked.records_checked,
        "checkpoints_checked": checked.checkpoints_checked,
        **({"first_bad_sequence": found.sequence, "problem": found.problem, "explanation": found.explanation}
           if found else {})}))
    return checked, found


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
