"""`copytrade sim` / `python -m venue_sim`: run the simulator until interrupted.

Prints the base URL alone on the first line of stdout (scripts read it); the rest goes to
stderr. --account NAME[:ASSET=AMOUNT,...] creates funded accounts and prints their keys as
JSON lines. `copytrade sim ib ...` runs the Interactive Brokers simulator instead (venue_sim.ib.cli).
register() adds `sim` to the `copytrade` command (its "copytrade.commands" entry point)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from venue_sim.server import DIALECTS, Simulator

PROTOCOLS = {"binance": "binance spot + USDⓈ-M futures", "bybit": "bybit v5 spot + linear",
             "okx": "okx v5 spot + SWAP", "kucoin": "kucoin spot HF + futures",
             "coinbase": "coinbase advanced trade spot", "kraken": "kraken spot"}


def _account(spec: str) -> tuple[str, dict[str, str]]:
    name, _, funds = spec.partition(":")
    balances = dict(item.split("=", 1) for item in funds.split(",") if item)
    return name, balances


def register(commands) -> None:
    """`copytrade sim ...`: everything after `sim` goes to main (services.cli.Commands)."""
    sim = commands.subcommands.add_parser("sim", help="run the venue simulator (Binance wire protocol on loopback)",
                                          add_help=False)
    sim.add_argument("args", nargs=argparse.REMAINDER)
    commands.add("sim", lambda args, rest: main([*rest, *args.args]))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ib"]:  # `copytrade sim ib ...`: the Interactive Brokers (TWS API) simulator
        from venue_sim.ib.cli import main as ib_main

        return ib_main(argv[1:])
    parser = argparse.ArgumentParser(prog="copytrade sim",
                                     description="A loopback venue speaking Binance's spot and USDⓈ-M futures "
                                                 "protocol, Bybit's v5 (spot and linear), OKX's v5 (spot and "
                                                 "SWAP), KuCoin's (spot HF and futures), Coinbase Advanced "
                                                 "Trade or Kraken (spot).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the price random walk")
    parser.add_argument("--dialect", choices=DIALECTS, default="binance",
                        help="the venue's protocol (default binance)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between price steps; 0 for none")
    parser.add_argument("--history-hours", type=int, default=72,
                        help="hours of hourly prices from before start-up (default 72; 0 for none)")
    parser.add_argument("--account", action="append", default=[], type=_account, metavar="NAME[:ASSET=AMT,...]",
                        help="create a funded account (USDT also funds its futures wallet); repeatable")
    args = parser.parse_args(argv)

    async def run() -> None:
        sim = await Simulator(seed=args.seed, host=args.host, port=args.port, tick_interval=args.tick or None,
                              dialect=args.dialect, history_hours=args.history_hours).start()
        print(sim.url, flush=True)
        for name, balances in args.account:
            account = sim.create_account(name, balances, futures_wallet=balances.get("USDT"))
            print(json.dumps({"account": name, "api_key": account.api_key, "secret": account.secret,
                              "passphrase": account.passphrase}), flush=True)
        protocol = PROTOCOLS[args.dialect]
        print(f"venue simulator ({protocol}) on {sim.url}; admin API under {sim.url}/_sim/",
              file=sys.stderr, flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await sim.stop()

    asyncio.run(run())
    return 0
