"""`copytrade up --demo`: register() adds --demo to the `copytrade up` command (the demo's
"copytrade.commands" entry point), which then runs demo.runner.Demo beside the mesh;
`python -m demo [up options]` is the same without an installed entry point."""

from __future__ import annotations

import argparse


def register(commands) -> None:
    """services.cli.Commands: the option, and the companion it asks for."""
    commands.up.add_argument("--demo", action="store_true",
                             help="also run the venue simulator (B+7) with master bots trading and three followers "
                                  "copying them, seeded through the public APIs; prints logins and how to watch")
    commands.companion(_demo_if_asked)


def _demo_if_asked(args: argparse.Namespace):
    if not args.demo:
        return None
    from demo.runner import Demo  # imported when asked for: it brings the simulator and ccxt

    return Demo(args.data_dir, args.port_base)
