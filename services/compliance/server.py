"""create_server(settings) for the compliance service."""

from __future__ import annotations

from pathlib import Path

from copytrade.compliance.v1 import (
    compliance_internal_service_pb2,
    compliance_internal_service_pb2_grpc,
    compliance_service_pb2,
    compliance_service_pb2_grpc,
)
from services.compliance.audit import AuditTrail
from services.compliance.events import Intake, Publisher
from services.compliance.keyring import Keyring, previous_master_key
from services.compliance.monitor import Monitor
from services.compliance.service import ComplianceInternalServicer, ComplianceServicer
from services.kit.bus import Bus
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.server import Registration, RunningService, start_grpc_server

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    keyring = Keyring(db, settings.master_key, previous_master_key())
    await keyring.open()
    bus = await Bus.connect(settings.nats_url, "compliance")
    publisher = Publisher(bus)
    trail = AuditTrail(db, publisher)
    monitor = Monitor()
    await Intake(trail, monitor).start(bus)
    registrations = [
        Registration(compliance_service_pb2.DESCRIPTOR.services_by_name["ComplianceService"].full_name,
                     compliance_service_pb2_grpc.add_ComplianceServiceServicer_to_server,
                     ComplianceServicer(db, settings, keyring, trail, monitor)),
        Registration(
            compliance_internal_service_pb2.DESCRIPTOR.services_by_name["ComplianceInternalService"].full_name,
            compliance_internal_service_pb2_grpc.add_ComplianceInternalServiceServicer_to_server,
            ComplianceInternalServicer(db, keyring, trail)),
    ]
    # Cleanups run last to first: queued announcements go out, then the consumers stop, then
    # the database closes.
    return await start_grpc_server(settings, registrations, cleanups=[db.close, bus.close, publisher.close])
