"""Master fill → follower order acknowledged at the venue, 1 master × N followers, with every
service in its own process (nats-server, compliance, risk, replication) and the venues on the
simulator. Latency is read off the simulator's clock: the master's trade time to the time each
follower's order reached the venue.

    .venv/bin/python bench/bench_replication.py [--followers 10] [--fills 100] [--postgres URL]

`python -m bench` (./dev bench) runs the whole set from here: the floor, 1×10, 1×100, 1×1000
and a sustained-load ramp, with a table, JSON and plots. The parts that set up copying and
check the result at the venue (`set_up_copying`, `check_copies`) are shared with the
reliability tests (tests/reliability/), which break things in the middle of a burst.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

import aiohttp  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402

from copytrade.compliance.v1 import compliance_service_pb2 as comp  # noqa: E402
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub  # noqa: E402
from copytrade.replication.v1 import replication_service_pb2 as rep  # noqa: E402
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub  # noqa: E402
from copytrade.risk.v1 import risk_service_pb2 as risk_pb  # noqa: E402
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub  # noqa: E402
from copytrade.type.v1 import trading_pb2  # noqa: E402
from services.kit import auth, clients  # noqa: E402
from services.kit.config import TlsFiles  # noqa: E402
from services.kit.natsd import free_port_block  # noqa: E402
from services.launcher import Mesh  # noqa: E402
from services.replication.client_order_id import client_order_id  # noqa: E402
from services.replication.venues.base import OrderRequest  # noqa: E402
from services.replication.venues.ccxt_venue import CcxtVenue  # noqa: E402
from venue_sim import Simulator, ccxt_config, venue_urls  # noqa: E402

SPOT = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance", market_type=trading_pb2.MARKET_TYPE_SPOT)
BALANCES = {"USDT": "1000000000", "BTC": "100"}
MASTER_QTY = Decimal("0.01")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def latency_figures(ms: list[float]) -> dict:
    return {"p50": round(pct(ms, 0.5), 3), "p99": round(pct(ms, 0.99), 3),
            "max": round(max(ms), 3) if ms else float("nan"), "n": len(ms)}


STAGES = ("received", "risk_decided", "sent", "acknowledged")


async def copy_stage_totals(metrics_url: str) -> dict[str, tuple[float, float]]:
    """Replication's own clock of each copy, read from its /metrics: per stage (received by a
    worker, risk decided, sent, acknowledged), the sum of seconds since the master's fill and
    the count of copies."""
    async with aiohttp.ClientSession() as http, http.get(metrics_url) as reply:
        text = await reply.text()
    totals = {stage: [0.0, 0.0] for stage in STAGES}
    for family in text_string_to_metric_families(text):
        if family.name != "copytrade_copy_stage_seconds":
            continue
        for sample in family.samples:
            stage = sample.labels.get("stage")
            if stage in totals and sample.name.endswith("_sum"):
                totals[stage][0] += sample.value
            elif stage in totals and sample.name.endswith("_count"):
                totals[stage][1] += sample.value
    return {stage: (total, count) for stage, (total, count) in totals.items()}


def stage_means_ms(before: dict, after: dict) -> dict[str, float]:
    """Mean milliseconds from the master's fill to each stage, over the copies between two reads."""
    out = {}
    for stage in STAGES:
        total, count = after[stage][0] - before[stage][0], after[stage][1] - before[stage][1]
        out[stage] = round(total / count * 1000, 2) if count else float("nan")
    return out


def service_env(sim_url: str, **extra: str) -> dict[str, str]:
    """What the services need to trade on the simulator, as fast as it lets them."""
    return {"VENUE_URLS": json.dumps(venue_urls(sim_url)), "VENUE_RATE_LIMIT": "false", "LOG_LEVEL": "WARNING",
            **extra}


# --- copying set up through the services' public APIs, and checked at the venue --------------

@dataclass
class Copying:
    """One master account watched on the simulator and its followers' accounts."""

    sim: Simulator
    master: object  # venue_sim Account
    master_account_id: str
    followers: dict[str, str]  # simulator account name → follower venue account id
    venue: CcxtVenue | None = None  # the master's own client, to trade

    async def trade(self, i: int) -> None:
        """One master market order (alternately buy and sell, so positions stay flat and risk
        approves every copy): one master fill at the venue."""
        side = "buy" if i % 2 == 0 else "sell"
        await self.venue.place_order(OrderRequest(f"m{i}-{time.monotonic_ns()}", "BTC/USDT", side, MASTER_QTY))

    def master_trades(self) -> list:
        return list(self.sim.exchange.account_by_name(self.master.name).trades)

    def expected_ids(self, trade) -> dict[str, str]:
        """Follower account name → the client order id the copy of this master trade must carry."""
        fill_id = f"{self.master_account_id}:{trade.trade_id}"
        return {name: client_order_id(fill_id, account_id) for name, account_id in self.followers.items()}

    async def close(self) -> None:
        if self.venue:
            await self.venue.close()


@dataclass
class CopyCheck:
    """What reached the followers' venue accounts, against the master's trades there."""

    fills: int
    expected: int  # fills × followers
    found: int  # follower orders at the venue carrying an expected client order id
    missing: int
    duplicates: int  # extra orders with a client order id already seen
    unexpected: int  # orders at the followers' accounts that copy no master trade
    details: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.missing == 0 and self.duplicates == 0 and self.unexpected == 0


def check_copies(copying: Copying) -> CopyCheck:
    trades = copying.master_trades()
    expected: dict[str, set[str]] = {name: set() for name in copying.followers}
    for trade in trades:
        for name, cid in copying.expected_ids(trade).items():
            expected[name].add(cid)
    found = missing = duplicates = unexpected = 0
    details = []
    for name, wanted in expected.items():
        counts = Counter(o.client_order_id for o in copying.sim.orders(name))
        for cid, n in counts.items():
            if cid in wanted:
                found += 1
                duplicates += n - 1
            else:
                unexpected += n
        lost = wanted - set(counts)
        missing += len(lost)
        if lost or any(n > 1 for n in counts.values()):
            details.append(f"{name}: {len(lost)} missing, {sum(n - 1 for n in counts.values())} duplicated")
    return CopyCheck(len(trades), len(trades) * len(copying.followers), found, missing, duplicates, unexpected,
                     details)


async def set_up_copying(sim: Simulator, endpoints: dict, secret: str, n_followers: int, *,
                         prefix: str = "", concurrency: int = 16, tls_files: TlsFiles | None = None) -> Copying:
    """A master watched on the simulator and n followers copying it 1:1, each registered, KYC
    approved, with simulator keys in the vault and risk's latency breaker and order-rate limit
    lifted (the copy path is what is measured). Through the services' public gRPC APIs (with
    tls_files, the mesh's client certificate: mesh.client_tls)."""

    def meta(user: str):
        return (("authorization", f"Bearer {auth.issue_token(secret, user, ['follower', 'master'])[0]}"),)

    operator = (("authorization", f"Bearer {auth.issue_token(secret, 'bench-operator', ['operator'])[0]}"),)
    channels = [clients.balanced_channel(endpoints[name], tls=tls_files) for name in ("compliance", "replication", "risk")]
    compliance, replication, risk = (ComplianceServiceStub(channels[0]), ReplicationServiceStub(channels[1]),
                                     RiskServiceStub(channels[2]))
    gate = asyncio.Semaphore(concurrency)

    async def enrol(user: str, role: int, watch: bool = False):
        await compliance.SubmitKyc(comp.SubmitKycRequest(user_id=user, legal_name=user, country="DE",
                                                         document_type="passport", document_number="X"),
                                   metadata=meta(user))
        await compliance.DecideKyc(comp.DecideKycRequest(user_id=user, approve=True), metadata=operator)
        await compliance.RecordConsent(comp.RecordConsentRequest(user_id=user, document="risk_disclosure",
                                                                 version="2026-01"), metadata=meta(user))
        account = sim.create_account(user, BALANCES)
        cred = (await compliance.StoreCredential(comp.StoreCredentialRequest(
            venue=SPOT, api_key=account.api_key, api_secret=account.secret), metadata=meta(user))).credential
        venue_account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=role, venue=SPOT, credential_id=cred.credential_id, watch_fills=watch), metadata=meta(user))).account
        return account, venue_account

    async def follower(user: str, master_account_id: str) -> tuple[str, str]:
        async with gate:
            _, account = await enrol(user, rep.ACCOUNT_ROLE_FOLLOWER)
            await replication.StartCopySession(rep.StartCopySessionRequest(
                follower_account_id=account.account_id, master_account_id=master_account_id,
                settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
                metadata=meta(user))
            await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
                user_id=user, limits=risk_pb.RiskLimits(circuit_breaker_enabled=False,
                                                        max_orders_per_minute=1_000_000),
                update_mask=field_mask_pb2.FieldMask(paths=["circuit_breaker_enabled", "max_orders_per_minute"])),
                metadata=meta(user))
            return user, account.account_id

    try:
        master_sim, master = await enrol(f"{prefix}master", rep.ACCOUNT_ROLE_MASTER, watch=True)
        followers = dict(await asyncio.gather(*(follower(f"{prefix}follower{i}", master.account_id)
                                                for i in range(n_followers))))
    finally:
        for ch in channels:
            await ch.close()
    deadline = time.monotonic() + 60
    while not sim._streams.get(master_sim.api_key):  # replication is watching the master
        if time.monotonic() > deadline:
            raise TimeoutError("replication never started watching the master's fill stream")
        await asyncio.sleep(0.05)
    venue = CcxtVenue("binance", api_key=master_sim.api_key, secret=master_sim.secret,
                      config=ccxt_config(sim.url, rate_limit=False))
    await venue.connect()
    return Copying(sim, master_sim, master.account_id, followers, venue)


class Arrivals:
    """Follower orders as they reach the venue (the simulator's clock), matched to the master
    trade they copy by client order id."""

    def __init__(self, copying: Copying) -> None:
        self.copying = copying
        self.trade_at: dict[str, float] = {}  # expected client order id → its master trade's time
        self.latencies_ms: list[float] = []
        self.arrival_times: list[float] = []  # venue clock
        self.per_trade: dict[int, list[float]] = {}
        self._cid_trade: dict[str, int] = {}
        self.changed = asyncio.Event()
        self._master = copying.master.name
        copying.sim.exchange.listeners.append(self)

    def close(self) -> None:
        self.copying.sim.exchange.listeners.remove(self)

    def __call__(self, account, order, trade, execution_type) -> None:  # runs inside the simulator
        if account.name == self._master and trade is not None:
            for cid in self.copying.expected_ids(trade).values():
                self.trade_at[cid] = trade.at
                self._cid_trade[cid] = trade.trade_id
            self.per_trade[trade.trade_id] = []
        elif execution_type == "NEW" and order.client_order_id in self.trade_at:
            delay = (order.created_at - self.trade_at[order.client_order_id]) * 1000
            self.latencies_ms.append(delay)
            self.arrival_times.append(order.created_at)
            self.per_trade[self._cid_trade[order.client_order_id]].append(delay)
            self.changed.set()

    async def wait_for(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.latencies_ms) < n:
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self.latencies_ms)} of {n} follower orders arrived")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass


# --- the scenarios -------------------------------------------------------------------------

async def run_latency(copying: Copying, n_fills: int, gap_s: float, warmup: int = 5,
                      metrics_url: str = "") -> dict:
    """Fills one after another, each waited for at every follower: latency on an idle mesh.
    With replication's metrics_url, also where the time goes: the mean from the master's fill
    to each stage of a copy, by replication's clock."""
    arrivals = Arrivals(copying)
    n_followers = len(copying.followers)
    timeout = 30 + n_followers / 20
    try:
        for i in range(warmup):
            await copying.trade(i)
            await arrivals.wait_for((i + 1) * n_followers, timeout)
        arrivals.latencies_ms.clear()
        arrivals.per_trade.clear()
        stages_before = await copy_stage_totals(metrics_url) if metrics_url else None
        started = time.perf_counter()
        for i in range(n_fills):
            await copying.trade(warmup + i)
            await arrivals.wait_for((i + 1) * n_followers, timeout)
            if gap_s:
                await asyncio.sleep(gap_s)
        elapsed = time.perf_counter() - started - n_fills * gap_s
        stages = stage_means_ms(stages_before, await copy_stage_totals(metrics_url)) if metrics_url else {}
    finally:
        arrivals.close()
    last_ack = [max(v) for v in arrivals.per_trade.values() if v]
    return {
        "followers": n_followers, "fills": n_fills, "orders": len(arrivals.latencies_ms),
        "gap_between_fills_ms": gap_s * 1000,
        "fill_to_follower_ack_ms": latency_figures(arrivals.latencies_ms),
        "last_follower_ack_ms": latency_figures(last_ack),
        "follower_orders_per_s": round(len(arrivals.latencies_ms) / elapsed, 1),
        "fill_to_stage_mean_ms": stages,
        "latencies_ms": [round(x, 3) for x in arrivals.latencies_ms],
    }


async def run_sustained(copying: Copying, rates: list[float], step_s: float) -> dict:
    """Offer master fills at a rising rate, each step for step_s seconds, until the mesh falls
    behind: the step ends with copies outstanding that take long to drain, or it completes
    clearly fewer follower orders a second than were offered."""
    n_followers = len(copying.followers)
    steps = []
    saturated_at = None
    trade_no = 10_000
    for rate in rates:
        arrivals = Arrivals(copying)
        try:
            started = time.perf_counter()
            sends = []
            n = max(1, int(rate * step_s))
            for i in range(n):  # on schedule, whether or not earlier ones are done
                sends.append(asyncio.create_task(copying.trade(trade_no)))
                trade_no += 1
                await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
            await asyncio.gather(*sends)
            step_end = time.perf_counter()
            expected = n * n_followers
            backlog = expected - len(arrivals.latencies_ms)
            drain_timeout = max(30.0, step_s * 10)
            try:
                await arrivals.wait_for(expected, drain_timeout)
            except TimeoutError:
                pass
            drain_s = time.perf_counter() - step_end
            span = (max(arrivals.arrival_times) - min(arrivals.arrival_times)) if len(arrivals.arrival_times) > 1 \
                else step_s
            achieved = len(arrivals.latencies_ms) / max(span, step_s)
        finally:
            arrivals.close()
        step = {"offered_fills_per_s": rate, "offered_orders_per_s": rate * n_followers, "fills": n,
                "orders": len(arrivals.latencies_ms), "achieved_orders_per_s": round(achieved, 1),
                "backlog_at_step_end": backlog, "drain_s": round(drain_s, 3),
                "latency_ms": latency_figures(arrivals.latencies_ms)}
        steps.append(step)
        print(f"  sustained {rate:>7.1f} fills/s ({rate * n_followers:>8.1f} orders/s offered): "
              f"{achieved:8.1f} orders/s, backlog {backlog}, drained in {drain_s:.2f}s, "
              f"p99 {step['latency_ms']['p99']} ms", flush=True)
        if backlog > max(n_followers, 0.25 * expected) or achieved < 0.8 * rate * n_followers \
                or len(arrivals.latencies_ms) < expected:
            saturated_at = rate
            break
    sustained = [s for s in steps if s["offered_fills_per_s"] != saturated_at]
    return {"followers": n_followers, "step_s": step_s, "steps": steps, "saturated_at_fills_per_s": saturated_at,
            "max_sustained_orders_per_s": max((s["achieved_orders_per_s"] for s in sustained), default=0.0)}


async def start_stack(data_dir: Path, postgres: str, extra_env: dict[str, str] | None = None,
                      port_base: int | None = None, nats_nodes: int = 1, **simulator):
    """The simulator, then nats-server (or a local cluster of nats_nodes) and compliance, risk
    and replication, each its own process, on the given PostgreSQL (or SQLite files when
    postgres is empty)."""
    sim = await Simulator(seed=1, **simulator).start()
    env = service_env(sim.url, **(extra_env or {}))
    if postgres:
        env["DATABASE_URL"] = postgres
    mesh = Mesh(data_dir, "127.0.0.1", port_base or free_port_block(19 if nats_nodes > 1 else 16),
                services=("compliance", "risk", "replication"), extra_env=env, nats_nodes=nats_nodes)
    try:
        endpoints = await mesh.start()
    except BaseException:
        await mesh.stop()
        await sim.stop()
        raise
    secret = json.loads((data_dir / "secrets.json").read_text())["JWT_SECRET"]
    return sim, mesh, endpoints, secret


async def main() -> None:
    parser = argparse.ArgumentParser(description="one latency scenario; `python -m bench` runs them all")
    parser.add_argument("--followers", type=int, default=10)
    parser.add_argument("--fills", type=int, default=100)
    parser.add_argument("--postgres", default="", help="DATABASE_URL for the services (default: SQLite files)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--gap-ms", type=float, default=100,
                        help="pause between master fills, so each is measured on an idle mesh (0: back to back)")
    parser.add_argument("--data-dir", type=Path, help="keep the services' data here (default: a temporary dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = (args.data_dir or Path(tmp)).resolve()
        sim, mesh, endpoints, secret = await start_stack(data_dir, args.postgres)
        try:
            copying = await set_up_copying(sim, endpoints, secret, args.followers, tls_files=mesh.client_tls)
            figures = await run_latency(copying, args.fills, args.gap_ms / 1000,
                                        metrics_url=endpoints["metrics_replication"])
            await copying.close()
        finally:
            await mesh.stop()
            await sim.stop()
    figures.pop("latencies_ms")
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    asyncio.run(main())
