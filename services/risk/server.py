"""create_server(settings) for the risk service."""

from __future__ import annotations

from pathlib import Path

from copytrade.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.server import Registration, RunningService, start_grpc_server
from services.risk.limits import platform_defaults
from services.risk.service import RiskServicer

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    servicer = RiskServicer(db, platform_defaults())
    registration = Registration(
        risk_service_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name,
        risk_service_pb2_grpc.add_RiskServiceServicer_to_server, servicer,
    )
    return await start_grpc_server(settings, [registration], cleanups=[db.close])
