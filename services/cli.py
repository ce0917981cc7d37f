"""The `copytrade` command."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from pathlib import Path

from services.kit.config import DEFAULT_PORT_BASE, SERVICES, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="copytrade", description="Universal copy trading.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run nats-server and all five services")
    up.add_argument("--data-dir", type=Path, default=Path("data"), help="where data lives (default ./data)")
    up.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    up.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE,
                    help="nats on B, discovery B+1, replication B+2, risk B+3, compliance B+4, "
                         "gateway B+5, HTTP B+6 (default %(default)s)")
    up.add_argument("--demo", action="store_true",
                    help="also run the venue simulator (B+7) with a master bot trading and three followers "
                         "copying it, seeded through the public APIs; prints logins and how to watch")
    up.add_argument("--nats-cluster", action="store_true",
                    help="run NATS as a local 3-node JetStream cluster (nodes on B, B+8, B+9; routes on "
                         "B+16..B+18; streams kept on all three), so a node can fail without stopping copying")

    serve = sub.add_parser("serve", help="run one service (configured from the environment)")
    serve.add_argument("service", choices=SERVICES)

    sim = sub.add_parser("sim", help="run the venue simulator (Binance wire protocol on loopback)", add_help=False)
    sim.add_argument("args", nargs=argparse.REMAINDER)

    from services import ops

    ops.add_commands(sub)

    args, rest = parser.parse_known_args(argv)
    if args.command == "sim":
        from venue_sim.__main__ import main as sim_main

        return sim_main([*rest, *args.args])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "up":
        from services.launcher import run_up

        return asyncio.run(run_up(args.data_dir, args.host, args.port_base, demo=args.demo,
                                  nats_nodes=3 if args.nats_cluster else 1))
    if args.command in ops.COMMANDS:
        return ops.run(args)
    if args.command == "serve":
        from services.kit.server import run_forever

        module = importlib.import_module(f"services.{args.service}.server")
        run_forever(module.create_server, Settings.from_env(args.service))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
