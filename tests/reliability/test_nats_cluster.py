"""A 3-node JetStream cluster on loopback (each node a real nats-server from the wheel, its own
process and store), the services connected to all three (NATS_URL lists them) with every stream
kept on all three nodes. The FILLS stream's leader is SIGKILLed in the middle of a burst of
master fills; once it is back, the new leader — another node — is killed too. Copying goes on
through each loss: every master trade has exactly one copy at each follower's venue account,
none missing, none twice. Printed per kill: recovery_s, from the kill until every copy is in
(the burst's own duration included), and lag_after_burst_s, from the burst's last trade."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.bench_replication import check_copies, set_up_copying, start_stack
from services.kit.bus import Bus
from services.kit.testing import eventually
from tests.reliability.test_restarts import missing_copies

pytestmark = pytest.mark.reliability

FOLLOWERS = 3
BEFORE, DURING, AFTER = 6, 8, 6  # master trades before the first kill, while each node is down, at the end


async def fills_leader(mesh) -> str:
    bus = await Bus.connect(mesh.nats_url_as(), "test-leader-probe", ensure_streams=False, tls=mesh.client_tls)
    try:
        async def leader():
            info = await bus.js.stream_info("FILLS")
            return info.cluster.leader if info.cluster and len(info.cluster.replicas or []) == 2 else None
        # A leader, with both other nodes current again (after a restart the node catches up first).
        return await eventually(leader, timeout=60, interval=0.2, message="FILLS has a leader and two replicas")
    finally:
        await bus.close()


async def every_copy_in(copying, mesh, expected_fills: int) -> float:
    try:
        await eventually(lambda: (c := check_copies(copying)).fills == expected_fills and c.found == c.expected,
                         timeout=90, interval=0.1, message="every master fill copied to every follower")
    except AssertionError as exc:
        logs = "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-300:])
                         for log in sorted((mesh.data_dir / "logs").glob("*.log")))
        raise AssertionError(f"{exc}: {check_copies(copying)}\n{missing_copies(copying, mesh)}\n{logs}") from None
    return time.monotonic()


async def test_stream_leader_then_another_node_killed_mid_burst_loses_and_doubles_nothing(
        tmp_path: Path, reliability_report):
    sim, mesh, endpoints, secret = await start_stack(tmp_path / "mesh", "", {"FILL_ACK_WAIT_S": "3"},
                                                     nats_nodes=3, client_id_scope="open")
    copying = None
    try:
        copying = await set_up_copying(sim, endpoints, secret, FOLLOWERS, tls_files=mesh.client_tls)
        info_bus = await Bus.connect(mesh.nats_url_as(), "test-replicas", ensure_streams=False, tls=mesh.client_tls)
        try:
            assert (await info_bus.js.stream_info("FILLS")).config.num_replicas == 3
        finally:
            await info_bus.close()
        n = 0
        for _ in range(BEFORE):
            await copying.trade(n)
            n += 1
        killed: list[str] = []
        for round_ in range(2):
            leader = await fills_leader(mesh)
            assert leader not in killed, f"{leader} led again; the second kill must take another node"
            node = mesh.nats.node(leader)
            down = time.monotonic()
            node.kill()  # SIGKILL, mid-burst: trades keep coming while it is gone
            killed.append(leader)
            for _ in range(DURING):
                await copying.trade(n)
                n += 1
            last_trade = time.monotonic()
            caught_up = await every_copy_in(copying, mesh, n)
            await node.start()
            back = time.monotonic()
            check = check_copies(copying)
            reliability_report(scenario=f"NATS cluster: {'stream leader' if round_ == 0 else 'new leader'} "
                                        f"{leader} killed", runs=1, fills=check.fills, orders=check.found,
                               duplicates=check.duplicates, missing=check.missing, outage_s=round(back - down, 2),
                               recovery_s=round(caught_up - down, 2), lag_after_burst_s=round(caught_up - last_trade, 2))
            assert check.exact, check.details
        for _ in range(AFTER):
            await copying.trade(n)
            n += 1
        await every_copy_in(copying, mesh, n)
        check = check_copies(copying)
        assert check.fills == BEFORE + 2 * DURING + AFTER
        assert check.exact, check.details
        assert not mesh.dead(), f"service(s) died instead of failing over: {mesh.dead()}"
        assert len(set(killed)) == 2
    finally:
        if copying:
            await copying.close()
        await mesh.stop()
        await sim.stop()
