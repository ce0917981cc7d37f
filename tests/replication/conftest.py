"""What the replication tests that copy across venue families share: the copy path's services
on any set of venue simulators, enrolling a user's account on a venue through the vault, and a
master trading on their own Rithmic account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest_asyncio
from google.protobuf import field_mask_pb2

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.error_recovery_service_pb2_grpc import ErrorRecoveryServiceStub
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from services.replication.copier import Copier
from services.replication.venues.base import OrderRequest
from services.replication.venues.rithmic_venue import RithmicVenue
from tests.replication.test_copy_flow import verify

RITHMIC = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_RITHMIC, id="rithmic",
                            market_type=trading_pb2.MARKET_TYPE_FUTURE)
NINJATRADER = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_NINJATRADER, id="ninjatrader",
                                market_type=trading_pb2.MARKET_TYPE_FUTURE)
IB = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_IB, id="ib", market_type=trading_pb2.MARKET_TYPE_FUTURE)


# Futures trade only in their sessions: copies in these tests happen on a Wednesday at 09:00
# Central, whatever day the tests run. A test about trading hours sets copier.clock itself.
IN_SESSION = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@dataclass
class Stubs:
    compliance: ComplianceServiceStub
    risk: RiskServiceStub
    replication: ReplicationServiceStub
    copier: Copier
    recovery: ErrorRecoveryServiceStub | None = None


@pytest_asyncio.fixture
async def services_on(start_service):
    """`await services_on(venue_urls)`: compliance, risk and replication as real servers, with
    replication trading on the given simulators (venue id → URL)."""

    async def start(venue_urls: dict[str, str]) -> Stubs:
        compliance = await start_service("compliance")
        risk = await start_service("risk")
        addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk.address}
        replication = await start_service("replication", addresses=addresses, venue_rate_limit=False,
                                          venue_urls=venue_urls)
        copier = replication.running.components["copier"]
        copier.clock = lambda: IN_SESSION
        return Stubs(ComplianceServiceStub(compliance.channel), RiskServiceStub(risk.channel),
                     ReplicationServiceStub(replication.channel), copier, ErrorRecoveryServiceStub(replication.channel))

    return start


async def enrol(compliance, replication, token_for, name, role, venue, api_key, api_secret, passphrase="", *,
                watch=False):
    """A verified user whose venue credential is in the vault, with a venue account on it."""
    user = f"{name}-{uuid.uuid4().hex[:6]}"
    await verify(compliance, token_for, user)
    credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=venue, api_key=api_key, api_secret=api_secret, passphrase=passphrase),
        metadata=token_for(user))).credential
    account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=role, venue=venue, credential_id=credential.credential_id, watch_fills=watch),
        metadata=token_for(user))).account
    return user, account


async def enrol_ib(sim, compliance, replication, token_for, name, role, *, watch=False, client_id=""):
    """An IB user with a funded simulator account. The vault keeps IB's connection facts: the
    account code as api_key, the TWS address as api_secret (replication's VENUE_URLS["ib"] points
    it at the simulator), a client id as passphrase."""
    code = f"DU{uuid.uuid4().int % 10_000_000:07d}"
    sim.create_account(code, "1000000")
    user, account = await enrol(compliance, replication, token_for, name, role, IB, code, "tws.example.com:4001",
                                client_id, watch=watch)
    return user, code, account


async def follow(replication, token_for, user, follower_account, master_account, settings):
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=follower_account.account_id, master_account_id=master_account.account_id,
        settings=settings), metadata=token_for(user))


async def raise_position_cap(risk, token_for, user, cap="2000000"):
    """The default position cap (5,000 USD) is far below one ES contract (50 x 5,000 USD):
    futures followers set their own."""
    await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
        user_id=user, limits=risk_pb.RiskLimits(max_position_size=cap),
        update_mask=field_mask_pb2.FieldMask(paths=["max_position_size"])), metadata=token_for(user))


async def trade_on_rithmic(sim, user, password, account_id, order: OrderRequest) -> None:
    """The master trades on their own Rithmic account once replication watches its notifications."""
    await eventually(lambda: sim.stream_subscribed(account_id), message="master's order notifications watched")
    master = RithmicVenue(user=user, password=password, system_name=sim.system_name, url=sim.url)
    try:
        await master.place_order(order)
    finally:
        await master.close()

