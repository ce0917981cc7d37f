"""Request budgets: a burst of copies to many followers on one venue stays within the limits the
venue enforces (here the Bybit dialect's per-IP limit), every follower is served in turn, none is
skipped, and each copy reports how long the budget held it back."""

import asyncio
import statistics
from decimal import Decimal

import aiohttp
import pytest

from services.replication.budget import Budgets, Limits, TokenBucket, measure
from services.replication.venues.base import ErrorKind, OrderRequest, VenueError
from services.replication.venues.ccxt_venue import CcxtVenue
from venue_sim import Simulator, ccxt_config

FOLLOWERS = 500
# The simulator enforces Bybit's per-IP rule with a 1 s window instead of 5 s (the same kind of
# limit, a shorter test): 120 requests a second, then HTTP 403 and a 10-minute ban.
IP_LIMIT, IP_WINDOW_S = 120, 1.0
UNIFIED = ("enableUnifiedMargin", "enableUnifiedAccount", "unifiedMarginStatus")


async def test_a_500_follower_burst_is_paced_within_the_venues_limits_in_arrival_order():
    sim = await Simulator(seed=21, dialect="bybit").start()
    sim.rate_limits.ip_limit, sim.rate_limits.ip_window_s = IP_LIMIT, IP_WINDOW_S
    budgets = Budgets({"bybit": Limits(IP_LIMIT, IP_WINDOW_S, {"swap": 10})})
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
        assert key.orders.paused_until - key.orders.clock() > 2 and key.venue.paused_until < key.venue.clock()
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
        assert key.orders.paused_until - key.orders.clock() > 2 and key.venue.paused_until < key.venue.clock()
        # -1003: the address's request weight; every request to the venue waits.
        sim.inject(kind="rate_limit", account="solo", endpoint="POST /api/v3/order", retry_after=3)
        with pytest.raises(VenueError):
            await venue.place_order(OrderRequest("r-2", "BTC/USDT", "buy", Decimal("0.001")))
        assert key.venue.paused_until - key.venue.clock() > 2
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
