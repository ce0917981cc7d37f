"""A copy to an Interactive Brokers follower through the mesh: replication opens the follower's
IB venue from its vault credential (account code, TWS address) through VenuePool, sizes the
master's ES fill onto MES through the symbol map, and places it over the TWS API with ib_async
on the IB simulator. Verified by asking the simulator."""

import uuid
from decimal import Decimal

import pytest_asyncio

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from google.protobuf import field_mask_pb2
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from services.replication.venues.ib_venue import IbVenue
from tests.replication.test_copy_flow import verify
from venue_sim.ib import IbSimulator

MASTER_CLIENT_ID = 77  # TWS' "Master API client ID": told of the orders of every API client
IB = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_IB, id="ib", market_type=trading_pb2.MARKET_TYPE_FUTURE)


@pytest_asyncio.fixture
async def ib_mesh(start_service):
    sim = await IbSimulator(seed=3, master_client_id=MASTER_CLIENT_ID).start()
    compliance = await start_service("compliance")
    risk = await start_service("risk")
    addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk.address}
    replication = await start_service("replication", addresses=addresses, venue_urls={"ib": f"127.0.0.1:{sim.port}"})
    yield sim, ComplianceServiceStub(compliance.channel), ReplicationServiceStub(replication.channel), \
        RiskServiceStub(risk.channel)
    await sim.stop()


async def enrol_ib(sim, compliance, replication, token_for, name, role, *, watch=False, client_id=""):
    user = f"{name}-{uuid.uuid4().hex[:6]}"
    await verify(compliance, token_for, user)
    code = f"DU{uuid.uuid4().int % 10_000_000:07d}"
    sim.create_account(code, "1000000")
    # The vault keeps IB's connection facts: the account code as api_key, the TWS address as
    # api_secret (replication's VENUE_URLS["ib"] points it at the simulator), a client id as passphrase.
    credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=IB, api_key=code, api_secret="tws.example.com:4001", passphrase=client_id),
        metadata=token_for(user))).credential
    account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=role, venue=IB, credential_id=credential.credential_id, watch_fills=watch),
        metadata=token_for(user))).account
    return user, code, account


async def allow_futures(risk, token_for, user) -> None:
    """The default position cap (5,000) is below one MES contract (5 × 5,000): futures followers set their own."""
    await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
        user_id=user, limits=risk_pb.RiskLimits(max_position_size="100000"),
        update_mask=field_mask_pb2.FieldMask(paths=["max_position_size"])), metadata=token_for(user))


async def test_an_es_master_fill_is_copied_to_an_ib_follower_as_mes(ib_mesh, token_for):
    sim, compliance, replication, risk = ib_mesh
    master, _, master_account = await enrol_ib(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER)
    follower, code, account = await enrol_ib(sim, compliance, replication, token_for, "f",
                                             rep.ACCOUNT_ROLE_FOLLOWER)
    await allow_futures(risk, token_for, follower)
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
                                  symbol_map=[rep.SymbolMapping(master_symbol="ES", follower_symbol="MES")])),
        metadata=token_for(follower))
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-es-1", symbol="ES",
        side=trading_pb2.SIDE_BUY, quantity="1", price="5000"), metadata=token_for(master))
    orders = await eventually(lambda: sim.orders(code), message="the MES copy at the IB simulator")
    assert [(o.contract.symbol, o.action, o.quantity, o.status) for o in orders] == [
        ("MES", "BUY", Decimal(1), "Filled")]
    assert orders[0].order_ref  # our client order id travels as IB's orderRef


async def test_a_watched_ib_master_trading_from_its_own_api_client_is_copied(ib_mesh, token_for):
    """The master trades ES through their own API client; replication watches the account as the
    gateway's Master API client ID (the vault's client id), sees the execution live and copies it."""
    sim, compliance, replication, risk = ib_mesh
    master, master_code, master_account = await enrol_ib(sim, compliance, replication, token_for, "m",
                                                         rep.ACCOUNT_ROLE_MASTER, watch=True,
                                                         client_id=str(MASTER_CLIENT_ID))
    follower, code, account = await enrol_ib(sim, compliance, replication, token_for, "f",
                                             rep.ACCOUNT_ROLE_FOLLOWER)
    await allow_futures(risk, token_for, follower)
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
                                  symbol_map=[rep.SymbolMapping(master_symbol="ES", follower_symbol="MES")])),
        metadata=token_for(follower))
    await eventually(lambda: sim.stream_subscribed(master_code), message="the master account watched")
    master_venue = IbVenue(host="127.0.0.1", port=sim.port, client_id=5, account=master_code)
    try:
        await master_venue.place_order(OrderRequest("master-es-1", "ES", "sell", Decimal(1)))
    finally:
        await master_venue.close()
    orders = await eventually(lambda: sim.orders(code), message="the MES copy at the IB simulator")
    assert [(o.contract.symbol, o.action, o.quantity) for o in orders] == [("MES", "SELL", Decimal(1))]
