"""The floor every copy stands on, measured on this machine: a gRPC round trip to a real
service, a JetStream publish→consume→ack, and a database commit. Every copy-path figure should
be read as a multiple of these.

    .venv/bin/python bench/bench_floor.py [--n 2000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import grpc
from sqlalchemy import text

from grpc_health.v1.health_pb2 import HealthCheckRequest
from grpc_health.v1.health_pb2_grpc import HealthStub

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.kit import auth
from services.kit.bus import Bus
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.natsd import NatsServer
from services.risk.server import create_server

SECRET = "bench-secret-0123456789-0123456789"


def summary(name: str, samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"{name:<34} n={len(ms):<6} p50={p(0.50):7.3f} ms  p99={p(0.99):7.3f} ms  max={ms[-1]:7.3f} ms"


async def grpc_round_trip(n: int, tmp: Path, nats_url: str) -> list[float]:
    settings = Settings(service="risk", data_dir=tmp, nats_url=nats_url, jwt_secret=SECRET, listen="127.0.0.1:0")
    running = await create_server(settings)
    token = auth.issue_token(SECRET, "bench-user", ["follower"])[0]
    metadata = (("authorization", f"Bearer {token}"),)
    health_samples, read_samples = [], []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        health = HealthStub(channel)
        stub = RiskServiceStub(channel)
        request = risk_pb.GetRiskLimitsRequest(user_id="bench-user")
        for i in range(n + 100):
            started = time.perf_counter()
            await health.Check(HealthCheckRequest())
            middle = time.perf_counter()
            await stub.GetRiskLimits(request, metadata=metadata)
            if i >= 100:  # warm-up
                health_samples.append(middle - started)
                read_samples.append(time.perf_counter() - middle)
    await running.stop(0)
    return health_samples, read_samples


async def jetstream_round_trip(n: int, nats_url: str) -> list[float]:
    publisher = await Bus.connect(nats_url, "bench-pub")
    consumer = await Bus.connect(nats_url, "bench-sub", ensure_streams=False)
    tag = uuid.uuid4().hex[:8]
    subject = f"fills.master.filled.{tag}"
    arrived: dict[str, float] = {}
    waiter: asyncio.Future | None = None

    async def handler(delivery):
        arrived[delivery.msg_id] = time.perf_counter()
        if waiter and not waiter.done():
            waiter.set_result(None)

    await consumer.consume("FILLS", f"bench-{tag}", subject, handler, batch=1)
    samples = []
    for i in range(n):
        waiter = asyncio.get_running_loop().create_future()
        msg_id = f"{tag}-{i}"
        started = time.perf_counter()
        await publisher.publish(subject, events.MasterFill(fill_id=msg_id, quantity="1"), msg_id=msg_id)
        await waiter
        samples.append(arrived[msg_id] - started)
    await consumer.close()
    await publisher.close()
    return samples


async def db_commit(n: int, settings: Settings) -> list[float]:
    db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS bench_commit (id VARCHAR(40) PRIMARY KEY, v INTEGER)"))
    samples = []
    for i in range(n):
        started = time.perf_counter()
        async with db.session() as session:
            await session.execute(text("INSERT INTO bench_commit (id, v) VALUES (:id, :v)"),
                                  {"id": uuid.uuid4().hex, "v": i})
        samples.append(time.perf_counter() - started)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP TABLE bench_commit"))
    await db.close()
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        nats = await NatsServer(tmp / "js").start()
        try:
            bare, with_read = await grpc_round_trip(args.n, tmp, nats.url)
            print(summary("gRPC round trip (health check)", bare))
            print(summary("gRPC + auth + SQLite read (risk)", with_read))
            print(summary("JetStream publish -> handler", await jetstream_round_trip(args.n, nats.url)))
            print(summary("SQLite insert + commit", await db_commit(args.n, Settings(service="bench", data_dir=tmp))))
            try:
                pg = Settings(service="public", data_dir=tmp, database_url=args.postgres)
                print(summary("PostgreSQL insert + commit", await db_commit(args.n, pg)))
            except Exception as exc:  # noqa: BLE001 - the floor is still useful without it
                print(f"PostgreSQL insert + commit         skipped: {exc}")
        finally:
            await nats.stop()


if __name__ == "__main__":
    asyncio.run(main())
