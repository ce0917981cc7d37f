"""ccxt create_order round trip against the simulator (rate limiter off), and the delay from
the trade to its arrival on ccxt.pro's user-data stream.

    .venv/bin/python bench/bench_ccxt_order.py [--n 500]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from decimal import Decimal

from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from venue_sim import Simulator, ccxt_config


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"{name:<36} n={len(ms):<5} p50={pick(0.5):7.3f} ms  p99={pick(0.99):7.3f} ms  max={ms[-1]:7.3f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    sim = await Simulator(seed=1).start()
    account = sim.create_account("bench", {"USDT": "100000000", "BTC": "1000"})
    venue = CcxtVenue("binance", api_key=account.api_key, secret=account.secret,
                      config=ccxt_config(sim.url, rate_limit=False))
    await venue.connect()
    order_ms, stream_ms = [], []
    arrivals: dict[str, float] = {}

    async def listen() -> None:
        async for fill in venue.fills():
            arrivals[fill.client_order_id] = time.perf_counter()

    listener = asyncio.create_task(listen())
    while not sim._streams.get(account.api_key):
        await asyncio.sleep(0.01)
    for i in range(args.n + 20):
        cid = f"bench{i}"
        started = time.perf_counter()
        await venue.place_order(OrderRequest(cid, "BTC/USDT", "buy" if i % 2 else "sell", Decimal("0.001")))
        acked = time.perf_counter()
        while cid not in arrivals:
            await asyncio.sleep(0)
        if i >= 20:  # warm-up
            order_ms.append((acked - started) * 1000)
            stream_ms.append((arrivals[cid] - started) * 1000)
    print(summary("ccxt create_order round trip", order_ms))
    print(summary("order sent -> fill on user-data WS", stream_ms))
    listener.cancel()
    await venue.close()
    await sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
