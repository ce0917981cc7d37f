"""The audit chain against someone with write access to compliance's database (and, in the last
tests, its key too): a forged record re-hashed onwards, the newest records deleted, a rewrite
re-signed with the key, the end cut off and the head moved back. Each is found by
VerifyAuditChain; the signed checkpoints on NATS cannot be purged; an existing chain carries on
under the key; a batch of entries is appended with one lock, one look-up and one insert."""

import dataclasses
import hashlib
import json
import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.config import Config
from nats.js import api
from sqlalchemy import event, text

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.compliance import audit, checkpoints
from services.compliance.server import MIGRATIONS
from services.kit.db import Database
from services.kit.testing import eventually

FIELDS = ("sequence", "occur_time", "actor", "action", "resource", "subject_user_id", "details_json",
          "previous_hash", "hash", "event_id")
COLUMNS = ", ".join(FIELDS)


async def verify(svc, operator) -> pb.VerifyAuditChainResponse:
    return await svc.public.VerifyAuditChain(pb.VerifyAuditChainRequest(), metadata=operator)


async def record(svc, service_metadata, user: str, count: int) -> int:
    """`count` records about `user`; the last one's sequence."""
    sequence = 0
    for n in range(count):
        sequence = (await svc.internal.RecordAuditEvent(internal.RecordAuditEventRequest(
            action="copy.placed", resource=f"order:o{n}", subject_user_id=user, details_json=json.dumps({"n": n})),
            metadata=service_metadata)).sequence
    return sequence


def stored_time(moment) -> datetime:
    return datetime.fromisoformat(moment) if isinstance(moment, str) else moment  # SQLite's raw rows: text


def sha256_record(values: dict) -> str:
    """What an attacker who read the code computes for a record: the chain's canonical encoding,
    hashed with SHA-256 (all the chain used before it had a key)."""
    moment = stored_time(values["occur_time"])
    encoded = json.dumps([values["sequence"], audit.canonical_time(moment), values["actor"], values["action"],
                          values["resource"], values["subject_user_id"], values["details_json"],
                          values["previous_hash"]], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


async def rewrite_from(svc, sequence: int, sign) -> str:
    """Forge record `sequence` and re-hash it and every record after it with `sign`, so each
    links to the one before; the database's idea of the head follows. The new head's hash."""
    previous = (await svc.sql("SELECT hash FROM audit_events WHERE sequence = :s", s=sequence - 1))[0][0]
    rows = await svc.sql(f"SELECT {COLUMNS} FROM audit_events WHERE sequence >= :s ORDER BY sequence", s=sequence)
    for row in rows:
        values = dict(zip(FIELDS, row))
        if values["sequence"] == sequence:
            values["details_json"] = '{"n":"forged"}'
        values["previous_hash"] = previous
        values["hash"] = previous = sign(values)
        await svc.sql("UPDATE audit_events SET details_json = :d, previous_hash = :p, hash = :h WHERE sequence = :s",
                      d=values["details_json"], p=values["previous_hash"], h=values["hash"], s=values["sequence"])
    await move_head(svc, rows[-1][0], previous)
    return previous


async def move_head(svc, sequence: int, head_hash: str) -> None:
    """Whatever in the database says where the chain ends, made to say `sequence`."""
    tables = await svc.sql("SELECT table_name FROM information_schema.tables WHERE table_name = 'audit_head'"
                           if svc.settings.database_url else
                           "SELECT name FROM sqlite_master WHERE name = 'audit_head'")
    if tables:
        await svc.sql("UPDATE audit_head SET sequence = :s, hash = :h", s=sequence, h=head_hash)


async def signed_up_to(svc, bus, sequence: int) -> None:
    """Wait until a checkpoint signing record `sequence` or later is on the stream."""
    log = checkpoints.CheckpointLog(bus, svc.settings.service, await svc.audit_key())

    async def signed():
        found, _ = await log.read_all()
        return any(c.sequence >= sequence for c in found)

    await eventually(signed, timeout=20, interval=0.1, message=f"a checkpoint at record {sequence}")


async def test_a_forged_record_re_hashed_onwards_is_found_where_it_was_forged(
        start_compliance, backend, operator, service_metadata):
    svc = await start_compliance()
    last = await record(svc, service_metadata, f"u_{uuid.uuid4().hex[:8]}", 30)
    assert (await verify(svc, operator)).intact

    await rewrite_from(svc, 10, sha256_record)  # the whole chain after it re-hashed, as the code says
    found = await verify(svc, operator)
    assert (found.intact, found.first_bad_sequence, found.problem) == (False, 10, audit.HASH_MISMATCH), found
    assert found.records_checked == 10 and last == 30


async def test_deleting_the_newest_records_is_found_and_their_numbers_are_never_reused(
        start_compliance, backend, operator, service_metadata):
    svc = await start_compliance()
    user = f"u_{uuid.uuid4().hex[:8]}"
    last = await record(svc, service_metadata, user, 12)
    await svc.sql("DELETE FROM audit_events WHERE sequence > :s", s=last - 5)

    found = await verify(svc, operator)
    assert (found.intact, found.first_bad_sequence, found.problem) == (False, last - 4, audit.TRUNCATED), found
    assert f"records {last - 4} to {last}" in found.explanation
    after = await record(svc, service_metadata, user, 1)
    assert after > last + 1  # after the verification's own record: numbers go on from the head
    sequences = [s for (s,) in await svc.sql("SELECT sequence FROM audit_events ORDER BY sequence")]
    assert sequences[-3:] == [last - 5, last + 1, last + 2]


async def test_a_rewrite_re_signed_with_the_key_is_found_by_the_checkpoints(
        start_compliance, backend, operator, service_metadata, bus):
    svc = await start_compliance(audit_checkpoint_interval_s=0.1)
    last = await record(svc, service_metadata, f"u_{uuid.uuid4().hex[:8]}", 20)
    await signed_up_to(svc, bus, last)
    key = await svc.audit_key()  # the attacker holds MASTER_KEY as well as the database

    await rewrite_from(svc, 8, lambda values: audit.hash_of(
        audit.AuditRow(**{**values, "occur_time": stored_time(values["occur_time"])}), key))
    found = await verify(svc, operator)
    assert (found.intact, found.problem) == (False, audit.REWRITTEN), found
    assert 1 <= found.first_bad_sequence <= 8 and found.checkpoints_checked >= 1
    # Every record passes its own MAC and link: only what was signed outside shows the rewrite.
    assert found.records_checked >= 8


async def test_cutting_off_the_end_and_moving_the_head_back_is_found_by_the_checkpoints(
        start_compliance, backend, operator, service_metadata, bus):
    svc = await start_compliance(audit_checkpoint_interval_s=0.1)
    last = await record(svc, service_metadata, f"u_{uuid.uuid4().hex[:8]}", 10)
    await signed_up_to(svc, bus, last)

    (kept_hash,), = await svc.sql("SELECT hash FROM audit_events WHERE sequence = :s", s=last - 5)
    await svc.sql("DELETE FROM audit_events WHERE sequence > :s", s=last - 5)
    await move_head(svc, last - 5, kept_hash)
    found = await verify(svc, operator)
    assert (found.intact, found.first_bad_sequence, found.problem) == (False, last - 4, audit.TRUNCATED), found


async def test_checkpoints_cannot_be_deleted_purged_or_faked(start_compliance, backend, operator,
                                                             service_metadata, bus):
    svc = await start_compliance(audit_checkpoint_interval_s=0.1)
    last = await record(svc, service_metadata, f"u_{uuid.uuid4().hex[:8]}", 3)
    await signed_up_to(svc, bus, last)

    stream = await bus.js.stream_info(checkpoints.STREAM)
    assert stream.config.deny_delete and stream.config.deny_purge and not stream.config.max_age
    before = stream.state.messages
    with pytest.raises(Exception, match="(?i)purge"):
        await bus.js.purge_stream(checkpoints.STREAM)
    with pytest.raises(Exception, match="(?i)delete"):
        await bus.js.delete_msg(checkpoints.STREAM, stream.state.last_seq)
    lifted = api.StreamConfig.from_response(stream.config.as_dict())
    lifted.deny_purge = False
    with pytest.raises(Exception, match="(?i)purge"):
        await bus.js.update_stream(lifted)
    assert (await bus.js.stream_info(checkpoints.STREAM)).state.messages >= before

    # A checkpoint not signed with the chain's key (anyone may publish on NATS without
    # permissions) is never taken for one: verification names it.
    fake = events_pb.AuditCheckpoint(chain=svc.settings.service, sequence=last, hash="f" * 64, key_id="k",
                                     signature="0" * 64)
    fake.sign_time.FromDatetime(datetime.now(UTC))
    await bus.publish(checkpoints.subject(svc.settings.service), fake, msg_id=f"fake-{uuid.uuid4().hex}")
    found = await verify(svc, operator)
    assert (found.intact, found.problem, found.first_bad_sequence) == (False, audit.UNVERIFIABLE_CHECKPOINT, last)


async def test_an_existing_chain_carries_on_under_the_key_and_its_old_records_stay_protected(
        start_compliance, make_settings, backend, operator, service_metadata):
    # A database as the previous release left it: migrated to 0004, records chained with SHA-256.
    name = f"compliance_{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(make_settings("compliance"), service=name)
    legacy = Database(settings, MIGRATIONS)
    async with legacy.engine.begin() as conn:
        if legacy.is_postgres:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{name}"'))

        def upgrade(connection) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "0004")

        await conn.run_sync(upgrade)
    previous = audit.GENESIS_HASH
    async with legacy.session() as session:
        for sequence in range(1, 6):
            values = dict(sequence=sequence, occur_time=datetime(2026, 1, 1, 12, sequence, tzinfo=UTC),
                          actor="op-1", action="kyc.approved", resource=f"kyc:u{sequence}", subject_user_id="u",
                          details_json="{}", previous_hash=previous, event_id=None)
            values["hash"] = previous = sha256_record(values)
            await session.execute(text(f"INSERT INTO audit_events ({COLUMNS}) VALUES "
                                       f"({', '.join(':' + f for f in FIELDS)})"), values)
    await legacy.close()

    svc = await start_compliance(name)  # the new release: migrates, makes the key
    assert (await svc.audit_key()).keyed_from == 6
    await record(svc, service_metadata, "u", 3)
    intact = await verify(svc, operator)
    assert intact.intact and intact.records_checked == 8, intact

    # The old records are still plain SHA-256 links, but re-hashing them no longer passes: the
    # first keyed record's MAC covers the last of them.
    await rewrite_from(svc, 3, sha256_record)
    await svc.sql("UPDATE audit_events SET previous_hash = (SELECT hash FROM audit_events WHERE sequence = 5) "
                  "WHERE sequence = 6")
    found = await verify(svc, operator)
    assert (found.intact, found.first_bad_sequence) == (False, 6), found


async def test_a_batch_is_appended_under_one_lock_with_one_look_up_and_one_insert(start_compliance, backend,
                                                                                  operator):
    svc = await start_compliance()
    trail = audit.AuditTrail(Database(svc.settings), _no_publish, await svc.audit_key())
    first = await trail.record(audit.Entry("system:replication", "copy.placed", "order:o0", "u", {"n": 0}, "evt-0"))

    statements: list[str] = []
    event.listen(trail.db.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_rest: statements.append(" ".join(statement.split())))
    # A copy engine's batch: one event recorded before (evt-0), one twice in the batch (evt-1).
    ids = {n: f"evt-{n}" for n in range(300) if n % 3} | {3: "evt-0", 6: "evt-1"}
    async with trail.transaction() as tx:
        for n in range(300):
            tx.record(audit.Entry("system:replication", "copy.placed", f"order:o{n}", "u", {"n": n}, ids.get(n)))
    await trail.db.close()

    def count(pattern: str) -> int:
        return sum(1 for s in statements if pattern in s)

    assert count("pg_advisory") == 0 and count("audit_head") == 2, statements  # the head: locked once, moved once
    assert count("INSERT INTO audit_events") == 1 and count("FROM audit_events") == 1, statements
    assert tx.rows[3].sequence == first.sequence and tx.rows[6].sequence == tx.rows[1].sequence
    fresh = [r.sequence for n, r in enumerate(tx.rows) if n not in (3, 6)]
    assert fresh == list(range(first.sequence + 1, first.sequence + 299))
    assert (await verify(svc, operator)).intact


async def _no_publish(*_args) -> None:
    return None
