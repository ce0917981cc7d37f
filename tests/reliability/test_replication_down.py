"""Replication SIGKILLed while the master trades, kept down for several seconds while the master
trades on, then started again the way the launcher starts it. The trades made while nothing
watched the master's stream are recovered from the venue's history (from the cursor of the
last fill recorded), so every master trade has exactly one copy at each follower's venue
account: none missing, none twice. Every service is its own process, as `copytrade up` runs
them."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from bench.bench_replication import check_copies, set_up_copying, start_stack
from services.kit.bus import Bus
from services.kit.leases import Leases
from services.kit.natsd import free_port
from services.kit.testing import eventually
from services.replication.ownership import BUCKET, shard_of
from services.launcher import _listening, wait_serving
from tests.reliability.test_restarts import missing_copies

pytestmark = pytest.mark.reliability

FOLLOWERS = 3
ROUNDS = 3
BEFORE, DURING, AFTER = 6, 8, 6  # master trades per round: before the kill, while down, after the restart
DOWN_S = 4.0  # how long replication stays down, the master trading meanwhile


def start_replica(mesh, name: str = "replication", address: str | None = None) -> subprocess.Popen:
    """Start a replication process as Mesh.start does: same environment and log; the launcher's
    address unless told another (a second replica)."""
    env = {**mesh.environment(), **mesh.service_environment("replication")}  # its NATS user too
    if address is not None:
        env["LISTEN_ADDR"] = address
        del env["METRICS_ADDR"]
    with open(mesh.data_dir / "logs" / f"{name}.log", "ab") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "services.replication"], env=env, stdout=log_file,
                                   stderr=subprocess.STDOUT)
    mesh.processes[name] = process
    return process


async def serving(address: str, tls_files=None) -> None:
    """Listening, then healthy (a gRPC channel that met a refused port first would wait out its
    reconnect backoff, seconds after the service is up). tls_files: the mesh's client_tls."""
    await eventually(lambda: _listening(address), timeout=60, interval=0.05, message=f"{address} listening")
    await wait_serving(address, 60, tls_files)


@asynccontextmanager
async def copying_stack(tmp_path: Path, postgres: str = "", *, second_replica: bool = False):
    """The simulator and the services as processes, a master copied by FOLLOWERS followers; with
    second_replica, another replication process beside the launcher's. The venue refuses a client
    order id only while its order is open (Binance's rule), so a copy sent twice would show as two
    orders. A short ack wait: a fill the killed worker held comes back within seconds."""
    sim, mesh, endpoints, secret = await start_stack(tmp_path / "mesh", postgres, {"FILL_ACK_WAIT_S": "3"},
                                                     client_id_scope="open")
    copying = None
    try:
        if second_replica:
            address = mesh.address("replication").rsplit(":", 1)[0] + f":{free_port()}"
            start_replica(mesh, "replication-2", address)
            await serving(address, mesh.client_tls)
        copying = await set_up_copying(sim, endpoints, secret, FOLLOWERS, prefix=f"r{uuid.uuid4().hex[:4]}-",
                                       tls_files=mesh.client_tls)
        yield mesh, copying
    finally:
        if copying:
            await copying.close()
        await mesh.stop()
        await sim.stop()


@pytest_asyncio.fixture
async def stack(tmp_path: Path):
    async with copying_stack(tmp_path) as parts:
        yield parts


async def test_replication_killed_and_kept_down_while_the_master_trades_misses_no_fill(stack, reliability_report):
    mesh, copying = stack
    n, recovery, starting = 0, [], []
    for round_no in range(ROUNDS):
        for _ in range(BEFORE):
            await copying.trade(n)
            n += 1
        mesh.processes["replication"].send_signal(signal.SIGKILL)
        await asyncio.to_thread(mesh.processes["replication"].wait, 10)
        deadline = time.monotonic() + DOWN_S
        for i in range(DURING):  # spread over the time it is down
            await copying.trade(n)
            n += 1
            await asyncio.sleep(max(0.0, (deadline - time.monotonic()) / (DURING - i)))
        start_replica(mesh)
        back = time.monotonic()
        await serving(mesh.address("replication"), mesh.client_tls)
        starting.append(time.monotonic() - back)
        for _ in range(AFTER):
            await copying.trade(n)
            n += 1
        try:
            await eventually(lambda: (c := check_copies(copying)).found == c.expected, timeout=90, interval=0.2,
                             message=f"round {round_no}: every master trade copied to every follower")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {check_copies(copying)}\n{missing_copies(copying, mesh)}") from None
        recovery.append(time.monotonic() - back)
    check = check_copies(copying)
    assert check.fills == ROUNDS * (BEFORE + DURING + AFTER)
    assert check.exact, check.details
    reliability_report(scenario=f"replication kill -9, down {DOWN_S:.0f} s while the master trades", runs=ROUNDS,
                       fills=check.fills, orders=check.found, duplicates=check.duplicates, missing=check.missing,
                       outage_s=f"{DOWN_S:.1f}", recovery_s=f"{min(recovery):.1f}..{max(recovery):.1f} (of which "
                                                           f"starting {min(starting):.1f}..{max(starting):.1f})")


@pytest_asyncio.fixture
async def two_replicas(tmp_path: Path, own_postgres_url):
    async with copying_stack(tmp_path, own_postgres_url, second_replica=True) as parts:
        yield parts


async def shard_holder(mesh, account_id: str) -> str | None:
    bus = await Bus.connect(mesh.nats_url_as(), "test-lease-reader", ensure_streams=False, tls=mesh.client_tls)
    try:
        return await (await Leases(bus, BUCKET, "reader").open()).holder_of(shard_of(account_id))
    finally:
        await bus.close()


async def test_the_replica_watching_a_master_killed_another_takes_over_and_misses_no_fill(two_replicas,
                                                                                          reliability_report):
    mesh, copying = two_replicas
    holder = await eventually(lambda: shard_holder(mesh, copying.master_account_id),
                              message="a replica holds the master's shard")
    pid = int(holder.split(":")[2])
    [(owner, process)] = [(name, p) for name, p in mesh.processes.items() if p.pid == pid]
    n = 0
    for _ in range(BEFORE):
        await copying.trade(n)
        n += 1
    process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(process.wait, 10)
    killed = time.monotonic()
    for i in range(DURING):  # the master trades on while nobody watches it
        await copying.trade(n)
        n += 1
        await asyncio.sleep(0.3)

    async def taken_over():
        now = await shard_holder(mesh, copying.master_account_id)
        return now is not None and now != holder and now
    survivor = await eventually(taken_over, timeout=30, interval=0.2, message="the other replica took the shard")
    takeover_s = time.monotonic() - killed
    assert int(survivor.split(":")[2]) in {p.pid for name, p in mesh.processes.items() if name != owner}
    for _ in range(AFTER):
        await copying.trade(n)
        n += 1
    try:
        await eventually(lambda: (c := check_copies(copying)).found == c.expected, timeout=90, interval=0.2,
                         message="every master trade copied to every follower")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {check_copies(copying)}") from None
    recovered_s = time.monotonic() - killed
    check = check_copies(copying)
    assert check.fills == BEFORE + DURING + AFTER and check.exact, check.details
    assert takeover_s <= 6.0 + 4.0  # the lease TTL, and a few seconds
    reliability_report(scenario="the replica watching the master kill -9; the other takes over", runs=1,
                       fills=check.fills, orders=check.found, duplicates=check.duplicates, missing=check.missing,
                       outage_s=f"{takeover_s:.1f} (takeover)", recovery_s=f"{recovered_s:.1f}")
