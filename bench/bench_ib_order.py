"""Order round trips through unmodified ib_async against the TWS-protocol simulator (venue_sim.ib)
on loopback, and the delay from an execution at the venue to its fill on IbVenue.fills().

    .venv/bin/python bench/bench_ib_order.py [--n 300] [--rate 40] [--process]

Prints p50 / p99 / max in milliseconds for:
  ib_async placeOrder -> execDetails     IB.placeOrder(...) -> execDetailsEvent for that order (market order)
  ib_async placeOrder -> commissionReport   ... -> commissionReportEvent (the fill is complete with its fee)
  IbVenue.place_order                    through the adapter: send, wait for TWS' acknowledgement
  execution -> fill on stream            venue execution time -> IbVenue.fills() yields it (in-process only)

Orders are paced at --rate per second (default 40): ib_async throttles, like TWS itself, at about
45-50 API messages a second, and queued messages would measure the throttle, not the round trip.
--process runs the simulator as its own process (`python -m venue_sim.ib`) instead of in the
benchmark's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

from ib_async import IB, Future, MarketOrder  # noqa: E402

from services.replication.venues.base import OrderRequest  # noqa: E402
from services.replication.venues.ib_venue import IbVenue  # noqa: E402
from venue_sim.ib import IbSimulator  # noqa: E402

WARMUP = 20


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"{name:<40} n={len(ms):<5} p50={pick(0.5):7.3f} ms  p99={pick(0.99):7.3f} ms  max={ms[-1]:7.3f} ms"


async def paced(i: int, started: float, rate: float) -> None:
    delay = started + i / rate - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def raw_ib_async(port: int, account: str, n: int, rate: float) -> tuple[list[float], list[float]]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=901, account=account)
    [details] = await ib.reqContractDetailsAsync(Future("MES", exchange="CME"))
    contract = details.contract
    execs: dict[int, float] = {}
    reports: dict[int, float] = {}
    ib.execDetailsEvent += lambda trade, fill: execs.setdefault(trade.order.orderId, time.perf_counter())
    ib.commissionReportEvent += lambda trade, fill, report: reports.setdefault(trade.order.orderId,
                                                                               time.perf_counter())
    exec_ms, report_ms = [], []
    begin = time.perf_counter()
    try:
        for i in range(n + WARMUP):
            await paced(i, begin, rate)
            sent = time.perf_counter()
            trade = ib.placeOrder(contract, MarketOrder("BUY" if i % 2 else "SELL", 1, account=account,
                                                        orderRef=f"raw-{i}"))
            order_id = trade.order.orderId
            while order_id not in reports:
                await asyncio.sleep(0)
            if i >= WARMUP:
                exec_ms.append((execs[order_id] - sent) * 1000)
                report_ms.append((reports[order_id] - sent) * 1000)
    finally:
        ib.disconnect()
    return exec_ms, report_ms


async def through_adapter(port: int, account: str, n: int, rate: float,
                          sim: IbSimulator | None) -> tuple[list[float], list[float]]:
    venue = IbVenue(host="127.0.0.1", port=port, client_id=902, account=account)
    await venue.connect()
    arrivals: dict[str, float] = {}

    async def listen() -> None:
        async for fill in venue.fills():
            arrivals[fill.client_order_id] = time.time()

    listener = asyncio.create_task(listen())
    order_ms, stream_ms = [], []
    begin = time.perf_counter()
    try:
        for i in range(n + WARMUP):
            await paced(i, begin, rate)
            cid = f"bench-{i}"
            started = time.perf_counter()
            await venue.place_order(OrderRequest(cid, "MES", "buy" if i % 2 else "sell", Decimal(1)))
            acked = time.perf_counter()
            while cid not in arrivals:
                await asyncio.sleep(0)
            if i >= WARMUP:
                order_ms.append((acked - started) * 1000)
                if sim is not None:
                    [execution] = sim.executions(account, cid)
                    stream_ms.append((arrivals[cid] - execution.at) * 1000)
    finally:
        listener.cancel()
        await venue.close()
    return order_ms, stream_ms


async def main(n: int, rate: float, separate_process: bool) -> None:
    account = "DU0000001"
    process = sim = None
    if separate_process:
        process = subprocess.Popen([sys.executable, "-m", "venue_sim.ib", "--account", f"{account}:100000000",
                                    "--tick", "0"], stdout=subprocess.PIPE, text=True,
                                   cwd=Path(__file__).resolve().parents[1])
        port = json.loads(process.stdout.readline())["port"]
    else:
        sim = await IbSimulator().start()
        sim.create_account(account, "100000000")
        port = sim.port
    try:
        exec_ms, report_ms = await raw_ib_async(port, account, n, rate)
        order_ms, stream_ms = await through_adapter(port, account, n, rate, sim)
    finally:
        if sim is not None:
            await sim.stop()
        if process is not None:
            process.terminate()
            process.wait(5)
    where = "simulator in its own process" if separate_process else "simulator in the same event loop"
    print(f"IB (TWS API, server version 178) on loopback, {where}, {rate:g} orders/s, MES market orders")
    print(summary("ib_async placeOrder -> execDetails", exec_ms))
    print(summary("ib_async placeOrder -> commissionReport", report_ms))
    print(summary("IbVenue.place_order (acknowledged)", order_ms))
    if stream_ms:
        print(summary("execution -> fill on IbVenue.fills()", stream_ms))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rate", type=float, default=40.0, help="orders per second (ib_async throttles near 45)")
    parser.add_argument("--process", action="store_true", help="run the simulator as its own process")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rate, args.process))
