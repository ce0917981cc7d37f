"""Tokens follow authority, through the public edge and at every service: a role change, a
deletion or a logout takes effect at once (a per-user token version every service checks), the
public edge takes no service token."""

import uuid

import aiohttp
import grpc
import pytest_asyncio

from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.gateway.edge import CSRF_HEADER, SESSION_COOKIE, SESSION_HEADER
from services.kit import auth
from services.kit.testing import eventually
from tests.conftest import TEST_SECRET
from tests.gateway.test_rest import PASSWORD

BOSS = "boss-{}@example.com"


@pytest_asyncio.fixture
async def mesh(start_service):
    """compliance, risk, replication and the gateway; one bootstrap operator email."""
    boss = BOSS.format(uuid.uuid4().hex[:8])
    started = {"compliance": await start_service("compliance", operator_emails=frozenset({boss}))}
    started.update({name: await start_service(name) for name in ("risk", "replication")})
    addresses = {**started["risk"].settings.addresses, **{n: s.address for n, s in started.items()}}
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0")
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.running.http_port}",
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield http, boss, started


async def register_and_login(http, email: str | None = None) -> tuple[str, str]:
    email = email or f"{uuid.uuid4().hex[:8]}@example.com"
    created = await http.post("/v1/users", json={"email": email, "password": PASSWORD})
    assert created.status == 200, await created.text()
    reply = await http.post("/v1/auth:login", json={"email": email, "password": PASSWORD})
    assert reply.status == 200, await reply.text()
    body = await reply.json()
    return body["user"]["userId"], body["accessToken"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def _refused(http, verb: str, path: str, token: str, **kwargs) -> dict | None:
    reply = await http.request(verb, path, headers=bearer(token), **kwargs)
    return await reply.json() if reply.status == 401 else None


async def test_a_demoted_operator_loses_operator_powers_at_once(mesh):
    http, boss_email, started = mesh
    _, boss = await register_and_login(http, boss_email)
    deputy_id, _ = await register_and_login(http)
    promoted = await http.post(f"/v1/users/{deputy_id}:setRoles", headers=bearer(boss),
                               json={"roles": ["ROLE_OPERATOR"]})
    assert promoted.status == 200, await promoted.text()
    # The deputy logs in again (the old token's roles are what it was issued with) ...
    email = (await (await http.get(f"/v1/users/{deputy_id}", headers=bearer(boss))).json())["user"]["email"]
    deputy = (await (await http.post("/v1/auth:login", json={"email": email, "password": PASSWORD})).json())[
        "accessToken"]
    assert (await http.get("/v1/compliance-alerts", headers=bearer(deputy))).status == 200
    # ... and is demoted: the operator token stops working everywhere, at once.
    demoted = await http.post(f"/v1/users/{deputy_id}:setRoles", headers=bearer(boss),
                              json={"roles": ["ROLE_FOLLOWER"]})
    assert demoted.status == 200
    body = await _refused(http, "GET", "/v1/compliance-alerts", deputy)
    assert body is not None and body["details"][0]["reason"] == "TOKEN_REVOKED"
    # Risk heard it on the bus (or asks compliance): the global kill switch stays off limits.
    stub = RiskServiceStub(started["risk"].channel)

    async def risk_refuses():
        try:
            await stub.ActivateKillSwitch(risk_pb.ActivateKillSwitchRequest(reason="x"),
                                          metadata=(("authorization", f"Bearer {deputy}"),))
        except grpc.aio.AioRpcError as err:
            return err.code() == grpc.StatusCode.UNAUTHENTICATED or None
        return None
    assert await eventually(risk_refuses, timeout=10, message="risk refuses the demoted operator's token")


async def test_a_deleted_users_token_works_nowhere_and_mints_no_api_key(mesh):
    http, _, _ = mesh
    user, token = await register_and_login(http)
    assert (await http.delete(f"/v1/users/{user}", headers=bearer(token))).status == 200
    assert await _refused(http, "GET", f"/v1/users/{user}/risk-limits", token) is not None
    minted = await _refused(http, "POST", "/v1/api-keys", token, json={"name": "after", "scopes": ["API_KEY_SCOPE_READ"]})
    assert minted is not None and minted["details"][0]["reason"] == "TOKEN_REVOKED"


async def test_logout_revokes_the_cookies_token(mesh):
    http, _, _ = mesh
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    assert (await http.post("/v1/users", json={"email": email, "password": PASSWORD})).status == 200
    reply = await http.post("/v1/auth:login", headers={SESSION_HEADER: "cookie"},
                            json={"email": email, "password": PASSWORD})
    user = (await reply.json())["user"]["userId"]
    stolen = reply.cookies[SESSION_COOKIE].value  # what someone who copied the cookie holds
    assert (await http.get(f"/v1/users/{user}/risk-limits", headers=bearer(stolen))).status == 200
    out = await http.post("/v1/auth:logout", headers={CSRF_HEADER: "1"})
    assert out.status == 200
    body = await _refused(http, "GET", f"/v1/users/{user}/risk-limits", stolen)
    assert body is not None and body["details"][0]["reason"] == "TOKEN_REVOKED"


async def test_the_public_edge_refuses_service_tokens(mesh):
    http, _, _ = mesh
    token = auth.service_token(TEST_SECRET, "replication")
    for verb, path, body in (("GET", "/v1/audit-events", None), ("POST", "/v1/kill-switch:activate", {"reason": "x"})):
        reply = await http.request(verb, path, headers=bearer(token), json=body)
        assert reply.status == 401, (path, await reply.text())
        assert (await reply.json())["details"][0]["reason"] == "SERVICE_TOKEN_AT_EDGE"

