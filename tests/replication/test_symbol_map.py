"""Auto-mapping a master's market to a follower venue's, from the markets both publish."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.domain import sizing
from services.replication.symbol_map import auto_map, resolve, underlying
from services.replication.venues.base import ErrorKind, Instrument, VenueError


def market(symbol: str, base: str, quote: str = "USDT", contract_size: str = "1") -> Instrument:
    return Instrument(symbol=symbol, venue_symbol=symbol.replace("/", "").split(":")[0], base=base, quote=quote,
                      tick_size=Decimal("0.01"), lot_size=Decimal("0.001"), min_quantity=Decimal("0.001"),
                      min_notional=Decimal(5), contract_size=Decimal(contract_size),
                      market_type="swap" if ":" in symbol else "spot")


BYBIT_LINEAR = [market("BTC/USDT:USDT", "BTC"), market("ETH/USDT:USDT", "ETH"), market("PEPE/USDT:USDT", "PEPE"),
                market("SHIB1000/USDT:USDT", "SHIB1000"), market("BTC/USDC:USDC", "BTC", "USDC"),
                market("1INCH/USDT:USDT", "1INCH")]


@pytest.mark.parametrize("base,expected", [
    ("1000PEPE", ("PEPE", 1000)), ("PEPE1000", ("PEPE", 1000)), ("SHIB1000", ("SHIB", 1000)),
    ("1000000MOG", ("MOG", 1_000_000)), ("1MBABYDOGE", ("BABYDOGE", 1_000_000)), ("BTC", ("BTC", 1)),
    ("1INCH", ("1INCH", 1)), ("API3", ("API3", 1)), ("C98", ("C98", 1))])
def test_underlying_takes_a_power_of_ten_multiplier_off_the_base(base, expected):
    assert underlying(base) == (expected[0], Decimal(expected[1]))


@pytest.mark.parametrize("master,expected", [
    (market("BTC/USDT:USDT", "BTC"), ("BTC/USDT:USDT", 1)),  # the same unified market
    (market("1000PEPE/USDT:USDT", "1000PEPE"), ("PEPE/USDT:USDT", 1000)),  # 1 contract = 1000 PEPE
    (market("1000SHIB/USDT:USDT", "1000SHIB"), ("SHIB1000/USDT:USDT", 1)),  # named the other way round
    (market("BTC-PERP/USDT:USDT", "BTC", contract_size="0.01"), ("BTC/USDT:USDT", Decimal("0.01"))),  # OKX-like
    (market("BTC/USDT", "BTC"), ("BTC/USDT:USDT", 1)),  # a spot master to a perpetual follower
    (market("BTC/USDC:USDC", "BTC", "USDC"), ("BTC/USDC:USDC", 1)),  # the settle currency decides
    (market("1INCH/USDT:USDT", "1INCH"), ("1INCH/USDT:USDT", 1)),
])
def test_auto_map_matches_base_quote_settle_and_converts_contract_sizes(master, expected):
    assert auto_map(master, BYBIT_LINEAR) == (expected[0], Decimal(expected[1]))


@pytest.mark.parametrize("master", [
    market("DOGE/USDT:USDT", "DOGE"),  # not listed
    market("BTC/BUSD:BUSD", "BTC", "BUSD"),  # another quote
    market("BTC/USDT:USDT-261225", "BTC"),  # a dated future is not a perpetual
])
def test_auto_map_finds_nothing_rather_than_something_else(master):
    assert auto_map(master, BYBIT_LINEAR) is None


@given(master_scale=st.sampled_from([1, 10, 100, 1000, 1_000_000]),
       follower_scale=st.sampled_from([1, 10, 100, 1000, 1_000_000]),
       contract=st.sampled_from(["0.001", "0.01", "0.1", "1", "10", "100"]),
       quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10_000), places=3))
def test_a_mapped_copy_holds_the_same_amount_of_the_underlying(master_scale, follower_scale, contract, quantity):
    def named(scale):
        return "XYZ" if scale == 1 else f"{scale}XYZ"
    master = market(f"{named(master_scale)}/USDT:USDT", named(master_scale), contract_size=contract)
    follower = market(f"{named(follower_scale)}/USDT:USDT", named(follower_scale))
    symbol, ratio = auto_map(master, [follower])
    assert symbol == follower.symbol
    assert quantity * master.contract_size * master_scale == quantity * ratio * follower_scale


class FakeVenue:
    """Stands in for a venue's published market list only (the mapping reads nothing else)."""

    def __init__(self, *instruments: Instrument) -> None:
        self.markets = {i.symbol: i for i in instruments}

    async def instrument(self, symbol):
        if symbol not in self.markets:
            raise VenueError(ErrorKind.REJECTED, f"no {symbol}")
        return self.markets[symbol]

    async def instruments(self):
        return self.markets


async def test_resolve_prefers_the_manual_map_and_maps_only_across_venues():
    settings = sizing.Settings(mode="MULTIPLIER")
    master_venue = FakeVenue(market("1000PEPE/USDT:USDT", "1000PEPE"))
    follower_venue = FakeVenue(*BYBIT_LINEAR)

    async def other_venue():
        return master_venue

    async def same_venue():
        return None

    mapped = await resolve(settings, "1000PEPE/USDT:USDT", follower_venue, other_venue)
    assert mapped.symbol_map == {"1000PEPE/USDT:USDT": ("PEPE/USDT:USDT", Decimal(1000))}
    manual = sizing.Settings(mode="MULTIPLIER", symbol_map={"1000PEPE/USDT:USDT": ("SHIB1000/USDT:USDT", Decimal(3))})
    assert (await resolve(manual, "1000PEPE/USDT:USDT", follower_venue, other_venue)) is manual
    assert (await resolve(settings, "1000PEPE/USDT:USDT", follower_venue, same_venue)) is settings
    assert (await resolve(settings, "NOPE/USDT:USDT", follower_venue, other_venue)) is settings


def test_min_notional_is_judged_in_the_followers_units():
    """1 contract of 1000PEPE at 0.01 = 1000 PEPE at 0.00001: 500 contracts are 5 USDT either way."""
    instrument = Instrument("PEPE/USDT:USDT", "PEPEUSDT", "PEPE", "USDT", Decimal("0.0000001"), Decimal(100),
                            Decimal(100), Decimal(5), market_type="swap")
    settings = sizing.Settings(mode="MULTIPLIER", symbol_map={"1000PEPE/USDT:USDT": ("PEPE/USDT:USDT", Decimal(1000))})
    sized = sizing.size(settings, sizing.MasterTrade("1000PEPE/USDT:USDT", "buy", Decimal(500), Decimal("0.01")),
                        instrument)
    assert (sized.symbol, sized.quantity, sized.refused) == ("PEPE/USDT:USDT", Decimal(500_000), False)
    small = sizing.size(settings, sizing.MasterTrade("1000PEPE/USDT:USDT", "buy", Decimal(400), Decimal("0.01")),
                        instrument)
    assert small.reason == "BELOW_MIN_NOTIONAL"
