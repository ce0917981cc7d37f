"""Coinbase and Kraken through the mesh: a Coinbase Advanced Trade master copied to a Kraken
follower and a Bybit follower (spot, each venue its own simulator speaking its own protocol),
checked at the simulators; and exactly-once on each: a copy the venue accepted but answered with
a 5xx or a timeout is found by the venue's own means (Coinbase: a scan of its recent orders;
Kraken: OpenOrders/ClosedOrders by cl_ord_id), never sent twice."""

import uuid
from decimal import Decimal

import pytest
import pytest_asyncio

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue, venue_client_order_id
from tests.replication.test_copy_flow import verify
from venue_sim import ccxt_config

MULTIPLIER = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")
# Where each venue takes an order, and the simulator's name for it.
CREATE = {"coinbase": "POST /api/v3/brokerage/orders", "kraken": "POST /0/private/AddOrder"}


@pytest_asyncio.fixture
async def mesh(copy_mesh):
    started = await copy_mesh(seed=13, venues=("coinbase", "kraken", "bybit"), retry_poll_s=0.05,
                              retry_schedules={"RETRY_SCHEDULE_UNKNOWN_OUTCOME": "0.2,0.5",
                                               "RETRY_SCHEDULE_TIMEOUT": "0.2,0.5"})
    yield started.sims, ComplianceServiceStub(started.compliance.channel), \
        ReplicationServiceStub(started.replication.channel)


async def enrol(sims, compliance, replication, token_for, venue_id, name, role, *, watch=False):
    """A verified user with a funded spot account on that venue's simulator, keys in the vault."""
    user = f"{name}-{uuid.uuid4().hex[:6]}"
    await verify(compliance, token_for, user)
    sim_account = sims[venue_id].create_account(user, {"USDT": "100000", "BTC": "1"})
    venue = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id=venue_id, market_type=trading_pb2.MARKET_TYPE_SPOT)
    credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=venue, api_key=sim_account.api_key, api_secret=sim_account.secret), metadata=token_for(user))).credential
    account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=role, venue=venue, credential_id=credential.credential_id, watch_fills=watch),
        metadata=token_for(user))).account
    return user, sim_account, account


async def follow(replication, token_for, user, account, master_account):
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id, settings=MULTIPLIER),
        metadata=token_for(user))


async def trade(sim, venue_id, sim_account, orders):
    """The master trades on its own venue, through ccxt like anyone would."""
    venue = CcxtVenue(venue_id, api_key=sim_account.api_key, secret=sim_account.secret, market_type="spot",
                      config=ccxt_config(sim.url, rate_limit=False, exchange=venue_id))
    await venue.connect()
    try:
        for side, quantity in orders:
            await venue.place_order(OrderRequest(f"m{uuid.uuid4().hex[:12]}", "BTC/USDT", side, Decimal(quantity)))
    finally:
        await venue.close()


def at_venue(sim, user):
    """(symbol, side, quantity, status) of every spot order the venue holds for the account."""
    return sorted((o.symbol, o.side, o.orig_qty, o.status) for o in sim.orders(user))


async def test_coinbase_master_is_copied_to_kraken_and_bybit_followers(mesh, token_for):
    sims, compliance, replication = mesh
    master, master_sim, master_account = await enrol(sims, compliance, replication, token_for, "coinbase",
                                                     "cb-master", rep.ACCOUNT_ROLE_MASTER, watch=True)
    followers = {}
    for venue_id in ("kraken", "bybit"):
        user, _, account = await enrol(sims, compliance, replication, token_for, venue_id, f"{venue_id}-f",
                                       rep.ACCOUNT_ROLE_FOLLOWER)
        await follow(replication, token_for, user, account, master_account)
        followers[venue_id] = user
    await eventually(lambda: sims["coinbase"].stream_subscribed(master), message="coinbase master watched")

    await trade(sims["coinbase"], "coinbase", master_sim, [("buy", "0.02"), ("sell", "0.005")])

    expected = [("BTCUSDT", "BUY", Decimal("0.02"), "FILLED"), ("BTCUSDT", "SELL", Decimal("0.005"), "FILLED")]
    for venue_id, user in followers.items():
        await eventually(lambda: len(at_venue(sims[venue_id], user)) == 2, timeout=15,
                         message=f"copies at {venue_id}")
        assert at_venue(sims[venue_id], user) == expected, venue_id
    # Each copy reached Kraken under the cl_ord_id the adapter made of the copy's own client id.
    kraken_ids = {o.client_order_id for o in sims["kraken"].orders(followers["kraken"])}
    async def recorded_filled():  # acknowledgements are written behind the venue's answer
        orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                       metadata=token_for(followers["kraken"]))).orders
        return orders if all(o.status == events.FOLLOWER_ORDER_STATUS_FILLED for o in orders) else None
    recorded = await eventually(recorded_filled, message="each copy recorded filled")
    assert {venue_client_order_id("kraken", o.client_order_id) for o in recorded} == kraken_ids


@pytest.mark.parametrize("venue_id,fault", [("coinbase", "http_5xx_after_accept"), ("coinbase", "unknown_after_accept"),
                                            ("kraken", "http_5xx_after_accept"), ("kraken", "unknown_after_accept")])
async def test_an_accepted_copy_answered_with_an_error_is_found_not_sent_again(mesh, token_for, venue_id, fault):
    """unknown_after_accept: Coinbase's gateway answers 504 (upstream timeout), Kraken
    EService:Deadline elapsed; either way the order exists and the answer said nothing of it."""
    sims, compliance, replication = mesh
    sim = sims[venue_id]
    master, _, master_account = await enrol(sims, compliance, replication, token_for, "bybit", "m",
                                            rep.ACCOUNT_ROLE_MASTER)
    follower, _, account = await enrol(sims, compliance, replication, token_for, venue_id, "f",
                                       rep.ACCOUNT_ROLE_FOLLOWER)
    await follow(replication, token_for, follower, account, master_account)
    sim.inject(kind=fault, account=follower, endpoint=CREATE[venue_id])  # executed, then the error

    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id=f"T-{fault}", symbol="BTC/USDT",
        side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))

    async def filled():
        orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                       metadata=token_for(follower))).orders
        return orders and orders[0].status == events.FOLLOWER_ORDER_STATUS_FILLED and orders[0]
    order = await eventually(filled, timeout=15, message="the uncertain copy resolved")
    assert [(o.client_order_id, o.side, o.orig_qty) for o in sim.orders(follower)] == [
        (venue_client_order_id(venue_id, order.client_order_id), "BUY", Decimal("0.01"))]
    calls = [name for _, name, who in sim.request_log if who == follower]
    assert calls.count(CREATE[venue_id]) == 1  # looked up, never sent again
