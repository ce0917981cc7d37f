"""create_server(settings) for the compliance service."""

from __future__ import annotations

from pathlib import Path

from copytrade.compliance.v1 import (
    compliance_internal_service_pb2,
    compliance_internal_service_pb2_grpc,
    compliance_service_pb2,
    compliance_service_pb2_grpc,
)
from services.compliance.service import ComplianceInternalServicer, ComplianceServicer, open_vault
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.server import Registration, RunningService, start_grpc_server

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    vault = await open_vault(db, settings.master_key)
    registrations = [
        Registration(compliance_service_pb2.DESCRIPTOR.services_by_name["ComplianceService"].full_name,
                     compliance_service_pb2_grpc.add_ComplianceServiceServicer_to_server,
                     ComplianceServicer(db, settings, vault)),
        Registration(
            compliance_internal_service_pb2.DESCRIPTOR.services_by_name["ComplianceInternalService"].full_name,
            compliance_internal_service_pb2_grpc.add_ComplianceInternalServiceServicer_to_server,
            ComplianceInternalServicer(db, vault)),
    ]
    return await start_grpc_server(settings, registrations, cleanups=[db.close])
