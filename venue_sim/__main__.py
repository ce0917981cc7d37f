"""`copytrade sim` / `python -m venue_sim`: run the simulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal

from venue_sim.server import Simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="copytrade sim", description="Loopback venue speaking Binance's protocol.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed of the price random walk")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between price steps (0: none)")
    args = parser.parse_args(argv)

    async def run() -> None:
        sim = await Simulator(seed=args.seed, host=args.host, port=args.port, tick_interval=args.tick or None).start()
        print(f"venue simulator (binance spot) listening on {sim.url}", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await sim.stop()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
