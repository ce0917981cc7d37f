"""USDⓈ-M perpetuals on the simulator: positions with leverage and entry price, realised PnL
and fees in the wallet, reduce-only, margin, hedge mode and Binance's futures error codes."""

from decimal import Decimal

import pytest

BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}
SELL = {**BUY, "side": "SELL"}


async def order(client, params, **extra):
    return await client.call("POST", "/fapi/v1/order", {**params, **extra})


async def position(client, side="BOTH"):
    _, rows, _ = await client.call("GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
    return next(r for r in rows if r["positionSide"] == side)


async def wallet(client) -> Decimal:
    _, account, _ = await client.call("GET", "/fapi/v2/account")
    return Decimal(account["totalWalletBalance"])


async def test_positions_average_their_entry_and_realise_pnl_into_the_wallet(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    status, ack, _ = await order(client, BUY, newClientOrderId="open-1")
    # The default response type is ACK: the order as accepted, before it matched.
    assert (status, ack["status"], ack["executedQty"]) == (200, "NEW", "0")
    _, queried, _ = await client.call("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "open-1"})
    assert (queried["status"], queried["avgPrice"]) == ("FILLED", "64000")
    sim.set_price("BTCUSDT", "66000")
    _, result, _ = await order(client, BUY, newOrderRespType="RESULT")
    assert (result["status"], result["avgPrice"]) == ("FILLED", "66000")
    held = await position(client)
    assert (Decimal(held["positionAmt"]), Decimal(held["entryPrice"])) == (Decimal("0.02"), Decimal("65000"))
    assert Decimal(held["unRealizedProfit"]) == Decimal("20")  # (66000 - 65000) * 0.02
    await order(client, SELL)
    held = await position(client)
    assert (Decimal(held["positionAmt"]), Decimal(held["entryPrice"])) == (Decimal("0.01"), Decimal("65000"))
    fees = (Decimal("0.01") * 64000 + Decimal("0.01") * 66000 * 2) * Decimal("0.0004")
    assert await wallet(client) == Decimal("10000") + Decimal("10") - fees  # realised (66000 - 65000) * 0.01
    _, trades, _ = await client.call("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
    assert [t["realizedPnl"] for t in trades] == ["0", "0", "10"]


async def test_reduce_only_can_only_shrink_a_position(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    status, body, _ = await order(client, SELL, reduceOnly="true")
    assert (status, body["code"]) == (400, -2022)  # nothing to reduce
    await order(client, BUY)
    status, body, _ = await order(client, {**SELL, "quantity": "0.02"}, reduceOnly="true")
    assert (status, body["code"]) == (400, -2022)  # more than held
    assert (await order(client, SELL, reduceOnly="true"))[0] == 200
    assert Decimal((await position(client))["positionAmt"]) == 0
    assert len(sim.futures_orders("f")) == 2


async def test_resting_reduce_only_order_expires_when_the_position_is_gone(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    await order(client, BUY)
    await order(client, {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.01",
                         "price": "70000", "timeInForce": "GTC", "newClientOrderId": "tp"}, reduceOnly="true")
    await order(client, SELL)  # closed by hand first
    sim.set_price("BTCUSDT", "70000")
    [take_profit] = [o for o in sim.futures_orders("f") if o.client_order_id == "tp"]
    assert (take_profit.status, take_profit.executed_qty) == ("EXPIRED", 0)
    assert Decimal((await position(client))["positionAmt"]) == 0  # never flipped short


@pytest.mark.parametrize("params,code", [
    ({"quantity": "0.001"}, -4164),  # 64 USDT is below BTCUSDT's 100 USDT minimum notional
    ({"quantity": "0.0015"}, -1111),  # not a whole step of 0.001
    ({"quantity": "0"}, -4003),
    ({"quantity": "0.05"}, -2019),  # 3200 USDT at 20x needs 160 USDT of margin; the wallet has 100
    ({"type": "LIMIT", "price": "63000.05", "timeInForce": "GTC"}, -4014),  # the tick is 0.10
    ({"type": "LIMIT", "price": "65000", "timeInForce": "GTX"}, -5022),  # post-only that would take
    ({"positionSide": "LONG"}, -4061),  # one-way mode
    ({"symbol": "NOPE"}, -1121),
    ({"newClientOrderId": "no spaces please"}, -4015),
])
async def test_orders_breaking_futures_rules_get_binance_codes(sim, client_for, params, code):
    client = client_for("f", futures_wallet="100")
    status, body, _ = await order(client, {**BUY, **params})
    assert (status, body["code"]) == (400, code), body
    assert sim.futures_orders("f") == []


async def test_leverage_changes_the_margin_an_order_needs(sim, client_for):
    client = client_for("f", futures_wallet="100")
    assert (await order(client, {**BUY, "quantity": "0.05"}))[1]["code"] == -2019
    status, body, _ = await client.call("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 50})
    assert (status, body["leverage"]) == (200, 50)
    assert (await order(client, {**BUY, "quantity": "0.05"}))[0] == 200  # 3200 / 50 = 64 USDT
    assert (await position(client))["leverage"] == "50"
    status, body, _ = await client.call("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 200})
    assert (status, body["code"]) == (400, -4028)


async def test_margin_type_changes_only_when_flat(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    change = {"symbol": "BTCUSDT", "marginType": "ISOLATED"}
    assert (await client.call("POST", "/fapi/v1/marginType", change))[0] == 200
    assert (await client.call("POST", "/fapi/v1/marginType", change))[1]["code"] == -4046  # no change
    await order(client, BUY)
    status, body, _ = await client.call("POST", "/fapi/v1/marginType", {**change, "marginType": "CROSSED"})
    assert (status, body["code"]) == (400, -4048)
    assert (await position(client))["marginType"] == "isolated"


async def test_hedge_mode_keeps_long_and_short_apart(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    assert (await client.call("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"}))[0] == 200
    assert (await client.call("GET", "/fapi/v1/positionSide/dual"))[1] == {"dualSidePosition": True}
    assert (await order(client, BUY))[1]["code"] == -4061  # a side is required now
    assert (await order(client, BUY, positionSide="LONG"))[0] == 200
    assert (await order(client, SELL, positionSide="SHORT"))[0] == 200
    long, short = await position(client, "LONG"), await position(client, "SHORT")
    assert (long["positionAmt"], short["positionAmt"]) == ("0.01", "-0.01")
    assert (await order(client, {**SELL, "quantity": "0.02"}, positionSide="LONG"))[1]["code"] == -2022
    assert (await order(client, SELL, positionSide="LONG", reduceOnly="true"))[1]["code"] == -1106
    assert (await order(client, SELL, positionSide="LONG"))[0] == 200  # closes the long
    status, body, _ = await client.call("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "false"})
    assert (status, body["code"]) == (400, -4068)  # the short is still open


async def test_resting_limit_orders_hold_margin_and_fill_as_maker(sim, client_for):
    client = client_for("f", futures_wallet="1000")
    limit = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1", "price": "63000",
             "timeInForce": "GTC", "newClientOrderId": "bid"}
    assert (await order(client, limit))[1]["status"] == "NEW"
    _, account, _ = await client.call("GET", "/fapi/v2/account")
    assert Decimal(account["totalOpenOrderInitialMargin"]) == Decimal("315")  # 0.1 * 63000 / 20
    assert Decimal(account["availableBalance"]) == Decimal("685")
    sim.set_price("BTCUSDT", "62990")
    _, filled, _ = await client.call("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "bid"})
    assert (filled["status"], filled["avgPrice"]) == ("FILLED", "63000")
    _, trades, _ = await client.call("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
    assert (trades[0]["maker"], trades[0]["commission"]) == (True, "1.26")  # 6300 * 0.02%


async def test_a_client_order_id_of_an_open_order_is_refused(sim, client_for):
    """Binance: newClientOrderId "cannot repeat among open orders"; a filled order's may."""
    client = client_for("f", futures_wallet="10000")
    resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "60000",
               "timeInForce": "GTC"}
    assert (await order(client, resting, newClientOrderId="once"))[0] == 200
    status, body, _ = await order(client, BUY, newClientOrderId="once")
    assert (status, body["code"]) == (400, -4116) and len(sim.futures_orders("f", "once")) == 1
    assert (await order(client, BUY, newClientOrderId="filled"))[0] == 200
    assert (await order(client, BUY, newClientOrderId="filled"))[0] == 200
    assert [o.status for o in sim.futures_orders("f", "filled")] == ["FILLED", "FILLED"]


async def test_position_risk_v2_lists_every_symbol_and_v3_only_open_ones(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    await order(client, BUY)
    _, v2, _ = await client.call("GET", "/fapi/v2/positionRisk")
    _, v3, _ = await client.call("GET", "/fapi/v3/positionRisk")
    assert {r["symbol"] for r in v2} == set(sim.exchange.symbols) and [r["symbol"] for r in v3] == ["BTCUSDT"]
    _, balance, _ = await client.call("GET", "/fapi/v3/balance")
    assert balance[0]["asset"] == "USDT" and Decimal(balance[0]["balance"]) < 10000  # the fee was paid


async def test_modify_order_changes_a_resting_limit_in_place_or_says_why_not(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    limit = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "63000",
             "timeInForce": "GTC", "newClientOrderId": "rest-1"}
    await order(client, limit)
    amend = {"symbol": "BTCUSDT", "origClientOrderId": "rest-1", "side": "BUY"}
    status, body, _ = await client.call("PUT", "/fapi/v1/order", {**amend, "quantity": "0.020", "price": "63500"})
    assert (status, body["status"], body["origQty"], body["price"]) == (200, "NEW", "0.02", "63500")
    assert [(o.order_id, o.orig_qty) for o in sim.futures_orders("f")] == [(body["orderId"], Decimal("0.020"))]
    status, body, _ = await client.call("PUT", "/fapi/v1/order", {**amend, "quantity": "0.020", "price": "63500"})
    assert (status, body["code"]) == (400, -5027)  # nothing to change
    status, body, _ = await client.call("PUT", "/fapi/v1/order", {**amend, "side": "SELL", "quantity": "0.02",
                                                                    "price": "63500"})
    assert (status, body["code"]) == (400, -4000)
    # Amended through the market: it fills at once, as Binance's would.
    status, body, _ = await client.call("PUT", "/fapi/v1/order", {**amend, "quantity": "0.020", "price": "64100"})
    assert (status, body["status"]) == (200, "FILLED")
    status, body, _ = await client.call("PUT", "/fapi/v1/order", {**amend, "quantity": "0.030", "price": "64100"})
    assert (status, body["code"]) == (400, -2013)  # no longer open
