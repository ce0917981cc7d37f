"""The simulator speaks Binance's spot protocol faithfully where clients depend on it:
signatures (query or body), timestamps, filters, padded decimals, duplicate client ids,
response types, resting orders, faults, the admin API, and determinism under a seed."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from tests.venues.conftest import RawClient
from venue_sim import Simulator, ccxt_urls
from venue_sim.admin import _loopback
from venue_sim.auth import sign

MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01000000"}
ROOT = Path(__file__).resolve().parents[2]


# --- authentication ---------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["body", "query"])
async def test_signed_params_in_body_or_query_with_padded_decimals(sim, client_for, where):
    client = client_for("a", {"USDT": "10000"})
    status, body, _ = await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "x-1"},
                                        where=where)
    assert status == 200 and body["status"] == "FILLED" and body["executedQty"] == "0.01000000"
    assert [o.client_order_id for o in sim.orders("a")] == ["x-1"]


async def test_signature_over_query_and_body_concatenated(sim, client_for):
    """Binance signs `query + body` as sent; parameters may be split between the two."""
    client = client_for("a", {"USDT": "10000"})
    query = "symbol=BTCUSDT&side=BUY&type=MARKET"
    body = f"quantity=0.01&newClientOrderId=split&timestamp={int(time.time() * 1000)}"
    body += "&signature=" + sign(client.secret, query + body)
    async with client.http.post(f"/api/v3/order?{query}", data=body, headers={
            "X-MBX-APIKEY": client.api_key, "Content-Type": "application/x-www-form-urlencoded"}) as response:
        assert response.status == 200, await response.text()
    assert [(o.client_order_id, o.orig_qty) for o in sim.orders("a")] == [("split", Decimal("0.01"))]


async def test_bad_signature_and_timestamps_are_refused_before_anything_happens(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    now = int(time.time() * 1000)
    cases = [({"secret": "0" * 64}, -1022), ({"timestamp": now - 60_000}, -1021),
             ({"timestamp": now + 5_000}, -1021)]
    for kwargs, code in cases:
        status, body, _ = await client.call("POST", "/api/v3/order", MARKET_BUY, **kwargs)
        assert (status, body["code"]) == (400, code), kwargs
    status, body, _ = await client.call("POST", "/api/v3/order", {**MARKET_BUY, "recvWindow": 70_000})
    assert (status, body["code"]) == (400, -1131)
    # A generous recvWindow admits an older request, as on Binance.
    status, _, _ = await client.call("GET", "/api/v3/account", {"recvWindow": 59_000}, timestamp=now - 30_000)
    assert status == 200
    assert sim.orders("a") == []


@pytest.mark.parametrize("api_key,code", [("", -2014), ("has spaces!", -2014), ("A" * 64, -2015)])
async def test_missing_malformed_or_unknown_api_keys_are_401(sim, client_for, api_key, code):
    client = client_for("a", {"USDT": "10000"})
    status, body, _ = await client.call("GET", "/api/v3/account", api_key=api_key)
    assert (status, body["code"]) == (401, code)


async def test_a_key_without_trading_permission_reads_but_cannot_trade(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    status, key = await client.admin("POST", "/_sim/accounts/a/keys", {"can_trade": False})
    assert status == 200
    status, _, _ = await client.call("GET", "/api/v3/account", api_key=key["api_key"], secret=key["secret"])
    assert status == 200
    status, body, _ = await client.call("POST", "/api/v3/order", MARKET_BUY, api_key=key["api_key"],
                                        secret=key["secret"])
    assert (status, body["code"]) == (401, -2015) and sim.orders("a") == []


# --- order rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("change,code", [
    ({"quantity": "0.000001"}, -1013),  # below LOT_SIZE minimum
    ({"quantity": "0.000015"}, -1013),  # not a whole step
    ({"quantity": "abc"}, -1100),
    ({"quantity": "1e-2"}, -1100),  # Binance takes plain decimals only
    ({"quantity": "-0.01"}, -1100),
    ({"newClientOrderId": "has space"}, -1100),
    ({"newClientOrderId": "x" * 37}, -1100),
    ({"quantity": "10"}, -2010),  # insufficient balance (10 BTC costs 640k USDT)
    ({"symbol": "NOPEUSDT"}, -1121),
    ({"side": "HOLD"}, -1100),
    ({"type": "STOP"}, -1116),
    ({"price": "64000"}, -1106),  # a market order takes no price
    ({"quantity": None, "quoteOrderQty": None}, -1102),
    ({"type": "LIMIT", "price": "64000.001", "timeInForce": "GTC"}, -1013),  # PRICE_FILTER tick
    ({"type": "LIMIT", "price": "64000"}, -1102),  # no timeInForce
    ({"quantity": "0.00001"}, -1013),  # NOTIONAL: 0.64 USDT < 5
])
async def test_orders_breaking_rules_get_binance_codes(sim, client_for, change, code):
    client = client_for("a", {"USDT": "1000"})
    params = {k: v for k, v in {**MARKET_BUY, **change}.items() if v is not None}
    status, body, _ = await client.call("POST", "/api/v3/order", params)
    assert status == 400 and body["code"] == code, body
    assert sim.orders("a") == []


async def test_a_client_order_id_in_use_by_an_open_order_is_refused_and_makes_no_second_order(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000",
               "timeInForce": "GTC", "newClientOrderId": "dup"}
    first = await client.call("POST", "/api/v3/order", resting)
    again = await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "dup"})
    assert first[0] == 200 and (again[0], again[1]) == (400, {"code": -2010, "msg": "Duplicate order sent."})
    assert len(sim.orders("a")) == 1


async def test_a_client_order_id_is_free_again_once_its_order_is_closed_as_on_binance(sim, client_for):
    """The default, Binance's rule: unique among open orders only."""
    client = client_for("a", {"USDT": "10000"})
    limit = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000",
             "timeInForce": "GTC", "newClientOrderId": "again"}
    assert (await client.call("POST", "/api/v3/order", limit))[0] == 200
    assert (await client.call("POST", "/api/v3/order", limit))[1]["code"] == -2010  # still open
    await client.call("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "again"})
    assert (await client.call("POST", "/api/v3/order", limit))[0] == 200  # closed: Binance takes it
    status, body, _ = await client.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "again"})
    assert body["status"] == "NEW"  # the id now names the newest order


async def test_known_client_id_scope_refuses_any_id_used_before():
    async with Simulator(seed=1, client_id_scope="known") as sim:
        account = sim.create_account("a", {"USDT": "10000"})
        client = RawClient(sim, account.api_key, account.secret)
        first = await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "once"})
        again = await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "once"})
        assert first[1]["status"] == "FILLED" and (again[0], again[1]["code"]) == (400, -2010)
        assert len(sim.orders("a")) == 1
        await client.close()


async def test_quote_order_qty_buys_what_the_quote_amount_pays_for_in_whole_steps(sim, client_for):
    client = client_for("a", {"USDT": "1000"})
    status, body, _ = await client.call("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY",
                                                                  "type": "MARKET", "quoteOrderQty": "100"})
    assert status == 200
    assert Decimal(body["executedQty"]) == Decimal("0.00156")  # 100 / 64000 = 0.0015625, down to the step
    assert Decimal(body["origQuoteOrderQty"]) == 100


@pytest.mark.parametrize("resp,keys", [
    ("ACK", {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}),
    ("RESULT", {"status", "executedQty", "cummulativeQuoteQty", "transactTime"}),
    ("FULL", {"status", "fills"}),
])
async def test_new_order_response_types(sim, client_for, resp, keys):
    client = client_for("a", {"USDT": "10000"})
    _, body, _ = await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newOrderRespType": resp})
    assert keys <= set(body)
    assert ("fills" in body) == (resp == "FULL") and ("status" in body) == (resp != "ACK")
    if resp == "FULL":
        [fill] = body["fills"]
        assert (fill["price"], fill["qty"], fill["commissionAsset"]) == ("64000.00000000", "0.01000000", "BTC")


async def test_limit_order_rests_locks_funds_and_fills_when_the_price_crosses(sim, client_for):
    client = client_for("a", {"USDT": "1000"})
    status, body, _ = await client.call("POST", "/api/v3/order", {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "63000.00",
        "timeInForce": "GTC", "newClientOrderId": "rest"})
    assert (status, body["status"]) == (200, "NEW")
    _, open_orders, _ = await client.call("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
    assert [o["clientOrderId"] for o in open_orders] == ["rest"]
    balances = {b["asset"]: b for b in (await client.admin("GET", "/_sim/accounts/a/balances"))[1]}
    assert (balances["USDT"]["free"], balances["USDT"]["locked"]) == ("370.00000000", "630.00000000")

    await client.admin("POST", "/_sim/prices", {"symbol": "BTCUSDT", "price": "63100"})  # not yet
    assert sim.orders("a")[0].status == "NEW"
    await client.admin("POST", "/_sim/prices", {"symbol": "BTCUSDT", "price": "62900"})  # crosses
    _, order, _ = await client.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "rest"})
    assert (order["status"], order["executedQty"], order["cummulativeQuoteQty"]) == (
        "FILLED", "0.01000000", "630.00000000")  # at its limit, as a maker
    balances = {b["asset"]: b for b in (await client.admin("GET", "/_sim/accounts/a/balances"))[1]}
    assert (balances["USDT"]["free"], balances["USDT"]["locked"]) == ("370.00000000", "0.00000000")
    assert balances["BTC"]["free"] == "0.00999000"  # 0.01 less the 0.1% fee
    _, trades, _ = await client.call("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})
    assert [(t["price"], t["isMaker"], t["isBuyer"]) for t in trades] == [("63000.00000000", True, True)]


async def test_ioc_that_cannot_fill_expires_and_releases_funds(sim, client_for):
    client = client_for("a", {"USDT": "1000"})
    _, body, _ = await client.call("POST", "/api/v3/order", {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000",
        "timeInForce": "IOC"})
    assert body["status"] == "EXPIRED"
    assert sim.exchange.accounts["a"].balances["USDT"] == 1000 and sim.exchange.accounts["a"].locked["USDT"] == 0


async def test_cancel_and_query_unknown_orders(sim, client_for):
    client = client_for("a", {"USDT": "1000"})
    status, body, _ = await client.call("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "nope"})
    assert (status, body["code"]) == (400, -2013)
    await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "done"})
    status, body, _ = await client.call("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "done"})
    assert (status, body["code"]) == (400, -2011)  # filled: nothing to cancel
    status, body, _ = await client.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 999999})
    assert (status, body["code"]) == (400, -2013)


async def test_market_orders_pay_the_configured_slippage(sim, client_for):
    client = client_for("a", {"USDT": "10000", "BTC": "1"})
    await client.admin("POST", "/_sim/slippage", {"fraction": "0.001"})
    _, buy, _ = await client.call("POST", "/api/v3/order", MARKET_BUY)
    _, sell, _ = await client.call("POST", "/api/v3/order", {**MARKET_BUY, "side": "SELL"})
    assert (buy["fills"][0]["price"], sell["fills"][0]["price"]) == ("64064.00000000", "63936.00000000")


# --- market data ----------------------------------------------------------------------------------

async def test_exchange_info_lists_what_ccxt_needs(sim, client_for):
    client = client_for("a")
    _, info = await client.public("/api/v3/exchangeInfo")
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert {"MARKET", "LIMIT"} <= set(btc["orderTypes"]) and btc["status"] == "TRADING"
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert {"PRICE_FILTER", "LOT_SIZE", "NOTIONAL"} <= set(filters)
    assert (filters["PRICE_FILTER"]["tickSize"], filters["LOT_SIZE"]["stepSize"]) == ("0.01000000", "0.00001000")
    _, futures = await client.public("/fapi/v1/exchangeInfo")
    assert next(s for s in futures["symbols"] if s["symbol"] == "BTCUSDT")["contractType"] == "PERPETUAL"


async def test_ticker_and_klines_follow_the_price_history(sim, client_for):
    client = client_for("a")
    sim.set_price("BTCUSDT", "65000")
    sim.set_price("BTCUSDT", "63000")
    sim.set_price("BTCUSDT", "64500")
    _, ticker = await client.public("/api/v3/ticker/price", {"symbol": "BTCUSDT"})
    assert ticker == {"symbol": "BTCUSDT", "price": "64500.00000000"}
    _, candles = await client.public("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 2})
    assert len(candles) == 2
    _, open_, high, low, close = candles[-1][:5]
    assert Decimal(high) >= Decimal("65000") and Decimal(low) <= Decimal("63000") and close == "64500.00000000"
    status, body = await client.public("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "7m"})
    assert (status, body["code"]) == (400, -1120)


def test_prices_are_deterministic_under_a_seed():
    def walk(seed: int) -> list:
        sim = Simulator(seed=seed)
        sim.price_path("ETHUSDT", ["3000", "3010"])
        sim.tick(25)
        return [(s, list(p for _, p in sim.exchange.history[s])[1:]) for s in sim.exchange.symbols]
    first = walk(11)
    assert first == walk(11) and first != walk(12)
    eth = dict(first)["ETHUSDT"]
    assert eth[:2] == [Decimal("3000"), Decimal("3010")]  # the scripted path, then the walk
    assert len(set(eth)) > 10


def test_ccxt_urls_leave_nothing_pointing_at_binance():
    urls = ccxt_urls("http://127.0.0.1:9")

    def leaves(value):
        return [u for v in value.values() for u in leaves(v)] if isinstance(value, dict) else [value]
    assert all(u.startswith(("http://127.0.0.1:9/", "ws://127.0.0.1:9/")) for u in leaves(urls))
    assert urls["private"] == "http://127.0.0.1:9/api/v3" and urls["fapiPrivateV2"] == "http://127.0.0.1:9/fapi/v2"
    assert urls["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:9/ws-api/v3"


# --- faults --------------------------------------------------------------------------------------

async def test_faults_strike_n_times_for_their_account_and_endpoint_only(sim, client_for):
    a, b = client_for("a", {"USDT": "10000"}), client_for("b", {"USDT": "10000"})
    status, fault = await a.admin("POST", "/_sim/faults", {"kind": "reject", "account": "a", "count": 2,
                                                           "code": -1013, "msg": "Filter failure: MAX_NUM_ORDERS"})
    assert status == 200
    results = [(await a.call("POST", "/api/v3/order", MARKET_BUY))[:2] for _ in range(3)]
    assert [r[0] for r in results] == [400, 400, 200] and results[0][1]["code"] == -1013
    assert (await b.call("POST", "/api/v3/order", MARKET_BUY))[0] == 200  # another account: untouched
    assert (await a.call("GET", "/api/v3/account"))[0] == 200  # another endpoint: untouched
    assert (await a.admin("GET", "/_sim/faults"))[1]["faults"] == []  # used up


@pytest.mark.parametrize("status", [429, 418])
async def test_rate_limit_faults_carry_retry_after(sim, client_for, status):
    client = client_for("a", {"USDT": "10000"})
    sim.inject(kind="rate_limit", status=status, retry_after=30, endpoint="*")
    code, body, headers = await client.call("GET", "/api/v3/account")
    assert (code, body["code"], headers["Retry-After"]) == (status, -1003, "30")


@pytest.mark.parametrize("kind,status,code", [("http_5xx_after_accept", 503, -1001),
                                              ("unknown_after_accept", 408, -1007)])
async def test_errors_after_acceptance_leave_the_order_in_place(sim, client_for, kind, status, code):
    client = client_for("a", {"USDT": "10000"})
    sim.inject(kind=kind, account="a")
    answer = await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "ghost"})
    assert (answer[0], answer[1]["code"]) == (status, code)
    assert [(o.client_order_id, o.status) for o in sim.orders("a", "ghost")] == [("ghost", "FILLED")]


async def test_disconnect_after_acceptance_answers_nothing(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    sim.inject(kind="disconnect_after_accept", account="a")
    with pytest.raises(aiohttp.ClientError):
        await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "silent"})
    assert len(sim.orders("a", "silent")) == 1


async def test_latency_fault_delays_the_answer(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    sim.inject(kind="latency", latency_ms=150, endpoint="GET /api/v3/account")
    started = time.perf_counter()
    assert (await client.call("GET", "/api/v3/account"))[0] == 200
    assert time.perf_counter() - started >= 0.15


async def test_unknown_fault_kinds_are_refused(sim, client_for):
    client = client_for("a")
    status, body = await client.admin("POST", "/_sim/faults", {"kind": "gremlins"})
    assert status == 400 and "unknown fault kind" in body["error"]


# --- admin ---------------------------------------------------------------------------------------

async def test_admin_api_creates_funds_and_inspects(sim, client_for):
    client = client_for("probe")
    status, created = await client.admin("POST", "/_sim/accounts", {"name": "b", "balances": {"USDT": "100"}})
    assert status == 200 and {"api_key", "secret"} <= set(created)
    assert (await client.admin("POST", "/_sim/accounts", {"name": "b"}))[0] == 409
    await client.admin("POST", "/_sim/accounts/b/fund", {"asset": "USDT", "amount": "400"})
    await client.admin("POST", "/_sim/prices", {"symbol": "BTCUSDT", "price": "50000"})
    b = RawClient(sim, created["api_key"], created["secret"])
    assert (await b.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "cid-9"}))[0] == 200
    assert (await b.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "cid-10"}))[0] == 400
    await b.close()
    _, orders = await client.admin("GET", "/_sim/accounts/b/orders?clientOrderId=cid-9")
    assert [(o["clientOrderId"], o["status"], o["market"]) for o in orders] == [("cid-9", "FILLED", "spot")]
    _, none = await client.admin("GET", "/_sim/accounts/b/orders?clientOrderId=cid-10")
    assert none == []
    _, trades = await client.admin("GET", "/_sim/accounts/b/trades")
    assert [(t["clientOrderId"], t["price"]) for t in trades] == [("cid-9", "50000.00000000")]
    _, balances = await client.admin("GET", "/_sim/accounts/b/balances")
    assert {b["asset"]: b["free"] for b in balances}["USDT"] == "0.00000000"  # 500 - 0.01 * 50000
    _, log = await client.admin("GET", "/_sim/requests?account=b")
    assert [r["endpoint"] for r in log] == ["POST /api/v3/order", "POST /api/v3/order"]
    assert (await client.admin("GET", "/_sim/accounts/nobody/orders"))[0] == 404


async def test_admin_price_path_and_ticks(sim, client_for):
    client = client_for("probe")
    await client.admin("POST", "/_sim/price-path", {"symbol": "SOLUSDT", "prices": ["151", "152.5"]})
    _, after_one = await client.admin("POST", "/_sim/tick", {})
    _, after_two = await client.admin("POST", "/_sim/tick", {"n": 1})
    assert (after_one["SOLUSDT"], after_two["SOLUSDT"]) == ("151.00000000", "152.50000000")


def test_admin_answers_loopback_only():
    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("127.0.0.5")
    assert not _loopback("10.0.0.7") and not _loopback(None) and not _loopback("garbage")


# --- the command line -------------------------------------------------------------------------------

async def test_cli_prints_its_url_and_serves(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "venue_sim", "--host", "127.0.0.1", "--port", "0", "--seed", "1", "--tick", "0",
        "--account", "alice:USDT=100,BTC=1", cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        url = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
        keys = (await asyncio.wait_for(process.stdout.readline(), 5)).decode()
        assert url.startswith("http://127.0.0.1:") and '"account": "alice"' in keys
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/api/v3/ping") as response:
                assert response.status == 200 and await response.json() == {}
            async with http.get(f"{url}/_sim/accounts/alice/balances") as response:
                assert {b["asset"] for b in await response.json()} == {"BTC", "USDT"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_simulator_stops_with_clients_connected():
    sim = await Simulator().start()
    account = sim.create_account("a")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{sim.url.replace('http', 'ws')}/ws-api/v3")
        await ws.send_json({"id": 1, "method": "ping"})
        assert (await ws.receive_json())["status"] == 200
        started = time.perf_counter()
        await sim.stop()
        assert time.perf_counter() - started < 1.0  # open sockets do not hold the shutdown
        message = await asyncio.wait_for(ws.receive(), 5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert account.name == "a"


async def test_history_from_before_start_up_fills_the_hourly_candles_at_once():
    """With history_hours the venue has prices from before it started: the 48 hourly returns
    replication reads for risk at start-up (through ccxt) all moved, by the walk's own
    volatility and correlation, and end at the starting price."""
    import math
    import statistics

    from services.replication.venues.ccxt_venue import CcxtVenue
    from venue_sim import ccxt_config

    async with Simulator(seed=3, history_hours=72) as sim:
        account = sim.create_account("reader", {"USDT": "10"})
        venue = CcxtVenue("binance", api_key=account.api_key, secret=account.secret,
                          config=ccxt_config(sim.url, rate_limit=False))
        await venue.connect()
        try:
            returns = {s: await venue.recent_returns(s, 48) for s in ("BTC/USDT", "ETH/USDT")}
        finally:
            await venue.close()
        assert sim.exchange.history["BTCUSDT"][-1][1] == Decimal("64000")
    assert all(len(r) == 48 and all(r) for r in returns.values())
    btc, eth = (statistics.stdev(returns[s]) * math.sqrt(8760) for s in ("BTC/USDT", "ETH/USDT"))
    assert 0.35 < btc < 0.9 and 0.45 < eth < 1.1
    assert 0.6 < statistics.correlation(returns["BTC/USDT"], returns["ETH/USDT"]) < 0.95
