"""The product's REST endpoints, as a browser or curl would use them, on a real mesh and the
venue simulator: two people sign up, pass KYC, store their keys, the master publishes a
profile, the follower finds them and follows, a master trade is copied, and the seed's
copy-trading, error-recovery and master-trader endpoints all answer with JSON."""

import re
import uuid
from decimal import Decimal

import aiohttp
import pytest_asyncio

from services.gateway.routes import route_table
from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from venue_sim import Simulator, ccxt_config, venue_urls

PASSWORD = "correct horse battery staple"
# Bodies that pass validation, so what refuses the intruder is ownership, not a missing field.
VALID_BODIES = {
    "/v1/credentials/{credential_id}:updateSecret": {"apiKey": "k-intruder", "apiSecret": "s-intruder"},
    "/v1/master-profiles/{profile.trader_id}": {"displayName": "Mine now", "strategyType": "STRATEGY_TYPE_SWING",
                                                "riskLevel": "RISK_LEVEL_MODERATE"},
    "/v1/error-events/{error_id}:resolve": {"comment": "mine now"},
}
SPOT = {"kind": "VENUE_KIND_CCXT", "id": "binance", "marketType": "MARKET_TYPE_SPOT"}


@pytest_asyncio.fixture
async def site(start_service):
    ops_email = f"ops-{uuid.uuid4().hex[:6]}@example.com"
    sim = await Simulator(seed=41).start()
    compliance = await start_service("compliance", operator_emails=frozenset({ops_email}))
    risk = await start_service("risk")
    addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk.address}
    replication = await start_service("replication", addresses=addresses, venue_urls=venue_urls(sim.url),
                                      venue_rate_limit=False, retry_poll_s=0.1)
    addresses["replication"] = replication.address
    discovery = await start_service("discovery", addresses=addresses)
    addresses["discovery"] = discovery.address
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0")
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.running.http_port}") as http:
        yield http, sim, ops_email
    await sim.stop()


async def call(http, verb, path, token=None, body=None, status=200):
    reply = await http.request(verb, path, json=body, headers={"Authorization": f"Bearer {token}"} if token else {})
    payload = await reply.json()
    assert reply.status == status, (verb, path, reply.status, payload)
    return payload


async def sign_up(http, email, roles=("ROLE_FOLLOWER",)):
    user = (await call(http, "POST", "/v1/users", body={"email": email, "password": PASSWORD,
                                                        "roles": list(roles)}))["user"]
    token = (await call(http, "POST", "/v1/auth:login", body={"email": email, "password": PASSWORD}))["accessToken"]
    return user["userId"], token


async def test_the_seed_endpoints_work_end_to_end_over_rest(site):
    http, sim, ops_email = site
    _, ops = await sign_up(http, ops_email)
    people = {}
    for name, roles, funds in (("master", ("ROLE_MASTER",), {"USDT": "100000"}),
                               ("follower", ("ROLE_FOLLOWER",), {"USDT": "50000"})):
        user_id, token = await sign_up(http, f"{name}-{uuid.uuid4().hex[:6]}@example.com", roles)
        await call(http, "POST", f"/v1/users/{user_id}/kyc", token, {
            "legalName": "A Person", "country": "DE", "documentType": "passport", "documentNumber": "C01X00T47"})
        await call(http, "POST", f"/v1/users/{user_id}/kyc:decide", ops, {"approve": True})
        await call(http, "POST", f"/v1/users/{user_id}/consents", token,
                   {"document": "risk_disclosure", "version": "2026-01"})
        keys = sim.create_account(user_id, funds)
        credential = (await call(http, "POST", f"/v1/users/{user_id}/credentials", token, {
            "venue": SPOT, "apiKey": keys.api_key, "apiSecret": keys.secret}))["credential"]
        assert keys.secret not in str(credential) and keys.api_key not in str(credential)  # shown masked
        account = (await call(http, "POST", "/v1/venue-accounts", token, {
            "role": "ACCOUNT_ROLE_MASTER" if name == "master" else "ACCOUNT_ROLE_FOLLOWER", "venue": SPOT,
            "credentialId": credential["credentialId"], "watchFills": name == "master"}))["account"]
        people[name] = (user_id, token, account["accountId"], keys)
    master_id, master_token, master_account, master_keys = people["master"]
    follower_id, token, follower_account, _ = people["follower"]

    profile = (await call(http, "POST", "/v1/master-profiles", master_token, {"profile": {
        "displayName": "Steady BTC", "strategyType": "STRATEGY_TYPE_SWING", "riskLevel": "RISK_LEVEL_MODERATE",
        "masterAccountIds": [master_account], "public": True, "venues": [SPOT]}}))["profile"]
    listed = await call(http, "GET", "/api/master-traders", token)
    assert profile["traderId"] in [p["traderId"] for p in listed["traders"]]
    detail = await call(http, "GET", f"/api/master-traders/{profile['traderId']}", token)
    assert detail["profile"]["displayName"] == "Steady BTC"

    session = (await call(http, "POST", "/api/master-traders/follow", token, {
        "traderId": profile["traderId"], "followerAccountId": follower_account,
        "settings": {"sizingMode": "SIZING_MODE_MULTIPLIER", "multiplier": "0.5"}}))["session"]
    config_id = session["configId"]
    status = await call(http, "GET", f"/api/copy-trading/status/{config_id}", token)
    assert status["session"]["state"] == "SESSION_STATE_ACTIVE"

    # The master trades on their own venue account; the follower's copy appears at the venue.
    await eventually(lambda: sim.stream_subscribed(master_id), message="master stream watched")
    venue = CcxtVenue("binance", api_key=master_keys.api_key, secret=master_keys.secret,
                      config=ccxt_config(sim.url, rate_limit=False))
    await venue.connect()
    try:
        await venue.place_order(OrderRequest("m-rest-1", "BTC/USDT", "buy", Decimal("0.02")))
    finally:
        await venue.close()
    await eventually(lambda: sim.orders(follower_id), message="the copy at the venue")
    assert [(o.side, o.orig_qty) for o in sim.orders(follower_id)] == [("BUY", Decimal("0.01"))]
    orders = (await call(http, "GET", "/v1/follower-orders", token))["orders"]
    assert orders[0]["status"] == "FOLLOWER_ORDER_STATUS_FILLED" and Decimal(orders[0]["quantity"]) == Decimal("0.01")

    dashboard = await call(http, "GET", f"/v1/users/{follower_id}/dashboard", token)  # one call for the app
    assert [s["configId"] for s in dashboard["sessions"]] == [config_id]
    assert dashboard["tradingState"]["effectiveState"] == "TRADING_STATE_ACTIVE"
    assert dashboard["limits"]["maxDailyLoss"] == "1000"
    assert [o["orderId"] for o in dashboard["recentOrders"]] == [orders[0]["orderId"]]
    await call(http, "GET", f"/v1/users/{master_id}/dashboard", token, status=403)  # not theirs

    for verb in ("pause", "resume"):
        changed = await call(http, "POST", f"/api/copy-trading/{verb}", token, {"configId": config_id})
        assert changed["session"]["state"] == ("SESSION_STATE_PAUSED" if verb == "pause" else "SESSION_STATE_ACTIVE")

    # Error recovery: a person logs a problem with the copy, sees it pending, retries it (the
    # venue is asked first: the order is there, so nothing is sent), and reconciles the session.
    logged = (await call(http, "POST", "/api/error-recovery/log-error", token, {
        "errorType": "ERROR_TYPE_TIMEOUT", "venueId": "binance", "orderId": orders[0]["orderId"],
        "message": "the follower says the fill looks late"}))["event"]
    pending = (await call(http, "GET", "/api/error-recovery/pending-retries", token))["events"]
    assert [e["errorId"] for e in pending] == [logged["errorId"]]
    retried = (await call(http, "POST", "/api/error-recovery/process-retry", token,
                          {"errorId": logged["errorId"]}))["event"]
    assert retried["status"] == "ERROR_STATUS_SUCCEEDED" and len(sim.orders(follower_id)) == 1
    reconciled = (await call(http, "POST", "/api/error-recovery/reconcile-trade", token,
                             {"configId": config_id}))["result"]
    assert reconciled["inSync"] is True

    stopped = await call(http, "POST", "/api/master-traders/unfollow", token, {"traderId": profile["traderId"]})
    assert stopped["configIds"] == [config_id]
    after = await call(http, "GET", f"/api/copy-trading/status/{config_id}", token)
    assert after["session"]["state"] == "SESSION_STATE_STOPPED"
    await call(http, "POST", "/api/copy-trading/stop", token, {"configId": config_id})  # idempotent

    async def audited(user, want):  # what each person did is in their audit trail
        events = (await call(http, "GET", f"/v1/audit-events?userId={user}&pageSize=200", ops))["events"]
        found = {e["action"] for e in events}
        return found if want <= found else None
    await eventually(lambda: audited(master_id, {"venue_account.created", "master_profile.created",
                                                 "credential.stored"}), message="the master's actions audited")
    await eventually(lambda: audited(follower_id, {"venue_account.created", "error.logged", "error.retried",
                                                   "session.reconciled", "copy.session.changed"}),
                     message="the follower's actions audited")

    # Tenancy: another user, acting on every route that names one of the follower's objects,
    # gets 403 or 404 and an error body — never the follower's data, never a change.
    key = (await call(http, "POST", "/v1/api-keys", token, {"name": "bot", "scopes": ["API_KEY_SCOPE_READ"]}))
    credentials = (await call(http, "GET", f"/v1/users/{follower_id}/credentials", token))["credentials"]
    theirs = {"user_id": follower_id, "follower_id": follower_id, "config_id": config_id,
              "account_id": follower_account, "order_id": orders[0]["orderId"], "error_id": logged["errorId"],
              "credential_id": credentials[0]["credentialId"], "key_id": key["apiKey"]["keyId"],
              "reservation_id": orders[0]["orderId"], "profile.trader_id": profile["traderId"]}
    # Public by design: any signed-in user may read a public master profile and preview copying it.
    public = {"GET /v1/master-profiles/{trader_id}", "GET /v1/master-profiles/{trader_id}/stats",
              "GET /v1/master-profiles/{trader_id}/activity",
              "POST /v1/master-profiles/{trader_id}:previewCopy", "GET /api/master-traders/{trader_id}"}
    _, intruder = await sign_up(http, f"intruder-{uuid.uuid4().hex[:6]}@example.com")
    checked, leaks = 0, []
    for route in route_table():
        if not route.variables or f"{route.verb} {route.template}" in public:
            continue
        missing = [v for v in route.variables if v not in theirs]
        assert not missing, f"no object of the follower's to try {route.template} with: add {missing}"
        path = route.template
        for variable in route.variables:
            path = re.sub(r"\{" + re.escape(variable) + r"(=[^}]*)?\}", theirs[variable], path)
        request = VALID_BODIES.get(route.template, {}) if route.body else None
        reply = await http.request(route.verb, path, json=request, headers={"Authorization": f"Bearer {intruder}"})
        body = await reply.json()
        # A reason from the service that owns the object (not the gateway's "no route").
        if reply.status not in (403, 404) or set(body) != {"code", "message", "details"} or not body["details"]:
            leaks.append((route.verb, route.template, reply.status, body.get("message")))
        checked += 1
    assert not leaks, leaks
    assert checked >= 30
    # And nothing of the follower's changed: the session is still theirs, stopped; the key lives.
    assert (await call(http, "GET", f"/api/copy-trading/status/{config_id}", token))["session"]["state"] == \
        "SESSION_STATE_STOPPED"
    assert (await call(http, "GET", f"/v1/venue-accounts/{follower_account}", token))["account"]
