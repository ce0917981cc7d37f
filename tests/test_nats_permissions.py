"""The JetStream API behind NATS authentication: each service may manage only the streams it owns
and read only those it consumes, with its own consumers; no service may delete or purge a stream
or delete a message (services/kit/natsauth.py, from services/kit/bus.py's tables). Against a
real nats-server of the test's own, as the mesh runs it."""

import asyncio
import uuid

import nats
import pytest
from nats.js import api

from copytrade.replication.v1 import replication_events_pb2 as events
from services.compliance.checkpoints import CheckpointLog
from services.kit import natsauth, revocations
from services.kit.bus import Bus
from services.kit.testing import eventually
from tests.conftest import AuthenticatedNats

DENIED_S = 1.0  # a request the server refuses is dropped: no answer comes


@pytest.fixture
async def nats_with_auth(tmp_path):
    server = await AuthenticatedNats(tmp_path / "js", users=natsauth.generate()).start()
    yield server
    await server.stop()


def _fill(fill_id: str) -> events.MasterFill:
    return events.MasterFill(fill_id=fill_id, master_account_id="a", master_id="m", symbol="BTC/USDT",
                             quantity="1", price="100")


async def _as(server, user: str):
    return await nats.connect(server.plain_url, user=user, password=server.users[user], allow_reconnect=False,
                              connect_timeout=2)


async def _answered(request) -> bool:
    """True when the JetStream API answered the request at all (success or a JetStream error);
    False when the server dropped it for want of permission."""
    try:
        await request
    except (nats.errors.TimeoutError, asyncio.TimeoutError):
        return False
    except nats.js.errors.Error:
        return True
    return True


async def test_every_service_owns_its_streams_and_reads_only_what_it_consumes(nats_with_auth):
    """The services start against an empty server together: each creates the streams it owns
    and waits for those it reads, so the mesh's streams all exist afterwards."""
    server = nats_with_auth
    buses = await asyncio.gather(*(Bus.connect(server.plain_url, user, user=user, password=server.users[user])
                                   for user in natsauth.PERMISSIONS))
    try:
        admin = await Bus.connect(server.url, "admin", ensure_streams=False)
        for stream in ("FILLS", "COPIES", "RISK", "COMPLIANCE", "DISCOVERY"):
            assert (await admin.js.stream_info(stream)).config.name == stream
        # and each consumes with its own durables, pulling and acking
        discovery = buses[list(natsauth.PERMISSIONS).index("discovery")]
        seen = []

        async def on_fill(delivery):
            seen.append(delivery.event.fill_id)

        await discovery.consume("FILLS", "discovery-stats", "fills.master.filled.>", on_fill)
        with pytest.raises(ValueError, match="no consumer"):
            await discovery.consume("FILLS", "replication", "fills.master.filled.>", on_fill)
        await admin.publish("fills.master.filled.x", _fill("x"), msg_id="x")
        await eventually(lambda: seen == ["x"])

        async def acked():
            info = await admin.js.consumer_info("FILLS", "discovery-stats")
            return info.num_ack_pending == 0 and info.delivered.stream_seq >= 1

        await eventually(acked, message="discovery's ack reaches JetStream")
        await admin.close()
    finally:
        for bus in buses:
            await bus.close()


async def test_no_service_can_delete_purge_or_take_over_another_contexts_stream(nats_with_auth):
    server = nats_with_auth
    admin = await Bus.connect(server.url, "admin")  # the operator provisions every stream
    await revocations.ensure_stream(admin)
    await CheckpointLog(admin, "tests", key=None).ensure_stream()
    fill = f"f-{uuid.uuid4().hex[:8]}"
    await admin.publish(f"fills.master.filled.{fill}", _fill(fill), msg_id=fill)
    await admin.nc.publish("audit.checkpoint.signed.tests", b"checkpoint")
    await admin.nc.flush()
    before = {s: (await admin.js.stream_info(s)).state.messages for s in ("FILLS", "AUDIT_CHECKPOINTS")}
    assert all(before.values())
    try:
        for user in natsauth.PERMISSIONS:
            nc = await _as(server, user)
            js = nc.jetstream(timeout=DENIED_S)
            try:
                destructive = {
                    "delete FILLS": js.delete_stream("FILLS"),
                    "purge FILLS": js.purge_stream("FILLS"),
                    "delete a fill": js.delete_msg("FILLS", 1),
                    "delete AUDIT_CHECKPOINTS": js.delete_stream("AUDIT_CHECKPOINTS"),
                    "purge AUDIT_CHECKPOINTS": js.purge_stream("AUDIT_CHECKPOINTS"),
                    "re-configure AUDIT_CHECKPOINTS": js.update_stream(api.StreamConfig(
                        name="AUDIT_CHECKPOINTS", subjects=["audit.checkpoint.>"], max_msgs=1)),
                    # another service's durable: taking its deliveries (and acking them away)
                    "bind replication's fill workers": js.add_consumer("FILLS", api.ConsumerConfig(
                        name="replication" if user != "replication" else "discovery-stats",
                        durable_name="replication" if user != "replication" else "discovery-stats",
                        ack_policy=api.AckPolicy.EXPLICIT, filter_subject="fills.master.filled.>")),
                    # a stream this service does not read at all
                    "consume COMPLIANCE": js.add_consumer("COMPLIANCE", api.ConsumerConfig(
                        name=f"{user}-snoop", ack_policy=api.AckPolicy.NONE)),
                }
                if user != "replication":
                    destructive["re-configure FILLS"] = js.update_stream(api.StreamConfig(
                        name="FILLS", subjects=["fills.>"], max_msgs=1))
                answered = dict(zip(destructive, await asyncio.gather(*map(_answered, destructive.values()))))
                assert not any(answered.values()), f"{user} may {[k for k, v in answered.items() if v]}"
            finally:
                await nc.close()
        after = {s: (await admin.js.stream_info(s)).state.messages for s in ("FILLS", "AUDIT_CHECKPOINTS")}
        assert after == before
    finally:
        await admin.close()
