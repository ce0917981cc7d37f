"""IbVenue passes the venue contract through unmodified ib_async against the TWS-protocol
simulator (venue_sim.ib) on loopback, trading CME E-mini S&P 500 futures (ES)."""

import asyncio
from decimal import Decimal

import aiohttp
import pytest
import pytest_asyncio
from ib_async import MarketOrder

from services.kit.testing import eventually
from services.replication.venues.base import ErrorKind, OrderRequest, VenueError
from services.replication.venues.ib_venue import IbError, IbVenue, classify, ib_venue_from_credential
from tests.venues.contract import Collector, Fault, VenueContract, VenueHarness, new_cid
from venue_sim.ib import IbSimulator

ACCOUNT = "DU1000001"

# How each contract Fault maps onto what TWS really does (venue_sim/ib/faults.py):
FAULT_KINDS = {
    # IB's "5xx": error 322 "Error processing request" about an order that was in fact executed.
    Fault.ERROR_AFTER_ACCEPT: "error_after_accept",
    # IB's "status unknown": error 1100, TWS lost its link to IB's servers with the order in flight.
    Fault.UNKNOWN_AFTER_ACCEPT: "unknown_after_accept",
    Fault.DISCONNECT_AFTER_ACCEPT: "disconnect_after_accept",
    # IB's pacing refusal: error 100 "Max rate of messages per second has been exceeded".
    Fault.RATE_LIMIT: "pacing",
    Fault.REJECT: "reject",  # error 201 "Order rejected - reason: ..."
    Fault.LATENCY: "latency",
}


@pytest_asyncio.fixture
async def harness():
    sim = await IbSimulator(seed=7).start()
    sim.create_account(ACCOUNT, "1000000")
    venues: list[IbVenue] = []
    client_ids = iter(range(11, 100))
    admin = aiohttp.ClientSession(base_url=sim.admin_url)

    async def make_venue(*, bad_credentials: bool = False, timeout_s: float | None = None) -> IbVenue:
        # TWS has no API key: what identifies the user is the account code the login must manage.
        venue = IbVenue(host="127.0.0.1", port=sim.port, client_id=next(client_ids),
                        account="DU9999999" if bad_credentials else ACCOUNT, timeout_s=timeout_s or 5.0)
        venues.append(venue)
        if not bad_credentials:  # a wrong account shows when the venue is used (it connects lazily)
            await venue.connect()
        return venue

    async def set_price(price: Decimal) -> None:
        async with admin.post("/_sim/prices", json={"symbol": "ES", "price": str(price)}) as response:
            assert response.status == 200

    async def orders_at_venue(client_order_id: str) -> int:
        """Asked of the simulator's own records through its admin API: what really arrived."""
        async with admin.get(f"/_sim/accounts/{ACCOUNT}/orders", params={"orderRef": client_order_id}) as response:
            return len(await response.json())

    async def trade_time(client_order_id: str) -> float:
        return sim.executions(ACCOUNT, client_order_id)[0].at

    async def inject(fault: Fault, *, operation: str, retry_after: int = 1, latency_ms: int = 0) -> None:
        if fault == Fault.RATE_LIMIT:
            # IB's error 100 names no delay (TWS paces API messages per second), so the wait a
            # pacing refusal asks for is the adapter's configured backoff: set it to the one asked.
            for venue in venues:
                venue.pacing_backoff_s = retry_after
        spec = {"kind": FAULT_KINDS[fault], "operation": operation, "account": "*", "latency_ms": latency_ms}
        if fault == Fault.REJECT:
            spec.update(code=201, msg="Order rejected - reason:The contract is not available for trading.")
        async with admin.post("/_sim/faults", json=spec) as response:
            assert response.status == 200, await response.text()

    async def drop_streams() -> None:
        assert await sim.drop_sessions(ACCOUNT) >= 1

    yield VenueHarness(
        venue=await make_venue(), symbol="ES", quantity=Decimal(1), unaffordable_quantity=Decimal(1000),
        derivatives=True, price=lambda: sim.price("ES"), set_price=set_price, orders_at_venue=orders_at_venue,
        trade_time=trade_time, inject=inject, make_venue=make_venue, stop_venue=sim.stop,
        drop_streams=drop_streams, stream_subscribed=lambda: sim.stream_subscribed(ACCOUNT))
    for venue in venues:
        await venue.close()
    await admin.close()
    await sim.stop()


class TestIbVenueOnSimulator(VenueContract):
    pass


async def test_instruments_are_cme_futures_with_their_multipliers(harness: VenueHarness):
    instruments = await harness.venue.instruments()
    assert {s: (i.contract_size, i.tick_size, i.lot_size, i.market_type) for s, i in instruments.items()} == {
        "ES": (50, Decimal("0.25"), 1, "future"), "MES": (5, Decimal("0.25"), 1, "future"),
        "NQ": (20, Decimal("0.25"), 1, "future"), "MNQ": (2, Decimal("0.25"), 1, "future")}
    assert instruments["ES"].venue_symbol.startswith("ES") and len(instruments["ES"].venue_symbol) == 4  # "ESZ6"


async def test_the_client_order_id_travels_as_order_ref_and_the_venue_id_is_the_perm_id(harness: VenueHarness):
    cid = new_cid()
    state = await harness.venue.place_order(OrderRequest(cid, "MES", "buy", Decimal(3)))
    [order] = [o for o in harness.venue.ib.trades() if o.order.orderRef == cid]
    assert state.venue_order_id == str(order.order.permId)
    assert [(f.client_order_id, f.venue_order_id) for f in await harness.venue.trades("MES", state.timestamp)] == [
        (cid, state.venue_order_id)]
    # MES trades at the ES price (one underlying): an entry at the price, 3 contracts of 5 USD a point.
    [position] = [p for p in await harness.venue.positions() if p.symbol == "MES"]
    assert (position.quantity, position.entry_price) == (3, harness.price())


async def test_a_reused_order_id_is_refused_with_ib_error_103(harness: VenueHarness):
    """IB's rule, checked by the simulator: an API client's order ids only increase."""
    ib = harness.venue.ib
    contract = harness.venue._contracts["ES"]  # noqa: SLF001
    first = ib.placeOrder(contract, MarketOrder("BUY", 1, account=ACCOUNT, orderRef=new_cid()))
    again = MarketOrder("BUY", 1, account=ACCOUNT, orderRef=new_cid())
    again.orderId = first.order.orderId
    errors = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    ib.client.placeOrder(first.order.orderId, contract, again)
    await eventually(lambda: (first.order.orderId, 103) in errors, message="error 103")
    assert await harness.orders_at_venue(again.orderRef) == 0


def test_ib_error_codes_are_classified():
    assert classify(IbError(100, "Max rate")).kind == ErrorKind.RATE_LIMIT
    assert classify(IbError(201, "Order rejected"), order_sent=True).kind == ErrorKind.REJECTED
    assert classify(IbError(322, "Error processing request"), order_sent=True).kind == ErrorKind.UNKNOWN_OUTCOME
    assert classify(IbError(1100, "Connectivity lost"), order_sent=True).kind == ErrorKind.UNKNOWN_OUTCOME
    assert classify(IbError(326, "client id in use")).kind == ErrorKind.PLATFORM
    assert classify(ConnectionRefusedError()).kind == ErrorKind.NETWORK
    assert classify(TimeoutError(), order_sent=True).kind == ErrorKind.UNKNOWN_OUTCOME
    assert classify(TimeoutError()).kind == ErrorKind.TIMEOUT


def test_credentials_map_onto_account_address_and_client_id():
    venue = ib_venue_from_credential(account_code="U1234567", address="10.0.0.5:4001", client_id="42",
                                     account_id="acct-1")
    assert (venue.account_code, venue.host, venue.port, venue.client_id) == ("U1234567", "10.0.0.5", 4001, 42)
    derived = ib_venue_from_credential(account_code="U1", address="tws://127.0.0.1:4002", client_id="",
                                       account_id="acct-1")
    again = ib_venue_from_credential(account_code="U1", address="", client_id="", account_id="acct-1")
    assert (derived.host, derived.port, again.port) == ("127.0.0.1", 4002, 7497)
    assert derived.client_id == again.client_id >= 100  # stable per venue account


async def test_a_second_connection_with_the_same_client_id_is_a_platform_error(harness: VenueHarness):
    twin = IbVenue(host="127.0.0.1", port=harness.venue.port, client_id=harness.venue.client_id, account=ACCOUNT,
                   timeout_s=0.5)
    try:
        with pytest.raises(VenueError) as err:
            await twin.connect()
        assert err.value.kind == ErrorKind.PLATFORM and err.value.venue_code == "326"
    finally:
        await twin.close()


async def test_a_fill_hidden_by_lost_connectivity_is_recovered_when_tws_is_back(harness: VenueHarness):
    """Error 1100 (TWS lost IB's servers) swallows the order's messages; on 1102 (restored) the
    fill stream asks TWS for the executions since, so the fill is not lost."""
    fills = Collector(harness.venue.fills())
    await eventually(harness.stream_subscribed, message="fill stream subscribed")
    await harness.inject(Fault.UNKNOWN_AFTER_ACCEPT, operation="place")
    cid = new_cid()
    with pytest.raises(VenueError):
        await harness.venue.place_order(OrderRequest(cid, "ES", "sell", Decimal(1)))
    [fill] = await eventually(lambda: fills.where(lambda f: f.client_order_id == cid), message="recovered fill")
    assert (fill.side, fill.quantity, fill.price) == ("sell", 1, harness.price())
    await fills.stop()


async def test_streams_end_when_the_venue_is_closed_even_while_disconnected(harness: VenueHarness):
    fills = harness.venue.fills()
    pending = asyncio.ensure_future(fills.__anext__())
    await eventually(lambda: harness.venue._queues, message="the stream runs")  # noqa: SLF001
    await harness.stop_venue()  # TWS gone: the stream keeps trying to reconnect
    await harness.venue.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 5)
