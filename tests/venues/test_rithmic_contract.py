"""RithmicVenue passes the venue contract through unmodified async_rithmic against the loopback
R|Protocol server (ES futures, multiplier 50, tick 0.25), over plain ws:// (see the adapter's
module docstring for TLS).

How the contract's faults map onto R|Protocol:
- ERROR_AFTER_ACCEPT / UNKNOWN_AFTER_ACCEPT: the order is executed, then the request gets a
  generic Reject (template 75: "internal error" / "order status unknown") instead of its 313;
- DISCONNECT_AFTER_ACCEPT: the order is executed, then the order plant's WebSocket closes
  before the 313 (async_rithmic reconnects by itself);
- RATE_LIMIT: the 313 carries rp_code ["6", "rate limit exceeded"]; R|Protocol gives no retry
  hint, so the adapter reports its configured back-off, which the harness sets to the fault's;
- REJECT: the 313 carries a refusal rp_code;
- LATENCY: the 313 (on a place) or the show-orders answer (on a query) comes late;
- bad credentials: the login (10) is answered with rp_code ["13", "permission denied"];
- an unreachable venue: the server is stopped;
- dropped streams: the server closes the order plant's WebSocket."""

from decimal import Decimal

import pytest
import pytest_asyncio

from services.replication.venues.base import ErrorKind, VenueError
from services.replication.venues.rithmic_venue import RithmicVenue
from tests.venues.contract import Fault, VenueContract, VenueHarness
from venue_sim.rithmic import RithmicSim

FAULTS = {Fault.ERROR_AFTER_ACCEPT: "error_after_accept", Fault.UNKNOWN_AFTER_ACCEPT: "unknown_after_accept",
          Fault.DISCONNECT_AFTER_ACCEPT: "disconnect_after_accept", Fault.RATE_LIMIT: "rate_limit",
          Fault.REJECT: "reject"}


@pytest_asyncio.fixture
async def harness():
    sim = await RithmicSim(user="trader", password="pw", balance="100000", prices={"ES": "5000"}).start()
    venues: list[RithmicVenue] = []

    async def make_venue(*, bad_credentials: bool = False, timeout_s: float | None = None) -> RithmicVenue:
        venue = RithmicVenue(user="trader", password="wrong" if bad_credentials else "pw",
                             system_name=sim.system_name, url=sim.url, timeout_s=timeout_s or 3.0)
        venues.append(venue)
        try:
            await venue.connect()
        except VenueError as err:  # the login is where Rithmic checks credentials
            assert bad_credentials and err.kind == ErrorKind.AUTH, err
        return venue

    async def orders_at_venue(client_order_id: str) -> int:
        return len(sim.orders_with_tag(client_order_id))

    async def trade_time(client_order_id: str) -> float:
        return next(f.at for f in sim.fills if f.user_tag == client_order_id)

    async def inject(fault: Fault, *, operation: str, retry_after: int = 1, latency_ms: int = 0) -> None:
        if fault == Fault.LATENCY:
            sim.inject("latency" if operation == "place" else "query_latency", latency_ms=latency_ms)
            return
        if fault == Fault.RATE_LIMIT:
            for venue in venues:
                venue.rate_limit_retry_after_s = retry_after
        sim.inject(FAULTS[fault])

    async def drop_streams() -> None:
        assert await sim.drop_streams() >= 1

    venue = await make_venue()
    yield VenueHarness(
        venue=venue, symbol="ES", quantity=Decimal(1), unaffordable_quantity=Decimal(100), derivatives=True,
        price=lambda: sim.price("ES"), set_price=lambda price: sim.set_price("ES", price),
        orders_at_venue=orders_at_venue, trade_time=trade_time, inject=inject, make_venue=make_venue,
        stop_venue=sim.stop, drop_streams=drop_streams, stream_subscribed=sim.stream_subscribed)
    for v in venues:
        await v.close()
    await sim.stop()


class TestRithmicVenueOnSimulator(VenueContract):
    pass


@pytest.mark.parametrize("passphrase,account", [("Rithmic Paper Trading", "SIM-001"),
                                                ("Rithmic Paper Trading|SIM-001", "SIM-001")])
async def test_a_venue_from_vault_fields_logs_in_and_picks_the_account(passphrase, account):
    from services.replication.venues.rithmic_venue import from_credential

    async with RithmicSim(user="u1", password="p1") as sim:
        venue = from_credential(api_key="u1", api_secret="p1", passphrase=passphrase, venue_url=sim.url)
        try:
            await venue.connect()
            assert venue.account_id == account
            assert (await venue.instrument("MNQ")).contract_size == 2
        finally:
            await venue.close()


async def test_async_rithmics_default_connect_logs_in_to_every_plant_it_opens():
    """RithmicClient.connect() without arguments opens the order, history, ticker and PnL plants
    (the ticker plant asks for the system names first, on a connection of its own)."""
    from async_rithmic import RithmicClient

    async with RithmicSim(user="u", password="p") as sim:
        client = RithmicClient(user="u", password="p", system_name=sim.system_name, app_name="copytrade",
                               app_version="1", url=sim.url)
        client.ssl_context = None  # ws:// loopback
        await client.connect(plant_connect_delay=0)
        try:
            assert all(plant.is_connected for name, plant in client.plants.items() if name != "repository")
            assert [a.account_id for a in client.accounts] == ["SIM-001"] and client.fcm_id == "SimFCM"
            assert sim.stream_subscribed("SIM-001")
        finally:
            await client.disconnect()


async def _venue(sim: RithmicSim) -> RithmicVenue:
    venue = RithmicVenue(user=sim.user, password=sim.password, system_name=sim.system_name, url=sim.url)
    await venue.connect()
    return venue


async def test_a_client_order_id_another_session_used_is_refused_without_sending():
    """Rithmic itself accepts a repeated user tag; the adapter refuses tags of the account's
    orders it learns at login and from every session's order notifications."""
    from services.kit.testing import eventually
    from services.replication.venues.base import OrderRequest

    async with RithmicSim(user="u", password="p") as sim:
        earlier, other, ours = await _venue(sim), None, None
        try:
            await earlier.place_order(OrderRequest("copy-1", "ES", "buy", Decimal(1)))
            ours = await _venue(sim)  # logs in after copy-1: learns it from show-orders
            other = await _venue(sim)
            await other.place_order(OrderRequest("copy-2", "ES", "buy", Decimal(1)))
            await eventually(lambda: "copy-2" in ours._used_tags, message="copy-2 notified")
            for cid in ("copy-1", "copy-2"):
                with pytest.raises(VenueError) as err:
                    await ours.place_order(OrderRequest(cid, "ES", "buy", Decimal(1)))
                assert err.value.kind == ErrorKind.REJECTED
                assert len(sim.orders_with_tag(cid)) == 1
        finally:
            for venue in (earlier, other, ours):
                if venue is not None:
                    await venue.close()


async def test_an_order_refused_for_the_rate_limit_goes_out_later_under_the_same_id():
    from services.replication.venues.base import OrderRequest

    async with RithmicSim(user="u", password="p") as sim:
        venue = await _venue(sim)
        try:
            sim.inject("rate_limit")
            order = OrderRequest("copy-1", "ES", "sell", Decimal(2))
            with pytest.raises(VenueError) as err:
                await venue.place_order(order)
            assert err.value.kind == ErrorKind.RATE_LIMIT and not sim.orders_with_tag("copy-1")
            assert (await venue.place_order(order)).venue_order_id == sim.orders_with_tag("copy-1")[0].basket_id
            assert sim.position("ES") == -2
        finally:
            await venue.close()


async def test_recent_returns_come_from_hourly_bars_ending_at_the_price():
    async with RithmicSim(user="u", password="p", prices={"NQ": "20000"}) as sim:
        venue = await _venue(sim)
        try:
            returns = await venue.recent_returns("NQ", periods=24)
            assert len(returns) == 24 and any(returns) and all(abs(r) < 0.05 for r in returns)
        finally:
            await venue.close()


async def test_over_tls_the_venue_trusts_the_certificate_it_is_given(tmp_path):
    """wss:// as with Rithmic's own gateways: async_rithmic verifies the server's certificate
    (its bundled one by default); given the simulator's self-signed certificate, it trades."""
    from services.replication.venues.base import OrderRequest

    sim = await RithmicSim(user="u", password="p").start(tls_dir=str(tmp_path))
    trusting = RithmicVenue(user="u", password="p", system_name=sim.system_name, url=sim.url,
                            ca_file=sim.certificate)
    default = RithmicVenue(user="u", password="p", system_name=sim.system_name, url=sim.url, timeout_s=2)
    try:
        assert sim.url.startswith("wss://")
        await trusting.place_order(OrderRequest("tls-1", "MES", "buy", Decimal(1)))
        assert sim.position("MES") == 1
        with pytest.raises(VenueError) as err:  # Rithmic's bundled certificate does not vouch for it
            await default.connect()
        assert err.value.kind == ErrorKind.PLATFORM and "CERTIFICATE_VERIFY_FAILED" in err.value.message
    finally:
        await trusting.close()
        await default.close()
        await sim.stop()
