"""The `copytrade` command: `up` (the whole mesh on one machine), `serve` (one service) and the
operator's commands (services/ops.py).

Commands installed beside the platform join through the entry-point group "copytrade.commands"
(pyproject.toml), each named after the command it adds or extends and loaded only when that
command runs (or for the help): a callable handed a Commands, to which it adds its subcommand or
its `up` options. The venue simulator adds `copytrade sim` (venue_sim.cli) and the demo
`up --demo` (demo.cli); production knows neither, and where they are not installed (the service
image) they are not offered."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from services.kit.config import DEFAULT_PORT_BASE, SERVICES, Settings

PLUGIN_GROUP = "copytrade.commands"


@dataclass
class Commands:
    """What a plugin extends: `subcommands` (argparse's, to add_parser on) and `up` (the up
    command's parser, to add options to). add() runs a subcommand of its own with (args, the
    arguments argparse did not take); companion() offers the launcher something to run beside
    the mesh (services.launcher.Companion) when the up options ask for it (None: not asked)."""

    subcommands: argparse._SubParsersAction
    up: argparse.ArgumentParser
    runners: dict[str, Callable[[argparse.Namespace, list[str]], int]] = field(default_factory=dict)
    companions: list[Callable[[argparse.Namespace], object | None]] = field(default_factory=list)

    def add(self, name: str, run: Callable[[argparse.Namespace, list[str]], int]) -> None:
        self.runners[name] = run

    def companion(self, make: Callable[[argparse.Namespace], object | None]) -> None:
        self.companions.append(make)


def installed_plugins(command: str | None = None) -> list[Callable[[Commands], None]]:
    """The "copytrade.commands" entry points for `command` (None: all) whose package is installed
    (a missing one is skipped)."""
    plugins = []
    for entry in metadata.entry_points(group=PLUGIN_GROUP):
        if command is not None and entry.name != command:
            continue
        try:
            plugins.append(entry.load())
        except ImportError:
            continue
    return plugins


def main(argv: list[str] | None = None, plugins: Iterable[Callable[[Commands], None]] | None = None) -> int:
    try:
        return _main(argv, plugins)
    except BrokenPipeError:  # the reader went away (`copytrade feed | head`): stop as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        return 128 + signal.SIGPIPE


def _main(argv: list[str] | None, plugins: Iterable[Callable[[Commands], None]] | None) -> int:
    parser = argparse.ArgumentParser(prog="copytrade", description="Universal copy trading.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run nats-server and all five services")
    up.add_argument("--data-dir", type=Path, default=Path("data"), help="where data lives (default ./data)")
    up.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    up.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE,
                    help="nats on B, discovery B+1, replication B+2, risk B+3, compliance B+4, "
                         "gateway B+5, HTTP B+6 (default %(default)s)")
    up.add_argument("--nats-cluster", action="store_true",
                    help="run NATS as a local 3-node JetStream cluster (nodes on B, B+8, B+9; routes on "
                         "B+16..B+18; streams kept on all three), so a node can fail without stopping copying")

    serve = sub.add_parser("serve", help="run one service (configured from the environment)")
    serve.add_argument("service", choices=SERVICES)

    from services import ops

    ops.add_commands(sub)
    commands = Commands(sub, up)
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and not argv[0].startswith("-") else None
    for plugin in installed_plugins(command) if plugins is None else plugins:
        plugin(commands)

    args, rest = parser.parse_known_args(argv)
    if args.command in commands.runners:
        return commands.runners[args.command](args, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "up":
        from services.launcher import run_up

        companion = next((c for c in (make(args) for make in commands.companions) if c is not None), None)
        return asyncio.run(run_up(args.data_dir, args.host, args.port_base, companion=companion,
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
