"""CcxtVenue passes the venue contract through unmodified ccxt and ccxt.pro (okx) against the
simulator speaking OKX v5, for spot and for USDT-margined perpetuals (SWAP, in contracts);
plus what is OKX's own: signing with the passphrase, the codes and statuses of refusals,
clOrdId rules and the private stream's login."""

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import ccxt.async_support as ccxt_async
import ccxt.pro
import pytest
import pytest_asyncio

from services.replication.venues.base import ErrorKind, OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from tests.venues.contract import VenueContract, new_cid
from tests.venues.dialect_harness import DialectMarket, dialect_harness
from venue_sim import Simulator, ccxt_config

# ccxt's okx places every order through batch-orders (a list of one), its lower-limited endpoint.
INSUFFICIENT = {"code": 51008, "msg": "Order failed. Insufficient USDT balance in account."}
MARKETS = {"spot": DialectMarket("BTC/USDT", "spot", "0.01", "1000", "POST /api/v5/trade/batch-orders",
                                 "GET /api/v5/trade/order", INSUFFICIENT),
           "swap": DialectMarket("BTC/USDT:USDT", "futures", "1", "100000", "POST /api/v5/trade/batch-orders",
                                 "GET /api/v5/trade/order", INSUFFICIENT)}


@pytest_asyncio.fixture(params=list(MARKETS))
async def harness(request):
    async with dialect_harness("okx", request.param, MARKETS[request.param], says_when_to_retry=False) as started:
        yield started


class TestCcxtOkxOnSimulator(VenueContract):
    pass


# --- OKX's own protocol, below ccxt ------------------------------------------------------------

class RawOkx:
    """Signs v5 requests by hand: base64 HMAC-SHA256(timestamp + METHOD + path?query + body)."""

    def __init__(self, sim: Simulator, api_key: str, secret: str, passphrase: str) -> None:
        self.api_key, self.secret, self.passphrase = api_key, secret, passphrase
        self.http = aiohttp.ClientSession(base_url=sim.url)

    async def call(self, method: str, path: str, params: dict | list | None = None, *, secret: str | None = None,
                   passphrase: str | None = None, at: float | None = None):
        stamp = datetime.fromtimestamp(at if at is not None else time.time(), UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        body = json.dumps(params) if method == "POST" else ""
        if method == "GET" and params:
            path += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        sign = base64.b64encode(hmac.new((secret or self.secret).encode(), (stamp + method + path + body).encode(),
                                         hashlib.sha256).digest()).decode()
        headers = {"OK-ACCESS-KEY": self.api_key, "OK-ACCESS-SIGN": sign, "OK-ACCESS-TIMESTAMP": stamp,
                   "OK-ACCESS-PASSPHRASE": passphrase or self.passphrase, "Content-Type": "application/json"}
        async with self.http.request(method, path, data=body or None, headers=headers) as response:
            return response.status, await response.json()

    async def close(self) -> None:
        await self.http.close()


@pytest_asyncio.fixture
async def okx():
    sim = await Simulator(seed=5, dialect="okx").start()
    account = sim.create_account("raw", {"USDT": "100000"}, futures_wallet="100000")
    client = RawOkx(sim, account.api_key, account.secret, account.passphrase)
    yield sim, client
    await client.close()
    await sim.stop()


def order(cl_ord_id: str, inst_id: str = "BTC-USDT-SWAP", sz: str = "1", td_mode: str = "cross") -> dict:
    return {"instId": inst_id, "tdMode": td_mode, "side": "buy", "ordType": "market", "sz": sz, "clOrdId": cl_ord_id}


async def test_requests_are_signed_with_the_passphrase_and_timed_as_okx_does(okx):
    sim, client = okx
    assert await client.call("POST", "/api/v5/trade/order", order("a1"), secret="f" * 64) == \
        (401, {"code": "50113", "msg": "Invalid Sign.", "data": []})
    status, body = await client.call("POST", "/api/v5/trade/order", order("a2"), passphrase="not-the-one")
    assert (status, body["code"]) == (401, "50105")
    status, body = await client.call("POST", "/api/v5/trade/order", order("a3"), at=time.time() - 60)
    assert (status, body["code"]) == (401, "50102")  # outside OKX's 30 s
    status, body = await client.call("GET", "/api/v5/account/balance")
    assert status == 200 and body["code"] == "0" and body["data"][0]["details"]
    assert sim.futures_orders("raw") == []


async def test_an_order_refusal_is_http_200_code_1_with_the_orders_own_scode(okx):
    sim, client = okx
    status, body = await client.call("POST", "/api/v5/trade/batch-orders", [order("big", sz="100000")])
    assert (status, body["code"], body["msg"]) == (200, "1", "All operations failed")
    assert body["data"][0]["sCode"] == "51008" and body["data"][0]["clOrdId"] == "big"  # insufficient margin
    status, body = await client.call("POST", "/api/v5/trade/order", order("odd", sz="0.005"))
    assert body["data"][0]["sCode"] == "51121"  # not a whole number of lots (0.01 contracts)
    status, body = await client.call("POST", "/api/v5/trade/order", order("cash", inst_id="BTC-USDT", sz="0.001"))
    assert body["data"][0]["sCode"] == "51000" and body["data"][0]["sMsg"] == "Parameter tdMode error"
    assert sim.futures_orders("raw") == [] and sim.orders("raw") == []


async def test_cl_ord_ids_are_letters_and_digits_up_to_32_and_never_reused(okx):
    sim, client = okx
    for bad in ("has-dash", "has_underscore", "x" * 33):
        _, body = await client.call("POST", "/api/v5/trade/order", order(bad))
        assert (body["code"], body["data"][0]["sCode"], body["data"][0]["sMsg"]) == (
            "1", "51000", "Parameter clOrdId error"), bad
    ok = "Ok" + "9" * 30
    _, body = await client.call("POST", "/api/v5/trade/order", order(ok))
    assert body["code"] == "0" and body["data"][0]["clOrdId"] == ok
    _, body = await client.call("POST", "/api/v5/trade/order", order(ok))  # filled, yet still refused
    assert body["data"][0]["sCode"] == "51016"
    assert [o.client_order_id for o in sim.futures_orders("raw")] == [ok]
    # Asked for by clOrdId, OKX shows contracts: 1 contract of 0.01 BTC.
    _, body = await client.call("GET", "/api/v5/trade/order", {"instId": "BTC-USDT-SWAP", "clOrdId": ok})
    assert (body["data"][0]["sz"], body["data"][0]["accFillSz"], body["data"][0]["state"]) == ("1", "1", "filled")
    assert sim.futures_orders("raw")[0].orig_qty == Decimal("0.01")
    _, body = await client.call("GET", "/api/v5/trade/order", {"instId": "BTC-USDT-SWAP", "clOrdId": "never"})
    assert body == {"code": "51603", "msg": "Order does not exist", "data": []}


async def test_private_stream_refuses_a_bad_signature(okx):
    sim, _ = okx
    account = sim.exchange.accounts["raw"]
    exchange = ccxt.pro.okx({**ccxt_config(sim.url, market="swap", exchange="okx"), "apiKey": account.api_key,
                             "secret": "0" * 64, "password": account.passphrase})
    try:
        with pytest.raises(ccxt_async.AuthenticationError):
            await exchange.watch_my_trades()
        assert not sim.stream_subscribed("raw")
    finally:
        await exchange.close()


async def test_a_reduce_only_order_with_nothing_to_reduce_is_a_refusal_not_an_unknown_outcome(okx):
    """OKX answers 51169 (HTTP 200, code "1"), a code ccxt does not map: still a definite no."""
    sim, _ = okx
    account = sim.exchange.accounts["raw"]
    venue = CcxtVenue("okx", api_key=account.api_key, secret=account.secret, password=account.passphrase,
                      market_type="swap", config=ccxt_config(sim.url, rate_limit=False, market="swap", exchange="okx"))
    await venue.connect()
    try:
        cid = new_cid()
        with pytest.raises(Exception) as err:
            await venue.place_order(OrderRequest(cid, "BTC/USDT:USDT", "buy", Decimal(1), reduce_only=True))
        assert err.value.kind == ErrorKind.REJECTED and "51169" in str(err.value)
        assert sim.futures_orders("raw", cid) == []
    finally:
        await venue.close()
