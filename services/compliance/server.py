"""create_server(settings) for the compliance service."""

from __future__ import annotations

import logging
from pathlib import Path

from copytrade.compliance.v1 import (
    compliance_internal_service_pb2,
    compliance_internal_service_pb2_grpc,
    compliance_service_pb2,
    compliance_service_pb2_grpc,
)
from services.compliance.audit import AuditTrail
from services.compliance.checkpoints import CheckpointLog
from services.compliance.events import Intake, Publisher
from services.compliance.keyring import Keyring
from services.compliance.monitor import Monitor
from services.compliance.identity import token_versions
from services.compliance.service import ComplianceInternalServicer, ComplianceServicer
from services.kit.bus import Bus
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.periodic import Periodic
from services.kit import fillsign, revocations
from services.kit.server import Registration, RunningService, start_grpc_server

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("copytrade.compliance")


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    keyring = Keyring(db, settings.master_key, settings.master_key_previous)
    await keyring.open()
    bus = await Bus.for_service(settings)
    publisher = Publisher(bus)
    trail = AuditTrail(db, publisher, keyring.audit_key)
    checkpoints = CheckpointLog(bus, settings.service, keyring.audit_key)
    await checkpoints.ensure_stream()
    signer = Periodic("audit-checkpoints", settings.audit_checkpoint_interval_s,
                      lambda: sign_head(trail, checkpoints), first_delay_s=settings.audit_checkpoint_interval_s).start()
    monitor = Monitor()
    # Compliance reads token versions from its own table; other replicas' changes arrive by event.
    versions, close_versions = await revocations.token_versions(settings, lambda ids: token_versions(db, ids))
    await Intake(trail, monitor, fillsign.Verifier.for_settings(settings)).start(bus)
    registrations = [
        Registration(compliance_service_pb2.DESCRIPTOR.services_by_name["ComplianceService"].full_name,
                     compliance_service_pb2_grpc.add_ComplianceServiceServicer_to_server,
                     ComplianceServicer(db, settings, keyring, trail, monitor, checkpoints=checkpoints,
                                        versions=versions)),
        Registration(
            compliance_internal_service_pb2.DESCRIPTOR.services_by_name["ComplianceInternalService"].full_name,
            compliance_internal_service_pb2_grpc.add_ComplianceInternalServiceServicer_to_server,
            ComplianceInternalServicer(db, keyring, trail)),
    ]
    async def last_checkpoint() -> None:
        await signer.stop()
        try:
            await sign_head(trail, checkpoints)
        except Exception as exc:  # noqa: BLE001 - NATS or the database away: the next start signs
            log.warning("no audit checkpoint at shutdown: %s", exc)

    # Cleanups run last to first: the head is signed, queued announcements go out, then the
    # consumers stop, then the database closes.
    return await start_grpc_server(settings, registrations,
                                   cleanups=[*close_versions, db.close, bus.close, publisher.close, last_checkpoint],
                                   versions=versions, probes=[db.ready, bus.ready])


async def sign_head(trail: AuditTrail, checkpoints: CheckpointLog) -> None:
    await checkpoints.sign(*await trail.head())
