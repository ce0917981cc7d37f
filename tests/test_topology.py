"""The scaled topology without Docker: two replication and two risk processes against one
PostgreSQL and one nats-server. Replicas share the copy work through the durable consumer,
and no follower gets a second order for any master fill (checked at the venue)."""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal

import grpc
import psycopg
import pytest_asyncio
from google.protobuf import field_mask_pb2

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import fillsign
from services.kit.natsd import free_port
from services.kit.testing import eventually
from services.launcher import wait_serving
from tests.conftest import TEST_SECRET, stored_credential
from tests.replication.test_copy_flow import SPOT, verify
from venue_sim import Simulator, venue_urls


@pytest_asyncio.fixture
async def topology(start_service, nats_server, postgres_url, tmp_path):
    sim = await Simulator(seed=9).start()
    compliance = await start_service("compliance")
    ports = {name: free_port() for name in ("risk-1", "risk-2", "replication-1", "replication-2")}
    base_env = {**os.environ, "DATABASE_URL": postgres_url, "NATS_URL": nats_server.url, "JWT_SECRET": TEST_SECRET,
                "MASTER_KEY": "test-master-key", "FILL_SIGNING_KEY": fillsign.DEV_SIGNING_KEY,
                "FILL_VERIFY_KEY": fillsign.DEV_VERIFY_KEY, "COMPLIANCE_ADDR": compliance.address, "LOG_LEVEL": "WARNING",
                "VENUE_URLS": json.dumps(venue_urls(sim.url)), "VENUE_RATE_LIMIT": "false",
                "COPYTRADE_DATA_DIR": str(tmp_path)}
    processes = []
    for name, port in ports.items():
        service, n = name.split("-")
        env = {**base_env, "LISTEN_ADDR": f"127.0.0.1:{port}", "RISK_ADDR": f"127.0.0.1:{ports['risk-' + n]}"}
        processes.append(subprocess.Popen([sys.executable, "-m", f"services.{service}"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "wb")))
        if service == "risk":  # one at a time: the first creates the schemas
            await wait_serving(f"127.0.0.1:{port}", 60)
    for name in ("replication-1", "replication-2"):
        await wait_serving(f"127.0.0.1:{ports[name]}", 60)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{ports['replication-1']}")
    risk_channel = grpc.aio.insecure_channel(f"127.0.0.1:{ports['risk-1']}")
    yield sim, ComplianceServiceStub(compliance.channel), ReplicationServiceStub(channel), postgres_url, \
        RiskServiceStub(risk_channel)
    await channel.close()
    await risk_channel.close()
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=20)
    await sim.stop()


async def test_replicas_share_the_copies_and_never_double_one(topology, token_for):
    """Replicas share the work by master: each master's fills are copied in order (under a
    per-master lock), so the work spreads over replicas when there are several masters."""
    sim, compliance, replication, postgres_url, risk = topology
    masters, followers = [], []
    for i in range(4):
        master = f"m{i}-{uuid.uuid4().hex[:6]}"
        master_account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=rep.ACCOUNT_ROLE_MASTER, venue=SPOT,  # signals only, but on a credential of the master's own
            credential_id=await stored_credential(compliance, token_for, master, SPOT)),
            metadata=token_for(master))).account
        masters.append((master, master_account))
        user = f"f{i}-{uuid.uuid4().hex[:6]}"
        await verify(compliance, token_for, user)
        account = sim.create_account(user, {"USDT": "1000000", "BTC": "10"})
        credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
            venue=SPOT, api_key=account.api_key, api_secret=account.secret), metadata=token_for(user))).credential
        venue_account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=rep.ACCOUNT_ROLE_FOLLOWER, venue=SPOT, credential_id=credential.credential_id),
            metadata=token_for(user))).account
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=venue_account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="0.001")),
            metadata=token_for(user))
        # A burst of 80 fills queues copies for seconds; the latency breaker would rightly stop
        # them, but this test is about sharing the work, so the followers turn breakers off.
        await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
            user_id=user, limits=risk_pb.RiskLimits(circuit_breaker_enabled=False),
            update_mask=field_mask_pb2.FieldMask(paths=["circuit_breaker_enabled"])), metadata=token_for(user))
        followers.append(user)

    fills = 20  # per master, all opening: each is copied at the fixed quantity (a close would be proportional)

    def submit_all():
        return asyncio.gather(*(replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=account.account_id, venue_trade_id=f"T{i}", symbol="BTC/USDT",
            side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))
            for i in range(fills) for master, account in masters))
    await submit_all()
    await submit_all()  # the same fills again, as a retrying client would send them: recorded once, copied once

    await eventually(lambda: all(len(sim.orders(u)) >= fills for u in followers), timeout=60,
                     message="every fill copied to every follower")
    for user in followers:
        client_ids = [o.client_order_id for o in sim.orders(user)]
        assert len(client_ids) == len(set(client_ids)) == fills, user  # one order per master fill
        assert all(o.orig_qty == Decimal("0.001") for o in sim.orders(user))
    with psycopg.connect(postgres_url) as conn:
        workers = conn.execute("SELECT worker, count(*) FROM replication.follower_orders WHERE follower_id = ANY(%s) "
                               "GROUP BY worker", (followers,)).fetchall()  # the database is the test session's
    assert len(workers) == 2, workers  # both replicas made copies
    assert sum(count for _, count in workers) == fills * len(followers)
