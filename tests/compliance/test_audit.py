"""The audit trail: every action lands in a hash chain that shows exactly where it was tampered
with (edited, deleted or reordered rows, through raw SQL), on SQLite and PostgreSQL."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.replication.v1 import replication_events_pb2 as rep_events
from copytrade.risk.v1 import risk_events_pb2 as risk_events
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.type.v1 import trading_pb2
from services.compliance import audit
from services.compliance.store import AuditRow
from services.kit import fillsign
from services.kit.errors import error_info
from services.kit.testing import eventually

VENUE = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance", market_type=trading_pb2.MARKET_TYPE_SPOT)
COLUMNS = "sequence, occur_time, actor, action, resource, subject_user_id, details_json, previous_hash, hash, event_id"


async def verify(svc, operator) -> pb.VerifyAuditChainResponse:
    return await svc.public.VerifyAuditChain(pb.VerifyAuditChainRequest(), metadata=operator)


async def test_tampering_is_found_at_exactly_the_tampered_record(start_compliance, backend, operator, token_for,
                                                                 service_metadata):
    svc = await start_compliance()
    user = f"u_{uuid.uuid4().hex[:8]}"
    await svc.public.StoreCredential(pb.StoreCredentialRequest(user_id=user, venue=VENUE, api_key="k" * 16,
                                                               api_secret="s" * 16), metadata=token_for(user))
    await svc.public.RecordConsent(pb.RecordConsentRequest(user_id=user, document="risk_disclosure",
                                                           version="2026-01"), metadata=token_for(user))
    for n in range(4):
        await svc.internal.RecordAuditEvent(internal.RecordAuditEventRequest(
            action="copy.refused", resource=f"order:o{n}", subject_user_id=user, details_json=json.dumps({"n": n})),
            metadata=service_metadata)
    intact = await verify(svc, operator)
    assert intact.intact and intact.first_bad_sequence == 0 and intact.records_checked >= 6

    original = (await svc.sql(f"SELECT details_json FROM audit_events WHERE sequence = 3"))[0][0]
    await svc.sql("UPDATE audit_events SET details_json = :d WHERE sequence = 3", d='{"n":99}')
    edited = await verify(svc, operator)
    assert (edited.intact, edited.first_bad_sequence, edited.problem) == (False, 3, audit.HASH_MISMATCH)
    await svc.sql("UPDATE audit_events SET details_json = :d WHERE sequence = 3", d=original)
    assert (await verify(svc, operator)).intact  # put back as it was: whole again

    row = (await svc.sql(f"SELECT {COLUMNS} FROM audit_events WHERE sequence = 4"))[0]
    await svc.sql("DELETE FROM audit_events WHERE sequence = 4")
    deleted = await verify(svc, operator)
    assert (deleted.intact, deleted.first_bad_sequence, deleted.problem) == (False, 4, audit.GAP)
    await svc.sql(f"INSERT INTO audit_events ({COLUMNS}) VALUES (:s, :t, :a, :ac, :r, :u, :d, :p, :h, :e)",
                  **dict(zip(("s", "t", "a", "ac", "r", "u", "d", "p", "h", "e"), row)))
    assert (await verify(svc, operator)).intact

    for a, b in ((2, -1), (3, 2), (-1, 3)):  # swap records 2 and 3
        await svc.sql("UPDATE audit_events SET sequence = :b WHERE sequence = :a", a=a, b=b)
    swapped = await verify(svc, operator)
    assert (swapped.intact, swapped.first_bad_sequence, swapped.problem) == (False, 2, audit.REORDERED)
    for a, b in ((2, -1), (3, 2), (-1, 3)):
        await svc.sql("UPDATE audit_events SET sequence = :b WHERE sequence = :a", a=a, b=b)
    assert (await verify(svc, operator)).intact

    # Deleting a record and renumbering the rest to close the gap is still a gap.
    await svc.sql("DELETE FROM audit_events WHERE sequence = 2")
    last = (await svc.sql("SELECT max(sequence) FROM audit_events"))[0][0]
    for seq in range(3, last + 1):
        await svc.sql("UPDATE audit_events SET sequence = :b WHERE sequence = :a", a=seq, b=seq - 1)
    renumbered = await verify(svc, operator)
    assert (renumbered.first_bad_sequence, renumbered.problem) == (2, audit.GAP)

    with pytest.raises(grpc.aio.AioRpcError) as err:  # verifying is for operators
        await svc.public.VerifyAuditChain(pb.VerifyAuditChainRequest(), metadata=token_for(user))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_users_see_their_own_records_and_operators_see_all(start_compliance, backend, token_for, operator):
    svc = await start_compliance()
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    api_secret = f"SECRET{uuid.uuid4().hex}"
    stored = (await svc.public.StoreCredential(pb.StoreCredentialRequest(
        user_id=alice, venue=VENUE, api_key="KEY" + uuid.uuid4().hex, api_secret=api_secret),
        metadata=token_for(alice))).credential
    await svc.public.DeleteCredential(pb.DeleteCredentialRequest(credential_id=stored.credential_id),
                                      metadata=token_for(alice))
    await svc.public.SubmitKyc(pb.SubmitKycRequest(user_id=alice, legal_name="Alice A", country="DE",
                                                   document_type="passport", document_number="X1234567"),
                               metadata=token_for(alice))
    await svc.public.DecideKyc(pb.DecideKycRequest(user_id=alice, approve=True), metadata=operator)
    await svc.public.RecordConsent(pb.RecordConsentRequest(user_id=bob, document="risk_disclosure",
                                                           version="2026-01"), metadata=token_for(bob))

    mine = (await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(), metadata=token_for(alice))).events
    assert [e.action for e in mine] == ["kyc.approved", "kyc.submitted", "credential.deleted", "credential.stored"]
    assert mine[0].actor == "op-1" and mine[0].subject_user_id == alice  # newest first, who did it, to whom
    assert api_secret not in str(mine) and "X1234567" not in str(mine)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(user_id=alice), metadata=token_for(bob))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    pages, token = [], ""
    while True:  # an operator pages through anyone's
        page = await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(user_id=alice, page_size=3,
                                                                          page_token=token), metadata=operator)
        pages.append([e.sequence for e in page.events])
        token = page.next_page_token
        if not token:
            break
    assert [s for p in pages for s in p] == [e.sequence for e in mine] and [len(p) for p in pages] == [3, 1]
    everyone = (await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(), metadata=operator)).events
    assert {alice, bob} <= {e.subject_user_id for e in everyone}
    kyc_only = await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(action_prefix="kyc."), metadata=operator)
    assert [e.action for e in kyc_only.events] == ["kyc.approved", "kyc.submitted"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(page_token="WyJ4Il0"), metadata=operator)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_copy_and_risk_events_from_nats_are_recorded_once_and_announced(start_compliance, bus, operator,
                                                                              backend):
    svc = await start_compliance()
    follower = f"f-{uuid.uuid4().hex[:8]}"
    announced: list[events_pb.AuditEventRecorded] = []
    await bus.subscribe("compliance.audit.recorded", lambda _s, event: _append(announced, event))

    order = rep_events.FollowerOrder(order_id=f"ord-{uuid.uuid4().hex[:8]}", follower_id=follower, symbol="BTC/USDT",
                                     quantity="0.5", status=rep_events.FOLLOWER_ORDER_STATUS_REFUSED)
    refusal = trading_pb2.Refusal(reason="RISK_LIMIT_EXCEEDED", domain="risk.copytrade", message="over the limit")
    refused = rep_events.CopyRefused(order=order, refusal=refusal)
    halted = risk_events.TradingStateChanged(event_id=uuid.uuid4().hex, scope=risk_pb.TradingScope(user_id=follower),
                                             state=trading_pb2.TRADING_STATE_HALTED, reason="kill switch",
                                             changed_by="op-7", kill_switch_active=True)
    # Published twice with different message ids would be two events; the same id again is one.
    await bus.publish(f"copies.order.refused.{follower}", refused, msg_id=f"{order.order_id}:refused")
    await bus.publish(f"risk.state.changed.{follower}", halted, msg_id=halted.event_id)

    async def recorded():
        events = (await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(user_id=follower),
                                                   metadata=operator)).events
        return events if len(events) == 2 else None

    events = sorted(await eventually(recorded), key=lambda e: e.action)
    assert [(e.action, e.actor, e.resource) for e in events] == [
        ("copy.refused", "system:replication", f"order:{order.order_id}"),
        ("risk.state.changed", "op-7", f"trading-state:{follower}")]
    assert json.loads(events[0].details_json)["refusal"]["reason"] == "RISK_LIMIT_EXCEEDED"
    await eventually(lambda: {e.event.sequence for e in announced} >= {e.sequence for e in events},
                     message="AuditEventRecorded published")


async def _append(into: list, event) -> None:
    into.append(event)


async def test_a_redelivered_event_is_recorded_once(start_compliance, backend, operator):
    """Redelivery (a consumer that died before acking) hands the same message over again."""
    from services.compliance.events import Intake
    from services.compliance.monitor import Monitor
    from services.kit.bus import Delivery

    svc = await start_compliance()
    trail = audit.AuditTrail(_database(svc), _no_publish, await svc.audit_key())
    intake = Intake(trail, Monitor(), fillsign.Verifier(fillsign.DEV_VERIFY_KEY))
    follower = f"f-{uuid.uuid4().hex[:8]}"
    order = rep_events.FollowerOrder(order_id=f"ord-{uuid.uuid4().hex[:8]}", follower_id=follower, symbol="ETH/USDT",
                                     quantity="2", filled_quantity="2", average_fill_price="3000")
    filled = rep_events.FollowerOrderFilled(order=order, quantity="2", price="3000", venue_trade_id="t1")
    filled.execute_time.FromDatetime(datetime(2026, 3, 1, 12, tzinfo=UTC))
    delivery = Delivery(f"copies.order.filled.{follower}", filled, f"{order.order_id}:filled", 1, 7)
    await asyncio.gather(intake.on_copy(delivery), intake.on_copy(delivery))  # two replicas at once
    await intake.on_copy(Delivery(delivery.subject, filled, delivery.msg_id, 2, 7))  # and later again
    await trail.db.close()

    events = (await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(user_id=follower), metadata=operator)).events
    assert [e.action for e in events] == ["copy.filled"]
    trades = await svc.sql("SELECT trade_id FROM trades WHERE user_id = :u", u=follower)
    assert [t[0] for t in trades] == [f"{order.order_id}:t1"]
    assert (await verify(svc, operator)).intact


async def test_a_batch_of_copy_events_is_one_append_and_a_redelivered_batch_adds_only_what_is_new(
        start_compliance, backend, operator):
    """A fetch's copy events go into the chain in one transaction; a batch redelivered after
    some of it (and more) was stored adds each event once."""
    from services.compliance.events import Intake
    from services.compliance.monitor import Monitor
    from services.kit.bus import Delivery

    svc = await start_compliance()
    trail = audit.AuditTrail(_database(svc), _no_publish, await svc.audit_key())
    intake = Intake(trail, Monitor(), fillsign.Verifier(fillsign.DEV_VERIFY_KEY))
    follower = f"f-{uuid.uuid4().hex[:8]}"
    deliveries = []
    for i in range(5):
        order = rep_events.FollowerOrder(order_id=f"ord-{i}-{uuid.uuid4().hex[:8]}", follower_id=follower,
                                         symbol="ETH/USDT", quantity="1", filled_quantity="1", average_fill_price="3000")
        filled = rep_events.FollowerOrderFilled(order=order, quantity="1", price="3000", venue_trade_id=f"t{i}")
        filled.execute_time.FromDatetime(datetime(2026, 3, 1, 12, i, tzinfo=UTC))
        deliveries += [Delivery(f"copies.order.placed.{follower}", rep_events.FollowerOrderPlaced(order=order),
                                f"{order.order_id}:placed", 1, 2 * i + 1),
                       Delivery(f"copies.order.filled.{follower}", filled, f"{order.order_id}:filled", 1, 2 * i + 2)]
    sequence_before = (await trail.head())[0]
    await intake.on_copies(deliveries[:4])
    assert (await trail.head())[0] == sequence_before + 4  # one append: consecutive records
    await intake.on_copy(deliveries[5])  # another replica got the third fill
    await intake.on_copies(deliveries)  # a redelivery of all ten, two of them new
    await trail.db.close()

    events = (await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(user_id=follower, page_size=100),
                                               metadata=operator)).events
    assert sorted(e.action for e in events) == ["copy.filled"] * 5 + ["copy.placed"] * 5
    trades = await svc.sql("SELECT trade_id FROM trades WHERE user_id = :u", u=follower)
    assert sorted(t[0] for t in trades) == sorted(f"{d.event.order.order_id}:t{i}"
                                                  for i, d in enumerate(deliveries[1::2]))
    assert (await verify(svc, operator)).intact


async def test_a_batch_of_copy_events_stores_its_trades_with_one_look_up_and_one_insert(start_compliance, backend):
    """A fill's copies arrive in hundreds: their trades cost the batch one look-up and one
    insert, not a read each (the cost per copy compliance pays on the copy path)."""
    from sqlalchemy import event

    from services.compliance.events import Intake
    from services.compliance.monitor import Monitor
    from services.kit.bus import Delivery

    svc = await start_compliance()
    trail = audit.AuditTrail(_database(svc), _no_publish, await svc.audit_key())
    intake = Intake(trail, Monitor(), fillsign.Verifier(fillsign.DEV_VERIFY_KEY))
    tag = uuid.uuid4().hex[:8]
    deliveries = []
    for i in range(200):
        order = rep_events.FollowerOrder(order_id=f"ord-{tag}-{i}", follower_id=f"f-{tag}-{i}", symbol="ETH/USDT",
                                         quantity="1", filled_quantity="1", average_fill_price="3000")
        filled = rep_events.FollowerOrderFilled(order=order, quantity="1", price="3000", venue_trade_id=f"t{i}")
        filled.execute_time.FromDatetime(datetime(2026, 3, 1, 12, tzinfo=UTC))
        deliveries.append(Delivery(f"copies.order.filled.{order.follower_id}", filled, f"{order.order_id}:filled",
                                   1, i + 1))
    statements: list[str] = []
    event.listen(trail.db.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_rest: statements.append(" ".join(statement.split())))
    await intake.on_copies(deliveries)
    await trail.db.close()

    assert sum("FROM trades" in s for s in statements) == 1, statements
    assert sum("INSERT INTO trades" in s for s in statements) == 1, statements
    stored = await svc.sql("SELECT count(*) FROM trades WHERE trade_id LIKE :t", t=f"ord-{tag}-%")
    assert stored[0][0] == 200


def _database(svc):
    from services.kit.db import Database

    return Database(svc.settings)


async def _no_publish(*_args) -> None:
    return None


async def test_services_record_system_decisions_once_and_never_a_secret(start_compliance, token_for,
                                                                        service_metadata, operator):
    svc = await start_compliance()
    request = internal.RecordAuditEventRequest(
        actor="system:replication", action="copy.placed", resource="order:o1", subject_user_id="u1",
        details_json=json.dumps({"quantity": "0.1", "api_secret": "hunter2", "nested": {"password": "pw"}}),
        event_id="evt-1")
    first = await svc.internal.RecordAuditEvent(request, metadata=service_metadata)
    again = await svc.internal.RecordAuditEvent(request, metadata=service_metadata)
    assert first.sequence == again.sequence > 0
    recorded = (await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(user_id="u1"), metadata=operator)).events
    details = json.loads(recorded[0].details_json)
    assert details == {"quantity": "0.1", "api_secret": "[redacted]", "nested": {"password": "[redacted]"},
                       "recorded_by": "service:tests"}
    assert "hunter2" not in str(await svc.sql("SELECT * FROM audit_events"))

    for bad, field in ((internal.RecordAuditEventRequest(action="Not A Verb"), "action"),
                       (internal.RecordAuditEventRequest(action="copy.placed", details_json="[1]"), "details_json")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await svc.internal.RecordAuditEvent(bad, metadata=service_metadata)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(err.value).metadata["field"] == field
    with pytest.raises(grpc.aio.AioRpcError) as err:  # users cannot write system decisions
        await svc.internal.RecordAuditEvent(request, metadata=token_for("u1"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


# --- the chain walker, over any chain and any single tampering --------------------------------
KEY = audit.ChainKey("k1", b"k" * 32)


def _chain(length: int) -> list[AuditRow]:
    rows, previous = [], audit.GENESIS_HASH
    for seq in range(1, length + 1):
        row = AuditRow(sequence=seq, occur_time=datetime(2026, 1, 1, 0, 0, seq % 60, seq, tzinfo=UTC),
                       actor=f"u{seq % 3}", action="copy.placed", resource=f"order:{seq}", subject_user_id="u",
                       details_json=audit.canonical_details({"n": seq}), previous_hash=previous)
        row.hash = audit.hash_of(row, KEY)
        rows.append(row)
        previous = row.hash
    return rows


def _walk(rows: list[AuditRow]):
    walker = audit.ChainWalker(KEY)
    hashes = {r.hash for r in rows}
    for row in rows:
        found = walker.feed(row)
        if found:
            return found.settle(found.follows_hash in hashes) if found.written_at else found
    return None


def _renumbered(row: AuditRow, sequence: int) -> AuditRow:
    return AuditRow(sequence=sequence, occur_time=row.occur_time, actor=row.actor, action=row.action,
                    resource=row.resource, subject_user_id=row.subject_user_id, details_json=row.details_json,
                    previous_hash=row.previous_hash, hash=row.hash)


@settings(max_examples=60, deadline=None)
@given(length=st.integers(2, 40), data=st.data())
def test_the_walker_names_the_first_tampered_record(length, data):
    rows = _chain(length)
    assert _walk(rows) is None
    k = data.draw(st.integers(1, length - 1))  # 1-based; k+1 exists
    kind = data.draw(st.sampled_from(["edit", "delete", "swap", "renumber"]))
    if kind == "edit":
        field = data.draw(st.sampled_from(["actor", "action", "resource", "details_json", "previous_hash"]))
        setattr(rows[k - 1], field, getattr(rows[k - 1], field) + "x")
        expected = audit.HASH_MISMATCH
    elif kind == "delete":
        del rows[k - 1]
        expected = audit.GAP
    elif kind == "swap":
        rows[k - 1], rows[k] = _renumbered(rows[k], k), _renumbered(rows[k - 1], k + 1)
        expected = audit.REORDERED
    else:  # delete k and renumber everything after it to close the gap
        rows = rows[:k - 1] + [_renumbered(r, r.sequence - 1) for r in rows[k:]]
        expected = audit.GAP
    found = _walk(rows)
    assert found is not None and (found.sequence, found.problem) == (k, expected), found
