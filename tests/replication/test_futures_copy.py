"""Futures copies through the real mesh: a master trades ES on Rithmic (the R|Protocol
simulator, through async_rithmic); replication watches the master's own fill stream and places
each follower's copy through the adapter the vault's credential opens — NinjaTrader 8 (ATI
files in the NinjaTrader simulator's folder) and another Rithmic account. Verified by asking
each simulator what reached it."""

import uuid
from decimal import Decimal

import pytest_asyncio
from google.protobuf import field_mask_pb2

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from services.replication.venues.rithmic_venue import RithmicVenue
from tests.replication.test_copy_flow import verify
from venue_sim.ninjatrader import NinjaTraderSim
from venue_sim.rithmic import RithmicSim

RITHMIC = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_RITHMIC, id="rithmic",
                            market_type=trading_pb2.MARKET_TYPE_FUTURE)
NINJATRADER = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_NINJATRADER, id="ninjatrader",
                                market_type=trading_pb2.MARKET_TYPE_FUTURE)


@pytest_asyncio.fixture
async def futures_mesh(start_service, tmp_path, nats_server):
    master_sim = await RithmicSim(user="master", password="m-pw", account_id="MASTER-1", balance="500000",
                                  prices={"ES": "5000"}).start()
    follower_sim = await RithmicSim(user="follower", password="f-pw", account_id="FOLLOW-1", balance="500000",
                                    prices={"ES": "5000"}).start()
    nt_sim = await NinjaTraderSim(tmp_path / "nt", account="Sim101", connection="Rithmic", cash="500000",
                                  prices={"ES": "5000"}).start()
    compliance = await start_service("compliance")
    risk = await start_service("risk")
    addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk.address}
    # Both Rithmic accounts behind one gateway URL in production; two simulators here, one per
    # venue id, so each side's orders are counted on its own.
    replication = await start_service("replication", addresses=addresses, venue_rate_limit=False, venue_urls={
        "rithmic": master_sim.url, "rithmic_2": follower_sim.url, "ninjatrader": f"file://{tmp_path / 'nt'}"})
    yield master_sim, follower_sim, nt_sim, ComplianceServiceStub(compliance.channel), \
        ReplicationServiceStub(replication.channel), RiskServiceStub(risk.channel)
    await nt_sim.stop()
    await follower_sim.stop()
    await master_sim.stop()


async def enrol(compliance, replication, token_for, name, role, venue, api_key, api_secret, passphrase, *,
                watch=False):
    user = f"{name}-{uuid.uuid4().hex[:6]}"
    await verify(compliance, token_for, user)
    credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=venue, api_key=api_key, api_secret=api_secret, passphrase=passphrase),
        metadata=token_for(user))).credential
    account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=role, venue=venue, credential_id=credential.credential_id, watch_fills=watch),
        metadata=token_for(user))).account
    return user, account


async def test_a_rithmic_master_is_copied_to_ninjatrader_and_rithmic_followers(futures_mesh, token_for):
    master_sim, follower_sim, nt_sim, compliance, replication, risk = futures_mesh
    _, master_account = await enrol(compliance, replication, token_for, "master", rep.ACCOUNT_ROLE_MASTER, RITHMIC,
                                    "master", "m-pw", f"{master_sim.system_name}|MASTER-1", watch=True)
    rithmic_follower = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_RITHMIC, id="rithmic_2",
                                         market_type=trading_pb2.MARKET_TYPE_FUTURE)
    followers = [
        # NinjaTrader: account name, its cash as the secret, the connection name as the passphrase.
        (NINJATRADER, "Sim101", "500000", "Rithmic", rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER,
                                                                      multiplier="2")),
        (rithmic_follower, "follower", "f-pw", follower_sim.system_name,
         rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="1")),
    ]
    for venue, api_key, secret, passphrase, settings in followers:
        user, account = await enrol(compliance, replication, token_for, venue.id, rep.ACCOUNT_ROLE_FOLLOWER, venue,
                                    api_key, secret, passphrase)
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id, settings=settings),
            metadata=token_for(user))
        # The default position cap (5,000 USD) is far below one ES contract (50 x 5,000 USD):
        # futures followers set their own.
        await risk.UpdateRiskLimits(risk_pb.UpdateRiskLimitsRequest(
            user_id=user, limits=risk_pb.RiskLimits(max_position_size="2000000"),
            update_mask=field_mask_pb2.FieldMask(paths=["max_position_size"])), metadata=token_for(user))

    # The master trades on their own Rithmic account while replication watches its notifications.
    await eventually(lambda: master_sim.stream_subscribed("MASTER-1"), message="master's order notifications watched")
    master = RithmicVenue(user="master", password="m-pw", system_name=master_sim.system_name, url=master_sim.url)
    try:
        await master.place_order(OrderRequest("master-1", "ES", "sell", Decimal(3)))
    finally:
        await master.close()

    await eventually(lambda: nt_sim.position("ES") == -6 and follower_sim.position("ES") == -1,
                     message="copies at both followers' venues", timeout=15)
    [nt_order] = nt_sim.orders()
    assert (nt_order.action, nt_order.quantity, nt_order.state) == ("SELL", 6, "FILLED")
    [rithmic_order] = follower_sim.orders.values()
    assert (rithmic_order.quantity, rithmic_order.filled) == (1, 1)
    assert nt_order.order_id and rithmic_order.user_tag and nt_order.order_id != rithmic_order.user_tag  # per follower
