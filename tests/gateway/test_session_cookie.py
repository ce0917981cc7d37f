"""The web app's session at the gateway edge: a browser login puts the token in an httpOnly,
SameSite=Strict cookie and not in the body (no script on the page can read it), the edge takes
the cookie as the caller's token, a state-changing request on the cookie alone needs the custom
CSRF header, and logout clears the cookie."""

import uuid

import aiohttp
import pytest_asyncio

from services.gateway.edge import CSRF_HEADER, SESSION_COOKIE, SESSION_HEADER
from tests.gateway.test_rest import PASSWORD

BROWSER = {SESSION_HEADER: "cookie"}


@pytest_asyncio.fixture
async def gateway_url(start_service):
    started = {name: await start_service(name) for name in ("compliance", "risk", "replication")}
    addresses = {**started["risk"].settings.addresses, **{n: s.address for n, s in started.items()}}
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0")
    return f"http://127.0.0.1:{gateway.running.http_port}"


async def browser_login(http: aiohttp.ClientSession) -> tuple[str, aiohttp.ClientResponse, dict]:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    assert (await http.post("/v1/users", json={"email": email, "password": PASSWORD})).status == 200
    reply = await http.post("/v1/auth:login", headers=BROWSER, json={"email": email, "password": PASSWORD})
    assert reply.status == 200, await reply.text()
    body = await reply.json()
    return body["user"]["userId"], reply, body


async def test_a_browser_login_keeps_the_token_in_an_httponly_cookie_the_edge_accepts(gateway_url):
    # A cookie jar that keeps cookies for an IP address, as a browser does.
    async with aiohttp.ClientSession(base_url=gateway_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        user, reply, body = await browser_login(http)
        assert "accessToken" not in body and body["user"]["email"].endswith("@example.com")
        header = reply.headers["Set-Cookie"]
        assert header.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in header
        assert "SameSite=Strict" in header and "Secure" not in header  # plain http on loopback
        assert "Max-Age=" in header and "Path=/" in header

        # Reads work on the cookie alone.
        limits = await http.get(f"/v1/users/{user}/risk-limits")
        assert limits.status == 200, await limits.text()

        # A state-changing call on the cookie alone is refused without the CSRF header ...
        patch = f"/v1/users/{user}/risk-limits?updateMask=maxDailyLoss"
        forged = await http.patch(patch, json={"maxDailyLoss": "250"})
        assert forged.status == 403
        assert (await forged.json())["details"][0]["reason"] == "CSRF_HEADER_REQUIRED"
        assert (await (await http.get(f"/v1/users/{user}/risk-limits")).json())["limits"]["maxDailyLoss"] == "1000"
        # ... and goes through with it.
        changed = await http.patch(patch, headers={CSRF_HEADER: "1"}, json={"maxDailyLoss": "250"})
        assert changed.status == 200, await changed.text()
        assert (await changed.json())["limits"]["maxDailyLoss"] == "250"

        # Logout clears the cookie; the next call is anonymous again.
        out = await http.post("/v1/auth:logout")
        assert out.status == 200 and f"{SESSION_COOKIE}=" in out.headers["Set-Cookie"]
        assert "Max-Age=0" in out.headers["Set-Cookie"]
        after = await http.get(f"/v1/users/{user}/risk-limits")
        assert after.status == 401 and (await after.json())["details"][0]["reason"] == "AUTH_REQUIRED"


async def test_the_cookie_is_secure_behind_https_and_bearer_logins_are_unchanged(gateway_url):
    async with aiohttp.ClientSession(base_url=gateway_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        assert (await http.post("/v1/users", json={"email": email, "password": PASSWORD})).status == 200
        credentials = {"email": email, "password": PASSWORD}
        proxied = await http.post("/v1/auth:login", headers={**BROWSER, "X-Forwarded-Proto": "https"},
                                  json=credentials)
        assert proxied.status == 200 and "Secure" in proxied.headers["Set-Cookie"]

    # Without the session header (curl, the CLI, partners): the token in the body, no cookie.
    async with aiohttp.ClientSession(base_url=gateway_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        plain = await http.post("/v1/auth:login", json=credentials)
        assert plain.status == 200 and "Set-Cookie" not in plain.headers
        assert (await plain.json())["accessToken"]
        # A wrong password is the service's error, in words, and sets nothing.
        wrong = await http.post("/v1/auth:login", headers=BROWSER, json={**credentials, "password": "x" * 12})
        assert wrong.status == 401 and "Set-Cookie" not in wrong.headers
        assert (await wrong.json())["message"]


async def test_a_bad_cookie_is_an_error_in_words_not_a_call_as_someone(gateway_url):
    async with aiohttp.ClientSession(base_url=gateway_url, cookies={SESSION_COOKIE: "not-a-token"}) as http:
        reply = await http.get("/v1/venue-accounts")
        assert reply.status == 401
        assert (await reply.json())["details"][0]["reason"] == "TOKEN_INVALID"


async def test_openapi_describes_the_session_cookie(gateway_url):
    async with aiohttp.ClientSession(base_url=gateway_url) as http:
        document = await (await http.get("/openapi.json")).json()
    session = document["components"]["securitySchemes"]["session"]
    assert session == {**session, "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}
    assert CSRF_HEADER in session["description"] and "/v1/auth:logout" in session["description"]
    assert {"session": []} in document["security"]
