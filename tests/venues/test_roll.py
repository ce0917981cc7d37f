"""One futures roll rule for IB, Rithmic and NinjaTrader: on dates around the December 2026 roll
each adapter, against its simulator (which lists every quarterly month trading that day, as the
venues do), sends an ES order to the same contract month. ES Dec 2026 expires Friday 2026-12-18;
CME's roll date is Thursday 2026-12-10, from which March 2027 is the front month."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.replication.venues import roll
from services.replication.venues.base import OrderRequest
from services.replication.venues.ib_venue import IbVenue
from services.replication.venues.ninjatrader_venue import NinjaTraderVenue
from services.replication.venues.rithmic_venue import RithmicVenue
from tests.venues.contract import new_cid
from venue_sim import cme as sim_cme
from venue_sim.ib import IbSimulator
from venue_sim.ninjatrader import NinjaTraderSim
from venue_sim.rithmic import RithmicSim

# day -> the front month's (year, month)
AROUND_THE_ROLL = {
    date(2026, 11, 25): (2026, 12),
    date(2026, 12, 9): (2026, 12),  # the last day before the roll
    date(2026, 12, 10): (2027, 3),  # the roll date
    date(2026, 12, 11): (2027, 3),  # the day: IB traded ESZ6, Rithmic ESH7
    date(2026, 12, 18): (2027, 3),  # Dec's expiry day, still listed
    date(2026, 12, 19): (2027, 3),
    date(2027, 3, 10): (2027, 3),
    date(2027, 3, 11): (2027, 6),  # Mar 2027 expires on the 19th; roll Thursday the 11th
}
CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}


@pytest.mark.parametrize("day", list(AROUND_THE_ROLL))
def test_the_front_month_moves_on_cmes_roll_date(day):
    assert roll.front_month(day) == AROUND_THE_ROLL[day]
    assert roll.front_month(datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC)) == AROUND_THE_ROLL[day]


def rithmic_symbol(day: date) -> str:
    year, month = AROUND_THE_ROLL[day]
    return f"ES{CODES[month]}{year % 10}"


def at_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


ROLL_DAYS = [date(2026, 12, 9), date(2026, 12, 10), date(2026, 12, 11)]


@pytest.mark.parametrize("day", ROLL_DAYS)
async def test_ib_trades_the_shared_front_month(day):
    sim = await IbSimulator(seed=7, today=day).start()
    sim.create_account("DU1000001", "1000000")
    venue = IbVenue(host="127.0.0.1", port=sim.port, client_id=21, account="DU1000001", timeout_s=5.0,
                    now=at_noon(day))
    try:
        assert len({c.expiry for c in sim.book.listed}) == 3  # the sim lists Dec, Mar and Jun
        assert (await venue.instruments())["ES"].venue_symbol == rithmic_symbol(day)
        cid = new_cid()
        await venue.place_order(OrderRequest(cid, "ES", "buy", Decimal(1)))
        [order] = [o for o in sim.book.orders if o.order_ref == cid]
        assert order.contract.local_symbol == rithmic_symbol(day)
    finally:
        await venue.close()
        await sim.stop()


@pytest.mark.parametrize("day", ROLL_DAYS)
async def test_rithmic_trades_the_shared_front_month(day):
    sim = await RithmicSim(user="trader", password="pw", balance="100000", prices={"ES": "5000"}, now=at_noon(day)
                           ).start()
    venue = RithmicVenue(user="trader", password="pw", system_name=sim.system_name, url=sim.url, timeout_s=3.0,
                         now=at_noon(day))
    try:
        await venue.connect()
        assert (await venue.instruments())["ES"].venue_symbol == rithmic_symbol(day)
        cid = new_cid()
        await venue.place_order(OrderRequest(cid, "ES", "buy", Decimal(1)))
        [order] = sim.orders_with_tag(cid)
        assert order.symbol == rithmic_symbol(day)
    finally:
        await venue.close()
        await sim.stop()


@pytest.mark.parametrize("day", ROLL_DAYS)
async def test_ninjatrader_trades_the_shared_front_month(day, tmp_path):
    folder = tmp_path / "NinjaTrader 8"
    sim = await NinjaTraderSim(folder, account="Sim101", connection="Rithmic for NinjaTrader Brokerage",
                               cash="100000", prices={"ES": "5000"}, now=at_noon(day)).start()

    async def price_source(symbol: str) -> Decimal:
        return sim.price(symbol)

    venue = NinjaTraderVenue(folder, account="Sim101", connection=sim.connection, cash="100000",
                             price_source=price_source, timeout_s=2.0, now=at_noon(day))
    year, month = AROUND_THE_ROLL[day]
    try:
        await venue.connect()
        assert (await venue.instruments())["ES"].venue_symbol == f"ES {month:02d}-{year % 100:02d}"
        cid = new_cid()
        await venue.place_order(OrderRequest(cid, "ES", "buy", Decimal(1)))
        [order] = sim.orders(cid)
        assert order.instrument == f"ES {month:02d}-{year % 100:02d}"
    finally:
        await venue.close()
        await sim.stop()


class Clock:
    """A settable clock: an adapter's process running across the roll date."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> datetime:
        return at_noon(self.day)


BEFORE, AFTER = date(2026, 12, 9), date(2026, 12, 10)


async def test_a_running_adapter_rolls_when_the_day_passes_the_roll_date(tmp_path):
    """One adapter of each kind, connected before the roll date and still running after it."""
    ib_sim = await IbSimulator(seed=7, today=BEFORE).start()
    ib_sim.create_account("DU1000001", "1000000")
    rithmic_sim = await RithmicSim(user="trader", password="pw", now=at_noon(BEFORE)).start()
    folder = tmp_path / "NinjaTrader 8"
    nt_sim = await NinjaTraderSim(folder, account="Sim101", connection="Sim", now=at_noon(BEFORE)).start()

    async def price_source(symbol: str) -> Decimal:
        return nt_sim.price(symbol)

    clock = Clock(BEFORE)
    venues = {
        "ib": IbVenue(host="127.0.0.1", port=ib_sim.port, client_id=22, account="DU1000001", timeout_s=5.0,
                      now=clock),
        "rithmic": RithmicVenue(user="trader", password="pw", system_name=rithmic_sim.system_name,
                                url=rithmic_sim.url, timeout_s=3.0, now=clock),
        "ninjatrader": NinjaTraderVenue(folder, account="Sim101", connection="Sim", cash="100000",
                                        price_source=price_source, timeout_s=2.0, now=clock),
    }
    names = {"ib": ("ESZ6", "ESH7"), "rithmic": ("ESZ6", "ESH7"), "ninjatrader": ("ES 12-26", "ES 03-27")}
    try:
        for venue in venues.values():
            await venue.connect()
        assert {k: (await v.instruments())["ES"].venue_symbol for k, v in venues.items()} == {
            k: before for k, (before, _) in names.items()}
        clock.day = AFTER
        assert {k: (await v.instruments())["ES"].venue_symbol for k, v in venues.items()} == {
            k: after for k, (_, after) in names.items()}
        cids = {k: new_cid() for k in venues}
        for k, venue in venues.items():
            await venue.place_order(OrderRequest(cids[k], "ES", "buy", Decimal(1)))
        assert [o.contract.local_symbol for o in ib_sim.book.orders if o.order_ref == cids["ib"]] == ["ESH7"]
        assert [o.symbol for o in rithmic_sim.orders_with_tag(cids["rithmic"])] == ["ESH7"]
        assert [o.instrument for o in nt_sim.orders(cids["ninjatrader"])] == ["ES 03-27"]
    finally:
        for venue in venues.values():
            await venue.close()
        await ib_sim.stop()
        await rithmic_sim.stop()
        await nt_sim.stop()


async def test_every_futures_adapter_trades_the_contracts_as_the_exchange_specifies_them(tmp_path):
    """Each adapter's instruments against the venue's data, which the simulators keep apart from
    production's tables (venue_sim/cme.py and IB's contract details): a wrong multiplier, tick
    or contract name in services/replication/venues/cme.py fails here."""
    day = date(2026, 12, 11)
    ib_sim = await IbSimulator(seed=7, today=day).start()
    ib_sim.create_account("DU1000001", "1000000")
    rithmic_sim = await RithmicSim(user="trader", password="pw", now=at_noon(day)).start()
    folder = tmp_path / "NinjaTrader 8"
    nt_sim = await NinjaTraderSim(folder, account="Sim101", connection="Sim", now=at_noon(day)).start()

    async def price_source(symbol: str) -> Decimal:
        return nt_sim.price(symbol)

    venues = {
        "ib": IbVenue(host="127.0.0.1", port=ib_sim.port, client_id=23, account="DU1000001", timeout_s=5.0,
                      now=at_noon(day)),
        "rithmic": RithmicVenue(user="trader", password="pw", system_name=rithmic_sim.system_name,
                                url=rithmic_sim.url, timeout_s=3.0, now=at_noon(day)),
        "ninjatrader": NinjaTraderVenue(folder, account="Sim101", connection="Sim", cash="100000",
                                        price_source=price_source, timeout_s=2.0, now=at_noon(day)),
    }
    ib_contracts = {c.symbol: c for c in ib_sim.book.listed if c.local_symbol.endswith("H7")}
    venue_names = {"ib": lambda root: ib_contracts[root].local_symbol, "rithmic": lambda root: sim_cme.rithmic_name(
        root, month=(2027, 3)), "ninjatrader": lambda root: sim_cme.ninjatrader_name(root, month=(2027, 3))}
    try:
        for venue in venues.values():
            await venue.connect()
        for name, venue in venues.items():
            instruments = await venue.instruments()
            assert set(instruments) == set(sim_cme.FUTURES), name
            for root, spec in sim_cme.FUTURES.items():
                multiplier = Decimal(ib_contracts[root].multiplier) if name == "ib" else spec.multiplier
                tick = ib_contracts[root].tick if name == "ib" else spec.tick_size
                got = instruments[root]
                assert (got.contract_size, got.tick_size, got.venue_symbol) == (
                    multiplier, tick, venue_names[name](root)), (name, root)
        assert rithmic_sim.symbols[sim_cme.rithmic_name("MES", month=(2027, 3))] == "MES"
        assert nt_sim.instruments[sim_cme.ninjatrader_name("MES", month=(2027, 3))] == "MES"
    finally:
        for venue in venues.values():
            await venue.close()
        await ib_sim.stop()
        await rithmic_sim.stop()
        await nt_sim.stop()
