"""Sizing: the pure rule every copy (and every preview) goes through."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.domain import sizing
from services.domain.instruments import Instrument

BTC = Instrument("BTC/USDT", "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"),
                 Decimal("5"))
amounts = st.decimals(min_value="0.00001", max_value="100", places=5)
multipliers = st.decimals(min_value="0.01", max_value="20", places=2)
prices = st.decimals(min_value="100", max_value="100000", places=2)


@given(quantity=amounts, multiplier=multipliers, price=prices, side=st.sampled_from(["buy", "sell"]),
       reverse=st.booleans())
def test_a_sized_copy_is_whole_lots_never_above_the_mode_and_valid_or_refused(quantity, multiplier, price, side,
                                                                             reverse):
    settings = sizing.Settings(mode="MULTIPLIER", multiplier=multiplier, reverse=reverse)
    result = sizing.size(settings, sizing.MasterTrade("BTC/USDT", side, quantity, price), BTC)
    if result.refused:
        assert result.reason in {"QUANTITY_ROUNDS_TO_ZERO", "BELOW_MIN_QUANTITY", "BELOW_MIN_NOTIONAL"}
        return
    assert result.quantity % BTC.lot_size == 0
    assert result.quantity <= quantity * multiplier < result.quantity + BTC.lot_size
    assert result.quantity * price >= BTC.min_notional
    assert result.side == (side if not reverse else {"buy": "sell", "sell": "buy"}[side])


def test_each_mode_sizes_as_documented():
    trade = sizing.MasterTrade("BTC/USDT", "buy", Decimal("0.5"), Decimal("50000"))
    cases = [
        (sizing.Settings(mode="FIXED_QUANTITY", fixed_quantity=Decimal("0.1")), Decimal("0.1")),
        (sizing.Settings(mode="MULTIPLIER", multiplier=Decimal("0.5")), Decimal("0.25")),
        (sizing.Settings(mode="FIXED_NOTIONAL", fixed_notional=Decimal("1000")), Decimal("0.02")),
        # 1% of 10,000 equity = 100 at risk, over a 500 stop
        (sizing.Settings(mode="RISK_PERCENT", risk_percent=Decimal("0.01"), stop_distance=Decimal("500")),
         Decimal("0.2")),
        (sizing.Settings(mode="EQUITY_PROPORTIONAL"), Decimal("0.05")),  # 10,000 / 100,000 of 0.5
    ]
    for settings, expected in cases:
        result = sizing.size(settings, trade, BTC, follower_equity=Decimal("10000"), master_equity=Decimal("100000"))
        assert result.quantity == expected, settings.mode


def test_symbol_map_converts_contracts_and_filters_refuse_with_reasons():
    trade = sizing.MasterTrade("XBT/USD", "sell", Decimal("2"), Decimal("50000"))
    mapped = sizing.Settings(mode="MULTIPLIER", symbol_map={"XBT/USD": ("BTC/USDT", Decimal("0.001"))})
    result = sizing.size(mapped, trade, BTC)
    assert (result.symbol, result.side, result.quantity) == ("BTC/USDT", "sell", Decimal("0.002"))
    denied = sizing.size(sizing.Settings(mode="MULTIPLIER", denied_symbols=frozenset({"XBT/USD"})), trade, BTC)
    assert denied.reason == "SYMBOL_DENIED"
    not_allowed = sizing.size(sizing.Settings(mode="MULTIPLIER", allowed_symbols=frozenset({"ETH/USDT"})), trade, BTC)
    assert not_allowed.reason == "SYMBOL_NOT_ALLOWED"


def _close(settings, side, quantity, position_before, follower_position, price="50000"):
    trade = sizing.MasterTrade("BTC/USDT", side, Decimal(quantity), Decimal(price))
    return sizing.size(settings, trade, BTC, position_before=Decimal(position_before),
                       follower_position=Decimal(follower_position))


def test_a_master_closing_part_of_a_position_closes_the_same_fraction_of_the_followers_whatever_the_mode():
    fixed = sizing.Settings(mode="FIXED_QUANTITY", fixed_quantity=Decimal("0.3"))
    half = _close(fixed, "sell", "1", "2", "0.3")  # master sells half of 2: follower sells half of 0.3
    assert (half.side, half.quantity, half.closing) == ("sell", Decimal("0.15"), Decimal("0.15"))
    whole = _close(fixed, "sell", "2", "2", "0.3")  # a full close leaves no dust, even off the lot grid
    assert whole.quantity == Decimal("0.3")
    short = _close(sizing.Settings(mode="MULTIPLIER", multiplier=Decimal(2)), "buy", "1", "-4", "-2")
    assert (short.side, short.quantity) == ("buy", Decimal("0.5"))


def test_a_flip_closes_the_followers_position_and_sizes_only_the_rest_by_the_mode():
    settings = sizing.Settings(mode="MULTIPLIER", multiplier=Decimal("0.5"))
    flip = _close(settings, "sell", "3", "1", "0.5")  # long 1 → short 2: close 0.5, open 2 × 0.5
    assert (flip.side, flip.quantity, flip.closing) == ("sell", Decimal("1.5"), Decimal("0.5"))


def test_a_reversed_follower_closes_its_opposite_position():
    settings = sizing.Settings(mode="MULTIPLIER", multiplier=Decimal(1), reverse=True)
    result = _close(settings, "sell", "1", "1", "-1")  # master closes its long; the follower, short, buys
    assert (result.side, result.quantity) == ("buy", Decimal("1"))


def test_closing_what_the_follower_never_copied_is_refused_with_the_reason():
    settings = sizing.Settings(mode="MULTIPLIER", multiplier=Decimal(1))
    for follower_position in ("0", "0.5"):  # nothing held, or held the other way (a buy cannot close a long)
        result = _close(settings, "buy", "1", "-1", follower_position)
        assert result.reason == "NOTHING_TO_CLOSE", result


@given(before=st.decimals(min_value="0.001", max_value="10", places=3),
       fraction=st.decimals(min_value="0.01", max_value="1", places=2),
       held=st.decimals(min_value="0", max_value="5", places=2))
def test_a_proportional_close_never_closes_more_than_the_follower_holds(before, fraction, held):
    result = _close(sizing.Settings(mode="MULTIPLIER"), "sell", str(before * fraction), str(before), str(held))
    if not result.refused:
        assert result.closing == result.quantity <= held
        assert result.quantity % BTC.lot_size == 0 or result.quantity == held


def test_a_fixed_notional_buys_the_follower_instrument_at_its_own_price_and_contract_size():
    """Mapped onto another instrument, the notional is spent at that instrument's price (which
    the copier asks the follower's venue for) and per contract: no master contracts to convert."""
    es = sizing.MasterTrade("ES", "sell", Decimal(2), Decimal(5000))
    to_btc = sizing.Settings(mode="FIXED_NOTIONAL", fixed_notional=Decimal(3200),
                             symbol_map={"ES": ("BTC/USDT:USDT", Decimal(1))})
    btc = sizing.size(to_btc, es, BTC, follower_price=Decimal(64000))
    assert (btc.symbol, btc.side, btc.quantity) == ("BTC/USDT:USDT", "sell", Decimal("0.05"))
    mes = Instrument("MES", "MESZ6", "MES", "USD", Decimal("0.25"), Decimal(1), Decimal(1), Decimal(0),
                     contract_size=Decimal(5))
    to_mes = sizing.Settings(mode="FIXED_NOTIONAL", fixed_notional=Decimal(250_000),
                             symbol_map={"ES": ("MES", Decimal(10))})
    assert sizing.size(to_mes, es, mes, follower_price=Decimal(5000)).quantity == 10  # 250,000 / (5,000 x 5)
