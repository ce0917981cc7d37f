"""The service kit: tokens, error statuses, the JetStream bus and migrations, against real parts."""

import asyncio
import base64
import json
import time
import uuid
from datetime import UTC, datetime

import grpc
import jwt
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.kit import auth, errors
from services.kit.bus import Bus
from services.kit.db import Database
from services.kit.testing import eventually
from tests.conftest import TEST_SECRET


# --- tokens -------------------------------------------------------------------------------

def test_token_round_trip_carries_identity():
    token, expires = auth.issue_token(TEST_SECRET, "u1", ["follower", "master"])
    caller = auth.verify_token(TEST_SECRET, token)
    assert caller.subject == "u1" and caller.roles == {"follower", "master"}
    assert expires > time.time()
    assert caller.may_act_for("u1") and not caller.may_act_for("u2")


def _forge(claims: dict, header: dict) -> str:
    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{b64(header)}.{b64(claims)}."


@pytest.mark.parametrize("make_token", [
    pytest.param(lambda: _forge({"sub": "u1", "roles": ["operator"], "aud": "copytrade", "iss": "copytrade",
                                 "exp": int(time.time()) + 60}, {"alg": "none", "typ": "JWT"}), id="alg-none"),
    pytest.param(lambda: auth.issue_token("some-other-secret-that-is-long-enough-0123", "u1", ["operator"])[0], id="wrong-key"),
    pytest.param(lambda: auth.issue_token(TEST_SECRET, "u1", ["follower"], ttl=-10)[0], id="expired"),
    pytest.param(lambda: jwt.encode({"sub": "u1", "aud": "elsewhere", "iss": "copytrade",
                                     "exp": int(time.time()) + 60}, TEST_SECRET, "HS256"), id="wrong-audience"),
    pytest.param(lambda: auth.issue_token(TEST_SECRET, "u1", ["follower"])[0][:-3] + "abc", id="tampered"),
])
async def test_bad_tokens_are_refused_by_every_service(start_service, make_token):
    risk = RiskServiceStub((await start_service("risk")).channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await risk.GetRiskLimits(risk_pb.GetRiskLimitsRequest(user_id="u1"),
                                 metadata=(("authorization", f"Bearer {make_token()}"),))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert errors.error_info(err.value).reason in {"TOKEN_INVALID", "TOKEN_EXPIRED"}


async def test_operator_may_act_for_anyone_and_service_tokens_work(start_service, token_for, service_metadata):
    risk = RiskServiceStub((await start_service("risk")).channel)
    for metadata in (token_for("ops", "operator"), service_metadata):
        reply = await risk.GetRiskLimits(risk_pb.GetRiskLimitsRequest(user_id="someone"), metadata=metadata)
        assert reply.limits.max_daily_loss == "1000"


# --- errors -------------------------------------------------------------------------------

def test_domain_error_becomes_status_with_one_error_info():
    err = errors.failed_precondition("KYC_NOT_APPROVED", "verify your identity first",
                                     domain="compliance.copytrade", status="PENDING")
    status = err.to_status()
    assert status.code == grpc.StatusCode.FAILED_PRECONDITION
    assert status.details == "verify your identity first"
    refusal = err.to_refusal()
    assert (refusal.reason, refusal.domain, dict(refusal.metadata)) == (
        "KYC_NOT_APPROVED", "compliance.copytrade", {"status": "PENDING"})


# --- bus ----------------------------------------------------------------------------------

def _fill(fill_id: str) -> events.MasterFill:
    return events.MasterFill(fill_id=fill_id, master_account_id="acc1", symbol="BTC/USDT", quantity="0.01",
                             price="64000.5")


async def test_republishing_the_same_msg_id_is_a_no_op(nats_server):
    bus = await Bus.connect(nats_server.url, "test")
    try:
        fill_id = uuid.uuid4().hex
        subject = f"fills.master.filled.{fill_id}"
        assert await bus.publish(subject, _fill(fill_id), msg_id=fill_id) is True
        assert await bus.publish(subject, _fill(fill_id), msg_id=fill_id) is False
        info = await bus.js.stream_info("FILLS", subjects_filter=subject)
        assert info.state.subjects == {subject: 1}
    finally:
        await bus.close()


async def test_replicas_sharing_a_durable_split_the_work_and_see_each_event_once(nats_server):
    tag = uuid.uuid4().hex[:8]
    subject = f"fills.master.filled.{tag}"
    seen: dict[str, list[str]] = {"a": [], "b": []}
    replicas = [await Bus.connect(nats_server.url, f"replica-{name}") for name in seen]
    publisher = await Bus.connect(nats_server.url, "publisher")
    try:
        for name, bus in zip(seen, replicas):
            async def handler(delivery, name=name):
                seen[name].append(delivery.event.fill_id)
                await asyncio.sleep(0.002)  # give the other replica a chance to take some
            await bus.consume("FILLS", f"workers-{tag}", subject, handler, batch=4)
        ids = [f"{tag}-{i}" for i in range(200)]
        for fill_id in ids:
            await publisher.publish(subject, _fill(fill_id), msg_id=fill_id)
        await eventually(lambda: len(seen["a"]) + len(seen["b"]) >= len(ids), timeout=20)
        assert sorted(seen["a"] + seen["b"]) == sorted(ids)  # each once, none lost
        assert seen["a"] and seen["b"]  # both replicas did work
    finally:
        # Off the shared stream: replication workers of later tests would wade through them first.
        await publisher.js.purge_stream("FILLS", subject=subject)
        for bus in (*replicas, publisher):
            await bus.close()


async def test_a_failing_handler_gets_the_event_again(nats_server):
    tag = uuid.uuid4().hex[:8]
    subject = f"fills.master.filled.{tag}"
    attempts: list[int] = []
    bus = await Bus.connect(nats_server.url, "flaky")
    try:
        async def handler(delivery):
            attempts.append(delivery.num_delivered)
            if delivery.num_delivered == 1:
                raise RuntimeError("transient")
        await bus.consume("FILLS", f"flaky-{tag}", subject, handler)
        await bus.publish(subject, _fill(tag), msg_id=tag)
        await eventually(lambda: attempts == [1, 2], timeout=10)
    finally:
        await bus.close()


async def test_keys_are_handled_concurrently_each_in_its_own_order(nats_server):
    """A keyed consumer: one key's handler holding on never delays another key's deliveries,
    and each key's deliveries are handled one at a time, in the order they were published."""
    tag = uuid.uuid4().hex[:8]
    subject = f"fills.master.filled.{tag}.>"
    seen: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    release = asyncio.Event()
    bus = await Bus.connect(nats_server.url, "lanes")
    try:
        async def handler(delivery):
            key = delivery.subject.rsplit(".", 1)[1]
            seen[key].append(delivery.event.fill_id)
            if key == "a":
                await release.wait()  # key a's first delivery is held (a copy being retried)
        await bus.consume("FILLS", f"lanes-{tag}", subject, handler, key=lambda d: d.subject.rsplit(".", 1)[1],
                          lanes=2, batch=4)
        for i in range(12):  # more than a lane holds (batch): the surplus waits in JetStream
            await bus.publish(f"fills.master.filled.{tag}.a", _fill(f"a{i}"), msg_id=f"{tag}-a{i}")
        for i in range(10):
            await bus.publish(f"fills.master.filled.{tag}.b", _fill(f"b{i}"), msg_id=f"{tag}-b{i}")
        await eventually(lambda: seen["b"] == [f"b{i}" for i in range(10)], timeout=10,
                         message="key b handled, in order, while key a is held")
        assert seen["a"] == ["a0"]  # the rest of key a waits behind its first
        # Both lanes taken (a held, b's lane free again): key c gets one.
        await bus.publish(f"fills.master.filled.{tag}.c", _fill("c0"), msg_id=f"{tag}-c0")
        await eventually(lambda: seen["c"] == ["c0"], timeout=10, message="key c handled")
        release.set()
        await eventually(lambda: set(seen["a"]) == {f"a{i}" for i in range(12)}, timeout=15,
                         message="key a resumes, every delivery")
        assert seen["a"][:4] == ["a0", "a1", "a2", "a3"]  # those it held, in order
    finally:
        release.set()
        await bus.js.purge_stream("FILLS", subject=subject)
        await bus.close()


async def test_a_lanes_backlog_is_handed_over_as_one_run_in_order(nats_server):
    """With runs_of, what waits in a key's lane while its handler is busy comes to the handler
    next as one list, in the order published and at most runs_of long; a run whose handler
    raises is redelivered whole, and a run handled is acknowledged whole."""
    tag = uuid.uuid4().hex[:8]
    subject = f"fills.master.filled.{tag}.>"
    runs: list[list[str]] = []
    release, failed_once = asyncio.Event(), []
    bus = await Bus.connect(nats_server.url, "runs")
    try:
        async def handler(deliveries):
            ids = [d.event.fill_id for d in deliveries]
            runs.append(ids)
            if ids == ["r0"]:
                await release.wait()  # the first is held: the rest queue up behind it
            elif not failed_once and "r1" in ids:
                failed_once.append(ids)
                raise RuntimeError("the database went away")
        await bus.consume("FILLS", f"runs-{tag}", subject, handler, key=lambda d: d.subject, batch=8, runs_of=4)
        await bus.publish(f"fills.master.filled.{tag}.m", _fill("r0"), msg_id=f"{tag}-r0")
        await eventually(lambda: runs == [["r0"]], timeout=10, message="the first fill handled alone")
        for i in range(1, 7):
            await bus.publish(f"fills.master.filled.{tag}.m", _fill(f"r{i}"), msg_id=f"{tag}-r{i}")

        consumer = bus._consumers[-1]
        # Routed into the lane, not only sent to this client (JetStream's count runs ahead of what a
        # fetch under way has handed over yet).
        lane = f"fills.master.filled.{tag}.m"
        await eventually(lambda: consumer.held == 7 and len(consumer.waiting.get(lane, ())) == 6,
                         timeout=10, message="the six after it wait in the lane")
        release.set()
        # After the failed run: every fill of the backlog handled (the failed run redelivered).
        await eventually(lambda: {i for run in runs[2:] for i in run} == {f"r{i}" for i in range(1, 7)},
                         timeout=15, message="every fill handled")
        assert runs[1] == ["r1", "r2", "r3", "r4"]  # the backlog, in order, runs_of at the most
        assert failed_once == [runs[1]]
        handled = [i for run in runs[2:] for i in run]
        assert handled.index("r1") < handled.index("r4") and "r5" in handled  # the failed run came back

        async def all_acked():
            info = await bus.js.consumer_info("FILLS", f"runs-{tag}")
            return info.num_pending == 0 and info.num_ack_pending == 0
        await eventually(all_acked, timeout=30, message="every run acknowledged")
    finally:
        release.set()
        await bus.js.purge_stream("FILLS", subject=subject)
        await bus.close()


async def test_lanes_are_bounded(nats_server):
    """At most `lanes` keys are handled at once: the next key waits for a lane to come free."""
    tag = uuid.uuid4().hex[:8]
    subject = f"fills.master.filled.{tag}.>"
    steps: list[str] = []
    held = {key: asyncio.Event() for key in "xyz"}
    bus = await Bus.connect(nats_server.url, "bounded")
    try:
        async def handler(delivery):
            key = delivery.event.fill_id
            steps.append(f"start {key}")
            await held[key].wait()
            steps.append(f"end {key}")
        await bus.consume("FILLS", f"bounded-{tag}", subject, handler, key=lambda d: d.subject, lanes=2)
        for key in "xyz":
            await bus.publish(f"fills.master.filled.{tag}.{key}", _fill(key), msg_id=f"{tag}-{key}")

        async def all_delivered():  # every one is in the consumer's hands, none acknowledged
            info = await bus.js.consumer_info("FILLS", f"bounded-{tag}")
            return info.num_pending == 0 and info.num_ack_pending == 3
        await eventually(all_delivered, timeout=10, message="all three delivered")
        await eventually(lambda: steps == ["start x", "start y"], timeout=10, message="two lanes busy")
        held["x"].set()
        await eventually(lambda: "start z" in steps, timeout=10, message="the third key once a lane is free")
        assert steps == ["start x", "start y", "end x", "start z"]
    finally:
        for event in held.values():
            event.set()
        await bus.js.purge_stream("FILLS", subject=subject)
        await bus.close()


async def test_closing_hands_unfinished_deliveries_back_at_once(nats_server):
    """A replica shutting down (a rolling restart) naks what it holds, the delivery in a handler
    and those waiting behind it: another replica has them at once, not after the ack wait."""
    tag = uuid.uuid4().hex[:8]
    subject = f"fills.master.filled.{tag}"
    first: list[str] = []
    second: list[str] = []
    leaving = await Bus.connect(nats_server.url, "leaving")
    staying = await Bus.connect(nats_server.url, "staying")
    try:
        async def stuck(delivery):
            first.append(delivery.event.fill_id)
            await asyncio.Event().wait()  # never finishes by itself

        async def handler(delivery):
            second.append(delivery.event.fill_id)
        await leaving.consume("FILLS", f"restart-{tag}", subject, stuck, ack_wait=30.0)
        ids = [f"{tag}-{i}" for i in range(3)]
        for fill_id in ids:
            await leaving.publish(subject, _fill(fill_id), msg_id=fill_id)
        await eventually(lambda: first, timeout=10, message="the first delivery in its handler")
        await leaving.close()
        started = time.monotonic()
        await staying.consume("FILLS", f"restart-{tag}", subject, handler, ack_wait=30.0)
        await eventually(lambda: sorted(set(second)) == ids, timeout=10, message="all three handed over")
        assert time.monotonic() - started < 10  # far within the 30 s ack wait
    finally:
        await staying.js.purge_stream("FILLS", subject=subject)
        await staying.close()
        if not leaving.nc.is_closed:
            await leaving.close()


# --- database -----------------------------------------------------------------------------

async def test_migrations_are_idempotent_and_isolated_per_service(make_settings, backend):
    from services.risk.server import MIGRATIONS

    db = Database(make_settings("risk"), MIGRATIONS)
    try:
        await db.migrate()
        await db.migrate()  # a second start (or a second replica) changes nothing
        async with db.session() as session:
            version = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            assert version == ScriptDirectory(str(MIGRATIONS)).get_current_head()
            await session.execute(text("SELECT count(*) FROM risk_limits"))
        if backend == "postgres":
            async with db.session() as session:
                schema = (await session.execute(text("SELECT current_schema()"))).scalar_one()
            assert schema == "risk"
    finally:
        await db.close()


async def test_signed_sums_are_exact_per_group_on_either_backend(make_settings, backend):
    """A follower's position is the buys less the sells of its copies, to the last lot: summed as
    exact decimals on PostgreSQL (by the server) and on SQLite (here), never through a float."""
    from decimal import Decimal

    from services.replication.server import MIGRATIONS
    from services.replication.store import FollowerOrderRow

    db = Database(make_settings("replication"), MIGRATIONS)
    now = datetime.now(UTC)
    try:
        await db.migrate()
        fills = [("s1", "BTC/USDT", 1, "0.1"), ("s1", "BTC/USDT", 2, "0.03"), ("s1", "BTC/USDT", 1, "0.00000001"),
                 ("s1", "ETH/USDT", 2, "1.7"), ("s2", "BTC/USDT", 1, "123456789.12345678"), ("s3", "BTC/USDT", 1, "5")]
        async with db.session() as session:
            for i, (config_id, symbol, side, filled) in enumerate(fills):
                session.add(FollowerOrderRow(
                    order_id=f"o{i}", config_id=config_id, follower_id="f", follower_account_id="a",
                    master_fill_id=f"m{i}", symbol=symbol, side=side, quantity=Decimal(filled),
                    filled_quantity=Decimal(filled), status=0, venue_order_id="", error_kind="", error_message="",
                    worker="w", master_fill_time=now, receive_time=now))
        async with db.session() as session:
            sums = await db.signed_sums(session, (FollowerOrderRow.config_id, FollowerOrderRow.symbol),
                                        FollowerOrderRow.filled_quantity, FollowerOrderRow.side == 1,
                                        db.member(FollowerOrderRow.config_id, ["s1", "s2"]))
        assert sums == {("s1", "BTC/USDT"): Decimal("0.07000001"), ("s1", "ETH/USDT"): Decimal("-1.7"),
                        ("s2", "BTC/USDT"): Decimal("123456789.12345678")}
    finally:
        await db.close()


def test_json_logs_carry_the_service_and_the_request_id(capsys):
    import json
    import logging

    from services.kit import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure_logging("risk", "INFO", fmt="json")
    token = logs.request_id.set("req-123")
    try:
        logging.getLogger("copytrade.test").warning("limit %s crossed", "daily")
    finally:
        logs.request_id.reset(token)
        root.handlers[:], root.level = saved[0], saved[1]
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["service"] == "risk" and entry["request_id"] == "req-123"
    assert entry["message"] == "limit daily crossed" and entry["level"] == "WARNING"
    assert entry["time"].endswith("Z")


async def test_a_bus_closes_cleanly_even_when_nats_is_already_gone(tmp_path):
    from services.kit.bus import Bus
    from services.kit.natsd import NatsServer

    nats = await NatsServer(tmp_path / "js").start()
    bus = await Bus.connect(nats.url, "orphan")
    await nats.stop()  # a service shutting down after its NATS: no exception may escape
    await eventually(lambda: bus.nc.is_reconnecting, message="the client notices")
    await bus.nc.publish("copies.order.placed.x", b"left in the buffer")  # unsent when the service stops
    await bus.close()
    assert bus.nc.is_closed


async def test_a_bus_takes_a_cluster_server_list_and_keeps_every_stream_on_three_nodes(tmp_path):
    """NATS_URL may list a cluster's servers; streams get the configured replicas, a single
    node's streams are raised to them, and the bus goes on publishing when a node dies."""
    from services.kit.config import Settings
    from services.kit.natsd import NatsCluster

    assert Settings.from_env("risk", {"NATS_STREAM_REPLICAS": "3"}).stream_replicas == 3
    assert Settings.from_env("risk", {}).stream_replicas == 1
    cluster = await NatsCluster(tmp_path / "js", size=3).start()
    try:
        grown = await Bus.connect(cluster.url, "one-replica")  # streams made as on a single node
        await grown.close()
        bus = await Bus.connect(cluster.url, "three-replicas", replicas=3)
        try:
            for stream in ("FILLS", "COPIES", "RISK"):
                assert (await bus.js.stream_info(stream)).config.num_replicas == 3, stream
            await bus.publish("fills.master.filled.a", _fill("a"), msg_id="a")
            leader = (await bus.js.stream_info("FILLS")).cluster.leader
            cluster.node(leader).kill()
            assert await bus.publish("fills.master.filled.b", _fill("b"), msg_id="b", timeout=20) is True
            assert (await bus.js.stream_info("FILLS")).state.messages == 2
        finally:
            await bus.close()
    finally:
        await cluster.stop()


async def test_the_bus_refuses_a_forged_fill_from_anyone_but_replication(nats_server):
    """NATS authentication: without credentials nothing connects; each service's user may
    publish only its own context's subjects, so only replication can put a MasterFill on
    fills.>."""
    import nats as nats_client
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import NoStreamResponseError

    for credentials in ({}, {"user": "replication", "password": "not-its-password"}):
        with pytest.raises(Exception, match="(?i)authorization"):  # refused before anything is published
            anonymous = await nats_client.connect(nats_server.plain_url, allow_reconnect=False, connect_timeout=2,
                                                  **credentials)
            await anonymous.jetstream().publish("fills.master.filled.forged", _fill("forged").SerializeToString())
    users = nats_server.users
    risk = await Bus.connect(nats_server.plain_url, "risk", user="risk", password=users["risk"])
    replication = await Bus.connect(nats_server.plain_url, "replication", user="replication",
                                    password=users["replication"])
    try:
        forged = f"forged-{uuid.uuid4().hex[:8]}"
        with pytest.raises((NatsTimeout, NoStreamResponseError)):  # the server drops it: no ack comes
            await risk.publish(f"fills.master.filled.{forged}", _fill(forged), msg_id=forged, timeout=1)
        assert await risk.publish(f"risk.limits.changed.{forged}", _fill(forged), msg_id=forged) is True
        real = f"real-{uuid.uuid4().hex[:8]}"
        assert await replication.publish(f"fills.master.filled.{real}", _fill(real), msg_id=real) is True
        info = await replication.js.stream_info("FILLS", subjects_filter="fills.master.filled.>")
        assert f"fills.master.filled.{forged}" not in (info.state.subjects or {})
        assert f"fills.master.filled.{real}" in (info.state.subjects or {})
    finally:
        for bus in (risk, replication):
            await bus.close()


async def test_a_followed_feed_survives_a_nats_restart_losing_nothing(tmp_path):
    """Bus.follow (the SSE copy feed): events published before and after NATS restarts arrive
    once each, in order, with their stream sequences."""
    from copytrade.replication.v1 import replication_events_pb2 as events
    from services.kit.bus import Bus
    from services.kit.natsd import NatsServer

    nats = await NatsServer(tmp_path / "js").start()
    bus = await Bus.connect(nats.url, "follower")
    try:
        feed = await bus.follow("COPIES", "copies.order.*.u1")

        async def publish(order_id: str) -> None:
            event = events.FollowerOrderPlaced(order=events.FollowerOrder(order_id=order_id, follower_id="u1"))
            await bus.publish("copies.order.placed.u1", event, msg_id=order_id, timeout=15)

        async def next_order() -> tuple[int, str]:
            sequence, event = await asyncio.wait_for(anext(feed), 15)
            return sequence, event.order.order_id

        await publish("before")
        first = await next_order()
        reading = asyncio.create_task(next_order())  # waiting on the feed while NATS is away
        await nats.stop()
        await asyncio.sleep(1.5)
        await nats.start()
        await publish("after")
        second = await reading
        assert first[1] == "before" and second[1] == "after" and second[0] == first[0] + 1
        await feed.aclose()
        everyone = await bus.follow("COPIES", "copies.order.*.*", after=first[0])  # a master's feed, resumed
        assert (await asyncio.wait_for(anext(everyone), 15))[1].order.order_id == "after"
        await everyone.aclose()
    finally:
        await bus.close()
        await nats.stop()
