"""Stop orders on the Binance-protocol simulator, spoken by hand to pin down the wire: spot stop
types and OCO order lists (executionReport with P, g and w; listStatus), USDⓈ-M conditional
orders in the Algo Service (POST /fapi/v1/algoOrder, ALGO_UPDATE, the order it places when it
triggers), close-position orders expiring with the position, and the refusals Binance gives."""

from decimal import Decimal

from tests.venues.test_sim_userdata import receive_until, subscribe_request

SELL = {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01"}


async def test_a_spot_stop_loss_rests_off_the_book_then_fires_at_market(sim, client_for):
    client = client_for("a", {"USDT": "10000", "BTC": "1"})
    ws = await client.http.ws_connect("/ws-api/v3")
    await ws.send_json(subscribe_request(client.api_key, client.secret))
    await ws.receive_json()
    status, body, _ = await client.call("POST", "/api/v3/order", {**SELL, "type": "STOP_LOSS", "stopPrice": "63000",
                                                                   "newClientOrderId": "sl"})
    assert (status, body["status"], body["type"], body["stopPrice"], body["workingTime"]) == (
        200, "NEW", "STOP_LOSS", "63000.00000000", -1)
    new = (await receive_until(ws, lambda m: m.get("event", {}).get("x") == "NEW"))["event"]
    assert (new["o"], new["P"], new["w"], new["g"]) == ("STOP_LOSS", "63000.00000000", False, -1)
    _, query, _ = await client.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "sl"})
    assert (query["isWorking"], query["stopPrice"]) == (False, "63000.00000000")
    sim.set_price("BTCUSDT", "63100")  # near, not through
    assert sim.orders("a", "sl")[0].executed_qty == 0
    sim.set_price("BTCUSDT", "62900")
    working = (await receive_until(ws, lambda m: m.get("event", {}).get("x") == "NEW"))["event"]
    assert working["w"] is True and working["W"] > 0  # on the book now
    trade = (await receive_until(ws, lambda m: m.get("event", {}).get("x") == "TRADE"))["event"]
    assert (trade["X"], trade["L"], trade["c"]) == ("FILLED", "62900.00000000", "sl")


async def test_spot_stops_are_refused_as_binance_refuses_them(sim, client_for):
    client = client_for("a", {"USDT": "10000", "BTC": "1"})
    status, body, _ = await client.call("POST", "/api/v3/order", {**SELL, "type": "STOP_LOSS", "stopPrice": "65000"})
    assert (status, body["code"], body["msg"]) == (400, -2010, "Stop price would trigger immediately.")
    status, body, _ = await client.call("POST", "/api/v3/order", {**SELL, "type": "STOP_LOSS_LIMIT",
                                                                   "stopPrice": "63000", "price": "62900"})
    assert (status, body["code"]) == (400, -1102)  # timeInForce is mandatory
    status, body, _ = await client.call("POST", "/api/v3/order", {**SELL, "type": "STOP_LOSS"})
    assert (status, body["code"]) == (400, -1102)  # stopPrice is mandatory
    status, body, _ = await client.call("POST", "/api/v3/order", {**SELL, "type": "LIMIT_MAKER", "price": "63000"})
    assert (status, body["msg"]) == (400, "Order would immediately match and take.")


async def test_an_oco_locks_one_quantity_and_its_first_leg_to_fill_expires_the_other(sim, client_for):
    client = client_for("a", {"USDT": "10000", "BTC": "0.01"})
    ws = await client.http.ws_connect("/ws-api/v3")
    await ws.send_json(subscribe_request(client.api_key, client.secret))
    await ws.receive_json()
    status, body, _ = await client.call("POST", "/api/v3/orderList/oco", {
        **SELL, "listClientOrderId": "pair", "aboveType": "LIMIT_MAKER", "abovePrice": "65000",
        "aboveClientOrderId": "tp", "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "63000", "belowPrice": "62900",
        "belowTimeInForce": "GTC", "belowClientOrderId": "sl"})
    assert status == 200, body
    assert (body["contingencyType"], body["listStatusType"], body["listOrderStatus"], body["listClientOrderId"]) == (
        "OCO", "EXEC_STARTED", "EXECUTING", "pair")
    assert [r["clientOrderId"] for r in body["orderReports"]] == ["tp", "sl"]
    _, balances, _ = await client.call("GET", "/api/v3/account")
    btc = next(b for b in balances["balances"] if b["asset"] == "BTC")
    assert (btc["free"], btc["locked"]) == ("0.00000000", "0.01000000")  # both legs on the one 0.01
    listed = await receive_until(ws, lambda m: m.get("event", {}).get("e") == "listStatus")
    assert (listed["event"]["c"], listed["event"]["L"], listed["event"]["C"]) == ("OCO", "EXECUTING", "pair")
    sim.set_price("BTCUSDT", "65000")
    expired = (await receive_until(ws, lambda m: m.get("event", {}).get("x") == "EXPIRED"))["event"]
    assert (expired["c"], expired["g"]) == ("sl", body["orderListId"])
    assert [(o.client_order_id, o.status) for o in sim.orders("a")] == [("tp", "FILLED"), ("sl", "EXPIRED")]
    done = await receive_until(ws, lambda m: m.get("event", {}).get("L") == "ALL_DONE")
    assert done["event"]["l"] == "ALL_DONE"
    status, body, _ = await client.call("POST", "/api/v3/orderList/oco", {
        **SELL, "aboveType": "LIMIT_MAKER", "abovePrice": "66000", "belowType": "STOP_LOSS", "belowStopPrice": "63000"})
    assert (status, body["code"]) == (400, -2010)  # nothing left to sell


async def test_canceling_an_oco_leg_cancels_the_list(sim, client_for):
    client = client_for("a", {"USDT": "10000", "BTC": "0.01"})
    await client.call("POST", "/api/v3/orderList/oco", {
        **SELL, "aboveType": "TAKE_PROFIT", "aboveStopPrice": "65000", "aboveClientOrderId": "tp",
        "belowType": "STOP_LOSS", "belowStopPrice": "63000", "belowClientOrderId": "sl"})
    status, _, _ = await client.call("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "sl"},
                                     where="query")
    assert status == 200
    assert [o.status for o in sim.orders("a")] == ["CANCELED", "CANCELED"]
    _, balances, _ = await client.call("GET", "/api/v3/account")
    assert next(b for b in balances["balances"] if b["asset"] == "BTC")["free"] == "0.01000000"


async def test_a_conditional_futures_order_waits_in_the_algo_service_then_places_its_order(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    _, listen, _ = await client.call("POST", "/fapi/v1/listenKey", where="query")
    ws = await client.http.ws_connect(f"/ws/{listen['listenKey']}")
    await client.call("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                 "quantity": "0.010"})
    status, algo, _ = await client.call("POST", "/fapi/v1/algoOrder", {
        **SELL, "quantity": "0.010", "algoType": "CONDITIONAL", "type": "STOP_MARKET", "triggerPrice": "63000",
        "reduceOnly": "true", "clientAlgoId": "stop-1"})
    assert (status, algo["algoStatus"], algo["orderType"], algo["triggerPrice"], algo["reduceOnly"]) == (
        200, "NEW", "STOP_MARKET", "63000", True)
    update = await receive_until(ws, lambda m: m.get("e") == "ALGO_UPDATE")
    assert (update["o"]["caid"], update["o"]["aid"], update["o"]["X"], update["o"]["tp"]) == (
        "stop-1", algo["algoId"], "NEW", "63000")
    status, body, _ = await client.call("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "stop-1"},
                                        where="query")
    assert (status, body["code"]) == (400, -2013)  # nothing in the matching engine yet
    sim.set_price("BTCUSDT", "62950")
    statuses = [(await receive_until(ws, lambda m: m.get("e") == "ALGO_UPDATE"))["o"]["X"] for _ in range(2)]
    assert statuses == ["TRIGGERING", "TRIGGERED"]
    fill = await receive_until(ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "TRADE")
    assert (fill["o"]["o"], fill["o"]["ot"], fill["o"]["sp"], fill["o"]["c"], fill["o"]["X"]) == (
        "MARKET", "STOP_MARKET", "63000", "stop-1", "FILLED")
    finished = await receive_until(ws, lambda m: m.get("e") == "ALGO_UPDATE" and m["o"]["X"] == "FINISHED")
    assert (finished["o"]["ai"], finished["o"]["aq"]) == (str(fill["o"]["i"]), "0.01")
    _, queried, _ = await client.call("GET", "/fapi/v1/algoOrder", {"clientAlgoId": "stop-1"}, where="query")
    assert (queried["algoStatus"], queried["actualOrderId"], queried["executedQty"]) == (
        "FINISHED", str(fill["o"]["i"]), "0.01")


async def test_close_position_orders_expire_with_the_position_and_refusals_are_binance_s(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    base = {**SELL, "algoType": "CONDITIONAL"}
    status, body, _ = await client.call("POST", "/fapi/v1/algoOrder", {**base, "quantity": "0.010",
                                                                       "type": "STOP_MARKET", "triggerPrice": "65000"})
    assert (status, body["code"]) == (400, -2021)  # a sell stop above the price would trigger at once
    status, body, _ = await client.call("POST", "/fapi/v1/algoOrder", {
        **base, "quantity": "0.010", "type": "STOP", "triggerPrice": "63000", "closePosition": "true"})
    assert (status, body["code"]) == (400, -4136)  # closePosition only on the *_MARKET types
    await client.call("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                 "quantity": "0.010"})
    for kind, trigger, cid in (("STOP_MARKET", "63000", "sl"), ("TAKE_PROFIT_MARKET", "65000", "tp")):
        status, body, _ = await client.call("POST", "/fapi/v1/algoOrder", {
            "symbol": "BTCUSDT", "side": "SELL", "algoType": "CONDITIONAL", "type": kind, "triggerPrice": trigger,
            "closePosition": "true", "clientAlgoId": cid})
        assert (status, body["closePosition"], body["timeInForce"]) == (200, True, "GTE_GTC"), body
    sim.set_price("BTCUSDT", "65000")
    assert [(a.client_algo_id, a.status) for a in sim.algo_orders("f")] == [("sl", "EXPIRED"), ("tp", "FINISHED")]
    [closing] = [o for o in sim.futures_orders("f") if o.algo_id is not None]
    assert (closing.orig_qty, closing.close_position, closing.orig_type) == (Decimal("0.010"), True,
                                                                            "TAKE_PROFIT_MARKET")
