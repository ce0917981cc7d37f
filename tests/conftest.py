"""The test harness: a real nats-server on a free port, a fresh database per test session
(PostgreSQL — required when CI=true — and SQLite), real gRPC servers on port 0, and tokens.

    async def test_x(start_service, token_for):
        svc = await start_service("risk")              # real server, backend from `backend`
        stub = RiskServiceStub(svc.channel)
        await stub.GetRiskLimits(req, metadata=token_for("u1"))
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psycopg
import pytest
import pytest_asyncio

from services.kit import auth, clients, natsauth, revocations
from services.kit.bus import Bus
from services.kit.config import Settings, default_addresses
from services.kit.natsd import NatsServer
from services.kit.server import RunningService
from services.kit.testing import eventually  # noqa: F401 - re-exported for tests

TEST_SECRET = "test-secret-not-for-production-0123456789"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return str(exc)


def _fresh_database():
    """A new PostgreSQL database, dropped afterwards."""
    problem = _postgres_available()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true and PostgreSQL is not reachable at {PG_ADMIN_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"copytrade_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A fresh PostgreSQL database for this test session (tests that share it use its one
    MASTER_KEY and JWT_SECRET)."""
    yield from _fresh_database()


@pytest.fixture
def own_postgres_url() -> str:
    """A PostgreSQL database of this test's own: for a mesh with secrets of its own (the shared
    database's vault and audit keys are sealed under the suite's MASTER_KEY)."""
    yield from _fresh_database()


async def provision_streams(url: str, tls=None) -> None:
    """The mesh's streams, and the token revocations', made as admin (each service makes only
    the streams it owns, and waits for those it reads)."""
    admin = await Bus.connect(url, "provision", tls=tls)
    try:
        await revocations.ensure_stream(admin)
    finally:
        await admin.close()


class AuthenticatedNats(NatsServer):
    """The tests' nats-server, with authentication on (services/kit/natsauth.py). Services under
    test log in as their own users (make_settings); `url` logs a test's own observers in as the
    unlimited admin; `plain_url` carries no credentials (and is refused)."""

    @property
    def url(self) -> str:
        return self.url_as(natsauth.ADMIN)

    @property
    def plain_url(self) -> str:
        return f"nats://{self.host}:{self.port}"


@pytest_asyncio.fixture(scope="session")
async def nats_server(tmp_path_factory) -> AsyncIterator[AuthenticatedNats]:
    server = await AuthenticatedNats(tmp_path_factory.mktemp("jetstream"), users=natsauth.generate()).start()
    await provision_streams(server.url)  # as an operator: a service under test waits on no absent owner
    yield server
    await server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> str:
    """Parametrise a test over both databases."""
    return request.param


@pytest.fixture
def token_for():
    """Metadata carrying a user's access token: token_for("u1", "operator")."""

    def make(user_id: str, *roles: str, scopes: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
        token, _ = auth.issue_token(TEST_SECRET, user_id, list(roles) or [auth.ROLE_FOLLOWER], scopes=scopes)
        return (("authorization", f"Bearer {token}"),)

    return make


@pytest.fixture
def service_metadata():
    return (("authorization", f"Bearer {auth.service_token(TEST_SECRET, 'tests')}"),)


@dataclass
class StartedService:
    running: RunningService
    settings: Settings
    channel: grpc.aio.Channel

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.running.port}"


@pytest_asyncio.fixture
async def make_settings(request, tmp_path: Path, nats_server):
    """Settings for a service under test: the `backend` param (SQLite when absent), this
    session's nats-server (as the service's own NATS user), the test JWT secret."""

    def make(service: str, **overrides) -> Settings:
        backend = request.getfixturevalue("backend") if "backend" in request.fixturenames else "sqlite"
        database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
        user = service if service in natsauth.PERMISSIONS else natsauth.ADMIN  # each service its own NATS user
        values = dict(service=service, data_dir=tmp_path / "data", database_url=database_url,
                      nats_url=nats_server.plain_url, nats_user=user, nats_password=nats_server.users[user],
                      master_key="test-master-key", jwt_secret=TEST_SECRET,
                      listen="127.0.0.1:0", addresses=default_addresses())
        values.update(overrides)
        return Settings(**values)

    return make


@pytest_asyncio.fixture
async def start_service(make_settings) -> AsyncIterator:
    """Start a real service on port 0: `await start_service("risk", addresses=...)`."""
    started: list[StartedService] = []

    async def start(service: str, **overrides) -> StartedService:
        import importlib

        settings = make_settings(service, **overrides)
        running = await importlib.import_module(f"services.{service}.server").create_server(settings)
        address = f"127.0.0.1:{running.port}"
        # A service on TLS is called with its own certificate (it is a client's as well).
        channel = clients.balanced_channel(address, tls=settings.tls) if settings.tls else \
            grpc.aio.insecure_channel(address)
        svc = StartedService(running, settings, channel)
        started.append(svc)
        return svc

    yield start
    for svc in reversed(started):
        await svc.channel.close()
        await svc.running.stop(grace=0.5)


@dataclass
class CopyMesh:
    """The copy path's services in the test, and the venue simulator they trade on."""

    sim: object  # venue_sim.Simulator (the binance one when there are several)
    compliance: StartedService
    risk: StartedService
    replication: StartedService
    sims: dict = field(default_factory=dict)  # ccxt id -> the simulator speaking that venue's dialect


@pytest_asyncio.fixture
async def copy_mesh(start_service) -> AsyncIterator:
    """`await copy_mesh(seed, **replication_settings)`: a simulator, then compliance, risk and
    replication (trading on the simulator) as real servers. venues=("binance", "bybit") starts
    one simulator per venue, each speaking that venue's dialect (symbols: per venue, optional;
    history_hours: hourly prices from before start-up)."""
    from venue_sim import Simulator, ccxt_urls

    sims = []

    async def start(seed: int, *, venues: tuple[str, ...] = ("binance",), symbols: dict | None = None,
                    history_hours: int = 0, **replication_settings) -> CopyMesh:
        started = {}
        for venue in venues:
            extra = {"symbols": symbols[venue]} if symbols and venue in symbols else {}
            started[venue] = await Simulator(seed=seed, dialect=venue, history_hours=history_hours, **extra).start()
            sims.append(started[venue])
        compliance = await start_service("compliance")
        risk = await start_service("risk")
        addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk.address}
        replication = await start_service("replication", addresses=addresses,
                                          venue_urls={venue: ccxt_urls(sim.url, venue) for venue, sim in started.items()},
                                          venue_rate_limit=False, **replication_settings)
        return CopyMesh(started.get("binance") or next(iter(started.values())), compliance, risk, replication,
                        started)

    yield start
    for sim in sims:
        await sim.stop()


# --- the reliability suite's figures (pytest -m reliability), printed at the end of the run ---

RELIABILITY_ROWS: list[dict] = []
RELIABILITY_COLUMNS = ("scenario", "runs", "fills", "orders", "duplicates", "missing", "outage_s", "recovery_s",
                       "lag_after_burst_s")


@pytest.fixture
def reliability_report(request):
    """`reliability_report(scenario=..., runs=..., fills=..., orders=..., duplicates=0, missing=0,
    outage_s=..., recovery_s=...)`: one row of the summary table printed after the run (and
    written as JSON to $COPYTRADE_RELIABILITY_JSON when set)."""

    def record(**figures) -> None:
        RELIABILITY_ROWS.append({"test": request.node.nodeid, **figures})

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not RELIABILITY_ROWS:
        return
    terminalreporter.section("reliability summary")
    widths = {c: max(len(c), *(len(str(r.get(c, "-"))) for r in RELIABILITY_ROWS)) for c in RELIABILITY_COLUMNS}
    terminalreporter.write_line("  ".join(c.ljust(widths[c]) for c in RELIABILITY_COLUMNS))
    for row in RELIABILITY_ROWS:
        terminalreporter.write_line("  ".join(str(row.get(c, "-")).ljust(widths[c]) for c in RELIABILITY_COLUMNS))
    terminalreporter.write_line("orders: follower orders checked at the simulator by client order id; "
                                "outage_s: server away (or worker dead); recovery_s: back until every copy is in; "
                                  "lag_after_burst_s: the burst's last trade until every copy is in")
    target = os.environ.get("COPYTRADE_RELIABILITY_JSON")
    if target:
        Path(target).write_text(json.dumps(RELIABILITY_ROWS, indent=2))


async def stored_credential(compliance, token_for, user: str, venue) -> str:
    """A credential stored in compliance's vault for `user` (a venue account must name its own)."""
    from copytrade.compliance.v1 import compliance_service_pb2 as comp

    return (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=venue, label="test", api_key=f"KEY{uuid.uuid4().hex[:12]}", api_secret="test-secret"),
        metadata=token_for(user))).credential.credential_id


@pytest_asyncio.fixture
async def accounts_mesh(start_service, token_for):
    """Compliance and a replication that asks it (a venue account needs its owner's own stored
    credential): `replication, open_account = accounts_mesh`, then
    `await open_account(user, role, venue)` stores a credential for `user` and opens the account."""
    from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
    from copytrade.replication.v1 import replication_service_pb2 as rep
    from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub

    compliance_svc = await start_service("compliance")
    replication_svc = await start_service("replication", addresses={
        **compliance_svc.settings.addresses, "compliance": compliance_svc.address})
    compliance, replication = ComplianceServiceStub(compliance_svc.channel), ReplicationServiceStub(
        replication_svc.channel)

    async def open_account(user: str, role: int, venue, **fields):
        credential_id = await stored_credential(compliance, token_for, user, venue)
        return (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=role, venue=venue, credential_id=credential_id, **fields), metadata=token_for(user))).account

    open_account.compliance, open_account.services = compliance, (compliance_svc, replication_svc)
    return replication, open_account


async def publish_unverified_fill(bus, fill, *, signature: str | None, sign_payload: bytes | None = None) -> None:
    """A MasterFill put on its subject as a forger would (the admin bus: NATS lets it through):
    with `signature` as its Ct-Signature header (None: none at all), or replication's development
    key's signature of other bytes (`sign_payload`: a tampered fill)."""
    from services.kit import fillsign
    from services.kit.bus import MSG_ID_HEADER, TYPE_HEADER

    subject = f"fills.master.filled.{fill.master_account_id}"
    headers = {MSG_ID_HEADER: fill.fill_id, TYPE_HEADER: fill.DESCRIPTOR.full_name}
    if sign_payload is not None:
        headers.update(fillsign.Signer(fillsign.DEV_SIGNING_KEY).headers(subject, sign_payload))
    elif signature is not None:
        headers[fillsign.HEADER] = signature
    await bus.js.publish(subject, fill.SerializeToString(), headers=headers)
