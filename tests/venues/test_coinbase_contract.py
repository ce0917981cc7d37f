"""CcxtVenue passes the venue contract through unmodified ccxt and ccxt.pro (coinbase) against
the simulator speaking Coinbase Advanced Trade (spot); plus what is Coinbase's own: the ES256
JWT per request, its error answers, client_order_id's idempotency, and recovery after an
unknown outcome with no lookup by client order id."""

import json
import time
import uuid
from decimal import Decimal

import aiohttp
import jwt
import pytest_asyncio

from services.replication.venues.ccxt_venue import CcxtVenue
from tests.venues.contract import Fault, VenueContract, VenueHarness, new_cid
from venue_sim import Simulator, ccxt_config
from venue_sim.coinbase import new_credentials

FAULT_KINDS = {Fault.ERROR_AFTER_ACCEPT: "http_5xx_after_accept", Fault.UNKNOWN_AFTER_ACCEPT: "unknown_after_accept",
               Fault.DISCONNECT_AFTER_ACCEPT: "disconnect_after_accept", Fault.RATE_LIMIT: "rate_limit",
               Fault.REJECT: "reject", Fault.LATENCY: "latency"}
CREATE = "POST /api/v3/brokerage/orders"


async def coinbase_venue(sim: Simulator, account, *, secret: str | None = None, timeout_s: float | None = None,
                         venues: list | None = None, connect: bool = True) -> CcxtVenue:
    config = ccxt_config(sim.url, rate_limit=False, exchange="coinbase")
    if timeout_s is not None:
        config["timeout"] = int(timeout_s * 1000)
    venue = CcxtVenue("coinbase", api_key=account.api_key, secret=secret or account.secret, market_type="spot",
                      config=config)
    if venues is not None:
        venues.append(venue)
    if connect:
        await venue.connect()
    return venue


@pytest_asyncio.fixture
async def harness():
    sim = await Simulator(seed=7, dialect="coinbase").start()
    account = sim.create_account("trader", {"USDT": "1000000", "BTC": "10"})
    venues: list[CcxtVenue] = []
    admin = aiohttp.ClientSession(base_url=sim.url)

    async def make_venue(*, bad_credentials: bool = False, timeout_s: float | None = None) -> CcxtVenue:
        # Coinbase's markets are read with the key too (the fee tier): a bad key is heard at the
        # first call that loads them, here the order.
        return await coinbase_venue(sim, account, secret=new_credentials()[1] if bad_credentials else None,
                                    timeout_s=timeout_s, venues=venues, connect=not bad_credentials)

    async def set_price(price: Decimal) -> None:
        async with admin.post("/_sim/prices", json={"symbol": "BTCUSDT", "price": str(price)}) as response:
            assert response.status == 200

    async def orders_at_venue(client_order_id: str) -> int:
        async with admin.get("/_sim/accounts/trader/orders", params={"clientOrderId": client_order_id}) as response:
            return len(await response.json())

    async def trade_time(client_order_id: str) -> float:
        return next(t.at for t in sim.trades("trader") if t.client_order_id == client_order_id)

    async def inject(fault: Fault, *, operation: str, retry_after: int = 1, latency_ms: int = 0) -> None:
        sim.inject(kind=FAULT_KINDS[fault], account="trader", endpoint=CREATE if operation == "place" else "*",
                   retry_after=retry_after, latency_ms=latency_ms,
                   **({"msg": "Order size is too small"} if fault == Fault.REJECT else {}))

    async def drop_streams() -> None:
        assert await sim.drop_streams("trader") >= 1

    yield VenueHarness(
        venue=await make_venue(), symbol="BTC/USDT", quantity=Decimal("0.01"), unaffordable_quantity=Decimal("1000"),
        derivatives=False, price=lambda: sim.price("BTCUSDT"), set_price=set_price, orders_at_venue=orders_at_venue,
        trade_time=trade_time, inject=inject, make_venue=make_venue, stop_venue=sim.stop, drop_streams=drop_streams,
        stream_subscribed=lambda: sim.stream_subscribed("trader"), says_when_to_retry=False)
    for venue in venues:
        await venue.close()
    await admin.close()
    await sim.stop()


class TestCcxtCoinbaseOnSimulator(VenueContract):
    pass


# --- Coinbase's own protocol, below ccxt -------------------------------------------------------

class RawCoinbase:
    """Signs Advanced Trade requests by hand: an ES256 JWT per request, the key name as kid."""

    def __init__(self, sim: Simulator, key_name: str, pem: str) -> None:
        self.sim, self.key_name, self.pem = sim, key_name, pem
        self.http = aiohttp.ClientSession(base_url=sim.url)

    def token(self, uri: str | None, *, pem: str | None = None, lifetime: int = 120, now: int | None = None) -> str:
        now = int(time.time()) if now is None else now
        claims = {"sub": self.key_name, "iss": "cdp", "nbf": now, "exp": now + lifetime}
        if uri is not None:
            claims["uri"] = uri
        return jwt.encode(claims, pem or self.pem, algorithm="ES256",
                          headers={"kid": self.key_name, "nonce": uuid.uuid4().hex})

    async def call(self, method: str, path: str, body: dict | None = None, *, token: str | None = None):
        host = self.sim.url.removeprefix("http://")
        token = token if token is not None else self.token(f"{method} {host}{path}")
        async with self.http.request(method, path, data=json.dumps(body) if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"}) as response:
            payload = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, payload

    async def close(self) -> None:
        await self.http.close()


@pytest_asyncio.fixture
async def coinbase():
    sim = await Simulator(seed=5, dialect="coinbase").start()
    account = sim.create_account("raw", {"USDT": "1000"})
    client = RawCoinbase(sim, account.api_key, account.secret)
    yield sim, client
    await client.close()
    await sim.stop()


def market_buy(client_order_id: str | None, base_size: str = "0.001") -> dict:
    order = {"product_id": "BTC-USDT", "side": "BUY", "order_configuration": {"market_market_ioc": {"base_size": base_size}}}
    return {**order, "client_order_id": client_order_id} if client_order_id is not None else order


async def test_requests_carry_a_short_lived_es256_jwt_for_their_method_and_path(coinbase):
    sim, client = coinbase
    host = sim.url.removeprefix("http://")
    orders = "/api/v3/brokerage/orders"
    refused = {
        "signed by another key": client.token(f"POST {host}{orders}", pem=new_credentials()[1]),
        "expired": client.token(f"POST {host}{orders}", now=int(time.time()) - 300),
        "living longer than two minutes": client.token(f"POST {host}{orders}", lifetime=600),
        "for another path": client.token(f"POST {host}/api/v3/brokerage/orders/batch_cancel"),
        "for another method": client.token(f"GET {host}{orders}"),
    }
    for why, token in refused.items():
        assert await client.call("POST", orders, market_buy(new_cid()), token=token) == (401, "Unauthorized\n"), why
    assert sim.orders("raw") == []
    status, body = await client.call("POST", orders, market_buy("ok-1"))
    assert status == 200 and body["success"] is True and body["success_response"]["client_order_id"] == "ok-1"
    assert len(sim.orders("raw")) == 1


async def test_client_order_id_is_required_and_a_repeat_answers_with_the_first_order(coinbase):
    sim, client = coinbase
    status, body = await client.call("POST", "/api/v3/brokerage/orders", market_buy(None))
    assert (status, body["error"]) == (400, "INVALID_ARGUMENT")
    first = await client.call("POST", "/api/v3/brokerage/orders", market_buy("same-id"))
    again = await client.call("POST", "/api/v3/brokerage/orders", market_buy("same-id", base_size="0.002"))
    assert first[1]["success"] and again[1]["success"]
    assert again[1]["success_response"]["order_id"] == first[1]["success_response"]["order_id"]
    assert [o.orig_qty for o in sim.orders("raw", client_order_id="same-id")] == [Decimal("0.001")]


async def test_a_refused_order_is_http_200_with_success_false_and_the_reason(coinbase):
    sim, client = coinbase
    status, body = await client.call("POST", "/api/v3/brokerage/orders", market_buy("too-big", base_size="1"))
    assert status == 200 and body["success"] is False and body["order_id"] == ""
    assert body["error_response"]["error"] == "INSUFFICIENT_FUND"
    assert body["error_response"]["preview_failure_reason"] == "PREVIEW_INSUFFICIENT_FUND"
    status, body = await client.call("GET", f"/api/v3/brokerage/orders/historical/{uuid.uuid4()}")
    assert (status, body["error"]) == (404, "NOT_FOUND")
    assert sim.orders("raw") == []


async def test_the_user_channel_refuses_a_token_that_does_not_verify(coinbase):
    sim, client = coinbase
    async with client.http.ws_connect("/") as ws:
        await ws.send_json({"type": "subscribe", "channel": "user", "product_ids": [],
                            "jwt": client.token(None, pem=new_credentials()[1])})
        assert (await ws.receive_json(timeout=5)) == {"type": "error", "message": "authentication failure"}
        await ws.send_json({"type": "subscribe", "channel": "user", "product_ids": [], "jwt": client.token(None)})
        subscribed = await ws.receive_json(timeout=5)
        assert subscribed["channel"] == "subscriptions" and "user" in subscribed["events"][0]["subscriptions"]
        snapshot = await ws.receive_json(timeout=5)
        assert snapshot["channel"] == "user" and snapshot["events"][0]["type"] == "snapshot"
        assert sim.stream_subscribed("raw")
