"""Supported venues are a list: a venue account names a venue the platform trades on (a ccxt
exchange with its simulator and the venue contract passing, or one of the gateway venues), or
it is refused with INVALID_ARGUMENT naming the venues there are. Nothing is stored for a
refused account."""

import uuid

import grpc
import pytest

from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.errors import error_info
from services.replication.accounts import SUPPORTED_VENUES

CCXT, IB = trading_pb2.VENUE_KIND_CCXT, trading_pb2.VENUE_KIND_IB
SPOT, FUTURE = trading_pb2.MARKET_TYPE_SPOT, trading_pb2.MARKET_TYPE_FUTURE


def account(kind, venue_id, market_type=SPOT):
    return rep.CreateVenueAccountRequest(role=rep.ACCOUNT_ROLE_FOLLOWER, credential_id="cred",
                                         venue=trading_pb2.Venue(kind=kind, id=venue_id, market_type=market_type))


@pytest.mark.parametrize("kind,venue_id,market_type", [
    (CCXT, "notanexchange", SPOT),  # a well-formed id no adapter trades on
    (CCXT, "huobi", SPOT),  # a ccxt exchange, but without a simulator and the venue contract here
    (CCXT, "ib", SPOT),  # a venue of another kind
    (IB, "binance", FUTURE),
])
async def test_an_unsupported_venue_is_refused_naming_the_supported_ones(start_service, token_for, kind, venue_id,
                                                                        market_type):
    stub = ReplicationServiceStub((await start_service("replication")).channel)
    user = f"u_{uuid.uuid4().hex[:8]}"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateVenueAccount(account(kind, venue_id, market_type), metadata=token_for(user))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(err.value)
    supported = SUPPORTED_VENUES[kind]
    assert (info.reason, info.metadata["field"], info.metadata["supported"]) == (
        "UNSUPPORTED_VENUE", "venue.id", ",".join(supported))
    assert venue_id in err.value.details() and all(v in err.value.details() for v in supported)
    assert (await stub.ListVenueAccounts(rep.ListVenueAccountsRequest(), metadata=token_for(user))).accounts == []


async def test_every_supported_venue_is_accepted(accounts_mesh, token_for):
    stub, open_account = accounts_mesh
    user = f"u_{uuid.uuid4().hex[:8]}"
    wanted = [(kind, venue_id) for kind, ids in SUPPORTED_VENUES.items() for venue_id in ids]
    wanted.append((trading_pb2.VENUE_KIND_RITHMIC, "rithmic_2"))  # a second gateway, its own VENUE_URLS entry
    for kind, venue_id in wanted:
        await open_account(user, rep.ACCOUNT_ROLE_FOLLOWER, trading_pb2.Venue(
            kind=kind, id=venue_id, market_type=SPOT if kind == CCXT else FUTURE))
    accounts = (await stub.ListVenueAccounts(rep.ListVenueAccountsRequest(page_size=100),
                                             metadata=token_for(user))).accounts
    assert sorted((a.venue.kind, a.venue.id) for a in accounts) == sorted(wanted)
    assert {"binance", "bybit", "okx", "kucoin"} <= set(SUPPORTED_VENUES[CCXT])
