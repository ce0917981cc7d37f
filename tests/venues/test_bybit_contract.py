"""CcxtVenue passes the venue contract through unmodified ccxt and ccxt.pro (bybit) against the
simulator speaking Bybit v5, for spot and for linear perpetuals; plus what is Bybit's own:
signing, retCodes, orderLinkId rules and the request limits."""

from decimal import Decimal

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio

from services.replication.venues.base import ErrorKind, OrderRequest, VenueError
from services.replication.venues.ccxt_venue import CcxtVenue
from tests.venues.contract import Fault, VenueContract, VenueHarness, new_cid
from venue_sim import Simulator, ccxt_config

MARKETS = {"spot": {"symbol": "BTC/USDT", "category": "spot", "orders": "spot"},
           "swap": {"symbol": "BTC/USDT:USDT", "category": "linear", "orders": "linear"}}
FAULT_KINDS = {Fault.ERROR_AFTER_ACCEPT: "http_5xx_after_accept", Fault.UNKNOWN_AFTER_ACCEPT: "unknown_after_accept",
               Fault.DISCONNECT_AFTER_ACCEPT: "disconnect_after_accept", Fault.RATE_LIMIT: "rate_limit",
               Fault.REJECT: "reject", Fault.LATENCY: "latency"}
QUERY = {"spot": "GET /v5/order/realtime", "swap": "GET /v5/order/realtime"}


@pytest_asyncio.fixture(params=list(MARKETS))
async def harness(request):
    market = MARKETS[request.param]
    sim = await Simulator(seed=7, dialect="bybit").start()
    account = sim.create_account("trader", {"USDT": "1000000", "BTC": "10"}, futures_wallet="1000000")
    venues: list[CcxtVenue] = []
    admin = aiohttp.ClientSession(base_url=sim.url)

    async def make_venue(*, bad_credentials: bool = False, timeout_s: float | None = None) -> CcxtVenue:
        config = ccxt_config(sim.url, rate_limit=False, market=request.param, exchange="bybit")
        if timeout_s is not None:
            config["timeout"] = int(timeout_s * 1000)
        venue = CcxtVenue("bybit", api_key=account.api_key, secret="0" * 64 if bad_credentials else account.secret,
                          market_type=request.param, config=config)
        venues.append(venue)
        await venue.connect()
        return venue

    async def set_price(price: Decimal) -> None:
        async with admin.post("/_sim/prices", json={"symbol": "BTCUSDT", "price": str(price)}) as response:
            assert response.status == 200

    async def orders_at_venue(client_order_id: str) -> int:
        async with admin.get("/_sim/accounts/trader/orders",
                             params={"market": market["orders"], "clientOrderId": client_order_id}) as response:
            return len(await response.json())

    async def trade_time(client_order_id: str) -> float:
        trades = [t for t in sim.trades("trader", "spot" if request.param == "spot" else "futures")
                  if t.client_order_id == client_order_id]
        return trades[0].at

    async def inject(fault: Fault, *, operation: str, retry_after: int = 1, latency_ms: int = 0) -> None:
        endpoint = {"place": "POST /v5/order/create", "query": QUERY[request.param]}[operation]
        reject = {"code": 170140 if request.param == "spot" else 110094,
                  "msg": "Order does not meet minimum order value 5USDT"}
        sim.inject(kind=FAULT_KINDS[fault], account="trader", endpoint=endpoint, retry_after=retry_after,
                   latency_ms=latency_ms, **(reject if fault == Fault.REJECT else {}))

    async def drop_streams() -> None:
        assert await sim.drop_streams("trader") >= 1

    yield VenueHarness(
        venue=await make_venue(), symbol=market["symbol"], quantity=Decimal("0.01"),
        unaffordable_quantity=Decimal("1000"), derivatives=request.param == "swap",
        price=lambda: sim.price("BTCUSDT"), set_price=set_price, orders_at_venue=orders_at_venue,
        trade_time=trade_time, inject=inject, make_venue=make_venue, stop_venue=sim.stop,
        drop_streams=drop_streams, stream_subscribed=lambda: sim.stream_subscribed("trader"))
    for venue in venues:
        await venue.close()
    await admin.close()
    await sim.stop()


class TestCcxtBybitOnSimulator(VenueContract):
    pass


# --- Bybit's own protocol, below ccxt ---------------------------------------------------------

class RawBybit:
    """Signs v5 requests by hand: HMAC-SHA256(timestamp + key + recvWindow + query|body)."""

    def __init__(self, sim: Simulator, api_key: str, secret: str) -> None:
        self.api_key, self.secret = api_key, secret
        self.http = aiohttp.ClientSession(base_url=sim.url)

    async def call(self, method: str, path: str, params: dict, *, secret: str | None = None,
                   timestamp: int | None = None):
        import hashlib
        import hmac
        import json
        import time
        from urllib.parse import urlencode

        stamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
        payload = json.dumps(params) if method == "POST" else urlencode(params)
        sign = hmac.new((secret or self.secret).encode(), (stamp + self.api_key + "5000" + payload).encode(),
                        hashlib.sha256).hexdigest()
        headers = {"X-BAPI-API-KEY": self.api_key, "X-BAPI-TIMESTAMP": stamp, "X-BAPI-RECV-WINDOW": "5000",
                   "X-BAPI-SIGN": sign, "Content-Type": "application/json"}
        url = path if method == "POST" else f"{path}?{payload}"
        async with self.http.request(method, url, data=payload if method == "POST" else None,
                                     headers=headers) as response:
            body = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, body, response.headers

    async def close(self) -> None:
        await self.http.close()


@pytest_asyncio.fixture
async def bybit():
    sim = await Simulator(seed=5, dialect="bybit").start()
    account = sim.create_account("raw", {"USDT": "100000"}, futures_wallet="100000")
    client = RawBybit(sim, account.api_key, account.secret)
    yield sim, client
    await client.close()
    await sim.stop()


def order(link_id: str, category: str = "linear", qty: str = "0.01") -> dict:
    return {"category": category, "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": qty,
            "orderLinkId": link_id}


async def test_requests_are_signed_and_timed_as_bybit_does(bybit):
    sim, client = bybit
    status, body, _ = await client.call("POST", "/v5/order/create", order("a"), secret="f" * 64)
    assert (status, body["retCode"]) == (200, 10004)  # error sign!
    status, body, _ = await client.call("POST", "/v5/order/create", order("b"), timestamp=1_000)
    assert body["retCode"] == 10002  # outside recvWindow
    status, body, _ = await client.call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
    assert body["retCode"] == 0 and body["result"]["list"][0]["accountType"] == "UNIFIED"
    assert sim.futures_orders("raw") == []


async def test_order_link_ids_follow_bybits_charset_and_length(bybit):
    sim, client = bybit
    for bad in ("has.dot", "has:colon", "x" * 37):
        _, body, _ = await client.call("POST", "/v5/order/create", order(bad))
        assert body["retCode"] == 10001, bad
    _, body, _ = await client.call("POST", "/v5/order/create", order("ok_ID-" + "9" * 30))
    assert body["retCode"] == 0 and body["result"]["orderLinkId"] == "ok_ID-" + "9" * 30
    assert len(sim.futures_orders("raw")) == 1


async def test_per_uid_endpoint_limit_answers_10006_with_the_limit_headers(bybit):
    sim, client = bybit
    sim.rate_limits.set_limit("raw", "/v5/order/create", 3, category="linear")
    answers = [await client.call("POST", "/v5/order/create", order(f"r{i}")) for i in range(4)]
    assert [b["retCode"] for _, b, _ in answers] == [0, 0, 0, 10006]
    assert [h["X-Bapi-Limit-Status"] for _, _, h in answers[:3]] == ["2", "1", "0"]
    _, _, refused = answers[3]
    assert refused["X-Bapi-Limit"] == "3" and int(refused["X-Bapi-Limit-Reset-Timestamp"]) > 0
    assert len(sim.futures_orders("raw")) == 3 and sim.rate_limits.refused_uid == 1
    # Spot has its own budget on the same endpoint.
    _, body, _ = await client.call("POST", "/v5/order/create", order("s0", "spot", "100"))
    assert body["retCode"] == 0


async def test_an_ip_past_its_limit_is_banned_with_403(bybit):
    sim, client = bybit
    sim.rate_limits.ip_limit = 5
    statuses = [(await client.call("GET", "/v5/position/list", {"category": "linear", "settleCoin": "USDT"}))[0]
                for _ in range(7)]
    assert statuses == [200] * 5 + [403, 403]
    sim.rate_limits.lift_bans()
    assert (await client.call("GET", "/v5/position/list", {"category": "linear", "settleCoin": "USDT"}))[0] == 200


async def test_ccxt_hears_bybits_limits_as_rate_limit_errors_with_a_retry_time(bybit):
    sim, _ = bybit
    account = sim.exchange.accounts["raw"]
    venue = CcxtVenue("bybit", api_key=account.api_key, secret=account.secret, market_type="swap",
                      config=ccxt_config(sim.url, rate_limit=False, market="swap", exchange="bybit"))
    await venue.connect()
    try:
        sim.rate_limits.set_limit("raw", "/v5/order/create", 1, category="linear")
        await venue.place_order(OrderRequest(new_cid(), "BTC/USDT:USDT", "buy", Decimal("0.01")))
        with pytest.raises(VenueError) as err:
            await venue.place_order(OrderRequest(new_cid(), "BTC/USDT:USDT", "buy", Decimal("0.01")))
        assert err.value.kind == ErrorKind.RATE_LIMIT and err.value.retry_after in (0.0, 1.0)
        sim.rate_limits.ip_limit = 0  # every further request is past the IP limit: banned
        with pytest.raises(VenueError) as err:
            await venue.fetch_order(new_cid(), "BTC/USDT:USDT")
        assert err.value.kind == ErrorKind.RATE_LIMIT and err.value.retry_after == sim.rate_limits.ip_ban_s
    finally:
        await venue.close()


async def test_private_stream_refuses_a_bad_signature(bybit):
    sim, _ = bybit
    account = sim.exchange.accounts["raw"]
    exchange = __import__("ccxt.pro", fromlist=["bybit"]).bybit(
        {**ccxt_config(sim.url, market="swap", exchange="bybit"), "apiKey": account.api_key, "secret": "0" * 64})
    try:
        with pytest.raises(ccxt_async.AuthenticationError):
            await exchange.watch_my_trades()
        assert not sim.stream_subscribed("raw")
    finally:
        await exchange.close()


@pytest.mark.parametrize("market,symbol,fee_coin", [("spot", "BTC/USDT", "BTC"), ("swap", "BTC/USDT:USDT", "USDT")])
async def test_ccxt_reads_an_orders_fee_from_cum_fee_detail(bybit, market, symbol, fee_coin):
    """Bybit v5 orders carry cumFeeDetail ({coin: fee}); ccxt takes an order's fee from it alone."""
    sim, _ = bybit
    account = sim.exchange.accounts["raw"]
    exchange = ccxt_async.bybit({**ccxt_config(sim.url, rate_limit=False, market=market, exchange="bybit"),
                                 "apiKey": account.api_key, "secret": account.secret})
    try:
        placed = await exchange.create_order(symbol, "market", "buy", 0.01, params={"orderLinkId": f"fee-{market}"})
        fetched = await exchange.fetch_order(placed["id"], symbol, {"acknowledged": True})
        [trade] = sim.trades("raw", "spot" if market == "spot" else "futures")
        assert fetched["fee"] == {"cost": float(trade.commission), "currency": fee_coin}
        assert trade.commission > 0
    finally:
        await exchange.close()
