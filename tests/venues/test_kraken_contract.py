"""CcxtVenue passes the venue contract through unmodified ccxt and ccxt.pro (kraken) against the
simulator speaking Kraken spot (REST /0 and WebSocket v2); plus what is Kraken's own: API-Sign
over a growing nonce, its error strings, cl_ord_id's formats and its lookup by cl_ord_id."""

import asyncio
import base64
import time
import uuid
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import pytest_asyncio

from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue, venue_client_order_id
from tests.venues.contract import Fault, VenueContract, VenueHarness
from venue_sim import Simulator, ccxt_config
from venue_sim.kraken import sign

FAULT_KINDS = {Fault.ERROR_AFTER_ACCEPT: "http_5xx_after_accept", Fault.UNKNOWN_AFTER_ACCEPT: "unknown_after_accept",
               Fault.DISCONNECT_AFTER_ACCEPT: "disconnect_after_accept", Fault.RATE_LIMIT: "rate_limit",
               Fault.REJECT: "reject", Fault.LATENCY: "latency"}
ADD_ORDER = "POST /0/private/AddOrder"


async def kraken_venue(sim: Simulator, account, *, secret: str | None = None, timeout_s: float | None = None,
                       venues: list | None = None, connect: bool = True) -> CcxtVenue:
    config = ccxt_config(sim.url, rate_limit=False, exchange="kraken")
    if timeout_s is not None:
        config["timeout"] = int(timeout_s * 1000)
    venue = CcxtVenue("kraken", api_key=account.api_key, secret=secret or account.secret, market_type="spot",
                      config=config)
    if venues is not None:
        venues.append(venue)
    if connect:
        await venue.connect()
    return venue


@pytest_asyncio.fixture
async def harness():
    sim = await Simulator(seed=7, dialect="kraken").start()
    account = sim.create_account("trader", {"USDT": "1000000", "BTC": "10"})
    venues: list[CcxtVenue] = []
    admin = aiohttp.ClientSession(base_url=sim.url)

    async def make_venue(*, bad_credentials: bool = False, timeout_s: float | None = None) -> CcxtVenue:
        return await kraken_venue(sim, account, secret="0" * 88 if bad_credentials else None, timeout_s=timeout_s,
                                  venues=venues)

    async def set_price(price: Decimal) -> None:
        async with admin.post("/_sim/prices", json={"symbol": "BTCUSDT", "price": str(price)}) as response:
            assert response.status == 200

    async def orders_at_venue(client_order_id: str) -> int:
        # Kraken holds the cl_ord_id the adapter made of our id (a UUID: ours is longer than 18)
        params = {"clientOrderId": venue_client_order_id("kraken", client_order_id)}
        async with admin.get("/_sim/accounts/trader/orders", params=params) as response:
            return len(await response.json())

    async def trade_time(client_order_id: str) -> float:
        wanted = venue_client_order_id("kraken", client_order_id)
        return next(t.at for t in sim.trades("trader") if t.client_order_id == wanted)

    async def inject(fault: Fault, *, operation: str, retry_after: int = 1, latency_ms: int = 0) -> None:
        sim.inject(kind=FAULT_KINDS[fault], account="trader", endpoint=ADD_ORDER if operation == "place" else "*",
                   retry_after=retry_after, latency_ms=latency_ms,
                   **({"msg": "EOrder:Order minimum not met"} if fault == Fault.REJECT else {}))

    async def drop_streams() -> None:
        assert await sim.drop_streams("trader") >= 1

    yield VenueHarness(
        venue=await make_venue(), symbol="BTC/USDT", quantity=Decimal("0.01"), unaffordable_quantity=Decimal("1000"),
        derivatives=False, price=lambda: sim.price("BTCUSDT"), set_price=set_price, orders_at_venue=orders_at_venue,
        trade_time=trade_time, inject=inject, make_venue=make_venue, stop_venue=sim.stop, drop_streams=drop_streams,
        stream_subscribed=lambda: sim.stream_subscribed("trader"), says_when_to_retry=False,
        as_held=lambda client_order_id: venue_client_order_id("kraken", client_order_id))
    for venue in venues:
        await venue.close()
    await admin.close()
    await sim.stop()


class TestCcxtKrakenOnSimulator(VenueContract):
    pass


# --- Kraken's own protocol, below ccxt ---------------------------------------------------------

class RawKraken:
    """Signs private calls by hand: a form body with a nonce; API-Sign = base64 HMAC-SHA512 of the
    path + SHA256(nonce + body), keyed by the base64-decoded secret."""

    def __init__(self, sim: Simulator, api_key: str, secret: str) -> None:
        self.api_key, self.secret = api_key, secret
        self.http = aiohttp.ClientSession(base_url=sim.url)
        self.nonce = int(time.time() * 1000)

    async def call(self, name: str, params: dict | None = None, *, secret: str | None = None,
                   nonce: int | None = None) -> dict:
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        body = urlencode({"nonce": nonce, **(params or {})})
        path = f"/0/private/{name}"
        headers = {"API-Key": self.api_key, "API-Sign": sign(path, body, str(nonce), secret or self.secret),
                   "Content-Type": "application/x-www-form-urlencoded"}
        async with self.http.post(path, data=body, headers=headers) as response:
            assert response.status == 200
            return await response.json()

    async def close(self) -> None:
        await self.http.close()


@pytest_asyncio.fixture
async def kraken():
    sim = await Simulator(seed=5, dialect="kraken", client_id_scope="open").start()  # Kraken's own rule
    account = sim.create_account("raw", {"USDT": "100000"})
    client = RawKraken(sim, account.api_key, account.secret)
    yield sim, client
    await client.close()
    await sim.stop()


def order(**extra) -> dict:
    return {"pair": "XBTUSDT", "type": "buy", "ordertype": "market", "volume": "0.001", **extra}


async def test_calls_are_signed_with_hmac_sha512_over_a_growing_nonce(kraken):
    sim, client = kraken
    other_secret = base64.b64encode(b"\x01" * 64).decode()
    assert (await client.call("AddOrder", order(), secret=other_secret))["error"] == ["EAPI:Invalid key"]
    assert (await client.call("BalanceEx"))["error"] == []
    assert (await client.call("AddOrder", order(), nonce=client.nonce))["error"] == ["EAPI:Invalid nonce"]  # reused
    assert (await client.call("AddOrder", order(), nonce=client.nonce - 5))["error"] == ["EAPI:Invalid nonce"]
    assert sim.orders("raw") == []
    placed = await client.call("AddOrder", order())
    assert placed["error"] == [] and placed["result"]["txid"][0].startswith("O")
    assert len(sim.orders("raw")) == 1


async def test_cl_ord_id_is_a_uuid_or_at_most_18_characters_and_never_with_userref(kraken):
    sim, client = kraken
    for bad in ("x" * 19, "ct" + "a" * 26, "not a-uuid-but-long-text"):
        assert (await client.call("AddOrder", order(cl_ord_id=bad)))["error"] == ["EOrder:Invalid reference id"], bad
    assert (await client.call("AddOrder", order(userref=2**31)))["error"] == ["EOrder:Invalid reference id"]
    assert (await client.call("AddOrder", order(cl_ord_id="a" * 18, userref=7)))["error"][0].startswith(
        "EGeneral:Invalid arguments")
    assert sim.orders("raw") == []
    for good in ("a" * 18, str(uuid.uuid4()), uuid.uuid4().hex):
        assert (await client.call("AddOrder", order(cl_ord_id=good)))["error"] == [], good
    assert (await client.call("AddOrder", order(userref=-(2**31))))["error"] == []
    assert len(sim.orders("raw")) == 4


async def test_cl_ord_id_is_unique_among_open_orders_only_and_finds_the_order(kraken):
    sim, client = kraken
    resting = order(ordertype="limit", price="10000", cl_ord_id="rest-1")
    assert (await client.call("AddOrder", resting))["error"] == []
    assert (await client.call("AddOrder", resting))["error"] == ["EOrder:Duplicate order"]
    found = await client.call("OpenOrders", {"cl_ord_id": "rest-1"})
    assert [o["cl_ord_id"] for o in found["result"]["open"].values()] == ["rest-1"]
    assert (await client.call("CancelOrder", {"cl_ord_id": "rest-1"}))["result"] == {"count": 1}
    closed = await client.call("ClosedOrders", {"cl_ord_id": "rest-1"})
    assert [o["status"] for o in closed["result"]["closed"].values()] == ["canceled"]
    # Once closed, Kraken takes the same cl_ord_id again: the venue alone does not stop a second order.
    assert (await client.call("AddOrder", order(cl_ord_id="rest-1")))["error"] == []
    assert len(sim.orders("raw", client_order_id="rest-1")) == 2


async def test_the_executions_channel_wants_a_token_from_rest(kraken):
    sim, client = kraken
    token = (await client.call("GetWebSocketsToken"))["result"]["token"]
    async with client.http.ws_connect("/v2") as ws:
        await ws.send_json({"method": "subscribe", "params": {"channel": "executions", "token": "forged"}, "req_id": 1})
        refused = await ws.receive_json(timeout=5)
        assert (refused["success"], refused["error"]) == (False, "ESession:Invalid session")
        await ws.send_json({"method": "subscribe", "params": {"channel": "executions", "token": token}, "req_id": 2})
        assert (await ws.receive_json(timeout=5))["success"] is True
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        assert sim.stream_subscribed("raw")
        await client.call("AddOrder", order(cl_ord_id="ws-1"))
        events = [(await ws.receive_json(timeout=5))["data"][0] for _ in range(4)]
        assert [e["exec_type"] for e in events] == ["pending_new", "new", "trade", "filled"]
        assert all(e["cl_ord_id"] == "ws-1" for e in events)



async def test_an_order_overtaken_in_transit_by_a_later_call_of_its_key_is_signed_afresh_and_placed():
    """Kraken refuses a nonce not above the key's last one, in the order calls arrive. A copy's
    order held up on the way while the same key's next call (the stream's token, a recovery's
    history read) gets there first is refused unexecuted; the adapter signs it afresh."""
    sim = await Simulator(seed=3, dialect="kraken").start()
    account = sim.create_account("busy", {"USDT": "1000000", "BTC": "10"})
    venue = await kraken_venue(sim, account)
    try:
        sim.inject(kind="latency", account="busy", endpoint=ADD_ORDER, latency_ms=300)
        cid = str(uuid.uuid4())
        placing = asyncio.ensure_future(venue.place_order(OrderRequest(cid, "BTC/USDT", "buy", Decimal("0.01"))))
        await eventually(lambda: any(name == ADD_ORDER for _, name, _ in sim.request_log), message="order on its way")
        await venue.account()  # signed later, there first
        placed = await placing
        assert placed.venue_order_id
        assert len(sim.orders("busy", client_order_id=venue_client_order_id("kraken", cid))) == 1
    finally:
        await venue.close()
        await sim.stop()
