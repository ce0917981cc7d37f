"""Order round trips through the futures adapters against their loopback simulators, and the
delay from a trade at the venue to its fill on the adapter's stream:

  RithmicVenue      unmodified async_rithmic, R|Protocol over a loopback WebSocket
  NinjaTraderVenue  NT8's ATI files in a temporary folder (the simulator polls `incoming`)

    .venv/bin/python bench/bench_futures_venues.py [--n 200] [--family rithmic|ninjatrader|both]

Prints p50 / p99 / max in milliseconds for:
  place_order               market order sent -> acknowledged (Rithmic: includes the repeat check)
  trade -> fill on stream   the venue's trade time -> the adapter's fills() yields it
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

from services.replication.venues.base import OrderRequest  # noqa: E402
from services.replication.venues.ninjatrader_venue import NinjaTraderVenue  # noqa: E402
from services.replication.venues.rithmic_venue import RithmicVenue  # noqa: E402
from venue_sim.ninjatrader import NinjaTraderSim  # noqa: E402
from venue_sim.rithmic import RithmicSim  # noqa: E402

WARMUP = 10


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"{name:<40} n={len(ms):<5} p50={pick(0.5):7.3f} ms  p99={pick(0.99):7.3f} ms  max={ms[-1]:7.3f} ms"


async def measure(venue, trade_time, n: int) -> tuple[list[float], list[float]]:
    arrivals: dict[str, float] = {}

    async def consume():
        async for fill in venue.fills():
            arrivals[fill.client_order_id] = time.time()

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0.2)
    place, stream = [], []
    for i in range(n + WARMUP):
        cid = f"b{uuid.uuid4().hex[:16]}"
        started = time.perf_counter()
        await venue.place_order(OrderRequest(cid, "MES", "buy" if i % 2 == 0 else "sell", Decimal(1)))
        elapsed = (time.perf_counter() - started) * 1000
        deadline = time.monotonic() + 5
        while cid not in arrivals and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        if i >= WARMUP and cid in arrivals:
            place.append(elapsed)
            stream.append((arrivals[cid] - trade_time(cid)) * 1000)
    consumer.cancel()
    return place, stream


async def rithmic(n: int) -> None:
    async with RithmicSim(user="bench", password="pw", balance="1000000000") as sim:
        venue = RithmicVenue(user="bench", password="pw", system_name=sim.system_name, url=sim.url)
        started = time.perf_counter()
        await venue.connect()
        print(f"{'Rithmic connect (4 plants)':<40} {(time.perf_counter() - started) * 1000:7.1f} ms")
        try:
            place, stream = await measure(venue, lambda cid: next(f.at for f in sim.fills if f.user_tag == cid), n)
        finally:
            await venue.close()
    print(summary("Rithmic place_order", place))
    print(summary("Rithmic trade -> fill on stream", stream))


async def ninjatrader(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with NinjaTraderSim(folder, cash="1000000000") as sim:
            venue = NinjaTraderVenue(folder, account=sim.account, connection=sim.connection, cash="1000000000")
            await venue.connect()
            try:
                place, stream = await measure(venue, lambda cid: next(t.at for t in sim.trades if t.order_id == cid), n)
            finally:
                await venue.close()
    print(summary("NinjaTrader place_order", place))
    print(summary("NinjaTrader trade -> fill on stream", stream))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--family", choices=["rithmic", "ninjatrader", "both"], default="both")
    args = parser.parse_args()
    if args.family in ("rithmic", "both"):
        await rithmic(args.n)
    if args.family in ("ninjatrader", "both"):
        await ninjatrader(args.n)


if __name__ == "__main__":
    asyncio.run(main())
