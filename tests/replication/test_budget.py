"""Request budgets: a burst of copies to many followers on one venue stays within the limits the
venue enforces (here the Bybit dialect's per-IP limit), every follower is served in turn, none is
skipped, and each copy reports how long the budget held it back. A request weighs what the venue
says its endpoint weighs, an order counts against its account's order windows, and where the
venue reports its own count (Binance's X-MBX-USED-WEIGHT-1M) the budget follows it."""

import asyncio
import statistics
import time
from dataclasses import replace
from decimal import Decimal

import aiohttp
import pytest

from services.replication.budget import VENUE_LIMITS, Budgets, TokenBucket, Window, measure
from services.replication.venues.base import ErrorKind, OrderRequest, VenueError
from services.replication.venues.ccxt_venue import CcxtVenue
from venue_sim import Simulator, ccxt_config, venue_urls

FOLLOWERS = 500
# The simulator enforces Bybit's per-IP rule with a 1 s window instead of 5 s (the same kind of
# limit, a shorter test): 120 requests a second, then HTTP 403 and a 10-minute ban.
IP_LIMIT, IP_WINDOW_S = 120, 1.0
UNIFIED = ("enableUnifiedMargin", "enableUnifiedAccount", "unifiedMarginStatus")


async def test_a_500_follower_burst_is_paced_within_the_venues_limits_in_arrival_order():
    sim = await Simulator(seed=21, dialect="bybit").start()
    sim.rate_limits.ip_limit, sim.rate_limits.ip_window_s = IP_LIMIT, IP_WINDOW_S
    budgets = Budgets({"bybit": {"swap": replace(VENUE_LIMITS["bybit"]["swap"], ip=Window(IP_LIMIT, IP_WINDOW_S))}})
    http = aiohttp.ClientSession()  # one connection pool for the 500 clients, as one process would have
    venues: list[CcxtVenue] = []
    try:
        sim.rate_limits.enabled = False  # setting up 500 followers is not the burst under test
        for i in range(FOLLOWERS):
            account = sim.create_account(f"f{i:03d}", futures_wallet="10000")
            venue = CcxtVenue("bybit", api_key=account.api_key, secret=account.secret, market_type="swap",
                              config={**ccxt_config(sim.url, market="swap", exchange="bybit"), "session": http})
            if venues:  # what the first client learnt from the venue, so the others need not ask again:
                first = venues[0].exchange  # its markets, and that the accounts are unified ones
                venue.exchange.set_markets(first.markets)
                venue.exchange.options.update({k: first.options[k] for k in UNIFIED})
            await venue.connect()
            if not venues:
                await venue.exchange.is_unified_enabled()
            venues.append(venue)
        for venue in venues:
            venue.use_budget(budgets.for_key("bybit", venue.exchange.apiKey, "swap"))
        sim.rate_limits.enabled = True

        async def copy(i: int, venue: CcxtVenue) -> float:
            with measure() as waited:
                await venue.place_order(OrderRequest(f"burst-{i:03d}", "BTC/USDT:USDT", "buy", Decimal("0.01")))
            return waited[0]

        delays = await asyncio.gather(*(copy(i, v) for i, v in enumerate(venues)))  # one master fill, 500 copies
    finally:
        for venue in venues:
            await venue.close()
        await http.close()
        await sim.stop()

    assert (sim.rate_limits.refused_ip, sim.rate_limits.refused_uid) == (0, 0)  # not one 403 or 10006
    orders = [sim.futures_orders(f"f{i:03d}") for i in range(FOLLOWERS)]
    assert all(len(o) == 1 and o[0].status == "FILLED" for o in orders)  # every follower copied, once
    # First come, first served: the copies asked for first reached the venue first (requests the
    # budget lets go in the same instant may still overtake one another on the wire).
    venue_ids = [o[0].order_id for o in orders]
    assert max(venue_ids[:100]) < min(venue_ids[-100:])
    # The burst is 500 orders against a budget of about 100 a second: most copies waited, later ones longer.
    assert len(delays) == FOLLOWERS and delays[0] < delays[-1] and statistics.median(delays) > 0
    print(f"\n{FOLLOWERS} copies: budget delay median {statistics.median(delays) * 1000:.0f} ms, "
          f"max {max(delays) * 1000:.0f} ms")


async def test_a_refusal_pauses_the_budget_for_as_long_as_the_venue_says():
    sim = await Simulator(seed=22, dialect="bybit").start()
    account = sim.create_account("solo", futures_wallet="10000")
    budgets = Budgets()
    venue = CcxtVenue("bybit", api_key=account.api_key, secret=account.secret, market_type="swap",
                      config=ccxt_config(sim.url, market="swap", exchange="bybit"))
    key = budgets.for_key("bybit", "solo", "swap")
    venue.use_budget(key)
    try:
        await venue.connect()
        sim.inject(kind="rate_limit", account="solo", endpoint="POST /v5/order/create", retry_after=3)
        with pytest.raises(VenueError) as err:
            await venue.place_order(OrderRequest("r-1", "BTC/USDT:USDT", "buy", Decimal("0.01")))
        assert err.value.kind == ErrorKind.RATE_LIMIT and err.value.retry_after == 3
        # A per-key refusal (10006) holds this key's orders back, not the venue's other traffic.
        order_create = key.endpoints["POST /v5/order/create"]
        assert order_create.paused_until - order_create.clock() > 2 and key.ip.paused_until < key.ip.clock()
    finally:
        await venue.close()
        await sim.stop()


async def test_binance_pauses_one_account_for_too_many_new_orders_and_everyone_for_request_weight():
    sim = await Simulator(seed=23).start()
    account = sim.create_account("solo", {"USDT": "50000"})
    budgets = Budgets()
    venue = CcxtVenue("binance", api_key=account.api_key, secret=account.secret, market_type="spot",
                      config=ccxt_config(sim.url))
    key = budgets.for_key("binance", "solo", "spot")
    venue.use_budget(key)
    try:
        await venue.connect()
        # -1015: this account's order count; its next orders wait, the venue's other traffic does not.
        sim.inject(kind="rate_limit", account="solo", endpoint="POST /api/v3/order", code=-1015,
                   msg="Too many new orders; current limit is 50 orders per 10 SECOND.", retry_after=3)
        with pytest.raises(VenueError) as err:
            await venue.place_order(OrderRequest("r-1", "BTC/USDT", "buy", Decimal("0.001")))
        assert err.value.kind == ErrorKind.RATE_LIMIT and err.value.retry_after == 3
        assert all(b.paused_until - b.clock() > 2 for b in key.orders) and key.ip.paused_until < key.ip.clock()
        # -1003: the address's request weight; every request to the venue waits.
        sim.inject(kind="rate_limit", account="solo", endpoint="POST /api/v3/order", retry_after=3)
        with pytest.raises(VenueError):
            await venue.place_order(OrderRequest("r-2", "BTC/USDT", "buy", Decimal("0.001")))
        assert key.ip.paused_until - key.ip.clock() > 2
    finally:
        await venue.close()
        await sim.stop()


async def test_waiters_are_served_in_arrival_order():
    bucket = TokenBucket(rate=1000, capacity=1)
    served: list[int] = []

    async def waiter(i: int) -> None:
        await bucket.acquire()
        served.append(i)

    await asyncio.gather(*(waiter(i) for i in range(50)))
    assert served == list(range(50))


# --- each venue's own weights and limits -----------------------------------------------------

async def binance_followers(sim: Simulator, budgets: Budgets, names: list[str], http: aiohttp.ClientSession,
                            market: str = "spot") -> list[CcxtVenue]:
    """One CcxtVenue per follower, on one connection pool; the first loads the markets, the
    others take them from it (as VenuePool does). Each gets its budget after: setting them up
    spends none of it."""
    venues: list[CcxtVenue] = []
    for name in names:
        account = sim.create_account(name, {"USDT": "10000"}, futures_wallet="10000")
        venue = CcxtVenue("binance", api_key=account.api_key, secret=account.secret, market_type=market,
                          config={**ccxt_config(sim.url, market=market), "session": http})
        if venues:
            venue.exchange.set_markets_from_exchange(venues[0].exchange)
        await venue.connect()
        venue.use_budget(budgets.for_key("binance", account.api_key, market))
        venues.append(venue)
    return venues


async def timed(call) -> float:
    with measure() as waited:
        await call
    return waited[0]


async def test_a_read_weighs_what_binance_says_so_heavy_reads_wait_where_as_many_orders_do_not():
    sim = await Simulator(seed=24).start()
    http = aiohttp.ClientSession()
    venues: list[CcxtVenue] = []
    try:
        venues = await binance_followers(sim, Budgets(), [f"w{i:02d}" for i in range(36)], http)
        # One master fill, 36 copies: an order weighs 1 against the IP's 6000 a minute.
        order_delays = await asyncio.gather(*(timed(v.place_order(OrderRequest(f"w-{i}", "BTC/USDT", "buy",
                                                                               Decimal("0.001"))))
                                              for i, v in enumerate(venues)))
        # Then every follower's balance: GET /api/v3/account weighs 20, 720 in all, more than the
        # budget lets through at once (a share of the minute's 6000); the last ones wait.
        read_delays = await asyncio.gather(*(timed(v.free_balance("USDT")) for v in venues))
    finally:
        for venue in venues:
            await venue.close()
        await http.close()
        await sim.stop()
    assert max(order_delays) < 0.1
    assert max(read_delays) > 1.0 and sorted(read_delays)[len(read_delays) // 2] < 0.1


async def test_the_budget_follows_the_weight_binance_reports_others_on_the_ip_spent():
    sim = await Simulator(seed=25).start()
    http = aiohttp.ClientSession()
    venues: list[CcxtVenue] = []
    try:
        if 60 - time.time() % 60 < 5:  # Binance's minute starts on the minute: not across one
            await asyncio.sleep(60 - time.time() % 60 + 0.1)
        venues = await binance_followers(sim, Budgets(), ["own"], http)
        # Another process on this address (nothing of this one's budgets) spends 4850 of the
        # minute's 6000: 19 books of depth 5000 (weight 250 each) and 20 of depth 100 (5).
        for limit in [5000] * 19 + [100] * 20:
            async with http.get(f"{sim.url}/api/v3/depth", params={"symbol": "BTCUSDT", "limit": limit}) as reply:
                assert reply.status == 200
        venue = venues[0]
        first = await timed(venue.place_order(OrderRequest("o-1", "BTC/USDT", "buy", Decimal("0.001"))))
        # Its answer said X-MBX-USED-WEIGHT-1M: 4871, past the 4800 this process keeps to: the
        # next request waits until the budget has refilled past what the others spent.
        second = await timed(venue.place_order(OrderRequest("o-2", "BTC/USDT", "buy", Decimal("0.001"))))
    finally:
        for venue in venues:
            await venue.close()
        await http.close()
        await sim.stop()
    assert first < 0.1 and second > 0.5


async def test_an_accounts_order_count_is_shared_by_the_followers_on_its_api_key_and_by_no_other_key():
    from types import SimpleNamespace

    from copytrade.type.v1 import trading_pb2
    from services.kit.config import Settings
    from services.replication.store import VenueAccountRow
    from services.replication.venue_pool import VenuePool

    sim = await Simulator(seed=26).start()
    keys = {name: sim.create_account(name, {"USDT": "100000"}) for name in ("shared", "a", "b")}
    # Two followers registered one key (one venue account); two others a key each.
    credential_of = {"f1": "shared", "f2": "shared", "f3": "a", "f4": "b"}

    class Vault:  # compliance's FetchCredential, as replication calls it
        async def FetchCredential(self, request, timeout=None):  # noqa: N802 - the gRPC method's name
            account = keys[credential_of[request.credential_id]]
            return SimpleNamespace(api_key=account.api_key, api_secret=account.secret, passphrase="")

    pool = VenuePool(Settings(service="replication", venue_urls=venue_urls(sim.url)), Vault())
    try:
        venues = {f: await pool.get(VenueAccountRow(
            account_id=f, user_id=f, venue_kind=trading_pb2.VENUE_KIND_CCXT, venue_id="binance",
            market_type=trading_pb2.MARKET_TYPE_SPOT, credential_id=f)) for f in credential_of}

        async def burst(followers: tuple[str, ...]) -> list[float]:
            # 8 orders each: within one account's 100 per 10 s budget, twice that is not.
            return await asyncio.gather(*(timed(venues[f].place_order(OrderRequest(
                f"{f}-{i}", "BTC/USDT", "buy", Decimal("0.001")))) for f in followers for i in range(8)))

        on_one_key = await burst(("f1", "f2"))
        on_two_keys = await burst(("f3", "f4"))
    finally:
        await pool.close()
        await sim.stop()
    assert max(on_one_key) > 0.4  # 16 orders on one account: the last ones wait for its order count
    assert max(on_two_keys) < 0.1  # 8 on each of two accounts: none waits


async def test_one_keys_reads_stay_within_bybits_per_uid_limit_of_the_endpoint():
    sim = await Simulator(seed=27, dialect="bybit").start()
    account = sim.create_account("reader", futures_wallet="10000")
    venue = CcxtVenue("bybit", api_key=account.api_key, secret=account.secret, market_type="swap",
                      config=ccxt_config(sim.url, market="swap", exchange="bybit"))
    try:
        await venue.connect()
        await venue.exchange.is_unified_enabled()
        venue.use_budget(Budgets().for_key("bybit", account.api_key, "swap"))
        # 60 balance reads at once: /v5/account/wallet-balance takes 50 a second per UID.
        balances = await asyncio.gather(*(venue.free_balance("USDT") for _ in range(60)), return_exceptions=True)
    finally:
        await venue.close()
        await sim.stop()
    assert sim.rate_limits.refused_uid == 0 and all(b == Decimal("10000") for b in balances), balances[:3]


async def test_usdm_orders_weigh_nothing_against_the_ip_only_against_each_account():
    sim = await Simulator(seed=28).start()
    # A tiny address budget (40 a minute): USDⓈ-M's POST /fapi/v1/order weighs 0 against it.
    usdm = replace(VENUE_LIMITS["binance"]["swap"], ip=Window(40, 60.0, "X-MBX-USED-WEIGHT-1M"))
    budgets = Budgets({"binance": {"swap": usdm}})
    http = aiohttp.ClientSession()
    venues: list[CcxtVenue] = []
    try:
        venues = await binance_followers(sim, budgets, [f"u{i:02d}" for i in range(20)], http, market="swap")
        delays = await asyncio.gather(*(timed(v.place_order(OrderRequest(f"u-{i}", "BTC/USDT:USDT", "buy",
                                                                         Decimal("0.002"))))
                                        for i, v in enumerate(venues)))
    finally:
        for venue in venues:
            await venue.close()
        await http.close()
        await sim.stop()
    assert max(delays) < 0.1
    assert all(len(sim.futures_orders(f"u{i:02d}")) == 1 for i in range(20))


def test_binance_spot_weights_are_ccxts_costs_over_its_cost_per_weight():
    """The table's spot weights are Binance's, as ccxt's `api` costs have them (cost = 0.2 x weight)."""
    import ccxt

    from services.replication.venues.limits import BINANCE_SPOT

    exchange = ccxt.binance()
    for endpoint in BINANCE_SPOT.weights:
        method, path = endpoint.split(" ")
        name = path.removeprefix("/api/v3/")
        api = next(a for a in ("public", "private") if name in exchange.api[a].get(method.lower(), {}))
        config = exchange.api[api][method.lower()][name]
        for params in ({}, {"symbol": "BTCUSDT"}, {"limit": 100}, {"limit": 500}, {"limit": 1000}, {"limit": 5000}):
            cost = exchange.calculate_rate_limiter_cost([api], method, name, params, config)
            assert BINANCE_SPOT.weight(endpoint, params) == round(cost / 0.2), (endpoint, params)


async def test_a_weight_bucket_passes_weightless_requests_and_follows_the_venues_count():
    now = [0.0]
    bucket = TokenBucket(rate=7, capacity=10, budget=80, clock=lambda: now[0])  # 80 a window of 10 s
    assert await bucket.acquire(10) == 0 and bucket.tokens == 0
    assert await bucket.acquire(0) == 0  # weighs nothing: does not wait for the empty bucket
    now[0] = 1.0
    bucket.follow(75)  # the venue: 75 of the window's 80 used already (by others too)
    assert bucket.tokens == 5
    bucket.follow(90)  # past the budget: the bucket owes what was overspent
    assert bucket.tokens == -10
