"""create_server(settings) for the gateway's gRPC service."""

from __future__ import annotations

import ssl
from pathlib import Path

from aiohttp import web

from copytrade.gateway.v1 import gateway_service_pb2, gateway_service_pb2_grpc
from services.gateway.edge import Authenticator, RateLimiter, find_api_key
from services.gateway.http import RestGateway
from services.gateway.service import GatewayServicer, revoke_all
from services.kit import auth, revocations
from services.kit.bus import Bus
from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.kit.clients import channel
from services.kit.config import Settings
from services.kit.db import Database
from services.kit.server import Registration, RunningService, start_grpc_server

MIGRATIONS = Path(__file__).parent / "migrations"
ERASURE_DURABLE = "gateway-erasure"
WEB_APP = Path(__file__).resolve().parents[2] / "web" / "dist"  # served when built


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    replication, risk = channel(settings, "replication"), channel(settings, "risk")
    compliance = channel(settings, "compliance")
    registration = Registration(
        gateway_service_pb2.DESCRIPTOR.services_by_name["GatewayService"].full_name,
        gateway_service_pb2_grpc.add_GatewayServiceServicer_to_server,
        GatewayServicer(db, ReplicationServiceStub(replication), RiskServiceStub(risk),
                        ComplianceInternalServiceStub(compliance)),
    )
    # An erased user's API keys are revoked here for good (the key's token would be refused anyway).
    bus = await Bus.for_service(settings, ensure_streams=False)
    await revocations.ensure_stream(bus)

    async def on_revoked(delivery) -> None:
        if delivery.event.deleted:
            await revoke_all(db, delivery.event.user_id)
    await bus.consume(revocations.STREAM, ERASURE_DURABLE, f"{auth.REVOCATION_SUBJECT}.>", on_revoked)
    running = await start_grpc_server(settings, [registration],
                                      cleanups=[replication.close, risk.close, compliance.close, db.close, bus.close],
                                      probes=[db.ready, bus.ready])
    if settings.http_listen:
        # The REST facade calls every service over gRPC, this one's own API included.
        rest = RestGateway(
            {**settings.addresses, "gateway": f"127.0.0.1:{running.port}"},
            authenticator=Authenticator(settings.jwt_secret, lambda key: find_api_key(db, key),
                                        running.components["token_versions"]),
            limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
            cors_origins=settings.cors_origins, static_dir=settings.static_dir or WEB_APP, tls=settings.tls)
        runner = web.AppRunner(rest.app(), access_log=None)
        await runner.setup()
        host, port = settings.http_listen.rsplit(":", 1)
        site = web.TCPSite(runner, host, int(port), ssl_context=https_context(settings))
        await site.start()
        running.http_port = site._server.sockets[0].getsockname()[1]
        running.cleanups[:0] = [runner.cleanup, rest.close]  # stop HTTP before the database closes
    return running


def https_context(settings: Settings) -> ssl.SSLContext | None:
    """The browser port's TLS, when given a certificate and key (GATEWAY_HTTP_TLS_CERT and _KEY):
    passwords and tokens then never cross a network in the clear."""
    cert, key = settings.http_tls_cert, settings.http_tls_key
    if not cert and not key:
        return None
    if not (cert and key):
        raise ValueError("set both GATEWAY_HTTP_TLS_CERT and GATEWAY_HTTP_TLS_KEY, or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context
