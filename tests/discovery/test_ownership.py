"""A master profile shows only its own master's accounts: a profile that names someone else's
account (or a follower account, or one that does not exist) is refused on create and update,
so nobody can borrow another master's record, followers or private fills."""

import uuid

import grpc
import pytest

from copytrade.discovery.v1 import discovery_service_pb2 as disc
from copytrade.discovery.v1.discovery_service_pb2_grpc import DiscoveryServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from services.kit.errors import error_info
from tests.replication.test_copy_flow import SPOT


def _profile(*accounts: str, trader_id: str = "") -> disc.MasterProfile:
    return disc.MasterProfile(trader_id=trader_id, display_name="Borrowed Glory", strategy_type=disc.STRATEGY_TYPE_SWING,
                              risk_level=disc.RISK_LEVEL_MODERATE, public=True, venues=[SPOT],
                              master_account_ids=list(accounts))


async def test_a_profile_lists_only_the_callers_own_master_accounts(start_service, accounts_mesh, backend, token_for):
    _, open_account = accounts_mesh
    replication_svc = open_account.services[1]
    discovery = DiscoveryServiceStub((await start_service("discovery", addresses={
        **replication_svc.settings.addresses, "replication": replication_svc.address})).channel)

    async def account(user: str, role: int) -> str:
        return (await open_account(user, role, SPOT)).account_id

    victim, thief = f"v-{uuid.uuid4().hex[:6]}", f"t-{uuid.uuid4().hex[:6]}"
    victims_account = await account(victim, rep.ACCOUNT_ROLE_MASTER)
    thiefs_account = await account(thief, rep.ACCOUNT_ROLE_MASTER)
    thiefs_follower_account = await account(thief, rep.ACCOUNT_ROLE_FOLLOWER)

    for borrowed in (victims_account, thiefs_follower_account, "acc_nobody_has"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await discovery.CreateMasterProfile(disc.CreateMasterProfileRequest(
                profile=_profile(thiefs_account, borrowed)), metadata=token_for(thief, "master"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, borrowed
        info = error_info(err.value)
        assert info.reason == "NOT_YOUR_MASTER_ACCOUNT" and info.metadata["account_id"] == borrowed

    mine = (await discovery.CreateMasterProfile(disc.CreateMasterProfileRequest(profile=_profile(thiefs_account)),
                                                metadata=token_for(thief, "master"))).profile
    assert list(mine.master_account_ids) == [thiefs_account]
    with pytest.raises(grpc.aio.AioRpcError) as err:  # nor by an update later
        await discovery.UpdateMasterProfile(disc.UpdateMasterProfileRequest(
            profile=_profile(victims_account, trader_id=mine.trader_id)), metadata=token_for(thief, "master"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    shown = (await discovery.GetMasterProfile(disc.GetMasterProfileRequest(trader_id=mine.trader_id),
                                              metadata=token_for("anyone"))).profile
    assert list(shown.master_account_ids) == [thiefs_account]
