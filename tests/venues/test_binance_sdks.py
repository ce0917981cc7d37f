"""Clients nobody here tuned the simulator to, with default settings and only their base URLs
pointed at it: Binance's official SDK (binance-sdk-spot: REST, and the WebSocket API with
HMAC and with Ed25519 keys) and python-binance's REST client. Each call is checked against
what it did at the venue. The REST clients are synchronous, so they run in a thread beside
the simulator's event loop."""

import asyncio
from decimal import Decimal

import pytest_asyncio
from binance.client import Client
from binance.exceptions import BinanceAPIException
from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketAPI
from binance_sdk_spot.rest_api.models import NewOrderSideEnum, NewOrderTimeInForceEnum, NewOrderTypeEnum
from binance_sdk_spot.spot import Spot
from binance_sdk_spot.websocket_api.models import OrderPlaceSideEnum, OrderPlaceTypeEnum
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from venue_sim import Simulator


@pytest_asyncio.fixture
async def sim():
    simulator = await Simulator(seed=7).start()
    yield simulator
    await simulator.stop()


def ed25519_pair() -> tuple[str, str]:
    private = Ed25519PrivateKey.generate()
    return (private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode(),
            private.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode())


def ws_url(sim: Simulator) -> str:
    return sim.url.replace("http://", "ws://") + "/ws-api/v3"


async def test_the_official_sdk_rest_client(sim):
    account = sim.create_account("a", {"USDT": "10000"})
    rest = Spot(config_rest_api=ConfigurationRestAPI(api_key=account.api_key, api_secret=account.secret,
                                                     base_path=sim.url)).rest_api
    buy, limit = NewOrderSideEnum["BUY"].value, NewOrderTypeEnum["LIMIT"].value

    def calls():
        balances = {b.asset: b.free for b in rest.get_account().data().balances}
        placed = rest.new_order(symbol="BTCUSDT", side=buy, type=NewOrderTypeEnum["MARKET"].value, quantity=0.01,
                                new_client_order_id="sdk-1")
        resting = rest.new_order(symbol="BTCUSDT", side=buy, type=limit, quantity=0.01, price=60000.0,
                                 time_in_force=NewOrderTimeInForceEnum["GTC"].value, new_client_order_id="sdk-2")
        status = rest.get_order(symbol="BTCUSDT", orig_client_order_id="sdk-2").data().status
        canceled = rest.delete_order(symbol="BTCUSDT", orig_client_order_id="sdk-2").data()
        rest.order_test(symbol="BTCUSDT", side=buy, type=NewOrderTypeEnum["MARKET"].value, quantity=0.01).data()
        return (balances, placed, resting.data().client_order_id, status, canceled,
                rest.avg_price(symbol="BTCUSDT").data(), rest.get_trades(symbol="BTCUSDT").data(),
                rest.agg_trades(symbol="BTCUSDT").data(), rest.account_commission(symbol="BTCUSDT").data(),
                rest.my_trades(symbol="BTCUSDT").data())

    balances, placed, resting, status, canceled, avg, trades, agg, commission, mine = await asyncio.to_thread(calls)
    assert balances["USDT"] == "10000.00000000"
    assert placed.data().status == "FILLED" and resting == "sdk-2" and status == "NEW"
    assert {(r.rateLimitType, r.interval) for r in placed.rate_limits} >= {("REQUEST_WEIGHT", "MINUTE"),
                                                                            ("ORDERS", "SECOND")}
    assert canceled.status == "CANCELED" and canceled.orig_client_order_id == "sdk-2"
    assert canceled.client_order_id != "sdk-2"
    assert Decimal(avg.price) == sim.price("BTCUSDT") and avg.mins == 5
    assert [t.id for t in trades] == [a.a for a in agg] == [t.id for t in mine]
    assert commission.standard_commission.taker == "0.00100000"
    assert [(o.client_order_id, o.status) for o in sim.orders("a")] == [("sdk-1", "FILLED"), ("sdk-2", "CANCELED")]


async def test_the_official_sdk_websocket_api_client_with_default_settings(sim):
    account = sim.create_account("a", {"USDT": "10000"})
    ws = Spot(config_ws_api=ConfigurationWebSocketAPI(api_key=account.api_key, api_secret=account.secret,
                                                      stream_url=ws_url(sim))).websocket_api
    connection = await ws.create_connection()
    try:
        assert (await connection.time()).data().result.server_time > 0
        status = await connection.account_status()
        assert status.rate_limits and status.rate_limits[0].rateLimitType == "REQUEST_WEIGHT"
        assert {b.asset: b.free for b in status.data().result.balances}["USDT"] == "10000.00000000"
        placed = await connection.order_place(symbol="BTCUSDT", side=OrderPlaceSideEnum["BUY"].value,
                                              type=OrderPlaceTypeEnum["MARKET"].value, quantity=0.01,
                                              new_client_order_id="ws-1")
        assert placed.data().result.status == "FILLED"
        assert any(r.rateLimitType == "ORDERS" and r.count == 1 for r in placed.rate_limits)
        found = await connection.order_status(symbol="BTCUSDT", orig_client_order_id="ws-1")
        assert found.data().result.executed_qty == "0.01000000"
        assert Decimal((await connection.avg_price(symbol="BTCUSDT")).data().result.price) == sim.price("BTCUSDT")
        recent = (await connection.trades_recent(symbol="BTCUSDT")).data().result
        assert [t.qty for t in recent] == ["0.01000000"]
    finally:
        await connection.close_connection(close_session=True)
    assert [o.client_order_id for o in sim.orders("a")] == ["ws-1"]


async def test_the_official_sdk_with_an_ed25519_key_logs_on_and_trades(sim):
    account = sim.create_account("a", {"USDT": "10000"})
    private_pem, public_pem = ed25519_pair()
    key = sim.exchange.add_key(account, public_key=public_pem)
    rest = Spot(config_rest_api=ConfigurationRestAPI(api_key=key.key, private_key=private_pem,
                                                     base_path=sim.url)).rest_api
    assert await asyncio.to_thread(lambda: rest.get_account().data().can_trade)  # REST signed with Ed25519
    ws = Spot(config_ws_api=ConfigurationWebSocketAPI(api_key=key.key, private_key=private_pem,
                                                      stream_url=ws_url(sim))).websocket_api
    connection = await ws.create_connection()
    try:
        logon = await connection.session_logon()
        assert logon.data().result.api_key == key.key
        placed = await connection.order_place(symbol="BTCUSDT", side=OrderPlaceSideEnum["BUY"].value,
                                              type=OrderPlaceTypeEnum["MARKET"].value, quantity=0.01,
                                              new_client_order_id="logged-on")
        assert placed.data().result.status == "FILLED"
    finally:
        await connection.close_connection(close_session=True)
    assert [o.client_order_id for o in sim.orders("a")] == ["logged-on"]


async def test_python_binance_rest_client(sim):
    account = sim.create_account("a", {"USDT": "10000"}, futures_wallet="10000")

    class SimClient(Client):  # python-binance takes its base URLs from these
        API_URL, MARGIN_API_URL, FUTURES_URL = sim.url + "/api", sim.url + "/sapi", sim.url + "/fapi"

    def calls():
        client = SimClient(account.api_key, account.secret)  # pings on construction, as by default
        client.order_market_buy(symbol="BTCUSDT", quantity="0.01", newClientOrderId="pb-1")
        client.order_limit_buy(symbol="BTCUSDT", quantity="0.01", price="60000", newClientOrderId="pb-2")
        canceled = client.cancel_order(symbol="BTCUSDT", origClientOrderId="pb-2")
        client.create_test_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
        try:
            client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.0001")
            refused = None
        except BinanceAPIException as err:
            refused = err.code
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002",
                                    newClientOrderId="pb-f")
        return {"canceled": canceled, "avg": client.get_avg_price(symbol="BTCUSDT"),
                "recent": client.get_recent_trades(symbol="BTCUSDT"),
                "agg": client.get_aggregate_trades(symbol="BTCUSDT"), "mine": client.get_my_trades(symbol="BTCUSDT"),
                "balance": client.get_asset_balance(asset="BTC"), "fee": client.get_trade_fee(symbol="BTCUSDT"),
                "deposits": client.get_deposit_history(), "coins": client.get_all_coins_info(),
                "refused": refused, "income": client.futures_income_history(),
                "brackets": client.futures_leverage_bracket(symbol="BTCUSDT"),
                "position": client.futures_position_information(symbol="BTCUSDT")}

    got = await asyncio.to_thread(calls)
    assert (got["canceled"]["origClientOrderId"], got["canceled"]["status"]) == ("pb-2", "CANCELED")
    assert got["avg"]["mins"] == 5
    assert [t["id"] for t in got["recent"]] == [a["a"] for a in got["agg"]] == [t["id"] for t in got["mine"]]
    assert got["balance"]["free"] == "0.00999000"
    assert got["fee"][0]["takerCommission"] == "0.00100000"
    assert {d["coin"] for d in got["deposits"]} == {"USDT"}
    assert {c["coin"] for c in got["coins"]} >= {"BTC", "USDT"}
    assert got["refused"] == -1111  # a spot-sized quantity on the perpetual
    assert {r["incomeType"] for r in got["income"]} == {"TRANSFER", "COMMISSION"}
    assert got["brackets"]["brackets"][0]["initialLeverage"] == 125
    assert [p["positionAmt"] for p in got["position"]] == ["0.002"]
    assert [o.client_order_id for o in sim.orders("a")] == ["pb-1", "pb-2"]
    assert [o.client_order_id for o in sim.futures_orders("a")] == ["pb-f"]
