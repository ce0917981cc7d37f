"""Invariant 1 across replicas: thousands of simultaneous reservations for one follower, split
over two risk server processes on PostgreSQL, never jointly exceed the position limit."""

import asyncio
import os
import subprocess
import sys
import uuid
from decimal import Decimal

import grpc
from google.protobuf import field_mask_pb2

from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.natsd import free_port
from services.launcher import wait_serving
from tests.conftest import TEST_SECRET


async def test_two_risk_processes_never_overshoot_a_limit(postgres_url, nats_server, service_metadata, replication_metadata,
                                                          tmp_path):
    ports = [free_port(), free_port()]
    env = {**os.environ, "DATABASE_URL": postgres_url, "NATS_URL": nats_server.url, "JWT_SECRET": TEST_SECRET,
           "LOG_LEVEL": "WARNING", "COPYTRADE_DATA_DIR": str(tmp_path)}
    processes = []
    try:
        for port in ports:
            processes.append(subprocess.Popen([sys.executable, "-m", "services.risk"],
                                              env={**env, "LISTEN_ADDR": f"127.0.0.1:{port}"},
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            await wait_serving(f"127.0.0.1:{port}", 60)
        channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for port in ports]
        stubs = [RiskServiceStub(c) for c in channels]
        user = f"u_{uuid.uuid4().hex[:8]}"
        # This test is about the position limit: the order-rate limit (120 a minute) is lifted.
        await stubs[0].UpdateRiskLimits(pb.UpdateRiskLimitsRequest(
            user_id=user, limits=pb.RiskLimits(max_orders_per_minute=1_000_000),
            update_mask=field_mask_pb2.FieldMask(paths=["max_orders_per_minute"])), metadata=service_metadata)
        # max_position_size 5000 at price 100 → at most 50 units; 2000 requests of 0.1 each ask for 200.
        intent = pb.OrderIntent(follower_id=user, side=trading_pb2.SIDE_BUY, quantity="0.1", expected_price="100",
                                reference_price="100",
                                instrument=trading_pb2.Instrument(symbol="ETH/USDT", lot_size="0.1"))
        semaphore = asyncio.Semaphore(200)  # thousands in flight, bounded so the test stays on 2 cores

        async def reserve(i: int):
            async with semaphore:
                stub = stubs[i % 2]
                reply = await stub.ReserveOrder(pb.ReserveOrderRequest(
                    reservation_id=f"{user}-{i}", intent=intent), metadata=replication_metadata, timeout=60)
                if reply.decision != pb.DECISION_DENIED:  # filled, as replication reports it
                    await stub.CommitReservation(pb.CommitReservationRequest(
                        reservation_id=f"{user}-{i}", filled_quantity=reply.approved_quantity, fill_price="100"),
                        metadata=replication_metadata, timeout=60)
                return reply

        replies = await asyncio.gather(*(reserve(i) for i in range(2000)))
        approved = sum(Decimal(r.approved_quantity) for r in replies if r.decision != pb.DECISION_DENIED)
        assert approved == Decimal("50")  # filled exactly up to the limit, never past it
        assert sum(r.decision == pb.DECISION_DENIED for r in replies) == 1500
        for channel in channels:
            await channel.close()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
