"""`copytrade up` supervises its services. Replication SIGKILLed under `up` while the master
trades is started again by the launcher (which says so), and every master trade is copied once
to each follower: none missing, none twice. A service that keeps crashing stops `up`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.bench_replication import check_copies, service_env, set_up_copying
from services.kit.natsd import free_port_block
from services import launcher
from services.kit import tls
from services.kit.testing import eventually
from services.launcher import Mesh
from tests.reliability.test_replication_down import serving
from venue_sim import Simulator

pytestmark = pytest.mark.reliability

FOLLOWERS = 3
BEFORE, DURING, AFTER = 6, 8, 6  # master trades before the kill, while replication is down, after it is back


def child_pid(parent: int, module: str) -> int | None:
    """The pid of `parent`'s child running `python -m module` (from /proc: no psutil here)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and module.encode() in cmdline:
            return int(entry.name)
    return None


async def test_a_service_killed_under_up_is_restarted_and_nothing_is_lost(tmp_path: Path, reliability_report):
    sim = await Simulator(seed=1, client_id_scope="open").start()
    data_dir, static = tmp_path / "data", tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html>")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MASTER_KEY", "JWT_SECRET")}
    env.update(service_env(sim.url, FILL_ACK_WAIT_S="3", GATEWAY_STATIC_DIR=str(static)))
    output = tmp_path / "up.out"
    with open(output, "wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--data-dir", str(data_dir),
                               "--port-base", str(free_port_block())], env=env, stdout=out, stderr=subprocess.STDOUT)
    copying = None
    try:
        endpoints_file = data_dir / "endpoints.json"
        await eventually(lambda: endpoints_file.exists() or up.poll() is not None, timeout=240, interval=0.2,
                         message="copytrade up is ready")
        assert up.poll() is None, output.read_text()
        endpoints = json.loads(endpoints_file.read_text())
        secret = json.loads((data_dir / "secrets.json").read_text())["JWT_SECRET"]
        tls_files = tls.tool_files(data_dir)  # the certificate `up` made for tools
        copying = await set_up_copying(sim, endpoints, secret, FOLLOWERS, tls_files=tls_files)
        n = 0
        for _ in range(BEFORE):
            await copying.trade(n)
            n += 1
        first = child_pid(up.pid, "services.replication")
        assert first, "up runs replication as its own process"
        down = time.monotonic()
        os.kill(first, signal.SIGKILL)
        for _ in range(DURING):
            await copying.trade(n)
            n += 1
        second = await eventually(lambda: (pid := child_pid(up.pid, "services.replication")) != first and pid,
                                  timeout=30, interval=0.1, message="up starts replication again")
        await serving(endpoints["replication"], tls_files)
        back = time.monotonic()
        for _ in range(AFTER):
            await copying.trade(n)
            n += 1
        try:
            await eventually(lambda: (c := check_copies(copying)).fills == n and c.found == c.expected, timeout=90,
                             interval=0.1, message="every master fill copied to every follower")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {check_copies(copying)}\n{output.read_text()}") from None
        caught_up = time.monotonic()
        check = check_copies(copying)
        assert up.poll() is None, f"up stopped instead of restarting replication:\n{output.read_text()}"
        said = output.read_text()
        assert "replication exited (code -9); restarting in" in said and f"replication restarted (pid {second})" in said
        assert check.fills == BEFORE + DURING + AFTER
        assert check.exact, check.details
        reliability_report(scenario="replication SIGKILLed under up", runs=1, fills=check.fills, orders=check.found,
                           duplicates=check.duplicates, missing=check.missing, outage_s=round(back - down, 2),
                           recovery_s=round(caught_up - back, 2))
    finally:
        if copying:
            await copying.close()
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            await asyncio.to_thread(up.wait, 60)
        await sim.stop()
    assert up.returncode == 0, output.read_text()


async def test_a_service_that_keeps_crashing_stops_the_mesh(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(launcher, "RESTART_BACKOFF_S", 0.1)
    monkeypatch.setattr(launcher, "MAX_CRASHES", 3)
    mesh = Mesh(tmp_path / "mesh", "127.0.0.1", free_port_block(), services=("risk",))
    try:
        await mesh.start()
        # From now on risk cannot start (its database is unreachable): it crashes at every restart.
        mesh.extra_env["RISK_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
        mesh.processes["risk"].kill()
        log = tmp_path / "supervisor.log"
        with open(log, "w") as out:
            code = await asyncio.wait_for(mesh.supervise(asyncio.Event(), out), 120)
        said = log.read_text()
        assert code == 1, said
        assert said.count("risk exited") == 3 and "giving up" in said, said
        assert said.count("restarting in") == 2 and "restarting in 0.2s" in said, said  # the backoff doubles
    finally:
        await mesh.stop()


async def test_a_nats_node_that_dies_under_up_is_started_again(tmp_path: Path):
    mesh = Mesh(tmp_path / "mesh", "127.0.0.1", free_port_block(), services=())
    stop = asyncio.Event()
    log = tmp_path / "supervisor.log"
    try:
        await mesh.start()
        first = mesh.nats.process.pid
        os.kill(first, signal.SIGKILL)
        with open(log, "w") as out:
            supervisor = asyncio.create_task(mesh.supervise(stop, out))
            await eventually(lambda: mesh.nats.running and mesh.nats.process.pid != first, timeout=30,
                             message="the NATS node is running again")
            stop.set()
            assert await supervisor == 0
        said = log.read_text()
        assert "exited (code -9); restarting in" in said and "restarted" in said, said
    finally:
        await mesh.stop()


async def test_the_demo_is_seeded_even_when_a_service_dies_meanwhile(tmp_path: Path, capsys):
    """`up --demo` seeds its masters and followers after the services start; compliance
    SIGKILLed just then is started again and the seeding, which skips what exists, finishes,
    instead of `up` failing with UNAVAILABLE."""
    from demo.runner import Demo

    base = free_port_block()
    show = Demo(tmp_path / "data", base)
    await show.start()
    mesh = Mesh(tmp_path / "data", "127.0.0.1", base, extra_env={**show.environment(), "LOG_LEVEL": "WARNING"})
    try:
        await mesh.start()
        first = mesh.processes["compliance"].pid
        mesh.processes["compliance"].kill()
        await asyncio.to_thread(mesh.processes["compliance"].wait)
        await launcher.seed_supervised(mesh, show)
        assert mesh.processes["compliance"].pid != first and mesh.processes["compliance"].poll() is None
        seeded = json.loads((tmp_path / "data" / "demo.json").read_text())["people"]
        assert {"operator", "alice", "bob", "carol"} <= set(seeded) and seeded["alice"]["config_id"]
        said = capsys.readouterr().err
        assert "compliance exited (code -9); restarting in" in said and "seeding waits for a service" in said, said
    finally:
        await mesh.stop()
        await show.stop()
