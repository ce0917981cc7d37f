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
from pathlib import Path

import pytest
import pytest_asyncio

from bench.bench_replication import check_copies, set_up_copying, start_stack
from services.kit.testing import eventually
from services.launcher import wait_serving
from tests.reliability.test_restarts import missing_copies

pytestmark = pytest.mark.reliability

FOLLOWERS = 3
ROUNDS = 3
BEFORE, DURING, AFTER = 6, 8, 6  # master trades per round: before the kill, while down, after the restart
DOWN_S = 4.0  # how long replication stays down, the master trading meanwhile


def restart(mesh, name: str) -> subprocess.Popen:
    """Start one service again as Mesh.start does: same environment, address and log."""
    with open(mesh.data_dir / "logs" / f"{name}.log", "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            env={**mesh.environment(), "LISTEN_ADDR": mesh.address(name), "METRICS_ADDR": mesh.metrics_address(name)},
            stdout=log_file, stderr=subprocess.STDOUT)
    mesh.processes[name] = process
    return process


async def serving(address: str) -> None:
    """Listening, then healthy (a gRPC channel that met a refused port first would wait out its
    reconnect backoff, seconds after the service is up)."""
    host, port = address.rsplit(":", 1)

    async def listening() -> bool:
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            return False
        writer.close()
        return True
    await eventually(listening, timeout=60, interval=0.05, message=f"{address} listening")
    await wait_serving(address, 60)


@pytest_asyncio.fixture
async def stack(tmp_path: Path):
    # The venue refuses a client order id only while its order is open (Binance's rule), so a
    # copy sent twice would show as two orders. A short ack wait: a fill the killed worker held
    # comes back within seconds.
    sim, mesh, endpoints, secret = await start_stack(tmp_path / "mesh", "", {"FILL_ACK_WAIT_S": "3"},
                                                     client_id_scope="open")
    copying = None
    try:
        copying = await set_up_copying(sim, endpoints, secret, FOLLOWERS)
        yield mesh, copying
    finally:
        if copying:
            await copying.close()
        await mesh.stop()
        await sim.stop()


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
        restart(mesh, "replication")
        back = time.monotonic()
        await serving(mesh.address("replication"))
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
