"""The simulator speaks Binance's protocol faithfully where clients depend on it: signatures,
timestamps, filters, padded decimals, duplicate client ids, and determinism under a seed."""

import hashlib
import hmac
import time
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio

from venue_sim import Simulator


@pytest_asyncio.fixture
async def sim():
    simulator = await Simulator(seed=3).start()
    yield simulator
    await simulator.stop()


def signed(secret: str, params: dict) -> str:
    query = urlencode(params)
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


async def post_order(sim, account, params: dict, *, secret: str | None = None, in_body: bool = True):
    body = signed(secret or account.secret, {"timestamp": int(time.time() * 1000), **params})
    async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": account.api_key}) as http:
        if in_body:
            response = await http.post(f"{sim.url}/api/v3/order", data=body,
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            response = await http.post(f"{sim.url}/api/v3/order?{body}")
        return response.status, await response.json()


MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01000000"}


@pytest.mark.parametrize("in_body", [True, False], ids=["body", "query"])
async def test_signed_params_in_body_or_query_with_padded_decimals(sim, in_body):
    account = sim.create_account("a", {"USDT": "10000"})
    status, body = await post_order(sim, account, {**MARKET_BUY, "newClientOrderId": "x-1"}, in_body=in_body)
    assert status == 200 and body["status"] == "FILLED" and body["executedQty"] == "0.01000000"
    assert [o.client_order_id for o in sim.orders("a")] == ["x-1"]


async def test_bad_signature_and_stale_timestamp_are_refused_before_anything_happens(sim):
    account = sim.create_account("a", {"USDT": "10000"})
    status, body = await post_order(sim, account, MARKET_BUY, secret="not-the-secret")
    assert (status, body["code"]) == (400, -1022)
    stale = {**MARKET_BUY, "timestamp": int(time.time() * 1000) - 60_000}
    async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": account.api_key}) as http:
        response = await http.post(f"{sim.url}/api/v3/order", data=signed(account.secret, stale),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert (response.status, (await response.json())["code"]) == (400, -1021)
    assert sim.orders("a") == []


@pytest.mark.parametrize("change,code", [
    ({"quantity": "0.000001"}, -1013),  # below LOT_SIZE minimum
    ({"quantity": "0.000015"}, -1013),  # not a whole step
    ({"quantity": "abc"}, -1100),
    ({"quantity": "1000"}, -2010),  # insufficient balance
    ({"symbol": "NOPEUSDT"}, -1121),
])
async def test_orders_breaking_rules_get_binance_codes(sim, change, code):
    account = sim.create_account("a", {"USDT": "1000"})
    status, body = await post_order(sim, account, {**MARKET_BUY, **change})
    assert status == 400 and body["code"] == code
    assert sim.orders("a") == []


async def test_unknown_api_key_is_401(sim):
    async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": "nobody"}) as http:
        response = await http.get(f"{sim.url}/api/v3/account?timestamp=1&signature=x")
        assert (response.status, (await response.json())["code"]) == (401, -2015)


def test_prices_are_deterministic_under_a_seed():
    def walk(seed: int) -> list:
        sim = Simulator(seed=seed)
        path = []
        for _ in range(20):
            sim.exchange.step_prices()
            path.append(sim.exchange.prices["BTCUSDT"])
        return path
    assert walk(11) == walk(11)
    assert walk(11) != walk(12)


async def test_admin_api_creates_funds_and_inspects(sim):
    async with aiohttp.ClientSession() as http:
        created = await (await http.post(f"{sim.url}/_sim/accounts", json={"name": "b"})).json()
        await http.post(f"{sim.url}/_sim/accounts/b/fund", json={"asset": "USDT", "amount": "500"})
        await http.post(f"{sim.url}/_sim/prices", json={"symbol": "BTCUSDT", "price": "50000"})
        account = sim.exchange.accounts[created["api_key"]]
        status, _ = await post_order(sim, account, {**MARKET_BUY, "newClientOrderId": "cid-9"})
        assert status == 200
        orders = await (await http.get(f"{sim.url}/_sim/accounts/b/orders")).json()
        assert [(o["clientOrderId"], o["fills"] if "fills" in o else None) for o in orders] == [("cid-9", None)]
        balances = {b["asset"]: b["free"] for b in await (await http.get(f"{sim.url}/_sim/accounts/b/balances")).json()}
        assert balances["USDT"] == "0.00000000"  # 500 - 0.01 * 50000
