"""nats-server, and separately PostgreSQL, stopped in the middle of a burst of master fills and
started again: every service is its own process (as `copytrade up` runs them) and must come
back by itself. The master keeps trading at the venue while the server is away; afterwards
every master trade has exactly one copy at each follower's venue account (client order id
derived from the fill), none missing, none twice."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import pytest_asyncio

from bench.bench_replication import Copying, check_copies, set_up_copying, start_stack
from services.kit.natsd import free_port_block
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from services.kit import auth, clients
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.pgd import PrivatePostgres, postgres_bin_dir
from services.kit.testing import eventually
from tests.reliability.stores import check_stores

pytestmark = pytest.mark.reliability

FOLLOWERS = 3
BEFORE, DURING, AFTER = 8, 6, 8  # master trades before the outage, while the server is away, after it


@pytest_asyncio.fixture
async def stack(tmp_path: Path):
    """`await stack(postgres_url)`: the simulator, nats-server and compliance, risk and
    replication processes, with a master copied by FOLLOWERS followers."""
    started = []

    async def start(postgres: str = "") -> tuple:
        # A short ack wait: a fill whose ack NATS never received comes back within seconds. The
        # venue refuses a client order id only while its order is open (Binance's rule), so a
        # copy sent twice would show as two orders.
        sim, mesh, endpoints, secret = await start_stack(tmp_path / "mesh", postgres, {"FILL_ACK_WAIT_S": "3"},
                                                         client_id_scope="open")
        started.append((sim, mesh))
        copying = await set_up_copying(sim, endpoints, secret, FOLLOWERS, tls_files=mesh.client_tls)
        started[-1] += (copying,)
        mesh.stores_agree = lambda: stores_agree(mesh, copying, endpoints, secret, postgres)
        return mesh, copying

    yield start
    for sim, mesh, *rest in started:
        for copying in rest:
            await copying.close()
        await mesh.stop()
        await sim.stop()


async def stores_agree(mesh, copying: Copying, endpoints: dict, secret: str, postgres: str):
    """Every order at the venue has exactly one risk commit (in risk's tables), one filled event
    (on the bus, and no placed one: each filled at once) and its one audit record (in
    compliance): polled, since these are written behind the venue's answer."""
    operator = (("authorization", f"Bearer {auth.issue_token(secret, 'op', ['operator'])[0]}"),)
    risk_db = Database(Settings(service="risk", data_dir=mesh.data_dir, database_url=postgres or None))
    channel = clients.balanced_channel(endpoints["compliance"], tls=mesh.client_tls)
    venue_orders = {name: [o.client_order_id for o in copying.sim.orders(name)] for name in copying.followers}

    async def agree():
        check = await check_stores(mesh.nats_url_as(), risk_db, ComplianceServiceStub(channel), operator, venue_orders,
                                   mesh.client_tls)
        assert check.exact, check.problems[:10]
        return check
    try:
        return await eventually(agree, timeout=60, interval=0.5, message="risk, the bus and compliance agree")
    finally:
        await channel.close()
        await risk_db.close()


def missing_copies(copying: Copying, mesh) -> str:
    """For a failure: each master trade lacking a copy, with what replication's SQLite database
    says of its fill and copies (PostgreSQL runs say only which are missing)."""
    have = {o.client_order_id for name in copying.followers for o in copying.sim.orders(name)}
    lines = []
    db = mesh.data_dir / "replication.db"
    for trade in copying.master_trades():
        lost = {n: cid for n, cid in copying.expected_ids(trade).items() if cid not in have}
        if not lost:
            continue
        fill_id = f"{copying.master_account_id}:{trade.trade_id}"
        lines.append(f"missing copies of {fill_id} ({trade.side}) at {sorted(lost)}")
        if db.exists():
            with sqlite3.connect(db) as conn:
                lines.append(f"  master_fills: {conn.execute('select published, record_time from master_fills where fill_id = ?', (fill_id,)).fetchall()}")
                for row in conn.execute("select follower_account_id, status, refusal, error_kind, error_message "
                                        "from follower_orders where master_fill_id = ?", (fill_id,)):
                    lines.append(f"  follower_orders: {row}")
    return "\n".join(lines)


async def burst_around(copying: Copying, stop, start, mesh) -> dict:
    """BEFORE trades, the server stopped, DURING trades, the server started, AFTER trades; then
    wait for every copy. Returns what was measured."""
    n = 0
    for _ in range(BEFORE):
        await copying.trade(n)
        n += 1
    down = time.monotonic()
    await stop()
    for _ in range(DURING):
        await copying.trade(n)
        n += 1
    await start()
    back = time.monotonic()
    for _ in range(AFTER):
        await copying.trade(n)
        n += 1
    try:
        check = await eventually(lambda: (c := check_copies(copying)).found == c.expected and c, timeout=90,
                                 interval=0.1, message="every master fill copied to every follower")
    except AssertionError as exc:
        logs = "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-400:])
                         for log in sorted((mesh.data_dir / "logs").glob("*.log")))
        raise AssertionError(f"{exc}: {check_copies(copying)}\n{missing_copies(copying, mesh)}\n{logs}") from None
    caught_up = time.monotonic()
    assert not mesh.dead(), f"service(s) died instead of reconnecting: {mesh.dead()}"
    await mesh.stores_agree()
    return {"fills": check.fills, "orders": check.found, "check": check, "outage_s": round(back - down, 2),
            "recovery_s": round(caught_up - back, 2)}


async def test_nats_server_restarted_mid_burst_loses_no_fill_and_copies_each_once(stack, reliability_report):
    mesh, copying = await stack()
    figures = await burst_around(copying, mesh.nats.stop, mesh.nats.start, mesh)
    check = figures.pop("check")
    assert check.fills == BEFORE + DURING + AFTER
    assert check.exact, check.details
    reliability_report(scenario="nats-server restarted mid-burst", runs=1, **figures,
                       duplicates=check.duplicates, missing=check.missing)


@pytest_asyncio.fixture
async def private_postgres():
    """A PostgreSQL cluster of this test's own (the machine's is never touched); requested
    before `stack`, so it stops after the services."""
    if postgres_bin_dir() is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) here")
    pg = await PrivatePostgres().start()
    yield pg
    await pg.stop("immediate")
    pg.remove()


async def test_postgres_restarted_mid_burst_loses_no_fill_and_copies_each_once(private_postgres, stack,
                                                                                 reliability_report):
    pg = private_postgres
    mesh, copying = await stack(pg.url)
    figures = await burst_around(copying, pg.stop, pg.start, mesh)
    check = figures.pop("check")
    assert check.fills == BEFORE + DURING + AFTER
    assert check.exact, check.details
    reliability_report(scenario="PostgreSQL restarted mid-burst", runs=1, **figures,
                       duplicates=check.duplicates, missing=check.missing)
