"""Sizing and client order ids: the pure rules every copy goes through."""

import re
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.replication import sizing
from services.replication.client_order_id import client_order_id
from services.replication.venues.base import Instrument

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


@given(fill=st.text(min_size=1, max_size=200), account=st.text(min_size=1, max_size=64))
def test_client_order_ids_are_deterministic_and_fit_binance(fill, account):
    cid = client_order_id(fill, account)
    assert cid == client_order_id(fill, account)
    assert re.fullmatch(r"[.A-Z:/a-z0-9_-]{1,36}", cid) and len(cid) <= 32
    assert cid != client_order_id(fill, account + "x")
