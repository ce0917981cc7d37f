"""A replication worker killed (SIGKILL) in the middle of a copy: the fill goes to the next
worker, which asks the venue for the client order id before sending anything. Every follower
ends with exactly one order at the venue, whether the venue had executed the killed worker's
order (its answer held back) or had not yet seen it (the request held back)."""

import json
import os
import signal
import subprocess
import sys
import random
import time
import uuid
from collections import Counter
from contextlib import asynccontextmanager
from decimal import Decimal

import grpc
import pytest
import pytest_asyncio

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from google.protobuf import field_mask_pb2
from services.kit import fillsign
from services.replication.client_order_id import client_order_id
from services.kit.natsd import NatsServer, free_port
from services.kit.testing import eventually
from services.launcher import wait_serving
from services.kit import auth
from tests.conftest import TEST_SECRET, stored_credential
from tests.reliability.stores import check_stores
from tests.replication.test_copy_flow import SPOT, verify
from venue_sim import Simulator, venue_urls

FOLLOWERS = 3
# The random-kill loop: rounds (one kill each) and fills per round; COPYTRADE_KILL_SEED replays a run.
KILL_ROUNDS = int(os.environ.get("COPYTRADE_KILL_ROUNDS", "3"))
FILLS_PER_ROUND = 3


@pytest_asyncio.fixture
async def own_nats(tmp_path):
    """A nats-server of this test's own, so the consumer's short ack wait holds. Set up before
    the services (and so stopped after them: they close their connections to a live server)."""
    nats = await NatsServer(tmp_path / "jetstream").start()
    yield nats
    await nats.stop()


@asynccontextmanager
async def crashable_replication(nats, start_service, tmp_path, **simulator):
    """Compliance and risk in the test; replication as a process that can be killed and started
    again on the same data and nats-server."""
    sim = await Simulator(seed=11, **simulator).start()
    compliance = await start_service("compliance", nats_url=nats.url)
    risk = await start_service("risk", nats_url=nats.url)
    port = free_port()
    env = {**os.environ, "NATS_URL": nats.url, "JWT_SECRET": TEST_SECRET, "MASTER_KEY": "test-master-key",
           "FILL_SIGNING_KEY": fillsign.DEV_SIGNING_KEY,
           "COMPLIANCE_ADDR": compliance.address, "RISK_ADDR": risk.address, "LISTEN_ADDR": f"127.0.0.1:{port}",
           "VENUE_URLS": json.dumps(venue_urls(sim.url)), "VENUE_RATE_LIMIT": "false", "LOG_LEVEL": "WARNING",
           "COPYTRADE_DATA_DIR": str(tmp_path / "replication"), "FILL_ACK_WAIT_S": "2"}
    processes: list[subprocess.Popen] = []

    async def start() -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "services.replication"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=open(tmp_path / "replication.log", "ab"))
        processes.append(process)
        await wait_serving(f"127.0.0.1:{port}", 60)
        return process

    await start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    operator = (("authorization", f"Bearer {auth.issue_token(TEST_SECRET, 'op', ['operator'])[0]}"),)

    async def stores_agree(venue_orders: dict[str, list[str]]):
        """Every order at the venue has exactly one risk commit, copy event and audit record
        (effects are written behind: polled until they agree)."""
        async def agree():
            check = await check_stores(nats.url, risk.running.components["book"].db,
                                       ComplianceServiceStub(compliance.channel), operator, venue_orders)
            assert check.exact, check.problems[:10]
            return check
        return await eventually(agree, timeout=60, interval=0.5, message="risk, the bus and compliance agree")
    try:
        yield (sim, ComplianceServiceStub(compliance.channel), ReplicationServiceStub(channel), start, processes,
               RiskServiceStub(risk.channel), stores_agree)
    finally:
        await channel.close()
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:  # a loaded machine: do not leave it behind
                    process.kill()
                    process.wait(timeout=10)
        await sim.stop()


@pytest_asyncio.fixture
async def crashable(own_nats, start_service, tmp_path):
    async with crashable_replication(own_nats, start_service, tmp_path) as parts:
        yield parts


async def copied_by(sim, compliance, replication, token_for, followers: int, fixed_quantity: str = "0.002"):
    """A signal-only master account and `followers` followers copying it; their user ids."""
    master = f"m-{uuid.uuid4().hex[:6]}"
    master_account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=rep.ACCOUNT_ROLE_MASTER, venue=SPOT,  # signals only, but on a credential of the master's own
        credential_id=await stored_credential(compliance, token_for, master, SPOT)), metadata=token_for(master))).account
    users = []
    for i in range(followers):
        user = f"f{i}-{uuid.uuid4().hex[:6]}"
        await verify(compliance, token_for, user)
        account = sim.create_account(user, {"USDT": "100000"})
        credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
            venue=SPOT, api_key=account.api_key, api_secret=account.secret), metadata=token_for(user))).credential
        venue_account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=rep.ACCOUNT_ROLE_FOLLOWER, venue=SPOT, credential_id=credential.credential_id),
            metadata=token_for(user))).account
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=venue_account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity=fixed_quantity)),
            metadata=token_for(user))
        users.append((user, venue_account.account_id))
    return master, master_account, users


@pytest.mark.parametrize("fault", ["latency_after_accept", "latency"])
async def test_a_worker_killed_mid_copy_leaves_exactly_one_order_per_follower(crashable, token_for, fault):
    sim, compliance, replication, start, processes, _, stores_agree = crashable
    master, master_account, users = await copied_by(sim, compliance, replication, token_for, FOLLOWERS)
    followers = [user for user, _ in users]
    # The first follower's order is held at the venue long enough to kill the worker holding it.
    held = sim.inject(kind=fault, account=followers[0], latency_ms=20_000)

    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-crash", symbol="BTC/USDT",
        side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))
    if fault == "latency_after_accept":  # the venue has executed it; the worker has not heard
        await eventually(lambda: sim.orders(followers[0]), message="the held order executed")
    else:  # the request is at the venue, not yet executed
        await eventually(lambda: held.hits == 1, message="the order request held")
    processes[-1].send_signal(signal.SIGKILL)
    processes[-1].wait(timeout=10)

    await start()  # the fill comes back to the new worker after the ack wait
    for user in followers:
        orders = await eventually(lambda: sim.orders(user), timeout=30, message=f"{user}'s copy")
        assert [(o.side, o.orig_qty) for o in orders] == [("BUY", Decimal("0.002"))]

    async def all_recorded():
        for user in followers:
            stored = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                           metadata=token_for(user))).orders
            if [o.status for o in stored] != [events.FOLLOWER_ORDER_STATUS_FILLED]:
                return False
        return True
    await eventually(all_recorded, timeout=30, message="each copy recorded once, filled")
    for user in followers:  # and still one each at the venue
        assert len(sim.orders(user)) == 1
    await stores_agree({user: [o.client_order_id for o in sim.orders(user)] for user in followers})


@pytest.mark.reliability
async def test_workers_killed_at_random_points_leave_exactly_one_order_per_fill_and_follower(
        own_nats, start_service, tmp_path, token_for, reliability_report):
    """KILL_ROUNDS bursts of fills; in each the worker is SIGKILLed once a random number of that
    burst's copies has reached the venue (sometimes with a copy's answer held back by the venue,
    so it dies not knowing), and a new one is started. The venue follows Binance's own rule (a
    client order id is refused only while its order is open), so only the copier's asking
    before sending keeps a second order out."""
    seed = int(os.environ.get("COPYTRADE_KILL_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    async with crashable_replication(own_nats, start_service, tmp_path, client_id_scope="open") as parts:
        sim, compliance, replication, start, processes, risk, stores_agree = parts
        master, master_account, users = await copied_by(sim, compliance, replication, token_for, FOLLOWERS)
        for user, _ in users:  # copies delayed by a crash are still wanted here
            await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
                user_id=user, limits=risk_pb.RiskLimits(circuit_breaker_enabled=False, max_orders_per_minute=10_000),
                update_mask=field_mask_pb2.FieldMask(paths=["circuit_breaker_enabled", "max_orders_per_minute"])),
                metadata=token_for(user, "operator"))

        def at_venue() -> int:
            return sum(len(sim.orders(user)) for user, _ in users)

        fills: list[str] = []
        recovery_s: list[float] = []
        for round_no in range(KILL_ROUNDS):
            held = rng.random() < 0.5
            if held:  # executed at the venue, the answer held back past the kill
                sim.inject(kind="latency_after_accept", account=rng.choice(users)[0], latency_ms=3_000)
            before = at_venue()
            for j in range(FILLS_PER_ROUND):
                reply = await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
                    master_account_id=master_account.account_id, venue_trade_id=f"T{round_no}-{j}",
                    symbol="BTC/USDT", side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"),
                    metadata=token_for(master))
                fills.append(reply.fill.fill_id)
            kill_after = rng.randrange(FOLLOWERS * FILLS_PER_ROUND)  # copies of this burst at the venue
            await eventually(lambda: at_venue() - before >= kill_after, timeout=30,
                             message=f"round {round_no}: {kill_after} copies at the venue")
            processes[-1].send_signal(signal.SIGKILL)
            processes[-1].wait(timeout=10)
            killed = time.monotonic()
            await start()
            await eventually(lambda: at_venue() >= len(fills) * FOLLOWERS, timeout=60,
                             message=f"round {round_no} (seed {seed}): every copy at the venue")
            recovery_s.append(time.monotonic() - killed)
        sim.clear_faults()

        duplicates = missing = 0
        for user, account_id in users:
            counts = Counter(o.client_order_id for o in sim.orders(user))
            expected = {client_order_id(fill_id, account_id) for fill_id in fills}
            missing += len(expected - set(counts))
            duplicates += sum(n - 1 for n in counts.values())
            assert set(counts) == expected, f"seed {seed}: {user} has copies of other fills or lacks some"
        assert (duplicates, missing) == (0, 0), f"seed {seed}"
        await stores_agree({user: [o.client_order_id for o in sim.orders(user)] for user, _ in users})
        reliability_report(scenario=f"replication worker kill -9 at random points (seed {seed})", runs=KILL_ROUNDS,
                           fills=len(fills), orders=sum(len(sim.orders(u)) for u, _ in users), duplicates=duplicates,
                           missing=missing, outage_s="-",
                           recovery_s=f"{min(recovery_s):.1f}..{max(recovery_s):.1f}")
