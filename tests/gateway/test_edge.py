"""The gateway's edge: partner API keys and their scopes, rate limits, CORS, the body limit,
Swagger UI and the web app's files, an OpenAPI document that validates, and a service the
gateway never saw getting its routes from its annotations alone."""

import importlib
import sys
import uuid
from pathlib import Path

import aiohttp
import grpc
import pytest
import pytest_asyncio
from aiohttp import web
from google.api import annotations_pb2
from grpc_tools import protoc
from openapi_spec_validator import validate

from services.gateway import openapi
from services.kit.testing import eventually
from services.gateway.http import MAX_BODY_BYTES, RestGateway
from services.gateway.routes import route_table
from tests.gateway.test_rest import login

ECHO_PROTOS = Path(__file__).parent / "protos"


@pytest_asyncio.fixture
async def edge_gateway(start_service, tmp_path):
    """A gateway with a small rate limit, one allowed browser origin and a web app directory."""
    web_app = tmp_path / "web"
    (web_app / "assets").mkdir(parents=True)
    (web_app / "index.html").write_text("<!doctype html><title>copytrade app</title>")
    (web_app / "assets" / "app.js").write_text("console.log('copytrade')")
    (tmp_path / "secret.txt").write_text("not for the web")
    started = {name: await start_service(name) for name in ("compliance", "risk", "replication")}
    addresses = {**started["risk"].settings.addresses, **{n: s.address for n, s in started.items()}}
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0",
                                  rate_limit_per_s=0.5, rate_limit_burst=8, cors_origins=("http://app.example",),
                                  static_dir=web_app)
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.running.http_port}") as http:
        yield http


async def new_key(http, auth, *scopes) -> str:
    reply = await http.post("/v1/api-keys", headers=auth, json={"name": "bot", "scopes": list(scopes)})
    assert reply.status == 200, await reply.text()
    return (await reply.json())["secret"]


async def test_an_api_key_calls_what_its_scopes_allow_and_nothing_else(edge_gateway):
    http = edge_gateway
    user, auth = await login(http)
    reader = await new_key(http, auth, "API_KEY_SCOPE_READ")
    trader = await new_key(http, auth, "API_KEY_SCOPE_TRADE")
    limits = f"/v1/users/{user}/risk-limits"
    start = {"followerAccountId": "acc_missing", "masterAccountId": "acc_missing",
             "settings": {"sizingMode": "SIZING_MODE_MULTIPLIER", "multiplier": "1"}}

    assert (await http.get(limits, headers={"Authorization": f"Bearer {reader}"})).status == 200
    assert (await http.get(limits, headers={"X-API-Key": reader})).status == 200
    refused = await http.post("/api/copy-trading/start", headers={"X-API-Key": reader}, json=start)
    assert refused.status == 403 and (await refused.json())["details"][0]["reason"] == "API_KEY_SCOPE"
    # TRADE may start copying: the call reaches replication, which says what is missing.
    started = await http.post("/api/copy-trading/start", headers={"X-API-Key": trader}, json=start)
    assert started.status == 404 and (await started.json())["details"][0]["reason"] == "ACCOUNT_NOT_FOUND"
    # Scoped keys act for their own user only, and cannot mint more keys.
    other, _ = await login(http)
    assert (await http.get(f"/v1/users/{other}/risk-limits", headers={"X-API-Key": reader})).status == 403
    minted = await http.post("/v1/api-keys", headers={"X-API-Key": trader}, json={"name": "x", "scopes": [2]})
    assert minted.status == 403

    key_id = reader.split("_")[1]
    assert (await http.post(f"/v1/api-keys/{key_id}:revoke", headers=auth, json={})).status == 200
    revoked = await http.get(limits, headers={"X-API-Key": reader})
    assert revoked.status == 401 and (await revoked.json())["details"][0]["reason"] == "API_KEY_INVALID"
    forged = await http.get(limits, headers={"X-API-Key": trader[:-4] + "AAAA"})
    assert forged.status == 401

    async def audited():  # issuing and revoking keys are in the user's audit trail
        reply = await http.get(f"/v1/audit-events?userId={user}&actionPrefix=api_key.", headers=auth)
        return sorted(e["action"] for e in (await reply.json()).get("events", []))
    assert await eventually(lambda: _when(audited, ["api_key.created", "api_key.created", "api_key.revoked"]),
                            message="key actions audited")


async def _when(read, expected):
    got = await read()
    return got if got == expected else None


async def test_routes_need_a_credential_except_registration_and_login(edge_gateway):
    http = edge_gateway
    reply = await http.get("/v1/venue-accounts")
    assert reply.status == 401 and (await reply.json())["details"][0]["reason"] == "AUTH_REQUIRED"
    bad = await http.get("/v1/venue-accounts", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status == 401
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    assert (await http.post("/v1/users", json={"email": email, "password": "a long passphrase 1"})).status == 200
    assert (await http.post("/v1/auth:login", json={"email": email, "password": "a long passphrase 1"})).status == 200


async def test_a_caller_over_the_rate_gets_429_with_retry_after_and_others_do_not(edge_gateway):
    http = edge_gateway
    user, auth = await login(http)  # registration and login spend two of this address's requests
    statuses = [(await http.get(f"/v1/users/{user}/risk-limits", headers=auth)).status for _ in range(9)]
    assert statuses[:8] == [200] * 8 and statuses[8] == 429
    limited = await http.get(f"/v1/users/{user}/risk-limits", headers=auth)
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert (await limited.json())["details"][0]["reason"] == "RATE_LIMITED"
    other, other_auth = await login(http)  # a different user has a bucket of their own
    assert (await http.get(f"/v1/users/{other}/risk-limits", headers=other_auth)).status == 200


async def test_cors_lets_the_web_apps_origin_in_and_no_other(edge_gateway):
    http = edge_gateway
    preflight = {"Origin": "http://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    allowed = await http.options("/api/copy-trading/start", headers=preflight)
    assert allowed.status == 204 and allowed.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    denied = await http.options("/api/copy-trading/start", headers={**preflight, "Origin": "http://evil.example"})
    assert denied.status == 403 and "Access-Control-Allow-Origin" not in denied.headers
    simple = await http.get("/openapi.json", headers={"Origin": "http://app.example"})
    assert simple.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert "Access-Control-Allow-Origin" not in (await http.get("/openapi.json",
                                                                headers={"Origin": "http://evil.example"})).headers


async def test_an_oversized_body_is_a_json_413(edge_gateway):
    _, auth = await login(edge_gateway)
    reply = await edge_gateway.post("/api/copy-trading/start", headers={**auth, "Content-Type": "application/json"},
                                    data=b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}")
    assert reply.status == 413 and (await reply.json())["message"].startswith("the request body is over")


async def test_docs_and_the_web_app_are_served_offline(edge_gateway):
    http = edge_gateway
    docs = await http.get("/docs")
    assert docs.status == 200 and "/openapi.json" in await docs.text()
    bundle = await http.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status == 200 and len(await bundle.read()) > 100_000
    assert "copytrade app" in await (await http.get("/")).text()
    assert await (await http.get("/assets/app.js")).text() == "console.log('copytrade')"
    assert "copytrade app" in await (await http.get("/followers/f-1/dashboard")).text()  # the app's own routes
    escaped = await http.get("/%2e%2e/secret.txt")
    assert "not for the web" not in await escaped.text()
    assert (await http.get("/v1/nothing-here")).status == 404  # API paths never fall back to the app


def test_the_openapi_document_validates_and_marks_the_open_routes():
    document = openapi.document(route_table())
    validate(document)  # OpenAPI 3.0, by openapi-spec-validator
    open_routes = sorted(f"{verb.upper()} {path}" for path, ops in document["paths"].items()
                         for verb, op in ops.items() if op.get("security") == [])
    assert open_routes == ["POST /v1/auth:login", "POST /v1/users"]
    assert document["paths"]["/v1/master-fills"]["post"]["x-api-key-scopes"] == ["API_KEY_SCOPE_SIGNAL"]


@pytest.fixture
def echo_module(tmp_path):
    """echotest/v1/echo_service.proto compiled now, as a partner would add a new service."""
    google_protos = Path(annotations_pb2.__file__).resolve().parents[2]
    grpc_protos = Path(protoc.__file__).parent / "_proto"
    assert protoc.main(["protoc", f"-I{ECHO_PROTOS}", f"-I{google_protos}", f"-I{grpc_protos}",
                        f"--python_out={tmp_path}", f"--grpc_python_out={tmp_path}",
                        "echotest/v1/echo_service.proto"]) == 0
    for folder in ("echotest", "echotest/v1"):
        (tmp_path / folder / "__init__.py").touch()
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("echotest.v1.echo_service_pb2"), \
            importlib.import_module("echotest.v1.echo_service_pb2_grpc")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("echotest")]:
            del sys.modules[name]


async def test_a_new_annotated_rpc_is_a_route_with_no_gateway_change(echo_module):
    pb, pb_grpc = echo_module

    class Echo(pb_grpc.EchoServiceServicer):
        async def Shout(self, request, context):
            return pb.ShoutResponse(text=" ".join([request.text.upper()] * max(1, request.times)))

        async def Greet(self, request, context):
            return pb.ShoutResponse(text=f"{request.greeting or 'hello'}, {request.name}")

    server = grpc.aio.server()
    pb_grpc.add_EchoServiceServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    routes = route_table([pb.DESCRIPTOR])
    assert sorted(f"{r.verb} {r.template}" for r in routes) == ["GET /v1/echo/{name}", "POST /v1/echo:shout"]
    gateway = RestGateway({"echo": f"127.0.0.1:{port}"}, routes)
    runner = web.AppRunner(gateway.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    try:
        async with aiohttp.ClientSession(base_url=base) as http:
            shout = await http.post("/v1/echo:shout", json={"text": "hi", "times": 2})
            assert await shout.json() == {"text": "HI HI"}
            greet = await http.get("/v1/echo/ada?greeting=welcome")
            assert await greet.json() == {"text": "welcome, ada"}
            document = await (await http.get("/openapi.json")).json()
            assert set(document["paths"]) == {"/v1/echo:shout", "/v1/echo/{name}"}
    finally:
        await runner.cleanup()
        await gateway.close()
        await server.stop(0)


async def test_a_key_that_may_halt_trading_may_resume_it(edge_gateway):
    """The kill switch's scope works both ways: a TRADE key that pulled it may release it."""
    http = edge_gateway
    user, auth = await login(http)
    trader = await new_key(http, auth, "API_KEY_SCOPE_TRADE")
    scope = {"scope": {"userId": user}}
    halted = await http.post("/v1/kill-switch:activate", headers={"X-API-Key": trader}, json={**scope, "reason": "x"})
    assert halted.status == 200, await halted.text()
    resumed = await http.post("/v1/trading-state:reset", headers={"X-API-Key": trader}, json=scope)
    assert resumed.status == 200, await resumed.text()
    assert (await resumed.json())["state"].get("killSwitchActive", False) is False


async def test_the_browser_port_speaks_only_https_when_given_a_certificate(start_service, tmp_path):
    """GATEWAY_HTTP_TLS_CERT and _KEY (compose sets them from the certs volume): the REST API and
    the web app are on HTTPS, a plaintext request gets no answer, and the login cookie is Secure,
    so a password or token never crosses a network in the clear."""
    import ssl

    from services.gateway.edge import SESSION_COOKIE, SESSION_HEADER
    from services.kit import tls

    certs = tls.ensure(tmp_path / "certs")
    started = {name: await start_service(name) for name in ("compliance", "risk", "replication")}
    addresses = {**started["risk"].settings.addresses, **{n: s.address for n, s in started.items()}}
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0",
                                  http_tls_cert=certs / "gateway.pem", http_tls_key=certs / "gateway-key.pem")
    port = gateway.running.http_port
    with pytest.raises(aiohttp.ClientError):
        async with aiohttp.ClientSession() as plain:
            await (await plain.get(f"http://127.0.0.1:{port}/v1/supported-venues", timeout=aiohttp.ClientTimeout(5))).read()
    trusting = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    async with aiohttp.ClientSession(base_url=f"https://127.0.0.1:{port}",
                                     connector=aiohttp.TCPConnector(ssl=trusting)) as https:
        email = "https-user@example.com"
        assert (await https.post("/v1/users", json={"email": email, "password": "a long passphrase 1"})).status == 200
        reply = await https.post("/v1/auth:login", headers={SESSION_HEADER: "cookie"},
                                 json={"email": email, "password": "a long passphrase 1"})
        assert reply.status == 200 and reply.cookies[SESSION_COOKIE]["secure"]
    with pytest.raises(ValueError, match="both"):
        from services.gateway.server import https_context

        https_context(gateway.settings.__class__(service="gateway", http_tls_cert=certs / "gateway.pem"))
