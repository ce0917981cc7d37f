"""The first real RPC of replication, discovery and gateway, each over its own table:
ownership, idempotent creates, pagination and clear refusals."""

import uuid

import grpc
import pytest

from copytrade.discovery.v1 import discovery_service_pb2 as disc
from copytrade.discovery.v1.discovery_service_pb2_grpc import DiscoveryServiceStub
from copytrade.gateway.v1 import gateway_service_pb2 as gw
from copytrade.gateway.v1.gateway_service_pb2_grpc import GatewayServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import access_pb2
from copytrade.type.v1 import trading_pb2
from services.gateway import api_keys
from services.kit.errors import error_info

BINANCE_SPOT = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance",
                                 market_type=trading_pb2.MARKET_TYPE_SPOT)


def uid() -> str:
    return f"u_{uuid.uuid4().hex[:10]}"


async def test_venue_accounts_are_owned_idempotent_and_paged(accounts_mesh, backend, token_for):
    stub, open_account = accounts_mesh
    owner, other = uid(), uid()
    first = await open_account(owner, rep.ACCOUNT_ROLE_FOLLOWER, BINANCE_SPOT, label="main", request_id="r-1")
    request = rep.CreateVenueAccountRequest(role=rep.ACCOUNT_ROLE_FOLLOWER, venue=BINANCE_SPOT,
                                            credential_id=first.credential_id, label="main", request_id="r-1")
    again = (await stub.CreateVenueAccount(request, metadata=token_for(owner))).account
    assert first.account_id == again.account_id and first.user_id == owner
    for i in range(4):
        await stub.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=rep.ACCOUNT_ROLE_FOLLOWER, venue=BINANCE_SPOT, credential_id=first.credential_id),
            metadata=token_for(owner))
    seen, token = [], ""
    while True:
        page = await stub.ListVenueAccounts(rep.ListVenueAccountsRequest(page_size=2, page_token=token),
                                            metadata=token_for(owner))
        seen += [a.account_id for a in page.accounts]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 5
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetVenueAccount(rep.GetVenueAccountRequest(account_id=first.account_id), metadata=token_for(other))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await stub.ListVenueAccounts(rep.ListVenueAccountsRequest(), metadata=token_for(other))).accounts == []
    # Nor may anyone open an account on someone else's stored credential.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateVenueAccount(rep.CreateVenueAccountRequest(
            role=rep.ACCOUNT_ROLE_FOLLOWER, venue=BINANCE_SPOT, credential_id=first.credential_id),
            metadata=token_for(other))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(err.value).reason == "NOT_YOUR_CREDENTIAL"
    assert (await stub.ListVenueAccounts(rep.ListVenueAccountsRequest(), metadata=token_for(other))).accounts == []


@pytest.mark.parametrize("change,field", [
    ({"role": rep.ACCOUNT_ROLE_UNSPECIFIED}, "role"),
    ({"venue": trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="Bad Venue!",
                                 market_type=trading_pb2.MARKET_TYPE_SPOT)}, "venue.id"),
    ({"credential_id": ""}, "credential_id"),
    ({"watch_fills": True}, "watch_fills"),
])
async def test_bad_venue_account_names_the_field(start_service, token_for, change, field):
    stub = ReplicationServiceStub((await start_service("replication")).channel)
    fields = dict(role=rep.ACCOUNT_ROLE_FOLLOWER, venue=BINANCE_SPOT, credential_id="c")
    fields.update(change)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateVenueAccount(rep.CreateVenueAccountRequest(**fields), metadata=token_for(uid()))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err.value).metadata["field"] == field


async def test_master_profiles_need_the_master_role_and_private_ones_stay_private(start_service, backend, token_for):
    stub = DiscoveryServiceStub((await start_service("discovery")).channel)
    master = uid()
    profile = disc.MasterProfile(display_name="Crypto Scalper", strategy_type=disc.STRATEGY_TYPE_SCALPING,
                                 risk_level=disc.RISK_LEVEL_AGGRESSIVE, bio="5 years", venues=[BINANCE_SPOT])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateMasterProfile(disc.CreateMasterProfileRequest(profile=profile), metadata=token_for(master))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    created = (await stub.CreateMasterProfile(disc.CreateMasterProfileRequest(profile=profile),
                                              metadata=token_for(master, "master"))).profile
    assert created.user_id == master and created.venues[0].id == "binance"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateMasterProfile(disc.CreateMasterProfileRequest(profile=profile),
                                       metadata=token_for(master, "master"))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    mine = await stub.GetMasterProfile(disc.GetMasterProfileRequest(trader_id=created.trader_id),
                                       metadata=token_for(master))
    assert mine.profile.display_name == "Crypto Scalper"
    with pytest.raises(grpc.aio.AioRpcError) as err:  # not public: others cannot see it
        await stub.GetMasterProfile(disc.GetMasterProfileRequest(trader_id=created.trader_id),
                                    metadata=token_for(uid()))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_api_keys_show_their_secret_once_and_revoke(start_service, backend, token_for):
    svc = await start_service("gateway")
    stub = GatewayServiceStub(svc.channel)
    user = uid()
    created = await stub.CreateApiKey(gw.CreateApiKeyRequest(name="bot", scopes=[access_pb2.API_KEY_SCOPE_READ]),
                                      metadata=token_for(user))
    key_id, secret = api_keys.split_key(created.secret)
    assert key_id == created.api_key.key_id
    listed = (await stub.ListApiKeys(gw.ListApiKeysRequest(), metadata=token_for(user))).api_keys
    assert [k.key_id for k in listed] == [key_id]
    assert secret not in str(listed)  # the secret is never shown again
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.RevokeApiKey(gw.RevokeApiKeyRequest(key_id=key_id), metadata=token_for(uid()))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    revoked = (await stub.RevokeApiKey(gw.RevokeApiKeyRequest(key_id=key_id), metadata=token_for(user))).api_key
    assert revoked.HasField("revoke_time")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateApiKey(gw.CreateApiKeyRequest(name="x"), metadata=token_for(user))
    assert error_info(err.value).metadata["field"] == "scopes"


async def test_a_page_token_we_did_not_issue_is_a_clear_error(start_service, token_for):
    stub = ReplicationServiceStub((await start_service("replication")).channel)
    for bad in ("not-base64!!", "eyJ4IjoxfQ"):  # garbage, and valid base64 of a JSON object
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListVenueAccounts(rep.ListVenueAccountsRequest(page_token=bad), metadata=token_for(uid()))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(err.value).metadata["field"] == "page_token"


def test_serve_refuses_to_start_without_a_jwt_secret(tmp_path):
    """With no JWT_SECRET a service would sign and accept tokens with the public development
    secret, so anyone could mint an operator's token: `copytrade serve` refuses instead."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET", "MASTER_KEY")}
    env.update(COPYTRADE_DATA_DIR=str(tmp_path), LISTEN_ADDR="127.0.0.1:0", NATS_URL="nats://127.0.0.1:1")
    try:
        done = subprocess.run([sys.executable, "-m", "services.cli", "serve", "risk"], env=env,
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("serve kept running with no JWT_SECRET")
    assert done.returncode != 0
    assert "JWT_SECRET" in done.stderr and "Traceback" not in done.stderr


def test_serve_names_the_event_loops_it_knows_when_given_another(tmp_path):
    """EVENT_LOOP picks the service's event loop (uvloop by default, asyncio to opt out); a
    value it does not know stops it at once with the choices, not a traceback."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, COPYTRADE_DATA_DIR=str(tmp_path), LISTEN_ADDR="127.0.0.1:0",
               NATS_URL="nats://127.0.0.1:1", JWT_SECRET="x" * 40, MASTER_KEY="y" * 40, EVENT_LOOP="trio")
    done = subprocess.run([sys.executable, "-m", "services.cli", "serve", "risk"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "EVENT_LOOP must be one of uvloop, asyncio, not 'trio'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["uvloop", "asyncio"])
def test_each_event_loop_runs_a_service_coroutine(name):
    import asyncio

    from services.kit.server import loop_factory

    async def running_loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
        assert runner.run(running_loop_module()).startswith("uvloop") == (name == "uvloop")
