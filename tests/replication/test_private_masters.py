"""A private master account is copied only by the followers its master allows: the master keeps
the allow-list; going private, or taking a follower off it, stops the sessions no longer allowed."""

import uuid

import grpc
import pytest

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from services.kit.errors import error_info
from tests.conftest import stored_credential
from tests.replication.test_copy_flow import SPOT, verify

SETTINGS = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")


async def test_a_private_master_is_copied_only_by_followers_it_allows(start_service, token_for):
    compliance_svc = await start_service("compliance")
    replication_svc = await start_service("replication", addresses={
        **compliance_svc.settings.addresses, "compliance": compliance_svc.address})
    compliance, replication = ComplianceServiceStub(compliance_svc.channel), ReplicationServiceStub(
        replication_svc.channel)
    master, friend, stranger = (f"{n}-{uuid.uuid4().hex[:6]}" for n in ("m", "friend", "stranger"))

    async def account(user: str, role: int) -> str:
        return (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=role, venue=SPOT, credential_id=await stored_credential(compliance, token_for, user, SPOT)),
            metadata=token_for(user))).account.account_id

    private = await account(master, rep.ACCOUNT_ROLE_MASTER)
    accounts = {user: await account(user, rep.ACCOUNT_ROLE_FOLLOWER) for user in (friend, stranger)}
    for user in accounts:
        await verify(compliance, token_for, user)

    async def start(user: str) -> str:
        return (await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=accounts[user], master_account_id=private, settings=SETTINGS),
            metadata=token_for(user))).session.config_id

    # Open by default: the stranger copies. Going private stops the stranger's session.
    strangers = await start(stranger)
    went = await replication.SetMasterAccess(rep.SetMasterAccessRequest(account_id=private, private=True),
                                             metadata=token_for(master))
    assert went.access.private and list(went.stopped_config_ids) == [strangers]
    for user in (friend, stranger):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await start(user)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(err.value).reason == "MASTER_NOT_ALLOWED"

    # Only the master keeps the list.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await replication.AllowFollower(rep.AllowFollowerRequest(account_id=private, follower_id=stranger),
                                        metadata=token_for(stranger))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    await replication.AllowFollower(rep.AllowFollowerRequest(account_id=private, follower_id=friend),
                                    metadata=token_for(master))
    listed = await replication.ListAllowedFollowers(rep.ListAllowedFollowersRequest(account_id=private),
                                                    metadata=token_for(master))
    assert [f.follower_id for f in listed.followers] == [friend]
    friends = await start(friend)
    with pytest.raises(grpc.aio.AioRpcError):
        await start(stranger)

    removed = await replication.RemoveAllowedFollower(rep.RemoveAllowedFollowerRequest(
        account_id=private, follower_id=friend), metadata=token_for(master))
    assert list(removed.stopped_config_ids) == [friends]
    status = await replication.GetCopySessionStatus(rep.GetCopySessionStatusRequest(config_id=friends),
                                                    metadata=token_for(friend))
    assert status.session.state == rep.SESSION_STATE_STOPPED
    access = await replication.GetMasterAccess(rep.GetMasterAccessRequest(account_id=private),
                                               metadata=token_for(master))
    assert access.access.private
