"""NinjaTraderVenue passes the venue contract over NinjaTrader 8's ATI file interface, against
the simulator playing NT8's side of a temporary folder (ES futures, multiplier 50, tick 0.25).

How the contract's faults map onto the file interface (NT8 has no HTTP status, error codes or
rate limits; these are the nearest things that really happen between a client and NT8):
- ERROR_AFTER_ACCEPT and UNKNOWN_AFTER_ACCEPT: NT8 executes the order but its state file reads
  UNKNOWN (NT8's OrderState.Unknown, written when the broker's answer is lost) until it resyncs;
- DISCONNECT_AFTER_ACCEPT: the order is executed, then NT8's connection drops (its connection
  file reads DISCONNECTED) before the order's state file is written;
- RATE_LIMIT: NT8 takes no instruction files for a while (ATI busy or switched off); the adapter
  takes its file back unseen and reports RATE_LIMIT with its configured back-off, which the
  harness sets to the fault's retry_after (the file interface carries no retry hint);
- REJECT: REJECTED;0;0;
- LATENCY on a place: the file is taken at once, the state file comes late; on a query: the
  connection is DISCONNECTED meanwhile, so the read waits for it and times out;
- bad credentials: a connection name NT8 does not report (the account settings are wrong);
- an unreachable venue: NT8's folder is gone (the machine or its share went away);
- dropped streams: the connection file flips to DISCONNECTED and back to CONNECTED."""

import shutil
from decimal import Decimal

import pytest_asyncio

from services.replication.venues.ninjatrader_venue import NinjaTraderVenue
from tests.venues.contract import Fault, VenueContract, VenueHarness
from venue_sim.ninjatrader import NinjaTraderSim

FAULTS = {Fault.ERROR_AFTER_ACCEPT: "unknown_after_accept", Fault.UNKNOWN_AFTER_ACCEPT: "unknown_after_accept",
          Fault.DISCONNECT_AFTER_ACCEPT: "disconnect_after_accept", Fault.RATE_LIMIT: "busy",
          Fault.REJECT: "reject"}


@pytest_asyncio.fixture
async def harness(tmp_path):
    folder = tmp_path / "NinjaTrader 8"
    sim = await NinjaTraderSim(folder, account="Sim101", connection="Rithmic for NinjaTrader Brokerage",
                               cash="100000", prices={"ES": "5000"}).start()
    venues: list[NinjaTraderVenue] = []

    async def price_source(symbol: str) -> Decimal:  # the market-data feed NT8's files do not carry
        return sim.price(symbol)

    async def make_venue(*, bad_credentials: bool = False, timeout_s: float | None = None) -> NinjaTraderVenue:
        venue = NinjaTraderVenue(folder, account="Sim101",
                                 connection="No Such Connection" if bad_credentials else sim.connection,
                                 cash="100000", price_source=price_source, timeout_s=timeout_s or 2.0)
        venues.append(venue)
        await venue.connect()
        return venue

    async def set_price(price: Decimal) -> None:
        sim.set_price("ES", price)

    async def orders_at_venue(client_order_id: str) -> int:
        return len(sim.orders(client_order_id))

    async def trade_time(client_order_id: str) -> float:
        return next(t.at for t in sim.trades if t.order_id == client_order_id)

    async def inject(fault: Fault, *, operation: str, retry_after: int = 1, latency_ms: int = 0) -> None:
        if fault == Fault.LATENCY:
            sim.inject("latency" if operation == "place" else "query_latency", latency_ms=latency_ms)
            return
        if fault == Fault.RATE_LIMIT:
            for venue in venues:
                venue.busy_retry_after_s = retry_after
        sim.inject(FAULTS[fault], retry_after=retry_after)

    async def stop_venue() -> None:
        await sim.stop()
        shutil.rmtree(folder)

    venue = await make_venue()
    yield VenueHarness(
        venue=venue, symbol="ES", quantity=Decimal(1), unaffordable_quantity=Decimal(100), derivatives=True,
        price=lambda: sim.price("ES"), set_price=set_price, orders_at_venue=orders_at_venue, trade_time=trade_time,
        inject=inject, make_venue=make_venue, stop_venue=stop_venue, drop_streams=sim.drop_streams,
        stream_subscribed=lambda: sim.connected and venue.stream_up, has_history=False,
        no_resting_at_start="NT8's ATI reports only orders this adapter placed, so orders resting from before cannot be listed")
    for v in venues:
        await v.close()
    await sim.stop()


class TestNinjaTraderVenueOnSimulator(VenueContract):
    pass


async def test_a_venue_from_vault_fields_trades_through_the_folder(tmp_path):
    """The vault's fields as VenuePool passes them: account name, cash as the secret, the
    connection name as the passphrase, and the folder as the venue's URL."""
    from services.replication.venues.base import OrderRequest
    from services.replication.venues.ninjatrader_venue import from_credential

    async with NinjaTraderSim(tmp_path, account="Apex-42", connection="Rithmic", prices={"MES": "5000"}) as sim:
        venue = from_credential(api_key="Apex-42", api_secret="25000", passphrase="Rithmic",
                                venue_url=f"file://{tmp_path}")
        await venue.connect()
        try:
            assert (await venue.account()).equity == Decimal(25000)
            assert (await venue.instrument("MES")).contract_size == 5
            await venue.place_order(OrderRequest("copy-1", "MES", "sell", Decimal(3)))
            assert [(p.symbol, p.quantity, p.entry_price) for p in await venue.positions()] == [
                ("MES", Decimal(-3), Decimal(5000))]
            assert sim.position("MES") == -3
        finally:
            await venue.close()


async def test_position_files_are_read_with_or_without_the_exchange_in_their_name(tmp_path):
    from venue_sim import cme  # the names NT8 gives its files: the venue's, not the adapter's own table

    (tmp_path / "outgoing").mkdir()
    (tmp_path / "incoming").mkdir()
    (tmp_path / "outgoing" / "Rithmic.txt").write_text("CONNECTED")
    es, nq = cme.ninjatrader_name("ES"), cme.ninjatrader_name("NQ")
    (tmp_path / "outgoing" / f"{es} Globex_Sim101_Position.txt").write_text("SHORT;2;5001.25")
    (tmp_path / "outgoing" / f"{nq} sim101_position.txt").write_text("LONG;1;20000")
    (tmp_path / "outgoing" / f"{es} Globex_Sim1012_Position.txt").write_text("LONG;9;1")  # another account
    venue = NinjaTraderVenue(tmp_path, account="Sim101", connection="Rithmic")
    positions = {p.symbol: (p.quantity, p.entry_price) for p in await venue.positions()}
    assert positions == {"ES": (Decimal(-2), Decimal("5001.25")), "NQ": (Decimal(1), Decimal(20000))}
