"""Order round trips through unmodified ccxt against the Binance-protocol simulator on loopback
(rate limiter off), and the delay from a trade at the venue to its fill on ccxt.pro's stream.

    .venv/bin/python bench/bench_ccxt_order.py [--n 500] [--market spot|swap|both]

Prints p50 / p99 / max in milliseconds for:
  ccxt create_order        exchange.create_order(...) -> the venue's answer (market order, FULL/RESULT)
  CcxtVenue.place_order    the same through the adapter (rounding, classification)
  trade -> fill on stream  venue trade time -> CcxtVenue.fills() yields it
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

import ccxt.pro as ccxt_pro  # noqa: E402

from services.replication.venues.base import OrderRequest  # noqa: E402
from services.replication.venues.ccxt_venue import CcxtVenue  # noqa: E402
from venue_sim import Simulator, ccxt_config  # noqa: E402

WARMUP = 20
SYMBOLS = {"spot": "BTC/USDT", "swap": "BTC/USDT:USDT"}  # orders of 0.002 BTC: USDⓈ-M takes 100 USDT at least


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"{name:<40} n={len(ms):<5} p50={pick(0.5):7.3f} ms  p99={pick(0.99):7.3f} ms  max={ms[-1]:7.3f} ms"


async def raw_ccxt(sim: Simulator, market: str, n: int) -> list[float]:
    account = sim.create_account(f"raw-{market}", {"USDT": "100000000", "BTC": "1000"}, futures_wallet="100000000")
    exchange = ccxt_pro.binance({**ccxt_config(sim.url, rate_limit=False, market=market),
                                 "apiKey": account.api_key, "secret": account.secret})
    await exchange.load_markets()
    ms = []
    try:
        for i in range(n + WARMUP):
            started = time.perf_counter()
            await exchange.create_order(SYMBOLS[market], "market", "buy" if i % 2 else "sell", 0.002)
            if i >= WARMUP:
                ms.append((time.perf_counter() - started) * 1000)
    finally:
        await exchange.close()
    return ms


async def through_adapter(sim: Simulator, market: str, n: int) -> tuple[list[float], list[float]]:
    account = sim.create_account(f"venue-{market}", {"USDT": "100000000", "BTC": "1000"},
                                 futures_wallet="100000000")
    venue = CcxtVenue("binance", api_key=account.api_key, secret=account.secret, market_type=market,
                      config=ccxt_config(sim.url, rate_limit=False, market=market))
    await venue.connect()
    arrivals: dict[str, float] = {}

    async def listen() -> None:
        async for fill in venue.fills():
            arrivals[fill.client_order_id] = time.time()

    listener = asyncio.create_task(listen())
    stream = "spot" if market == "spot" else "futures"
    while not sim.stream_subscribed(account.name, stream):
        await asyncio.sleep(0.005)
    trades = sim.trades(account.name, "spot" if market == "spot" else "futures")
    order_ms, stream_ms = [], []
    for i in range(n + WARMUP):
        cid = f"bench-{market}-{i}"
        started = time.perf_counter()
        await venue.place_order(OrderRequest(cid, SYMBOLS[market], "buy" if i % 2 else "sell", Decimal("0.002")))
        acked = time.perf_counter()
        while cid not in arrivals:
            await asyncio.sleep(0)
        trades = sim.trades(account.name, "spot" if market == "spot" else "futures")
        if i >= WARMUP:
            order_ms.append((acked - started) * 1000)
            stream_ms.append((arrivals[cid] - trades[-1].at) * 1000)
    listener.cancel()
    await venue.close()
    return order_ms, stream_ms


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="measured round trips per series (default 500)")
    parser.add_argument("--market", choices=["spot", "swap", "both"], default="both")
    args = parser.parse_args()
    sim = await Simulator(seed=1).start()
    try:
        for market in (["spot", "swap"] if args.market == "both" else [args.market]):
            print(summary(f"ccxt create_order ({market})", await raw_ccxt(sim, market, args.n)), flush=True)
            order_ms, stream_ms = await through_adapter(sim, market, args.n)
            print(summary(f"CcxtVenue.place_order ({market})", order_ms), flush=True)
            print(summary(f"trade -> fill on stream ({market})", stream_ms), flush=True)
    finally:
        await sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
