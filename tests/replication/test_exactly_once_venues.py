"""Exactly one copy on OKX and KuCoin through the mesh: the venue takes the follower's order and
then answers 5xx, so the outcome is unknown; replication finds the order by the venue's own
client-id lookup (OKX: GET /api/v5/trade/order?clOrdId=, KuCoin spot: the HF order by
clientOid, KuCoin futures: orders/byClientOid) instead of sending it again. Checked at the
simulator: one order with the copy's client id, and the lookup came after the one send."""

import uuid
from decimal import Decimal

import pytest_asyncio

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from tests.replication.test_copy_flow import verify
from venue_sim.kucoin import FUTURES_PREFIX

# venue, market -> (symbol, master quantity, the venue's place and client-id lookup endpoints)
CASES = {
    ("okx", "spot"): ("BTC/USDT", "0.01", "POST /api/v5/trade/batch-orders", "GET /api/v5/trade/order"),
    ("okx", "swap"): ("BTC/USDT:USDT", "1", "POST /api/v5/trade/batch-orders", "GET /api/v5/trade/order"),
    ("kucoin", "spot"): ("BTC/USDT", "0.01", "POST /api/v1/hf/orders",
                         "GET /api/v1/hf/orders/client-order/{clientOid}"),
    ("kucoin", "swap"): ("BTC/USDT:USDT", "10", f"POST {FUTURES_PREFIX}/api/v1/orders",
                         f"GET {FUTURES_PREFIX}/api/v1/orders/byClientOid"),
}
MARKET_TYPES = {"spot": trading_pb2.MARKET_TYPE_SPOT, "swap": trading_pb2.MARKET_TYPE_PERPETUAL}


@pytest_asyncio.fixture(params=list(CASES), ids=lambda case: "-".join(case))
async def mesh(copy_mesh, request):
    venue_id, market = request.param
    started = await copy_mesh(seed=31, venues=(venue_id,), retry_poll_s=0.05,
                              retry_schedules={"RETRY_SCHEDULE_UNKNOWN_OUTCOME": "0.2,0.5"})
    return (venue_id, market, started.sims[venue_id], ComplianceServiceStub(started.compliance.channel),
            ReplicationServiceStub(started.replication.channel))


async def enrol(sim, compliance, replication, token_for, venue, name, role):
    """A verified user with a funded account on the venue's simulator; key, secret and
    passphrase in the vault."""
    user = f"{name}-{uuid.uuid4().hex[:6]}"
    await verify(compliance, token_for, user)
    sim_account = sim.create_account(user, {"USDT": "100000"}, futures_wallet="100000")
    credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=venue, api_key=sim_account.api_key, api_secret=sim_account.secret, passphrase=sim_account.passphrase),
        metadata=token_for(user))).credential
    account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=role, venue=venue, credential_id=credential.credential_id), metadata=token_for(user))).account
    return user, account


async def test_an_order_answered_5xx_after_acceptance_is_found_by_client_id_and_never_sent_twice(mesh, token_for):
    venue_id, market, sim, compliance, replication = mesh
    symbol, quantity, place, lookup = CASES[(venue_id, market)]
    venue = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id=venue_id, market_type=MARKET_TYPES[market])
    master, master_account = await enrol(sim, compliance, replication, token_for, venue, "m", rep.ACCOUNT_ROLE_MASTER)
    follower, account = await enrol(sim, compliance, replication, token_for, venue, "f", rep.ACCOUNT_ROLE_FOLLOWER)
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")), metadata=token_for(follower))
    sim.inject(kind="http_5xx_after_accept", account=follower, endpoint=place)  # executed, then a 500

    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-5xx", symbol=symbol,
        side=trading_pb2.SIDE_BUY, quantity=quantity, price="64000"), metadata=token_for(master))

    async def filled():
        orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                       metadata=token_for(follower))).orders
        return orders and orders[0].status == events.FOLLOWER_ORDER_STATUS_FILLED and orders[0]
    order = await eventually(filled, timeout=15, message="the uncertain copy resolved")
    at_venue = sim.orders(follower) if market == "spot" else sim.futures_orders(follower)
    coins = Decimal("0.01")  # 0.01 BTC: 1 OKX contract of 0.01, 10 KuCoin contracts of 0.001
    assert [(o.client_order_id, o.side, o.orig_qty, o.status) for o in at_venue] == [
        (order.client_order_id, "BUY", coins, "FILLED")]
    calls = [name for _, name, who in sim.request_log if who == follower and name in (place, lookup)]
    assert calls.count(place) == 1 and lookup in calls[calls.index(place) + 1:]  # asked, not re-sent

