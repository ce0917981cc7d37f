"""`python -m venue_sim.ib`, `python -m venue_sim ib`, `copytrade sim ib`: run the IB simulator
until interrupted.

Prints one JSON line on stdout first ({"port": ..., "admin_url": ..., "accounts": [...]}; scripts
read it); the rest goes to stderr. --account CODE[:CASH] creates funded accounts (repeatable;
default one paper account DU0000001 with 1,000,000 USD)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from venue_sim.ib.server import IbSimulator


def _account(spec: str) -> tuple[str, str]:
    code, _, cash = spec.partition(":")
    return code, cash or "1000000"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="copytrade sim ib", description="A loopback Interactive Brokers TWS / "
                                     "IB Gateway speaking the TWS API socket protocol (CME futures ES, MES, NQ, MNQ).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TWS API port; 0 picks a free one (TWS uses 7497)")
    parser.add_argument("--admin-port", type=int, default=0, help="admin HTTP port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0, help="seed of the price random walk")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between price steps; 0 for none")
    parser.add_argument("--master-client-id", type=int, default=None,
                        help="TWS' Master API client ID: this client is told of every client's orders")
    parser.add_argument("--account", action="append", default=[], type=_account, metavar="CODE[:CASH]",
                        help="create a funded account (repeatable)")
    args = parser.parse_args(argv)

    async def run() -> None:
        sim = await IbSimulator(seed=args.seed, host=args.host, port=args.port, admin_port=args.admin_port,
                                tick_interval=args.tick or None,
                                master_client_id=args.master_client_id).start()
        for code, cash in args.account or [("DU0000001", "1000000")]:
            sim.create_account(code, cash)
        print(json.dumps({"port": sim.port, "admin_url": sim.admin_url, "accounts": list(sim.book.accounts)}),
              flush=True)
        print(f"IB simulator: TWS API on {args.host}:{sim.port}, admin API under {sim.admin_url}/_sim/",
              file=sys.stderr, flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await sim.stop()

    asyncio.run(run())
    return 0
