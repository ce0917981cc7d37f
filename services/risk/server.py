"""create_server(settings) for the risk service."""

from __future__ import annotations

from pathlib import Path

from copytrade.risk.v1 import (risk_internal_service_pb2, risk_internal_service_pb2_grpc, risk_service_pb2,
                               risk_service_pb2_grpc)
from services.kit.bus import Bus
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.server import Registration, RunningService, start_grpc_server
from services.domain.risk.limits import platform_defaults
from services.risk.service import RiskInternalServicer, RiskServicer

MIGRATIONS = Path(__file__).parent / "migrations"
BREAKERS_DURABLE = "risk-breakers"


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    bus = await Bus.for_service(settings)
    servicer = RiskServicer(db, platform_defaults(settings.risk_defaults), bus)
    await bus.subscribe("risk.limits.changed.>", servicer.on_limits_changed)  # other replicas' changes
    # Copy outcomes feed the venue-failure and latency breakers (each replica takes a share).
    await bus.consume_batches("COPIES", BREAKERS_DURABLE, "copies.order.>", servicer.monitor.on_copy_events,
                              ack_wait=settings.fill_ack_wait_s)
    registrations = [
        Registration(risk_service_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name,
                     risk_service_pb2_grpc.add_RiskServiceServicer_to_server, servicer),
        Registration(risk_internal_service_pb2.DESCRIPTOR.services_by_name["RiskInternalService"].full_name,
                     risk_internal_service_pb2_grpc.add_RiskInternalServiceServicer_to_server,
                     RiskInternalServicer(servicer)),
    ]
    running = await start_grpc_server(settings, registrations, cleanups=[bus.close, db.close],
                                      probes=[db.ready, bus.ready])
    running.components = {"book": servicer.book, "defaults": servicer.defaults}  # for benchmarks
    return running
