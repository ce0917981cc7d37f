"""Master fill → follower order acknowledged at the venue, 1 master × N followers, with every
service in its own process (nats-server, compliance, risk, replication, ...) and the venues on
the simulator. Latency is read off the simulator's clock: the master's trade time to the time
each follower's order reached the venue.

    .venv/bin/python bench/bench_replication.py [--followers 10] [--fills 100] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import auth
from services.launcher import Mesh
from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from venue_sim import Simulator, ccxt_config

SPOT = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance", market_type=trading_pb2.MARKET_TYPE_SPOT)


def free_base() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1] // 10 * 10 % 50000 + 10000


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--followers", type=int, default=10)
    parser.add_argument("--fills", type=int, default=100)
    parser.add_argument("--postgres", default="", help="DATABASE_URL for the services (default: SQLite files)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--gap-ms", type=float, default=100,
                        help="pause between master fills, so each is measured on an idle mesh (0: back to back)")
    parser.add_argument("--data-dir", type=Path, help="keep the services' data here (default: a temporary dir)")
    args = parser.parse_args()

    sim = await Simulator(seed=1).start()
    os.environ.update({"VENUE_URLS": json.dumps({"binance": sim.url}), "VENUE_RATE_LIMIT": "false",
                       "LOG_LEVEL": "WARNING"})
    if args.postgres:
        os.environ["DATABASE_URL"] = args.postgres
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp)
        mesh = Mesh(Path(data_dir), "127.0.0.1", free_base(), services=("compliance", "risk", "replication"))
        endpoints = await mesh.start()
        try:
            figures = await run(sim, endpoints, Path(data_dir), args.followers, args.fills, args.gap_ms / 1000)
        finally:
            await mesh.stop()
            await sim.stop()
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


async def run(sim: Simulator, endpoints: dict, data_dir: Path, n_followers: int, n_fills: int,
              gap_s: float) -> dict:
    secret = json.loads((data_dir / "secrets.json").read_text())["JWT_SECRET"]

    def meta(user: str):
        return (("authorization", f"Bearer {auth.issue_token(secret, user, ['follower', 'master'])[0]}"),)

    compliance = ComplianceServiceStub(grpc.aio.insecure_channel(endpoints["compliance"]))
    replication = ReplicationServiceStub(grpc.aio.insecure_channel(endpoints["replication"]))
    risk = RiskServiceStub(grpc.aio.insecure_channel(endpoints["risk"]))

    operator = (("authorization", f"Bearer {auth.issue_token(secret, 'bench-operator', ['operator'])[0]}"),)

    async def enrol(user: str, role: int, balances: dict, watch: bool = False):
        await compliance.SubmitKyc(comp.SubmitKycRequest(user_id=user, legal_name=user, country="DE",
                                                         document_type="passport", document_number="X"),
                                   metadata=meta(user))
        await compliance.DecideKyc(comp.DecideKycRequest(user_id=user, approve=True), metadata=operator)
        await compliance.RecordConsent(comp.RecordConsentRequest(user_id=user, document="risk_disclosure",
                                                                 version="2026-01"), metadata=meta(user))
        account = sim.create_account(user, balances)
        cred = (await compliance.StoreCredential(comp.StoreCredentialRequest(
            venue=SPOT, api_key=account.api_key, api_secret=account.secret), metadata=meta(user))).credential
        venue_account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=role, venue=SPOT, credential_id=cred.credential_id, watch_fills=watch), metadata=meta(user))).account
        return account, venue_account

    master_sim, master = await enrol("master", rep.ACCOUNT_ROLE_MASTER, {"USDT": "1000000000", "BTC": "100"}, True)
    followers = [f"follower{i}" for i in range(n_followers)]
    for user in followers:
        _, account = await enrol(user, rep.ACCOUNT_ROLE_FOLLOWER, {"USDT": "1000000000", "BTC": "100"})
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")), metadata=meta(user))
        # The latency breaker would stop a follower whose copies queue behind a burst, and the
        # order-rate limit one that copies hundreds of fills a minute; the bench measures the copy
        # path itself, so it lifts both.
        await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
            user_id=user, limits=risk_pb.RiskLimits(circuit_breaker_enabled=False, max_orders_per_minute=1_000_000),
            update_mask=field_mask_pb2.FieldMask(paths=["circuit_breaker_enabled", "max_orders_per_minute"])),
            metadata=meta(user))
    while not sim._streams.get(master_sim.api_key):  # replication is watching the master
        await asyncio.sleep(0.05)

    venue = CcxtVenue("binance", api_key=master_sim.api_key, secret=master_sim.secret,
                      config=ccxt_config(sim.url, rate_limit=False))
    await venue.connect()
    latencies_ms: list[float] = []
    last_ack_ms: list[float] = []
    follower_names = set(followers)
    arrived: list[float] = []  # venue-clock times of follower orders for the current fill
    all_in = asyncio.Event()

    def on_order(account, order, trade, execution_type) -> None:  # runs inside the simulator
        if execution_type == "NEW" and account.name in follower_names:
            arrived.append(order.created_at)
            if len(arrived) == n_followers:
                all_in.set()

    sim.exchange.listeners.append(on_order)
    warmup = 5
    started = time.perf_counter()
    for i in range(n_fills + warmup):
        arrived.clear()
        all_in.clear()
        side = "buy" if i % 2 == 0 else "sell"  # keeps positions flat, so risk approves every copy
        await venue.place_order(OrderRequest(f"m{i}", "BTC/USDT", side, Decimal("0.01")))
        trade_at = sim.exchange.account_by_name("master").trades[-1].at
        try:
            await asyncio.wait_for(all_in.wait(), 10)
        except TimeoutError:
            raise TimeoutError(f"fill {i}: only {len(arrived)} of {n_followers} copied") from None
        if i >= warmup:
            delays = [(at - trade_at) * 1000 for at in arrived]
            latencies_ms += delays
            last_ack_ms.append(max(delays))
        if gap_s:
            await asyncio.sleep(gap_s)
    elapsed = time.perf_counter() - started
    await venue.close()
    return {
        "followers": n_followers, "fills": n_fills, "orders": len(latencies_ms), "gap_between_fills_ms": gap_s * 1000,
        "fill_to_follower_ack_ms": {"p50": round(pct(latencies_ms, 0.5), 3), "p99": round(pct(latencies_ms, 0.99), 3),
                                    "max": round(max(latencies_ms), 3)},
        "last_follower_ack_ms": {"p50": round(pct(last_ack_ms, 0.5), 3), "p99": round(pct(last_ack_ms, 0.99), 3)},
        "follower_orders_per_s": round(len(latencies_ms) / (elapsed - n_fills * gap_s), 1),
    }


if __name__ == "__main__":
    asyncio.run(main())
