"""create_server(settings) for the replication service."""

from __future__ import annotations

from pathlib import Path

from copytrade.replication.v1 import replication_service_pb2, replication_service_pb2_grpc
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.server import Registration, RunningService, start_grpc_server
from services.replication.service import ReplicationServicer

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    registration = Registration(
        replication_service_pb2.DESCRIPTOR.services_by_name["ReplicationService"].full_name,
        replication_service_pb2_grpc.add_ReplicationServiceServicer_to_server, ReplicationServicer(db),
    )
    return await start_grpc_server(settings, [registration], cleanups=[db.close])
