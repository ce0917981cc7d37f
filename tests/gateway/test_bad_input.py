"""Hand-crafted bad input, through the REST gateway (and gRPC where the gateway's body limit
would stop it first) into every service, on SQLite and on PostgreSQL: each answer is a 4xx
with a JSON error body naming what was wrong, never a 500, and nothing half-done is left behind
(a refused value is not stored, a refused snapshot does not poison the next one)."""

import base64
import json
import uuid

import aiohttp
import jwt
import grpc
import pytest
import pytest_asyncio

from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.gateway.routes import route_table
from services.kit.errors import error_info
from services.kit.testing import eventually

PASSWORD = "correct horse battery staple"
SPOT = {"kind": "VENUE_KIND_CCXT", "id": "binance", "marketType": "MARKET_TYPE_SPOT"}
DEEP = 100_000  # far past Python's recursion limit


@pytest_asyncio.fixture
async def site(start_service, backend):
    ops_email = f"ops-{uuid.uuid4().hex[:6]}@example.com"
    compliance = await start_service("compliance", operator_emails=frozenset({ops_email}))
    risk = await start_service("risk")
    addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk.address}
    replication = await start_service("replication", addresses=addresses)
    addresses["replication"] = replication.address
    discovery = await start_service("discovery", addresses=addresses)
    addresses["discovery"] = discovery.address
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0", rate_limit_per_s=0)
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.running.http_port}") as http:
        yield Site(http, risk, ops_email)


class Site:
    def __init__(self, http, risk, ops_email) -> None:
        self.http, self.risk, self.ops_email = http, risk, ops_email

    async def call(self, verb, path, token=None, body=None, *, data=None):
        """(status, JSON body) of a request; every answer must be JSON."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        reply = await self.http.request(verb, path, json=body, data=data, headers=headers)
        assert reply.content_type == "application/json", (verb, path, reply.status, await reply.text())
        return reply.status, await reply.json()

    async def ok(self, verb, path, token=None, body=None):
        status, payload = await self.call(verb, path, token, body)
        assert status == 200, (verb, path, status, payload)
        return payload

    async def sign_up(self, roles=("ROLE_FOLLOWER",), email=None):
        email = email or f"u-{uuid.uuid4().hex[:8]}@example.com"
        user = (await self.ok("POST", "/v1/users", body={"email": email, "password": PASSWORD,
                                                         "roles": list(roles)}))["user"]
        token = (await self.ok("POST", "/v1/auth:login", body={"email": email, "password": PASSWORD}))["accessToken"]
        return user["userId"], token

    async def credential(self, token):
        """A credential stored for the token's user (a venue account must name its own)."""
        user = jwt.decode(token, options={"verify_signature": False})["sub"]
        return (await self.ok("POST", f"/v1/users/{user}/credentials", token, {
            "venue": SPOT, "apiKey": "k" * 16, "apiSecret": "s" * 16}))["credential"]["credentialId"]

    async def master_account(self, token):
        return (await self.ok("POST", "/v1/venue-accounts", token, {
            "role": "ACCOUNT_ROLE_MASTER", "venue": SPOT, "credentialId": await self.credential(token)})
                )["account"]["accountId"]


def refused(status: int, payload: dict, field: str | None = None, reason: str | None = None) -> bool:
    """A 4xx with grpc-gateway's error body (and, when given, the field or reason it names)."""
    assert 400 <= status < 500, (status, payload)
    assert set(payload) == {"code", "message", "details"} and payload["message"], payload
    info = payload["details"][0] if payload["details"] else {}
    if reason:
        assert info.get("reason") == reason, payload
    if field:
        assert field in info.get("metadata", {}).get("field", ""), payload
    return True


def four_xx(status: int, payload: dict, field: str | None = None, reason: str | None = None) -> bool:
    try:
        return refused(status, payload, field, reason)
    except AssertionError:
        return False


def token_of(key) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


# --- the gateway: JSON depth -------------------------------------------------------------------
async def test_deeply_nested_json_is_a_400_even_before_login(site):
    deep = '{"email": ' + "[" * DEEP + "]" * DEEP + ', "password": "x"}'
    assert refused(*await site.call("POST", "/v1/auth:login", data=deep), reason="INVALID_REQUEST")
    _, token = await site.sign_up()
    nested_object = '{"settings": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}"
    assert refused(*await site.call("POST", "/api/copy-trading/start", token, data=nested_object),
                   reason="INVALID_REQUEST")
    # Ordinary nesting (a settings object with a symbol map) still parses.
    status, payload = await site.call("POST", "/api/copy-trading/start", token, body={
        "followerAccountId": "acc_missing", "masterAccountId": "acc_missing",
        "settings": {"sizingMode": "SIZING_MODE_MULTIPLIER", "multiplier": "1",
                     "symbolMap": [{"masterSymbol": "BTC/USDT", "followerSymbol": "BTC/USDT:USDT"}]}})
    assert status == 404 and payload["details"][0]["reason"] == "ACCOUNT_NOT_FOUND"


# --- page tokens ---------------------------------------------------------------------------------
FORGED_TOKENS = {
    "nested": "[" * 3000 + "]" * 3000,  # base64 of it still fits in a URL
    "huge-text": ["x" * 5000],
    "huge-number": [10 ** 40],
    "infinite": "[1e999]",
    "nul": ["a\x00b"],
    "object": [{"a": 1}],
    "too-many": ["a", "b", "c", "d"],
    "not-base64": "%%%",
    "not-a-list": {"a": 1},
}


def _list_routes():
    return sorted({(r.template, r.method.name) for r in route_table() if r.verb == "GET"
                   and "page_token" in r.method.input_type.fields_by_name and "{" not in r.template})


async def test_page_tokens_this_service_never_issued_are_a_400_on_every_list_route(site):
    ops_id, ops = await site.sign_up(email=site.ops_email)  # an operator may call every list route
    master = await site.master_account(ops)
    await site.ok("POST", f"/v1/users/{ops_id}/kyc", ops, {"legalName": "O Perator", "country": "DE",
                                                          "documentType": "passport", "documentNumber": "C01X00T47"})
    await site.ok("POST", f"/v1/users/{ops_id}/kyc:decide", ops, {"approve": True})
    await site.ok("POST", f"/v1/users/{ops_id}/consents", ops, {"document": "risk_disclosure", "version": "2026-01"})
    follower = (await site.ok("POST", "/v1/venue-accounts", ops, {
        "role": "ACCOUNT_ROLE_FOLLOWER", "venue": SPOT, "credentialId": await site.credential(ops)}))["account"][
        "accountId"]
    session = (await site.ok("POST", "/api/copy-trading/start", ops, {
        "followerAccountId": follower, "masterAccountId": master,
        "settings": {"sizingMode": "SIZING_MODE_MULTIPLIER", "multiplier": "1"}}))["session"]
    # Routes that look for what they list first: given something that exists.
    required = {"/v1/master-fills": f"&masterAccountId={master}",
                "/v1/reconciliation-results": f"&configId={session['configId']}"}
    routes = _list_routes()
    assert len(routes) >= 9, routes
    answered = {}
    for kind, forged in FORGED_TOKENS.items():
        token = forged if kind == "not-base64" else token_of(forged) if not isinstance(forged, str) else \
            base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
        for template, _name in routes:
            status, payload = await site.call("GET", f"{template}?pageToken={token}{required.get(template, '')}", ops)
            answered[(template, kind)] = four_xx(status, payload, field="page_token") or status
    assert [case for case, ok in answered.items() if ok is not True] == [], answered


# --- decimals at every edge ---------------------------------------------------------------------
OVERFLOWING = ["1e999999", "1E+999999999", "Infinity", "NaN", "-1", "1" + "0" * 70, "0.0000000000000000000001"]


async def test_a_master_fill_takes_only_a_finite_bounded_quantity_and_price(site):
    _, token = await site.sign_up(("ROLE_MASTER",))
    account = await site.master_account(token)
    accepted = []
    for value in OVERFLOWING:
        for field in ("quantity", "price"):
            body = {"masterAccountId": account, "venueTradeId": f"t-{field}-{value[:8]}", "symbol": "BTC/USDT",
                    "side": "SIDE_BUY", "quantity": "0.1", "price": "50000", field: value}
            if not four_xx(*await site.call("POST", "/v1/master-fills", token, body), field=field,
                           reason="INVALID_FILL"):
                accepted.append((field, value))
    assert accepted == []
    fills = await site.ok("GET", f"/v1/master-fills?masterAccountId={account}", token)
    assert fills.get("fills", []) == []  # nothing stored, nothing published


async def test_copy_settings_take_only_bounded_decimals(site):
    _, master = await site.sign_up(("ROLE_MASTER",))
    account = await site.master_account(master)
    _, token = await site.sign_up()
    accepted = []
    for field, value in (("multiplier", "1E+999999999"), ("multiplier", "Infinity"), ("multiplier", "100000"),
                         ("fixedNotional", "1e999"), ("maxSlippage", "2")):
        status, payload = await site.call("POST", "/api/copy-trading/start", token, {
            "followerAccountId": "acc_missing", "masterAccountId": account,
            "settings": {"sizingMode": "SIZING_MODE_MULTIPLIER", "multiplier": "1", field: value}})
        if not four_xx(status, payload, reason="INVALID_SETTINGS"):
            accepted.append((field, value, status))
    assert accepted == []


async def test_check_order_refuses_an_overflowing_decimal(site):
    user, token = await site.sign_up()
    accepted = []
    for field in ("quantity", "expectedPrice", "equity", "referencePrice"):
        intent = {"followerId": user, "instrument": {"symbol": "BTC/USDT"}, "side": "SIDE_BUY", "quantity": "0.1",
                  "expectedPrice": "50000", field: "1e999999"}
        if not four_xx(*await site.call("POST", "/v1/risk:checkOrder", token, {"intent": intent}),
                       reason="INVALID_ORDER"):
            accepted.append(field)
    assert accepted == []
    intent = {"followerId": user, "instrument": {"symbol": "BTC/USDT"}, "side": "SIDE_BUY", "quantity": "0.1",
              "expectedPrice": "50000", "equity": "10000"}
    assert (await site.ok("POST", "/v1/risk:checkOrder", token, {"intent": intent}))["decision"]


async def test_preview_copy_refuses_an_overflowing_decimal(site):
    _, master = await site.sign_up(("ROLE_MASTER",))
    account = await site.master_account(master)
    for n, price in enumerate(("50000", "51000")):
        await site.ok("POST", "/v1/master-fills", master, {"masterAccountId": account, "venueTradeId": f"p{n}",
                                                           "symbol": "BTC/USDT", "side": "SIDE_BUY",
                                                           "quantity": "0.01", "price": price})
    profile = (await site.ok("POST", "/v1/master-profiles", master, {"profile": {
        "displayName": "Preview me", "strategyType": "STRATEGY_TYPE_SWING", "riskLevel": "RISK_LEVEL_MODERATE",
        "masterAccountIds": [account], "public": True}}))["profile"]
    _, token = await site.sign_up()
    path = f"/v1/master-profiles/{profile['traderId']}:previewCopy"
    good = {"capital": "5000", "settings": {"sizingMode": "SIZING_MODE_MULTIPLIER", "multiplier": "1"}}
    await eventually(lambda: _previewed(site, path, token, good), timeout=15, message="the fills in discovery")
    accepted = []
    for field, value in (("capital", "1e999999"), ("capital", "Infinity"), ("feeRate", "1e999"),
                         ("multiplier", "1E+999999999"), ("maxDailyLoss", "1e999999")):
        body = json.loads(json.dumps(good))
        if field == "multiplier":
            body["settings"]["multiplier"] = value
        elif field == "maxDailyLoss":
            body["limits"] = {"maxDailyLoss": value}
        else:
            body[field] = value
        status, payload = await site.call("POST", path, token, body)
        if not four_xx(status, payload):
            accepted.append((field, value, status))
    assert accepted == []


async def _previewed(site, path, token, body) -> bool:
    preview = await site.ok("POST", path, token, body)
    return preview.get("tradesTaken", 0) + preview.get("tradesRefused", 0) == 2


async def test_an_overflowing_snapshot_is_refused_and_later_snapshots_still_trip_the_drawdown_breaker(site):
    user, token = await site.sign_up()
    path = f"/v1/users/{user}/account-snapshots"
    for value in ("1e999999999", "Infinity", "1e16"):
        assert refused(*await site.call("POST", path, token, {"equity": value}), field="equity")
    assert refused(*await site.call("POST", path, token, {"equity": "1000", "realizedPnl": "1e999999999"}),
                   field="realized_pnl")
    await site.ok("POST", path, token, {"equity": "1000"})
    after = await site.ok("POST", path, token, {"equity": "800"})  # -20%: past the 15% drawdown limit
    assert after["state"] == "TRADING_STATE_HALTED", after
    breakers = await site.ok("GET", f"/v1/users/{user}/circuit-breakers", token)
    assert any("DRAWDOWN" in b["kind"].upper() for b in breakers["breakers"]), breakers


async def test_a_risk_limit_too_big_for_its_event_is_refused_before_it_is_stored(site, token_for):
    user, token = await site.sign_up()
    stub = RiskServiceStub(site.risk.channel)
    huge = "1" + "0" * (1 << 20)  # over NATS's payload limit as an event: no other replica would hear of it
    for value in (huge, "1" + "0" * 30):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
                user_id=user, limits=risk_pb.RiskLimits(max_daily_loss=value),
                update_mask={"paths": ["max_daily_loss"]}), metadata=token_for(user))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(err.value).metadata["field"] == "max_daily_loss"
    assert refused(*await site.call("PATCH", f"/v1/users/{user}/risk-limits?updateMask=timezone", token,
                                    {"timezone": "x" * 100_000}), field="timezone")
    limits = await site.ok("GET", f"/v1/users/{user}/risk-limits", token)
    assert limits["limits"]["maxDailyLoss"] == "1000" and limits["isDefault"] is True  # nothing was stored


# --- text the database cannot hold ---------------------------------------------------------------
LONG = "x" * 5000


TEXT_CASES = ["register-display-name", "register-email-nul", "login-email-nul", "credential-label",
              "credential-api-key", "account-label", "api-key-name", "profile-name", "profile-bio",
              "kyc-legal-name", "state-reason", "fill-symbol", "fill-trade-id", "account-path-nul", "audit-user-nul"]


async def test_text_too_long_or_with_nul_is_a_400_on_every_database(site):
    user, token = await site.sign_up(("ROLE_MASTER",))
    account = await site.master_account(token)
    requests = {
        "register-display-name": ("POST", "/v1/users", None, {"email": f"{uuid.uuid4().hex}@example.com",
                                                               "password": PASSWORD, "displayName": LONG}),
        "register-email-nul": ("POST", "/v1/users", None, {"email": "a\x00b@example.com", "password": PASSWORD}),
        "login-email-nul": ("POST", "/v1/auth:login", None, {"email": "a\x00b@example.com", "password": PASSWORD}),
        "credential-label": ("POST", f"/v1/users/{user}/credentials", token,
                             {"venue": SPOT, "apiKey": "k" * 16, "apiSecret": "s" * 16, "label": LONG}),
        "credential-api-key": ("POST", f"/v1/users/{user}/credentials", token,
                               {"venue": SPOT, "apiKey": LONG, "apiSecret": "s" * 16}),
        "account-label": ("POST", "/v1/venue-accounts", token,
                          {"role": "ACCOUNT_ROLE_MASTER", "venue": SPOT, "credentialId": "c", "label": LONG}),
        "api-key-name": ("POST", "/v1/api-keys", token, {"name": LONG, "scopes": ["API_KEY_SCOPE_READ"]}),
        "profile-name": ("POST", "/v1/master-profiles", token, {"profile": {
            "displayName": LONG, "strategyType": "STRATEGY_TYPE_SWING", "riskLevel": "RISK_LEVEL_MODERATE"}}),
        "profile-bio": ("POST", "/v1/master-profiles", token, {"profile": {
            "displayName": "Fine", "bio": "d\x00" * 10, "strategyType": "STRATEGY_TYPE_SWING",
            "riskLevel": "RISK_LEVEL_MODERATE"}}),
        "kyc-legal-name": ("POST", f"/v1/users/{user}/kyc", token, {
            "legalName": LONG, "country": "DE", "documentType": "passport", "documentNumber": "C01X00T47"}),
        "state-reason": ("POST", "/v1/trading-state:set", token, {
            "scope": {"userId": user}, "state": "TRADING_STATE_REDUCING", "reason": LONG}),
        "fill-symbol": ("POST", "/v1/master-fills", token, {
            "masterAccountId": account, "venueTradeId": "t1", "symbol": "B" * 300, "side": "SIDE_BUY",
            "quantity": "1", "price": "1"}),
        "fill-trade-id": ("POST", "/v1/master-fills", token, {
            "masterAccountId": account, "venueTradeId": LONG, "symbol": "BTC/USDT", "side": "SIDE_BUY",
            "quantity": "1", "price": "1"}),
        "account-path-nul": ("GET", "/v1/venue-accounts/acc%00x", token, None),
        "audit-user-nul": ("GET", "/v1/audit-events?userId=a%00b", token, None),
    }
    assert sorted(requests) == sorted(TEXT_CASES)
    answered = {}
    for case, (verb, path, caller, body) in requests.items():
        answered[case] = four_xx(*await site.call(verb, path, caller, body)) or "not a 4xx"
    assert [case for case, ok in answered.items() if ok is not True] == [], answered
