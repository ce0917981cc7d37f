"""CcxtVenue's trade history and stream liveness against the simulator, through unmodified ccxt:
the history is paged the way each venue pages it (Binance's fromId, Bybit's nextPageCursor)
until caught up, and a fill stream counts as up only once the venue has confirmed the
subscription — a stream that dies quietly is noticed against the history and subscribed anew."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio

from services.kit.testing import eventually
from services.replication.venues.base import FillCursor, OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from tests.venues.contract import Collector, new_cid
from venue_sim import Simulator, ccxt_config

VENUES = {  # (dialect, market type) -> (symbol, the history endpoint as the simulator logs it)
    ("binance", "spot"): ("BTC/USDT", "GET /api/v3/myTrades"),
    ("binance", "swap"): ("BTC/USDT:USDT", "GET /fapi/v1/userTrades"),
    ("bybit", "spot"): ("BTC/USDT", "GET /v5/execution/list"),
    ("bybit", "swap"): ("BTC/USDT:USDT", "GET /v5/execution/list"),
}


@pytest_asyncio.fixture
async def on_sim():
    started: list = []

    async def start(dialect: str, market: str):
        sim = await Simulator(seed=3, dialect=dialect).start()
        account = sim.create_account("trader", {"USDT": "1000000", "BTC": "10"}, futures_wallet="1000000")

        def venue(**options) -> CcxtVenue:
            made = CcxtVenue(dialect, api_key=account.api_key, secret=account.secret, market_type=market,
                             config=ccxt_config(sim.url, rate_limit=False, market=market, exchange=dialect),
                             **options)
            started.append(made)
            return made
        started.append(sim)
        return sim, venue
    yield start
    for thing in reversed(started):
        await (thing.close() if isinstance(thing, CcxtVenue) else thing.stop())


def history_requests(sim, endpoint: str) -> int:
    return sum(1 for _, name, _ in sim.request_log if name == endpoint)


@pytest.mark.parametrize("dialect,market", list(VENUES), ids=lambda v: v)
async def test_the_trade_history_is_paged_until_caught_up(on_sim, dialect, market):
    symbol, endpoint = VENUES[(dialect, market)]
    sim, make = await on_sim(dialect, market)
    trader = make()
    await trader.connect()
    since = datetime.now(UTC) - timedelta(seconds=5)
    placed = []
    for i in range(7):
        placed.append((await trader.place_order(OrderRequest(new_cid(), symbol, "buy" if i % 2 == 0 else "sell",
                                                             Decimal("0.01")))).venue_order_id)
    reader = make()
    await reader.connect()
    reader.history_page_size = 3  # the venue's paging, in pages small enough to see
    before = history_requests(sim, endpoint)
    trades = await reader.trades(symbol, since)
    assert [t.venue_order_id for t in trades] == placed  # all of them, oldest first, each once
    assert history_requests(sim, endpoint) - before >= 3  # page after page


async def test_a_cursor_resumes_each_symbol_from_its_own_trade_id(on_sim):
    sim, make = await on_sim("binance", "spot")
    trader = make()
    await trader.connect()
    start = datetime.now(UTC) - timedelta(seconds=5)
    first = await trader.place_order(OrderRequest(new_cid(), "BTC/USDT", "buy", Decimal("0.01")))
    [taken] = [t for t in await trader.trades("BTC/USDT", start) if t.venue_order_id == first.venue_order_id]
    missed = [new_cid() for _ in range(5)]
    for cid in missed:
        await trader.place_order(OrderRequest(cid, "BTC/USDT", "buy", Decimal("0.01")))
    watcher = make()
    await watcher.connect()
    watcher.history_page_size = 2
    fills = Collector(watcher.fills(since=FillCursor(start, {"BTC/USDT": (taken.venue_trade_id, taken.timestamp)})))
    try:
        await eventually(lambda: len(fills.where(lambda f: True)) == len(missed), message="the missed fills")
        assert [f.client_order_id for f in fills.where(lambda f: True)] == missed
        assert all(f.backfilled for f in fills.where(lambda f: True))
    finally:
        await fills.stop()


@pytest.mark.parametrize("dialect", ["binance", "bybit"])
async def test_a_stream_that_dies_quietly_is_noticed_and_subscribed_again(on_sim, dialect):
    sim, make = await on_sim(dialect, "spot")
    watcher = make(liveness_check_s=1.0)
    await watcher.connect()
    states: list[tuple[str, bool]] = []
    watcher.add_stream_listener("test", lambda stream, up: states.append((stream, up)))
    fills = Collector(watcher.fills())
    try:
        await eventually(lambda: sim.stream_subscribed("trader"), message="subscribed")
        first = new_cid()
        await watcher.place_order(OrderRequest(first, "BTC/USDT", "buy", Decimal("0.01")))
        await eventually(lambda: fills.where(lambda f: f.client_order_id == first), message="a live fill")
        assert sim.mute_streams("trader") >= 1  # open, answering pings, delivering nothing
        quiet = new_cid()
        muted_at = time.monotonic()
        await watcher.place_order(OrderRequest(quiet, "BTC/USDT", "buy", Decimal("0.01")))
        [missed] = await eventually(lambda: fills.where(lambda f: f.client_order_id == quiet), timeout=15,
                                    message="the fill the quiet stream did not deliver, from the history")
        assert missed.backfilled and time.monotonic() - muted_at < 1.0 + 2.0 + 3.0  # a check, the lag, slack
        await eventually(lambda: states == [("fill", False), ("fill", True)], timeout=10,
                         message="reported down, subscribed again, reported up")
        after = new_cid()
        await watcher.place_order(OrderRequest(after, "BTC/USDT", "buy", Decimal("0.01")))
        [live] = await eventually(lambda: fills.where(lambda f: f.client_order_id == after), timeout=5,
                                  message="live again")
        assert not live.backfilled
        assert len({f.venue_trade_id for f in fills.where(lambda f: True)}) == len(fills.where(lambda f: True)) == 3
    finally:
        await fills.stop()


@pytest.mark.parametrize("dialect,market", [("binance", "spot"), ("binance", "swap"), ("bybit", "spot")],
                         ids=lambda v: v)
async def test_a_stream_the_venue_refuses_stays_down_until_it_is_subscribed_again(on_sim, dialect, market):
    symbol = VENUES[(dialect, market)][0]
    sim, make = await on_sim(dialect, market)
    watcher = make()
    await watcher.connect()
    states: list[tuple[str, bool]] = []
    watcher.add_stream_listener("test", lambda stream, up: states.append((stream, up)))
    fills = Collector(watcher.fills())
    stream = "spot" if market == "spot" else "futures"
    try:
        await eventually(lambda: sim.stream_subscribed("trader", stream), message="subscribed")
        await sim.hold_streams_down("trader")
        await eventually(lambda: states == [("fill", False)], message="reported down")
        during = new_cid()
        await watcher.place_order(OrderRequest(during, symbol, "buy", Decimal("0.01")))
        # Meanwhile the history is read between attempts: the fill arrives while the stream is down.
        [recovered] = await eventually(lambda: fills.where(lambda f: f.client_order_id == during), timeout=10,
                                       message="the fill made during the outage, from the history")
        assert recovered.backfilled
        await asyncio.sleep(3.0)  # more resubscription attempts, each refused by the venue
        assert states == [("fill", False)], "reported up while the venue refused the subscription"
        await sim.hold_streams_down("trader", down=False)
        await eventually(lambda: states == [("fill", False), ("fill", True)], timeout=15, message="back up")
        after = new_cid()
        await watcher.place_order(OrderRequest(after, symbol, "buy", Decimal("0.01")))
        await eventually(lambda: fills.where(lambda f: f.client_order_id == after), timeout=5, message="live again")
    finally:
        await fills.stop()
