"""A master's fill stream goes down (the simulator refuses it for a while) and the master trades
meanwhile. Each follower's outage policy applies and is announced: FREEZE holds copies back
until the follower resyncs, FLATTEN closes and freezes, RESYNC copies what was missed once the
stream is back. Checked at the simulator."""

from decimal import Decimal

import pytest_asyncio

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import error_recovery_service_pb2 as er
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.error_recovery_service_pb2_grpc import ErrorRecoveryServiceStub
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from services.kit.bus import Bus
from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from tests.replication.test_copy_flow import enrol
from venue_sim import ccxt_config

POLICIES = {"freeze": rep.FEED_OUTAGE_POLICY_FREEZE, "flatten": rep.FEED_OUTAGE_POLICY_FLATTEN,
            "resync": rep.FEED_OUTAGE_POLICY_RESYNC}


@pytest_asyncio.fixture
async def outage_mesh(copy_mesh, nats_server):
    started = await copy_mesh(seed=31, feed_outage_grace_s=0.5)
    bus = await Bus.connect(nats_server.url, "test-outage-observer")
    yield (started.sim, ComplianceServiceStub(started.compliance.channel),
           ReplicationServiceStub(started.replication.channel), ErrorRecoveryServiceStub(started.replication.channel),
           bus)
    await bus.close()


async def test_each_follower_gets_its_outage_policy_and_hears_about_it(outage_mesh, token_for):
    sim, compliance, replication, recovery, bus = outage_mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    followers, configs = {}, {}
    for name, policy in POLICIES.items():
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
        configs[name] = (await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
                                      feed_outage_policy=policy)), metadata=token_for(user))).session.config_id
        followers[name] = user
    changes: dict[str, list[tuple[str, str]]] = {user: [] for user in followers.values()}

    async def on_change(subject, event):
        changes[event.follower_id].append((event.state, event.reason))
    await bus.subscribe("copies.session.changed.*", on_change)

    def orders(name):
        return [(o.side, o.orig_qty) for o in sim.orders(followers[name])]

    async def state(name):
        return (await replication.GetCopySessionStatus(rep.GetCopySessionStatusRequest(
            config_id=configs[name]), metadata=token_for(followers[name]))).session.state

    master_venue = CcxtVenue("binance", api_key=master_sim.api_key, secret=master_sim.secret,
                             config=ccxt_config(sim.url, rate_limit=False))
    await master_venue.connect()
    try:
        await eventually(lambda: sim.stream_subscribed(master), message="master stream watched")
        await master_venue.place_order(OrderRequest("m-1", "BTC/USDT", "buy", Decimal("0.01")))
        await eventually(lambda: all(orders(n) for n in POLICIES), message="first copies")

        await sim.hold_streams_down(master)  # the outage

        async def policies_applied():
            return (await state("freeze") == rep.SESSION_STATE_FROZEN and await state("flatten")
                    == rep.SESSION_STATE_FROZEN and len(orders("flatten")) == 2)
        await eventually(policies_applied, message="outage policies applied")
        await master_venue.place_order(OrderRequest("m-2", "BTC/USDT", "buy", Decimal("0.01")))  # missed live
        await sim.hold_streams_down(master, down=False)

        # RESYNC: the missed fill is recovered and copied once the stream is back.
        await eventually(lambda: len(orders("resync")) == 2, timeout=20, message="resync follower caught up")
    finally:
        await master_venue.close()
    assert orders("resync") == [("BUY", Decimal("0.01")), ("BUY", Decimal("0.01"))]
    assert await state("resync") == rep.SESSION_STATE_ACTIVE
    # FLATTEN sold what it held (the buy's fee was taken in BTC) and stays frozen.
    assert orders("flatten") == [("BUY", Decimal("0.01")), ("SELL", Decimal("0.00999"))]
    assert await state("flatten") == rep.SESSION_STATE_FROZEN
    # FREEZE held the missed copy back; a resync makes it up and copying goes on.
    assert orders("freeze") == [("BUY", Decimal("0.01"))]
    await eventually(lambda: any("is back" in reason for _, reason in changes[followers["freeze"]]),
                     message="the frozen follower hears the stream is back")
    result = (await recovery.ForceResync(er.ForceResyncRequest(config_id=configs["freeze"]),
                                         metadata=token_for(followers["freeze"]))).result
    assert result.resolution == "resynced"
    assert orders("freeze") == [("BUY", Decimal("0.01")), ("BUY", Decimal("0.01"))]
    assert await state("freeze") == rep.SESSION_STATE_ACTIVE
    for name in POLICIES:  # every follower was told, in words
        assert any("lost" in reason for _, reason in changes[followers[name]]), (name, changes[followers[name]])
