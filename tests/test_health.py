"""gRPC health is readiness: a service says NOT_SERVING while its NATS connection or its
database is down, and SERVING again once it is back (balancers and the gateway's /healthz route
around it meanwhile)."""

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit import natsauth
from services.kit.pgd import PrivatePostgres, postgres_bin_dir
from services.kit.testing import eventually
from tests.conftest import AuthenticatedNats, provision_streams

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def statuses(svc, name: str):
    """A check that health of the server and of `name` is `expected`."""
    health = health_pb2_grpc.HealthStub(svc.channel)

    async def status(expected):
        for service in ("", name):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
            assert reply.status == expected, service
        return True
    return status


async def down_and_back(status, stop, start) -> None:
    """SERVING, NOT_SERVING once `stop` took the dependency away, SERVING again after `start`."""
    await status(SERVING)
    await stop()
    await eventually(lambda: status(NOT_SERVING), timeout=10)
    await start()
    await eventually(lambda: status(SERVING), timeout=15)


async def test_health_follows_the_nats_connection(start_service, tmp_path):
    nats = await AuthenticatedNats(tmp_path / "js", users=natsauth.generate()).start()
    try:
        await provision_streams(nats.url)
        risk = await start_service("risk", nats_url=nats.plain_url, nats_password=nats.users["risk"],
                                   health_check_s=0.2)
        await down_and_back(statuses(risk, "copytrade.risk.v1.RiskService"), nats.stop, nats.start)
    finally:
        await nats.stop()


async def test_health_follows_the_database(start_service):
    if postgres_bin_dir() is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) here")
    pg = await PrivatePostgres().start()
    try:
        risk = await start_service("risk", database_url=pg.url, health_check_s=0.2)
        await down_and_back(statuses(risk, "copytrade.risk.v1.RiskService"), pg.stop, pg.start)
    finally:
        await pg.stop("immediate")
        pg.remove()
