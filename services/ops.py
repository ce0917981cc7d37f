"""The operator's command line: log in, watch the copy feed, compare a follower's positions with
what its master's imply, pull or reset the kill switch, list pending retries. A gRPC client of
the running mesh (addresses from <data-dir>/endpoints.json, written by `copytrade up`; on TLS
with <data-dir>/tls/client.pem, made by it)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import warnings
from datetime import UTC
from pathlib import Path

import grpc

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import error_recovery_service_pb2 as er
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.error_recovery_service_pb2_grpc import ErrorRecoveryServiceStub
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import clients, tls
from services.kit.config import cli_token, default_addresses

TOKEN_FILE = "cli-token"


def add_commands(sub) -> None:
    def common(parser):
        parser.add_argument("--data-dir", type=Path, default=Path("data"), help="the mesh's data dir (default ./data)")
        return parser

    login = common(sub.add_parser("login", help="log in and keep the token for the other commands"))
    login.add_argument("email")
    login.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    feed = common(sub.add_parser("feed", help="watch copies as they happen"))
    feed.add_argument("--follower", default="", help="a follower's copies (default: yours)")
    feed.add_argument("--master", default="", help="or every copy of a master's fills")
    positions = common(sub.add_parser("positions", help="a session's positions against what the master implies"))
    positions.add_argument("config_id")
    kill = common(sub.add_parser("kill-switch", help="halt (on) or resume (off) trading"))
    kill.add_argument("state", choices=("on", "off"))
    whose = kill.add_mutually_exclusive_group()
    whose.add_argument("--user", default="", help="whose trading")
    whose.add_argument("--all", action="store_true",
                       help="every follower on the platform; `on` asks you to type HALT ALL")
    kill.add_argument("--yes", action="store_true", help="with --all: skip the typed confirmation (scripts)")
    kill.add_argument("--reason", default="", help="why, for the audit trail")
    retries = common(sub.add_parser("retries", help="failed copies waiting for a retry or a person"))
    retries.add_argument("--follower", default="", help="one follower's (operators see everyone's by default)")


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(COMMANDS[args.command](args))
    except grpc.aio.AioRpcError as err:
        print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _addresses(data_dir: Path) -> dict[str, str]:
    endpoints = data_dir / "endpoints.json"
    if endpoints.exists():
        return {k: v for k, v in json.loads(endpoints.read_text()).items() if not str(v).startswith("http")}
    return default_addresses()


def _channel(data_dir: Path, service: str) -> grpc.aio.Channel:
    """A channel to a service of the mesh on data_dir, with the certificate `up` made for tools."""
    return clients.balanced_channel(_addresses(data_dir)[service], tls=tls.tool_files(data_dir))


def _metadata(data_dir: Path) -> tuple[tuple[str, str], ...]:
    token = cli_token() or (
        (data_dir / TOKEN_FILE).read_text().strip() if (data_dir / TOKEN_FILE).exists() else "")
    if not token:
        raise SystemExit("not logged in: run `copytrade login EMAIL` (or set COPYTRADE_TOKEN)")
    return (("authorization", f"Bearer {token}"),)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


async def login(args) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        try:
            with warnings.catch_warnings():  # without a terminal getpass would echo the password, or hit EOF
                warnings.simplefilter("error", getpass.GetPassWarning)
                password = getpass.getpass("password: ")
        except (getpass.GetPassWarning, EOFError):
            print("error: no terminal to ask for the password on: pipe it in with --password-stdin", file=sys.stderr)
            return 2
    async with _channel(args.data_dir, "compliance") as channel:
        reply = await ComplianceServiceStub(channel).Login(comp.LoginRequest(email=args.email, password=password))
    path = args.data_dir / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reply.access_token)
    path.chmod(0o600)
    print(f"logged in as {args.email}; the token is kept in {path}")
    return 0


def _describe(event) -> list[str]:
    kind = event.WhichOneof("kind")
    body = getattr(event, kind)
    order = body.order
    status = {"placed": "placed", "filled": "filled", "refused": f"refused: {body.refusal.reason}" if kind == "refused"
              else "", "failed": f"failed: {getattr(body, 'error_kind', '')}",
              "canceled": f"canceled: {getattr(body, 'reason', '') or order.cancel_reason}" if kind == "canceled"
              else ""}[kind]
    if kind in ("placed", "filled") and order.HasField("reduction"):  # a limit made it smaller
        status += f" (reduced from {order.reduction.metadata.get('sized_quantity', '?')}: {order.reduction.reason})"
    latency = ""
    if order.HasField("ack_time") and order.HasField("master_fill_time"):
        latency = f"{order.ack_time.ToMilliseconds() - order.master_fill_time.ToMilliseconds()} ms"
    when = event.occur_time.ToDatetime(tzinfo=UTC).strftime("%H:%M:%S")
    side = trading_pb2.Side.Name(order.side).removeprefix("SIDE_").lower() if order.side else ""
    return [when, order.follower_id, order.symbol, side, order.quantity, status, latency]


async def feed(args) -> int:
    headers = ["time", "follower", "symbol", "side", "quantity", "outcome", "latency"]
    async with _channel(args.data_dir, "replication") as channel:
        stream = ReplicationServiceStub(channel).StreamCopyEvents(
            rep.StreamCopyEventsRequest(follower_id=args.follower, master_id=args.master),
            metadata=_metadata(args.data_dir))
        print(table(headers, []), flush=True)
        widths = [8, 20, 14, 4, 10, 28, 8]
        async for reply in stream:
            cells = _describe(reply.event)
            print("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip(), flush=True)
    return 0


async def positions(args) -> int:
    async with _channel(args.data_dir, "replication") as channel:
        result = (await ErrorRecoveryServiceStub(channel).ReconcileTrade(
            er.ReconcileTradeRequest(config_id=args.config_id, dry_run=True),
            metadata=_metadata(args.data_dir))).result
    print(f"session {args.config_id}: {'in sync' if result.in_sync else 'DRIFTED'}")
    rows = [[d.symbol, d.follower_position, d.target_position, d.difference,
             er.DiscrepancyCause.Name(d.cause).removeprefix("DISCREPANCY_CAUSE_").lower()]
            for d in result.discrepancies]
    print(table(["symbol", "follower holds", "master implies", "difference", "cause"], rows) if rows
          else "no differences")
    return 0


PLATFORM_CONFIRMATION = "HALT ALL"


def _platform_switch_confirmed(args) -> bool:
    """The platform-wide switch halts every follower, so it is never a default: it takes --all,
    and turning it on takes the words typed (or --yes from a script that named --all)."""
    if not args.user and not args.all:
        print("error: say whose trading: --user USER_ID, or --all for the whole platform", file=sys.stderr)
        return False
    if args.yes and not args.all:
        print("error: --yes confirms --all and means nothing without it", file=sys.stderr)
        return False
    if args.all and args.state == "on" and not args.yes:
        print(f"this halts every follower on the platform; type {PLATFORM_CONFIRMATION} to go on: ", end="",
              flush=True)
        if sys.stdin.readline().strip() != PLATFORM_CONFIRMATION:
            print("\nerror: not confirmed; the platform is not halted", file=sys.stderr)
            return False
        print()
    return True


async def kill_switch(args) -> int:
    if not _platform_switch_confirmed(args):
        return 2
    scope = risk_pb.TradingScope(user_id=args.user)
    async with _channel(args.data_dir, "risk") as channel:
        risk = RiskServiceStub(channel)
        if args.state == "on":
            reply = await risk.ActivateKillSwitch(risk_pb.ActivateKillSwitchRequest(
                scope=scope, reason=args.reason or "kill switch from the command line"),
                metadata=_metadata(args.data_dir))
        else:
            reply = await risk.ResetTradingState(risk_pb.ResetTradingStateRequest(
                scope=scope, comment=args.reason or "reset from the command line"), metadata=_metadata(args.data_dir))
    state = trading_pb2.TradingState.Name(reply.state.state).removeprefix("TRADING_STATE_")
    print(f"{args.user or 'platform'}: {state}{' (kill switch on)' if reply.state.kill_switch_active else ''}")
    return 0


async def retries(args) -> int:
    async with _channel(args.data_dir, "replication") as channel:
        events = (await ErrorRecoveryServiceStub(channel).ListPendingRetries(
            er.ListPendingRetriesRequest(follower_id=args.follower, page_size=500),
            metadata=_metadata(args.data_dir))).events
    rows = [[e.error_id, e.follower_id, er.ErrorType.Name(e.error_type).removeprefix("ERROR_TYPE_").lower(),
             er.ErrorStatus.Name(e.status).removeprefix("ERROR_STATUS_").lower(), str(e.attempt_count),
             e.next_attempt_time.ToDatetime(tzinfo=UTC).strftime("%H:%M:%S") if e.HasField("next_attempt_time")
             else "-", e.message[:60]] for e in events]
    print(table(["error", "follower", "type", "status", "tries", "next", "message"], rows) if rows
          else "nothing waits")
    return 0


COMMANDS = {"login": login, "feed": feed, "positions": positions, "kill-switch": kill_switch, "retries": retries}
