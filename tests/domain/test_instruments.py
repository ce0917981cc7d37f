"""Instrument rounding (services.domain.instruments), property-tested: every order quantity a
copy or a preview sends goes through it (moved from tests/venues/test_venue_units.py)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.domain.instruments import Instrument


STEPS = st.sampled_from([Decimal("0.001"), Decimal("0.00001"), Decimal("1"), Decimal("0.5"), Decimal("25")])


@given(step=STEPS, minimum_lots=st.integers(1, 5), lots=st.integers(0, 10**6), fraction=st.integers(0, 999),
       price=st.decimals("0.01", "100000", places=2))
def test_fit_quantity_rounds_down_to_whole_lots(step, minimum_lots, lots, fraction, price):
    instrument = Instrument("X/Y", "XY", "X", "Y", Decimal("0.01"), step, step * minimum_lots, Decimal("5"))
    asked = step * lots + step * fraction / 1000
    fitted = instrument.fit_quantity(asked, price)
    assert fitted.quantity == step * lots  # never more than asked, less by under one lot
    assert fitted.quantity % step == 0 and asked - fitted.quantity < step
    assert fitted.below_min_quantity == (lots < minimum_lots)
    assert fitted.below_min_notional == (fitted.quantity * price < 5)
    assert fitted.ok == (lots >= minimum_lots and fitted.quantity * price >= 5)
