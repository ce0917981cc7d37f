"""A master's fill stream held down by the venue for longer than the default grace (5 s) while the
master keeps trading, then released, and the master trades on. Each follower's outage policy
applies (FREEZE and FLATTEN freeze, FLATTEN also closes), and the stream is subscribed again:
every fill made during the outage (read from the venue's history meanwhile) and after it reaches
the follower who copies through it, once; the frozen ones get none of them."""

import time
from collections import Counter
from decimal import Decimal

import pytest

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from services.kit.testing import eventually
from services.replication.client_order_id import client_order_id
from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from tests.replication.test_copy_flow import enrol
from venue_sim import ccxt_config

pytestmark = pytest.mark.reliability

POLICIES = {"freeze": rep.FEED_OUTAGE_POLICY_FREEZE, "flatten": rep.FEED_OUTAGE_POLICY_FLATTEN,
            "resync": rep.FEED_OUTAGE_POLICY_RESYNC}
DEFAULT_GRACE_S = 5.0
BEFORE, DURING, AFTER = 3, 3, 4  # master trades before, during and after the outage


async def test_a_stream_held_down_past_the_default_grace_applies_the_policies_and_copies_on_after(
        copy_mesh, token_for, reliability_report):
    mesh = await copy_mesh(seed=41)  # the service's own default grace
    assert mesh.replication.settings.feed_outage_grace_s == DEFAULT_GRACE_S
    sim = mesh.sim
    compliance = ComplianceServiceStub(mesh.compliance.channel)
    replication = ReplicationServiceStub(mesh.replication.channel)
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000", "BTC": "1"},
                                                     watch=True)
    followers, configs, accounts = {}, {}, {}
    for name, policy in POLICIES.items():
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000", "BTC": "1"})
        configs[name] = (await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
                                      feed_outage_policy=policy)), metadata=token_for(user))).session.config_id
        followers[name], accounts[name] = user, account.account_id

    async def state(name):
        return (await replication.GetCopySessionStatus(rep.GetCopySessionStatusRequest(
            config_id=configs[name]), metadata=token_for(followers[name]))).session.state

    def orders(name):
        return sim.orders(followers[name])

    master_venue = CcxtVenue("binance", api_key=master_sim.api_key, secret=master_sim.secret,
                             config=ccxt_config(sim.url, rate_limit=False))
    await master_venue.connect()
    n = 0

    async def trade():
        nonlocal n
        await master_venue.place_order(OrderRequest(f"m-{n}", "BTC/USDT", "buy" if n % 2 == 0 else "sell",
                                                    Decimal("0.01")))
        n += 1

    try:
        await eventually(lambda: sim.stream_subscribed(master), message="master stream watched")
        for _ in range(BEFORE):
            await trade()
        await eventually(lambda: all(len(orders(p)) == BEFORE for p in POLICIES), timeout=20, message="first copies")

        down = time.monotonic()
        await sim.hold_streams_down(master)

        async def applied():
            return (await state("freeze") == rep.SESSION_STATE_FROZEN
                    and await state("flatten") == rep.SESSION_STATE_FROZEN)
        await eventually(applied, timeout=DEFAULT_GRACE_S + 15, interval=0.2, message="outage policies applied")
        assert time.monotonic() - down >= DEFAULT_GRACE_S - 0.5  # not before the grace was up
        for _ in range(DURING):  # still down: only the venue's history has these
            await trade()
        # Read from the history while the venue still refuses the stream, and copied to RESYNC.
        await eventually(lambda: len(orders("resync")) == BEFORE + DURING, timeout=20,
                         message="fills made during the outage copied while it lasts")
        assert sim.userdata.held_down == {master}
        await sim.hold_streams_down(master, down=False)
        back = time.monotonic()
        await eventually(lambda: sim.stream_subscribed(master), timeout=20, message="stream subscribed again")
        for _ in range(AFTER):
            await trade()

        # The RESYNC follower has a copy of every master trade, those made while the stream was
        # down (recovered from the venue's history) and those after it (the new subscription).
        wanted = {client_order_id(f"{master_account.account_id}:{t.trade_id}", accounts["resync"])
                  for t in sim.trades(master)}
        assert len(wanted) == BEFORE + DURING + AFTER
        await eventually(lambda: {o.client_order_id for o in orders("resync")} >= wanted, timeout=30,
                         message="every master trade copied to the resync follower")
        recovered = time.monotonic() - back
    finally:
        await master_venue.close()
    counts = Counter(o.client_order_id for o in orders("resync"))
    duplicates = sum(c - 1 for c in counts.values())
    missing = len(wanted - set(counts))
    assert (duplicates, missing) == (0, 0)
    # FREEZE copied nothing after the grace; FLATTEN closed what it held; both stay frozen.
    assert await state("freeze") == rep.SESSION_STATE_FROZEN
    assert await state("flatten") == rep.SESSION_STATE_FROZEN
    assert len(orders("freeze")) == BEFORE
    flatten = orders("flatten")  # buy, sell, buy copied; then the close
    assert len(flatten) == BEFORE + 1 and flatten[-1].side == "SELL"
    assert await state("resync") == rep.SESSION_STATE_ACTIVE
    reliability_report(scenario="master stream held down past the default 5 s grace", runs=1,
                       fills=BEFORE + DURING + AFTER, orders=len(orders("resync")), duplicates=duplicates,
                       missing=missing, outage_s=f"{back - down:.1f}", recovery_s=f"{recovered:.1f}")
