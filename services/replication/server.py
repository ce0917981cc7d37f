"""create_server(settings) for the replication service."""

from __future__ import annotations

from pathlib import Path

from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2, replication_service_pb2_grpc
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.kit.bus import Bus
from services.kit.clients import channel
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.server import Registration, RunningService, start_grpc_server
from services.replication.copier import Copier
from services.replication.fills import MasterWatchers
from services.replication.service import ReplicationServicer
from services.replication.venue_pool import VenuePool

WORKERS_DURABLE = "replication"  # every replica binds it, so each fill is copied by one of them

MIGRATIONS = Path(__file__).parent / "migrations"


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    bus = await Bus.connect(settings.nats_url, "replication")
    risk_channel, compliance_channel = channel(settings, "risk"), channel(settings, "compliance")
    pool = VenuePool(settings, ComplianceInternalServiceStub(compliance_channel))
    copier = Copier(db, bus, pool, RiskServiceStub(risk_channel))
    await bus.consume("FILLS", WORKERS_DURABLE, "fills.master.filled.>", copier.handle, batch=16,
                      ack_wait=settings.fill_ack_wait_s)
    watchers = MasterWatchers(db, bus, pool)
    watchers.start()
    registration = Registration(
        replication_service_pb2.DESCRIPTOR.services_by_name["ReplicationService"].full_name,
        replication_service_pb2_grpc.add_ReplicationServiceServicer_to_server,
        ReplicationServicer(db, bus, ComplianceServiceStub(compliance_channel)),
    )
    return await start_grpc_server(settings, [registration], cleanups=[
        watchers.stop, bus.close, pool.close, risk_channel.close, compliance_channel.close, db.close])
