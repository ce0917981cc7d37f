"""What the copy engine is measured against, beside the 1×N runs of bench_replication:

  direct fan-out   the harness itself places N orders (N followers' accounts) at once on the
                   simulator with ccxt, no mesh: the floor a 1×N fan-out cannot beat
  burst            M master orders placed at once, each copied to the followers: master's first
                   trade → the last follower order at the venue (simulator clock)
  platform CPU     replication + risk + compliance process CPU over a run ÷ copies made
  replicas         further replication processes beside the mesh's (they share the FILLS
                   consumer, so a run with k replicas shows what k buys)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import ccxt.pro as ccxt_pro

from bench.bench_replication import Arrivals, BALANCES, Copying, latency_figures
from venue_sim import Simulator, ccxt_config

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
PLATFORM = ("replication", "risk", "compliance")


async def direct_fanout(sim: Simulator, n: int, rounds: int) -> dict:
    """N accounts' ccxt clients (markets loaded once and shared, as the copier's pool shares
    them), each placing one market order at the same moment; time to the last acknowledgement."""
    accounts = [sim.create_account(f"direct{n}-{i}-{time.monotonic_ns()}", BALANCES) for i in range(n)]
    http = aiohttp.ClientSession()  # one session for every client, as the copier's pool shares one per venue host
    clients = [ccxt_pro.binance({**ccxt_config(sim.url, rate_limit=False), "apiKey": a.api_key, "secret": a.secret,
                                 "session": http, "timeout": 60_000}) for a in accounts]
    for client in clients:  # a thousand signed requests queue on one loop: their signatures must outlast it
        client.options["recvWindow"] = 60_000
    try:
        await clients[0].load_markets()
        for client in clients[1:]:
            client.set_markets_from_exchange(clients[0])
        await asyncio.gather(*(c.create_order("BTC/USDT", "market", "buy", 0.001) for c in clients))  # warm
        last_ms, each_ms = [], []
        for r in range(rounds):
            side = "sell" if r % 2 == 0 else "buy"
            started = time.perf_counter()

            async def one(client) -> None:
                await client.create_order("BTC/USDT", "market", side, 0.001)
                each_ms.append((time.perf_counter() - started) * 1000)

            await asyncio.gather(*(one(c) for c in clients))
            last_ms.append((time.perf_counter() - started) * 1000)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        await http.close()
    return {"orders": n, "rounds": rounds, "last_ack_ms": latency_figures(last_ms),
            "each_ack_ms": latency_figures(each_ms)}


async def run_burst(copying: Copying, n_fills: int, timeout: float = 120.0) -> dict:
    """n_fills master orders at once; each copied to every follower."""
    arrivals = Arrivals(copying)
    n_followers = len(copying.followers)
    try:
        await asyncio.gather(*(copying.trade(50_000 + i) for i in range(n_fills)))
        error = ""
        try:
            await arrivals.wait_for(n_fills * n_followers, timeout)
        except TimeoutError as exc:
            error = str(exc)
        first_trade = min(arrivals.trade_at.values(), default=0.0)
        last_order = max(arrivals.arrival_times, default=first_trade)
    finally:
        arrivals.close()
    return {"fills": n_fills, "followers": n_followers, "orders": len(arrivals.latencies_ms),
            "expected": n_fills * n_followers, "first_trade_to_last_ack_ms": round((last_order - first_trade) * 1000, 3),
            "fill_to_follower_ack_ms": latency_figures(arrivals.latencies_ms), "error": error}


def process_cpu_s(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds each process has used so far (Linux /proc)."""
    out = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime
    return out


def platform_pids(mesh, extra: "ExtraReplicas | None" = None) -> dict[str, int]:
    pids = {name: p.pid for name, p in mesh.processes.items() if name in PLATFORM}
    if extra:
        pids.update({f"replication-{i + 2}": p.pid for i, p in enumerate(extra.processes)})
    return pids


def cpu_per_copy_ms(before: dict[str, float], after: dict[str, float], copies: int) -> dict:
    used = {name: round(after[name] - before.get(name, 0.0), 3) for name in after}
    total = sum(used.values())
    return {"copies": copies, "cpu_s": used, "ms_per_copy": round(total * 1000 / copies, 3) if copies else None}


async def _warmed(metrics_url: str, accounts: int, timeout_s: float = 180.0) -> None:
    """Until the process's copytrade_venue_connections gauge reaches `accounts`."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while accounts and time.monotonic() < deadline:
            try:
                text = await (await http.get(metrics_url)).text()
                open_now = max([float(line.split()[-1]) for line in text.splitlines()
                                if line.startswith("copytrade_venue_connections ")] or [0])
                if open_now >= accounts:
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)


class ExtraReplicas:
    """More replication processes beside the mesh's own, started as the launcher starts it."""

    def __init__(self, mesh) -> None:
        self.mesh = mesh
        self.processes: list[subprocess.Popen] = []

    async def scale_to(self, total: int, warm_accounts: int = 0) -> None:
        """Run `total` replication processes; each new one is waited for until it serves and
        holds at least `warm_accounts` venues open (its start-up warm-up: a fresh process is
        measured warm, as one that joined a while ago would be)."""
        from services.kit.natsd import free_port_block
        from services.launcher import wait_serving
        while len(self.processes) + 1 < total:
            address = f"127.0.0.1:{free_port_block(2)}"
            metrics = address.rsplit(":", 1)[0] + f":{int(address.rsplit(':', 1)[1]) + 1}"
            log = open(self.mesh.data_dir / "logs" / f"replication-{len(self.processes) + 2}.log", "ab")
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "services.replication"],
                env={**self.mesh.environment(), **self.mesh.service_environment("replication"),  # its NATS user
                     "LISTEN_ADDR": address, "METRICS_ADDR": metrics},
                stdout=log, stderr=subprocess.STDOUT))
            log.close()
            await wait_serving(address, 60, self.mesh.client_tls)
            await _warmed(f"http://{metrics}/metrics", warm_accounts)
        while len(self.processes) + 1 > total:
            await self._stop(self.processes.pop())

    async def stop(self) -> None:
        while self.processes:
            await self._stop(self.processes.pop())

    @staticmethod
    async def _stop(process: subprocess.Popen) -> None:
        process.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), 15)
        except TimeoutError:
            process.kill()
