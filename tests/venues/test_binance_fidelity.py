"""Where the simulator's Binance departed from Binance (issue 25, item 4), each checked at the
wire: the missing spot endpoints, JSON errors on unknown paths, the weight and order-count
headers, the client-id rule (open orders only), a cancel's own client id, USDⓈ-M contract rules
and leverage brackets, batchOrders, income, the /sapi wallet reads, and the WebSocket API's
rateLimits, order.place, account.status and session.logon."""

import base64
import json
import time
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from venue_sim.auth import sign

MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}
RESTING_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000",
               "timeInForce": "GTC"}


# --- unknown paths, weights and order counts ---------------------------------------------------

@pytest.mark.parametrize("method,path", [("GET", "/api/v3/noSuchThing"), ("POST", "/fapi/v1/nothing"),
                                         ("GET", "/sapi/v1/not/here"), ("PUT", "/api/v3/time")])
async def test_unknown_paths_answer_binance_json(sim, client_for, method, path):
    client = client_for("a")
    async with client.http.request(method, path) as response:
        assert response.status == 404 and response.content_type == "application/json"
        body = await response.json()
    assert isinstance(body["code"], int) and body["code"] < 0 and body["msg"]


async def test_used_weight_header_counts_each_request_by_its_weight(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    async with client.http.get("/api/v3/time") as response:  # weight 1
        first = int(response.headers["X-MBX-USED-WEIGHT-1M"])
    async with client.http.get("/api/v3/exchangeInfo") as response:  # weight 20
        after_info = int(response.headers["X-MBX-USED-WEIGHT-1M"])
    _, _, headers = await client.call("GET", "/api/v3/account")  # weight 20
    assert (after_info - first, int(headers["X-MBX-USED-WEIGHT-1M"]) - after_info) == (20, 20)
    # A refused request weighs too, and says so.
    status, _, headers = await client.call("GET", "/api/v3/account", secret="0" * 64)
    assert status == 400 and int(headers["X-MBX-USED-WEIGHT-1M"]) - after_info == 40
    # USDⓈ-M keeps its own weight.
    async with client.http.get("/fapi/v1/time") as response:
        assert response.headers["X-MBX-USED-WEIGHT-1M"] == "1"


async def test_order_count_headers_count_the_accounts_orders(sim, client_for):
    alice, bob = client_for("alice", {"USDT": "10000"}), client_for("bob", {"USDT": "10000"})
    counts = []
    for _ in range(3):
        _, _, headers = await alice.call("POST", "/api/v3/order", MARKET_BUY)
        counts.append((headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-ORDER-COUNT-1D"]))
    assert [int(day) for _, day in counts] == [1, 2, 3]
    assert int(counts[-1][0]) <= 3  # the 10-second window may have turned over between them
    _, _, headers = await bob.call("POST", "/api/v3/order", MARKET_BUY)  # per account
    assert headers["X-MBX-ORDER-COUNT-1D"] == "1"
    _, _, headers = await alice.call("GET", "/api/v3/account")
    assert "X-MBX-ORDER-COUNT-10S" not in headers  # reads place no order


# --- the missing spot endpoints ----------------------------------------------------------------

async def test_avg_price_trades_agg_trades_and_commission(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    sim.set_price("BTCUSDT", "64000")
    status, body, _ = await client.call("POST", "/api/v3/order", MARKET_BUY)
    assert status == 200
    sim.set_price("BTCUSDT", "64100")
    status, avg = await client.public("/api/v3/avgPrice", {"symbol": "BTCUSDT"})
    assert status == 200 and avg["mins"] == 5 and Decimal("64000") <= Decimal(avg["price"]) <= Decimal("64100")
    status, trades = await client.public("/api/v3/trades", {"symbol": "BTCUSDT"})
    assert status == 200 and [(t["id"], t["qty"], t["isBuyerMaker"]) for t in trades] == [
        (body["fills"][0]["tradeId"], "0.01000000", False)]  # the buyer took: the seller was the maker
    status, agg = await client.public("/api/v3/aggTrades", {"symbol": "BTCUSDT"})
    assert status == 200 and [(a["a"], a["q"], a["m"]) for a in agg] == [(trades[0]["id"], "0.01000000", False)]
    status, commission, _ = await client.call("GET", "/api/v3/account/commission", {"symbol": "BTCUSDT"})
    assert status == 200 and commission["symbol"] == "BTCUSDT"
    assert commission["standardCommission"]["taker"] == "0.00100000"


async def test_order_test_validates_without_placing(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    status, body, _ = await client.call("POST", "/api/v3/order/test", MARKET_BUY)
    assert (status, body) == (200, {})
    status, body, _ = await client.call("POST", "/api/v3/order/test", {**MARKET_BUY, "computeCommissionRates": "true"})
    assert status == 200 and body["standardCommissionForOrder"] == {"maker": "0.00100000", "taker": "0.00100000"}
    status, body, _ = await client.call("POST", "/api/v3/order/test", {**MARKET_BUY, "quantity": "0.000001"})
    assert (status, body["code"]) == (400, -1013)
    assert sim.orders("a") == [] and sim.exchange.accounts["a"].balances["USDT"] == Decimal("10000")


# --- client ids ----------------------------------------------------------------------------------

async def test_a_client_id_is_refused_while_its_order_is_open_and_reusable_once_filled(sim, client_for):
    """Binance: newClientOrderId "cannot repeat among open orders"; the simulator's default now."""
    client = client_for("a", {"USDT": "10000"})
    assert (await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "again"}))[0] == 200
    status, body, _ = await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "again"})
    assert status == 200 and body["status"] == "FILLED"  # the first one filled: the id is free
    assert (await client.call("POST", "/api/v3/order", {**RESTING_BUY, "newClientOrderId": "rest"}))[0] == 200
    status, body, _ = await client.call("POST", "/api/v3/order", {**RESTING_BUY, "newClientOrderId": "rest"})
    assert (status, body["code"]) == (400, -2010)  # open: refused
    assert [o.status for o in sim.orders("a")] == ["FILLED", "FILLED", "NEW"]


async def test_a_cancel_gets_its_own_client_id_and_returns_the_orders(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    ws = await client.http.ws_connect("/ws-api/v3")
    params = {"apiKey": client.api_key, "timestamp": int(time.time() * 1000)}
    params["signature"] = sign(client.secret, "&".join(f"{k}={v}" for k, v in sorted(params.items())))
    await ws.send_json({"id": "sub", "method": "userDataStream.subscribe.signature", "params": params})
    assert (await ws.receive_json())["status"] == 200
    await client.call("POST", "/api/v3/order", {**RESTING_BUY, "newClientOrderId": "resting"})
    status, body, _ = await client.call("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "resting",
                                                                     "newClientOrderId": "my-cancel"})
    assert status == 200 and (body["clientOrderId"], body["origClientOrderId"]) == ("my-cancel", "resting")
    await client.call("POST", "/api/v3/order", {**RESTING_BUY, "newClientOrderId": "second"})
    status, body, _ = await client.call("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "second"})
    assert body["origClientOrderId"] == "second" and body["clientOrderId"] not in ("", "second")  # made up
    reports = []
    while len([r for r in reports if r["x"] == "CANCELED"]) < 2:
        event = (await ws.receive_json(timeout=5))["event"]
        if event["e"] == "executionReport":
            reports.append(event)
    assert [(r["c"], r["C"]) for r in reports if r["x"] == "CANCELED"] == [
        ("my-cancel", "resting"), (body["clientOrderId"], "second")]
    await ws.close()


# --- USDⓈ-M -------------------------------------------------------------------------------------

async def test_usdm_btcusdt_has_the_perpetuals_rules_not_the_spot_pairs(sim, client_for):
    client = client_for("f", futures_wallet="100000")
    status, info = await client.public("/fapi/v1/exchangeInfo")
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert (filters["LOT_SIZE"]["stepSize"], filters["LOT_SIZE"]["minQty"]) == ("0.001", "0.001")
    assert filters["MARKET_LOT_SIZE"]["stepSize"] == "0.001"
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
    assert filters["MIN_NOTIONAL"]["notional"] == "100"
    assert (btc["pricePrecision"], btc["quantityPrecision"]) == (1, 3)
    # ... and trades by them: a spot-sized quantity, an off-tick price, a small notional are refused.
    sim.set_price("BTCUSDT", "64000")
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
    for change, code in [({"quantity": "0.0001"}, -1111), ({"quantity": "0.001"}, -4164),
                         ({"type": "LIMIT", "quantity": "0.01", "price": "63000.05", "timeInForce": "GTC"}, -4014)]:
        status, body, _ = await client.call("POST", "/fapi/v1/order", {**order, **change})
        assert (status, body["code"]) == (400, code), change
    status, body, _ = await client.call("POST", "/fapi/v1/order", {**order, "quantity": "0.002"})
    assert status == 200 and sim.futures_orders("f")[0].orig_qty == Decimal("0.002")


async def test_leverage_brackets_are_per_symbol_and_bound_the_leverage(sim, client_for):
    client = client_for("f", futures_wallet="100000")
    status, body, _ = await client.call("GET", "/fapi/v1/leverageBracket", {"symbol": "BTCUSDT"})
    assert status == 200 and body["symbol"] == "BTCUSDT"
    brackets = body["brackets"]
    assert brackets[0] == {"bracket": 1, "initialLeverage": 125, "notionalCap": 300000, "notionalFloor": 0,
                           "maintMarginRatio": 0.004, "cum": 0.0}
    assert [b["initialLeverage"] for b in brackets] == sorted((b["initialLeverage"] for b in brackets), reverse=True)
    assert all(a["notionalCap"] == b["notionalFloor"] for a, b in zip(brackets, brackets[1:]))
    status, every, _ = await client.call("GET", "/fapi/v1/leverageBracket")
    assert {row["symbol"] for row in every} == set(sim.exchange.symbols)
    eth = next(row for row in every if row["symbol"] == "ETHUSDT")["brackets"]
    assert len(eth) == len(brackets) and eth[4]["notionalCap"] != brackets[4]["notionalCap"]  # per symbol
    status, body, _ = await client.call("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": "126"})
    assert (status, body["code"]) == (400, -4028)
    status, body, _ = await client.call("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": "125"})
    assert status == 200 and body["maxNotionalValue"] == "300000"
    # At 125x the position may not pass 300,000 USDT.
    sim.set_price("BTCUSDT", "64000")
    status, body, _ = await client.call("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY",
                                                                   "type": "MARKET", "quantity": "5"})
    assert (status, body["code"]) == (400, -2027) and sim.futures_orders("f") == []


async def test_batch_orders_place_up_to_five_and_answer_each_in_order(sim, client_for):
    client = client_for("f", futures_wallet="100000")
    sim.set_price("BTCUSDT", "64000")
    batch = [{"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002", "newClientOrderId": "b-1"},
             {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.0001", "newClientOrderId": "b-2"},
             {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.002", "price": "60000",
              "timeInForce": "GTC", "newClientOrderId": "b-3"}]
    status, body, headers = await client.call("POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps(batch)})
    assert status == 200 and [row.get("clientOrderId", row.get("code")) for row in body] == ["b-1", -1111, "b-3"]
    assert [o.client_order_id for o in sim.futures_orders("f")] == ["b-1", "b-3"]
    assert headers["X-MBX-ORDER-COUNT-1M"] == "3"
    status, body, _ = await client.call("POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps(batch * 2)})
    assert status == 400 and len(sim.futures_orders("f")) == 2  # six: refused whole


async def test_income_lists_transfers_commissions_and_realized_pnl(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    sim.set_price("BTCUSDT", "64000")
    await client.call("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                  "quantity": "0.01"})
    sim.set_price("BTCUSDT", "65000")
    await client.call("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                  "quantity": "0.01"})
    status, rows, _ = await client.call("GET", "/fapi/v1/income")
    assert status == 200
    assert [(r["incomeType"], r["income"]) for r in rows] == [
        ("TRANSFER", "10000"), ("COMMISSION", "-0.256"), ("REALIZED_PNL", "10"), ("COMMISSION", "-0.26")]
    status, pnl, _ = await client.call("GET", "/fapi/v1/income", {"incomeType": "REALIZED_PNL", "symbol": "BTCUSDT"})
    assert [r["income"] for r in pnl] == ["10"]
    wallet = sim.perps.book(sim.exchange.accounts["f"]).wallet
    assert sum(Decimal(r["income"]) for r in rows) == wallet  # the history adds up to the wallet


async def test_the_wallet_reads_of_sapi(sim, client_for):
    client = client_for("a", {"USDT": "10000", "BTC": "1"})
    status, deposits, headers = await client.call("GET", "/sapi/v1/capital/deposit/hisrec")
    assert status == 200 and sorted((d["coin"], d["amount"], d["status"]) for d in deposits) == [
        ("BTC", "1", 1), ("USDT", "10000", 1)]
    assert "X-SAPI-USED-IP-WEIGHT-1M" in headers
    status, coins, _ = await client.call("GET", "/sapi/v1/capital/config/getall")
    usdt = next(c for c in coins if c["coin"] == "USDT")
    assert status == 200 and usdt["free"] == "10000.00000000" and usdt["networkList"]
    status, fees, _ = await client.call("GET", "/sapi/v1/asset/tradeFee", {"symbol": "BTCUSDT"})
    assert (status, fees) == (200, [{"symbol": "BTCUSDT", "makerCommission": "0.00100000",
                                     "takerCommission": "0.00100000"}])
    status, body, _ = await client.call("GET", "/sapi/v1/capital/deposit/hisrec", secret="0" * 64)
    assert (status, body["code"]) == (400, -1022)


# --- the WebSocket API ---------------------------------------------------------------------------

def ws_signed(secret: str, params: dict) -> dict:
    params = {**params, "timestamp": int(time.time() * 1000)}
    return {**params, "signature": sign(secret, "&".join(f"{k}={v}" for k, v in sorted(params.items())))}


async def test_ws_api_answers_carry_rate_limits_and_place_orders(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    ws = await client.http.ws_connect("/ws-api/v3")
    await ws.send_json({"id": 1, "method": "time"})
    answer = await ws.receive_json()
    assert answer["status"] == 200 and answer["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
    weight_before = answer["rateLimits"][0]["count"]
    await ws.send_json({"id": 2, "method": "order.place",
                        "params": ws_signed(client.secret, {**MARKET_BUY, "apiKey": client.api_key,
                                                            "newClientOrderId": "ws-1"})})
    answer = await ws.receive_json()
    assert answer["status"] == 200 and answer["result"]["clientOrderId"] == "ws-1"
    assert answer["result"]["status"] == "FILLED"
    kinds = {(r["rateLimitType"], r["interval"], r["intervalNum"]): r["count"] for r in answer["rateLimits"]}
    assert kinds[("ORDERS", "DAY", 1)] == 1 and kinds[("REQUEST_WEIGHT", "MINUTE", 1)] == weight_before + 1
    await ws.send_json({"id": 3, "method": "account.status",
                        "params": ws_signed(client.secret, {"apiKey": client.api_key})})
    answer = await ws.receive_json()
    balances = {b["asset"]: b["free"] for b in answer["result"]["balances"]}
    assert answer["status"] == 200 and balances["BTC"] == "0.00999000"
    await ws.send_json({"id": 4, "method": "ping", "params": {"returnRateLimits": False}})
    assert await ws.receive_json() == {"id": 4, "status": 200, "result": {}}
    # The shared IP weight: REST sees what the WebSocket API used.
    async with client.http.get("/api/v3/ping") as response:
        assert int(response.headers["X-MBX-USED-WEIGHT-1M"]) > weight_before
    assert [o.client_order_id for o in sim.orders("a")] == ["ws-1"]
    await ws.close()


async def test_session_logon_takes_ed25519_keys_only_then_signs_for_the_session(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    private = Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    status, key = await client.admin("POST", "/_sim/accounts/a/keys", {"public_key": public_pem})
    assert status == 200 and key["secret"] == ""
    ws = await client.http.ws_connect("/ws-api/v3")
    # An HMAC key cannot log on (Binance: Ed25519 only).
    await ws.send_json({"id": 1, "method": "session.logon",
                        "params": ws_signed(client.secret, {"apiKey": client.api_key})})
    assert (await ws.receive_json())["error"]["code"] == -1022
    params = {"apiKey": key["api_key"], "timestamp": int(time.time() * 1000)}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = base64.b64encode(private.sign(payload.encode())).decode()
    await ws.send_json({"id": 2, "method": "session.logon", "params": params})
    answer = await ws.receive_json()
    assert answer["status"] == 200 and answer["result"]["apiKey"] == key["api_key"]
    await ws.send_json({"id": 3, "method": "order.place",
                        "params": {**MARKET_BUY, "newClientOrderId": "logged-on",
                                   "timestamp": int(time.time() * 1000)}})
    answer = await ws.receive_json()
    assert answer["status"] == 200 and answer["result"]["clientOrderId"] == "logged-on"
    await ws.send_json({"id": 4, "method": "session.logout"})
    assert (await ws.receive_json())["result"]["apiKey"] is None
    await ws.send_json({"id": 5, "method": "account.status", "params": {"timestamp": int(time.time() * 1000)}})
    assert (await ws.receive_json())["status"] != 200  # logged out: unsigned requests are refused
    assert [o.client_order_id for o in sim.orders("a")] == ["logged-on"]
    await ws.close()
