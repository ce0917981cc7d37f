"""Erasure that erases: once a user is deleted their copy sessions stop (those they follow in and
those that copy them), their venue accounts are gone from replication (so nothing holds their
keys), their API keys stop working and their tokens are refused."""

import uuid

import aiohttp
import grpc
import pytest

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from services.kit.testing import eventually
from tests.conftest import stored_credential
from tests.replication.test_copy_flow import SPOT, verify

PASSWORD = "correct horse battery staple"


async def test_an_erased_user_stops_trading_and_holds_no_keys(start_service, token_for):
    compliance_svc = await start_service("compliance")
    near = {**compliance_svc.settings.addresses, "compliance": compliance_svc.address}
    replication_svc = await start_service("replication", addresses=near)
    risk_svc = await start_service("risk", addresses=near)
    gateway = await start_service("gateway", http_listen="127.0.0.1:0", addresses={
        **near, "replication": replication_svc.address, "risk": risk_svc.address})
    compliance, replication = ComplianceServiceStub(compliance_svc.channel), ReplicationServiceStub(
        replication_svc.channel)
    operator = token_for("ops", "operator")

    email = f"{uuid.uuid4().hex[:8]}@example.com"
    leaver = (await compliance.RegisterUser(comp.RegisterUserRequest(email=email, password=PASSWORD,
                                                                     roles=[comp.ROLE_MASTER]))).user.user_id
    other_master, other_follower = f"m-{uuid.uuid4().hex[:6]}", f"f-{uuid.uuid4().hex[:6]}"

    async def account(user: str, role: int) -> str:
        return (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=role, venue=SPOT, credential_id=await stored_credential(compliance, token_for, user, SPOT)),
            metadata=token_for(user))).account.account_id

    leaver_follows, leaver_leads = await account(leaver, rep.ACCOUNT_ROLE_FOLLOWER), await account(
        leaver, rep.ACCOUNT_ROLE_MASTER)
    theirs_leads, theirs_follows = await account(other_master, rep.ACCOUNT_ROLE_MASTER), await account(
        other_follower, rep.ACCOUNT_ROLE_FOLLOWER)
    for user in (leaver, other_follower):
        await verify(compliance, token_for, user)
    settings = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")
    as_follower = (await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=leaver_follows, master_account_id=theirs_leads, settings=settings),
        metadata=token_for(leaver))).session.config_id
    as_master = (await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=theirs_follows, master_account_id=leaver_leads, settings=settings),
        metadata=token_for(other_follower))).session.config_id

    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.running.http_port}") as http:
        login = await (await http.post("/v1/auth:login", json={"email": email, "password": PASSWORD})).json()
        bearer = {"Authorization": f"Bearer {login['accessToken']}"}
        key = await (await http.post("/v1/api-keys", headers=bearer,
                                     json={"name": "bot", "scopes": ["API_KEY_SCOPE_READ"]})).json()
        as_key = {"X-API-Key": key["secret"]}
        assert (await http.get(f"/v1/users/{leaver}/risk-limits", headers=as_key)).status == 200

        await compliance.DeleteUser(comp.DeleteUserRequest(user_id=leaver), metadata=operator)

        async def stopped():
            states = [(await replication.GetCopySessionStatus(rep.GetCopySessionStatusRequest(config_id=c),
                                                              metadata=operator)).session.state
                      for c in (as_follower, as_master)]
            return states == [rep.SESSION_STATE_STOPPED] * 2
        assert await eventually(stopped, timeout=15, message="both of the erased user's sessions stopped")

        async def accounts_gone():
            for account_id in (leaver_follows, leaver_leads):
                try:
                    await replication.GetVenueAccount(rep.GetVenueAccountRequest(account_id=account_id),
                                                      metadata=operator)
                    return False
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.NOT_FOUND
            return True
        assert await eventually(accounts_gone, timeout=15, message="the erased user's venue accounts deleted")

        async def key_refused():
            return (await http.get(f"/v1/users/{leaver}/risk-limits", headers=as_key)).status == 401
        assert await eventually(key_refused, timeout=15, message="the erased user's API key refused")
        assert (await http.get(f"/v1/users/{leaver}/risk-limits", headers=bearer)).status == 401
    # The other users' accounts are untouched.
    kept = await replication.GetVenueAccount(rep.GetVenueAccountRequest(account_id=theirs_follows),
                                             metadata=operator)
    assert kept.account.user_id == other_follower
    with pytest.raises(grpc.aio.AioRpcError):
        await compliance.GetUser(comp.GetUserRequest(user_id=leaver), metadata=operator)
