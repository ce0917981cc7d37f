"""The pre-trade check on the copy path: ReserveOrder as replication calls it (over gRPC, to a
real risk server), the server's own time for it (the decision with its database work), and
one master fill's 1,000 copies decided in one ReserveOrders call, on SQLite and on PostgreSQL. Each follower holds a few positions and open reservations, as a
busy follower would.

    .venv/bin/python bench/bench_risk.py [--n 2000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2

from copytrade.risk.v1 import risk_internal_service_pb2 as ipb
from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1.risk_internal_service_pb2_grpc import RiskInternalServiceStub
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import auth
from services.kit.config import Settings
from services.kit.natsd import NatsServer
from services.domain.risk import checks
from services.risk.reservations import Ask
from services.risk.server import create_server

SECRET = "bench-secret-0123456789-0123456789"
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
BATCH, BATCH_ROUNDS = 1000, 20


def summary(name: str, samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"{name:<40} n={len(ms):<6} p50={p(0.50):7.3f} ms  p99={p(0.99):7.3f} ms  max={ms[-1]:7.3f} ms"


async def run(label: str, settings: Settings, n: int) -> None:
    running = await create_server(settings)
    users = [f"bench-{uuid.uuid4().hex[:6]}-{i}" for i in range(10)]
    token = auth.issue_token(SECRET, "replication", [auth.ROLE_SERVICE])[0]
    metadata = (("authorization", f"Bearer {token}"),)
    client, server = [], []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = RiskServiceStub(channel)
        for user in users:  # lift the order rate: this measures the check, not the throttle
            await stub.UpdateRiskLimits(pb.UpdateRiskLimitsRequest(
                user_id=user, limits=pb.RiskLimits(max_orders_per_minute=10_000_000),
                update_mask=field_mask_pb2.FieldMask(paths=["max_orders_per_minute"])), metadata=metadata)
        for i in range(n + 200):
            user = users[i % len(users)]
            symbol = SYMBOLS[i % len(SYMBOLS)]
            request = pb.ReserveOrderRequest(reservation_id=f"{user}-{i}", intent=pb.OrderIntent(
                follower_id=user, instrument=trading_pb2.Instrument(symbol=symbol, lot_size="0.001"),
                side=trading_pb2.SIDE_BUY if i % 2 else trading_pb2.SIDE_SELL, quantity="0.001",
                expected_price="100", reference_price="100", equity="100000"))
            started = time.perf_counter()
            reply = await stub.ReserveOrder(request, metadata=metadata)
            elapsed = time.perf_counter() - started
            if reply.decision != pb.DECISION_DENIED and i % 3:  # most get their fill, some stay open
                await stub.CommitReservation(pb.CommitReservationRequest(
                    reservation_id=request.reservation_id, filled_quantity="0.001", fill_price="100"),
                    metadata=metadata)
            if i >= 200:
                client.append(elapsed)
    # The server's share: the same decision with its database work, without the network.
    book = running.components.get("book")
    if book is not None:
        limits = running.components["defaults"]
        for i in range(n):
            user = users[i % len(users)]
            order = checks.Order(SYMBOLS[i % 4], Decimal("0.001") * (1 if i % 2 else -1), Decimal(100),
                                 Decimal(100), Decimal("0.001"))
            started = time.perf_counter()
            await book.reserve("replication", [Ask(f"{user}-direct-{i}", user, "", order, Decimal(100000), limits)])
            server.append(time.perf_counter() - started)
    # A master fill to 1,000 followers, decided in one ReserveOrders call.
    batches = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        internal = RiskInternalServiceStub(channel)
        tag = uuid.uuid4().hex[:6]
        for round_ in range(BATCH_ROUNDS):
            orders = [pb.ReserveOrderRequest(reservation_id=f"fill{round_}-{f}", intent=pb.OrderIntent(
                follower_id=f"bench-{tag}-{f}", instrument=trading_pb2.Instrument(symbol="BTC/USDT", lot_size="0.001"),
                side=trading_pb2.SIDE_BUY, quantity="0.001", expected_price="100", reference_price="100",
                equity="100000")) for f in range(BATCH)]
            started = time.perf_counter()
            await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=orders), metadata=metadata)
            batches.append(time.perf_counter() - started)
    await running.stop(0)
    print(summary(f"ReserveOrder over gRPC ({label})", client))
    if server:
        print(summary(f"reserve in the server ({label})", server))
    print(summary(f"ReserveOrders of {BATCH} over gRPC ({label})", batches))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        nats = await NatsServer(tmp / "js").start()
        try:
            base = dict(service="risk", data_dir=tmp, nats_url=nats.url, jwt_secret=SECRET, listen="127.0.0.1:0",
                        log_level="WARNING")
            await run("SQLite", Settings(**base), args.n)
            try:
                await run("PostgreSQL", Settings(**base, database_url=args.postgres), args.n)
            except Exception as exc:  # noqa: BLE001 - SQLite's figures still stand
                print(f"PostgreSQL skipped: {exc}")
        finally:
            await nats.stop()


if __name__ == "__main__":
    asyncio.run(main())
