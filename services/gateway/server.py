"""create_server(settings) for the gateway's gRPC service."""

from __future__ import annotations

from pathlib import Path

from copytrade.gateway.v1 import gateway_service_pb2, gateway_service_pb2_grpc
from services.gateway.service import GatewayServicer
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.server import Registration, RunningService, start_grpc_server

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    registration = Registration(
        gateway_service_pb2.DESCRIPTOR.services_by_name["GatewayService"].full_name,
        gateway_service_pb2_grpc.add_GatewayServiceServicer_to_server, GatewayServicer(db),
    )
    return await start_grpc_server(settings, [registration], cleanups=[db.close])
