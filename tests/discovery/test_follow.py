"""Browse masters and follow one: discovery asks replication, which asks compliance; one user
action, one outcome, and the refusal's reason reaches the follower unchanged."""

import uuid

import grpc
import pytest

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.discovery.v1 import discovery_service_pb2 as disc
from copytrade.discovery.v1.discovery_service_pb2_grpc import DiscoveryServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from services.kit.errors import error_info
from tests.conftest import stored_credential
from tests.replication.test_copy_flow import SPOT, verify


async def test_follow_and_unfollow_through_discovery(start_service, token_for):
    compliance_svc = await start_service("compliance")
    replication_svc = await start_service("replication", addresses={
        **compliance_svc.settings.addresses, "compliance": compliance_svc.address})
    discovery = DiscoveryServiceStub((await start_service("discovery", addresses={
        **compliance_svc.settings.addresses, "replication": replication_svc.address})).channel)
    compliance, replication = ComplianceServiceStub(compliance_svc.channel), ReplicationServiceStub(
        replication_svc.channel)

    master = f"m-{uuid.uuid4().hex[:6]}"
    master_account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=rep.ACCOUNT_ROLE_MASTER, venue=SPOT, credential_id=await stored_credential(compliance, token_for, master, SPOT)),
        metadata=token_for(master))).account
    trader = (await discovery.CreateMasterProfile(disc.CreateMasterProfileRequest(profile=disc.MasterProfile(
        display_name="Swing Sam", strategy_type=disc.STRATEGY_TYPE_SWING, risk_level=disc.RISK_LEVEL_MODERATE,
        public=True, venues=[SPOT], master_account_ids=[master_account.account_id])),
        metadata=token_for(master, "master"))).profile
    listed = await discovery.ListMasterTraders(disc.ListMasterTradersRequest(
        strategy_type=disc.STRATEGY_TYPE_SWING, venue_id="binance"), metadata=token_for("anyone"))
    assert trader.trader_id in [t.trader_id for t in listed.traders]

    follower = f"f-{uuid.uuid4().hex[:6]}"
    follower_account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=rep.ACCOUNT_ROLE_FOLLOWER, venue=SPOT, credential_id=await stored_credential(compliance, token_for, follower, SPOT)),
        metadata=token_for(follower))).account
    follow = disc.FollowTraderRequest(trader_id=trader.trader_id, follower_account_id=follower_account.account_id,
                                      settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER,
                                                                multiplier="0.5", allocated_capital="2500"))
    with pytest.raises(grpc.aio.AioRpcError) as err:  # not verified yet: compliance's reason, unchanged
        await discovery.FollowTrader(follow, metadata=token_for(follower))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(err.value).reason == "KYC_NOT_APPROVED"
    await verify(compliance, token_for, follower)
    session = (await discovery.FollowTrader(follow, metadata=token_for(follower))).session
    assert session.state == rep.SESSION_STATE_ACTIVE and session.master_account_id == master_account.account_id
    stats = (await discovery.GetPerformanceStats(disc.GetPerformanceStatsRequest(trader_id=trader.trader_id),
                                                 metadata=token_for(follower))).stats
    assert (stats.follower_count, stats.assets_under_copy) == (1, "2500")  # followers and capital under copy
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await discovery.FollowTrader(follow, metadata=token_for(follower))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.aio.AioRpcError) as err:  # nobody follows on someone else's behalf
        await discovery.FollowTrader(disc.FollowTraderRequest(trader_id=trader.trader_id, follower_id=follower,
                                                              follower_account_id=follower_account.account_id),
                                     metadata=token_for("intruder"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    unfollowed = await discovery.UnfollowTrader(disc.UnfollowTraderRequest(trader_id=trader.trader_id),
                                                metadata=token_for(follower))
    assert list(unfollowed.config_ids) == [session.config_id]
    stats = (await discovery.GetPerformanceStats(disc.GetPerformanceStatsRequest(trader_id=trader.trader_id),
                                                 metadata=token_for(follower))).stats
    assert stats.follower_count == 0
    status = await replication.GetCopySessionStatus(rep.GetCopySessionStatusRequest(config_id=session.config_id),
                                                    metadata=token_for(follower))
    assert status.session.state == rep.SESSION_STATE_STOPPED
