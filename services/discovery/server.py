"""create_server(settings) for the discovery service."""

from __future__ import annotations

from pathlib import Path

from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.discovery.v1 import discovery_service_pb2, discovery_service_pb2_grpc
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from services.kit import fillsign
from services.kit.clients import channel
from services.discovery.service import DiscoveryServicer
from services.domain.risk.limits import platform_defaults
from services.kit.bus import Bus
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.periodic import Periodic
from services.kit.server import Registration, RunningService, start_grpc_server

MIGRATIONS = Path(__file__).parent / "migrations"
STATS_DURABLE = "discovery-stats"
COPIES_DURABLE = "discovery-copies"
STATS_REFRESH_S = 0.5  # how soon a fill shows in the statistics; a burst is counted once


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    replication, compliance = channel(settings, "replication"), channel(settings, "compliance")
    servicer = DiscoveryServicer(db, ReplicationServiceStub(replication), ComplianceInternalServiceStub(compliance),
                                 platform_defaults(settings.risk_defaults))
    bus = await Bus.for_service(settings)
    # Every master fill (signed by replication: kit/fillsign.py) updates the statistics of the
    # profiles that show its account; a backlog (after downtime) is taken in a batch at a time.
    on_fills = fillsign.Verifier.for_settings(settings).verified_batches(servicer.analytics.on_fills, "discovery")
    await bus.consume_batches("FILLS", STATS_DURABLE, "fills.master.filled.>", on_fills,
                              ack_wait=settings.fill_ack_wait_s)
    # Every filled copy tells what following a master really costs (capturable return).
    await bus.consume("COPIES", COPIES_DURABLE, "copies.order.filled.>", servicer.analytics.on_copy,
                      ack_wait=settings.fill_ack_wait_s)
    stats_rounds = Periodic("discovery-stats", STATS_REFRESH_S, servicer.analytics.refresh_dirty).start()
    registration = Registration(
        discovery_service_pb2.DESCRIPTOR.services_by_name["DiscoveryService"].full_name,
        discovery_service_pb2_grpc.add_DiscoveryServiceServicer_to_server, servicer,
    )
    cleanups = [stats_rounds.stop, bus.close, replication.close, compliance.close, db.close]
    return await start_grpc_server(settings, [registration], cleanups=cleanups, probes=[db.ready, bus.ready])
