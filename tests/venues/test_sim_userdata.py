"""User-data WebSockets as ccxt.pro uses them: the spot WebSocket API subscription and the
futures listenKey stream, spoken here by hand to pin down the wire format."""

import asyncio
import time

import aiohttp
import pytest

from services.kit.testing import eventually
from venue_sim import Simulator
from venue_sim.auth import sign

EXECUTION_REPORT_FIELDS = set("e,E,s,c,S,o,f,q,p,P,F,g,C,x,X,r,i,l,z,L,n,N,T,t,I,w,m,M,O,Z,Y,Q,W,V".split(","))
MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}


def subscribe_request(api_key: str, secret: str, request_id="1", *, timestamp: int | None = None) -> dict:
    params = {"apiKey": api_key, "recvWindow": 10000, "timestamp": timestamp or int(time.time() * 1000)}
    params["signature"] = sign(secret, "&".join(f"{k}={v}" for k, v in sorted(params.items())))
    return {"id": request_id, "method": "userDataStream.subscribe.signature", "params": params}


async def receive_until(ws, predicate, timeout: float = 5.0) -> dict:
    async def loop():
        while True:
            message = await ws.receive_json()
            if predicate(message):
                return message
    return await asyncio.wait_for(loop(), timeout)


async def test_spot_subscription_streams_execution_reports(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    ws = await client.http.ws_connect("/ws-api/v3")
    await ws.send_json(subscribe_request(client.api_key, client.secret))
    reply = await ws.receive_json()
    assert reply["id"] == "1" and reply["status"] == 200 and isinstance(reply["result"]["subscriptionId"], int)
    subscription = reply["result"]["subscriptionId"]
    assert sim.stream_subscribed("a", "spot")
    await client.call("POST", "/api/v3/order", {**MARKET_BUY, "newClientOrderId": "seen"})
    new = await receive_until(ws, lambda m: m.get("event", {}).get("x") == "NEW")
    trade = await receive_until(ws, lambda m: m.get("event", {}).get("x") == "TRADE")
    assert new["subscriptionId"] == trade["subscriptionId"] == subscription
    report = trade["event"]
    assert EXECUTION_REPORT_FIELDS <= set(report)
    assert (report["e"], report["c"], report["X"], report["l"], report["L"], report["N"]) == (
        "executionReport", "seen", "FILLED", "0.01000000", "64000.00000000", "BTC")
    balances = await receive_until(ws, lambda m: m.get("event", {}).get("e") == "outboundAccountPosition")
    assert {b["a"] for b in balances["event"]["B"]} == {"BTC", "USDT"}
    await ws.close()
    await eventually(lambda: not sim.stream_subscribed("a", "spot"))


async def test_spot_subscription_checks_signature_and_time(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    ws = await client.http.ws_connect("/ws-api/v3")
    await ws.send_json(subscribe_request(client.api_key, "0" * 64, "bad-sig"))
    assert (await ws.receive_json())["error"]["code"] == -1022
    await ws.send_json(subscribe_request(client.api_key, client.secret, "stale",
                                         timestamp=int(time.time() * 1000) - 60_000))
    reply = await ws.receive_json()
    assert (reply["id"], reply["status"], reply["error"]["code"]) == ("stale", 400, -1021)
    await ws.send_json(subscribe_request("B" * 64, client.secret, "who"))
    assert (await ws.receive_json())["error"]["code"] == -2015
    assert not sim.stream_subscribed("a", "spot")
    await ws.close()


async def test_ws_api_answers_ping_time_unsubscribe_and_ping_frames(sim, client_for):
    client = client_for("a", {"USDT": "10000"})
    ws = await client.http.ws_connect("/ws-api/v3", autoping=False)
    await ws.ping(b"hello")
    pong = await asyncio.wait_for(ws.receive(), 5)
    assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"hello")
    await ws.send_json({"id": 7, "method": "ping"})
    answer = await ws.receive_json()
    assert answer.pop("rateLimits")[0]["rateLimitType"] == "REQUEST_WEIGHT"  # Binance adds them by default
    assert answer == {"id": 7, "status": 200, "result": {}}
    await ws.send_json({"id": 8, "method": "time"})
    assert abs((await ws.receive_json())["result"]["serverTime"] - time.time() * 1000) < 5000
    await ws.send_json(subscribe_request(client.api_key, client.secret))
    subscription = (await ws.receive_json())["result"]["subscriptionId"]
    await ws.send_json({"id": 9, "method": "userDataStream.unsubscribe", "params": {"subscriptionId": subscription}})
    assert (await ws.receive_json())["status"] == 200
    assert not sim.stream_subscribed("a", "spot")
    await ws.send_json({"id": 10, "method": "no.such.method"})
    assert (await ws.receive_json())["status"] == 400
    await ws.send_json({"id": 11, "method": "order.place", "params": {"symbol": "BTCUSDT"}})  # unsigned
    assert (await ws.receive_json())["error"]["code"] == -2014 and sim.orders("a") == []
    await ws.close()


async def test_listen_key_lifecycle_and_futures_events(sim, client_for):
    client = client_for("f", futures_wallet="10000")
    headers = {"X-MBX-APIKEY": client.api_key}
    async with client.http.post("/fapi/v1/listenKey", headers=headers) as response:
        listen_key = (await response.json())["listenKey"]
    async with client.http.post("/fapi/v1/listenKey", headers=headers) as response:
        assert (await response.json())["listenKey"] == listen_key  # one key per account, as on Binance
    async with client.http.put("/fapi/v1/listenKey", headers=headers) as response:
        assert response.status == 200
    for path in (f"/ws/{listen_key}", f"/private/ws?listenKey={listen_key}"):
        ws = await client.http.ws_connect(path)
        await eventually(lambda: sim.stream_subscribed("f", "futures"))
        await client.call("POST", "/fapi/v1/order", {**MARKET_BUY, "newClientOrderId": f"via-{path[1:4]}"})
        update = await receive_until(ws, lambda m: m["e"] == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "TRADE")
        assert (update["o"]["c"], update["o"]["X"], update["o"]["l"], update["o"]["ps"]) == (
            f"via-{path[1:4]}", "FILLED", "0.01", "BOTH")
        account = await receive_until(ws, lambda m: m["e"] == "ACCOUNT_UPDATE")
        assert account["a"]["P"][0]["s"] == "BTCUSDT" and account["a"]["B"][0]["a"] == "USDT"
        await ws.close()
    async with client.http.delete("/fapi/v1/listenKey", headers=headers) as response:
        assert response.status == 200
    async with client.http.put("/fapi/v1/listenKey", headers=headers) as response:
        assert (response.status, (await response.json())["code"]) == (400, -1125)
    ws = await client.http.ws_connect(f"/ws/{listen_key}")
    assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_listen_key_expires_without_keep_alive():
    async with Simulator(listen_key_ttl_s=0.3) as sim:
        account = sim.create_account("f", futures_wallet="100")
        async with aiohttp.ClientSession(base_url=sim.url) as http:
            async with http.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": account.api_key}) as response:
                listen_key = (await response.json())["listenKey"]
            ws = await http.ws_connect(f"/ws/{listen_key}")
            expired = await receive_until(ws, lambda m: m["e"] == "listenKeyExpired")
            assert expired["listenKey"] == listen_key
            assert (await asyncio.wait_for(ws.receive(), 5)).type in (aiohttp.WSMsgType.CLOSE,
                                                                       aiohttp.WSMsgType.CLOSED)


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_dropping_streams_closes_the_sockets(sim, client_for, market):
    client = client_for("a", {"USDT": "100"}, futures_wallet="100")
    if market == "spot":
        ws = await client.http.ws_connect("/ws-api/v3")
        await ws.send_json(subscribe_request(client.api_key, client.secret))
        await ws.receive_json()
    else:
        async with client.http.post("/fapi/v1/listenKey", headers={"X-MBX-APIKEY": client.api_key}) as response:
            ws = await client.http.ws_connect(f"/ws/{(await response.json())['listenKey']}")
    await eventually(lambda: sim.stream_subscribed("a", market))
    status, body = await client.admin("POST", "/_sim/streams/drop", {"account": "a"})
    assert (status, body["closed"]) == (200, 1)
    assert (await asyncio.wait_for(ws.receive(), 5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await eventually(lambda: not sim.stream_subscribed("a", market))
