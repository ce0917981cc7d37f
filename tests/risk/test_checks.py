"""Properties of the pre-trade decision that followers rely on."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.risk import checks
from services.risk.limits import RiskLimits

quantities = st.decimals(min_value="0.001", max_value="50", places=3)
positions = st.decimals(min_value="-50", max_value="50", places=3)
prices = st.decimals(min_value="1", max_value="100000", places=2)
equities = st.decimals(min_value="0", max_value="1000000", places=2)
states = st.sampled_from([checks.ACTIVE, checks.REDUCING, checks.HALTED])
LIMITS = RiskLimits()


def order(quantity, side, price, lot=Decimal("0.001")):
    return checks.Order("BTC/USDT", quantity * side, price, price, lot)


@settings(max_examples=400)
@given(quantity=quantities, side=st.sampled_from([1, -1]), price=prices, held=positions, other=positions,
       equity=equities)
def test_approved_or_reduced_orders_never_break_position_or_leverage(quantity, side, price, held, other, equity):
    book = checks.Book({"BTC/USDT": held, "ETH/USDT": other}, {"ETH/USDT": price}, equity)
    decision = checks.decide(LIMITS, checks.ACTIVE, book, order(quantity, side, price))
    if decision.outcome == "DENIED" or checks.reduces_exposure(held, decision.quantity):
        return
    after = abs(held + decision.quantity)
    assert after * price <= LIMITS.max_position_size + Decimal("1e-9")
    if equity > 0:
        gross = after * price + abs(other) * price
        assert gross <= LIMITS.max_leverage * equity + Decimal("1e-9") or gross <= abs(held) * price + abs(other) * price
    assert abs(decision.quantity) <= quantity
    if decision.outcome == "REDUCED":
        assert decision.reason and (abs(decision.quantity) % Decimal("0.001")) == 0


@given(quantity=quantities, side=st.sampled_from([1, -1]), price=prices, held=positions, state=states)
def test_states_allow_only_what_they_should(quantity, side, price, held, state):
    decision = checks.decide(LIMITS, state, checks.Book({"BTC/USDT": held}), order(quantity, side, price))
    reducing = checks.reduces_exposure(held, quantity * side)
    if reducing:
        assert decision.outcome == "APPROVED"  # reducing risk is always allowed
    elif state == checks.HALTED:
        assert decision.reason == "TRADING_HALTED"
    elif state == checks.REDUCING:
        assert decision.reason == "REDUCE_ONLY"


def test_a_reduction_names_the_limit_and_the_numbers():
    decision = checks.decide(LIMITS, checks.ACTIVE, checks.Book(), order(Decimal("1"), 1, Decimal("10000")))
    assert decision.outcome == "REDUCED" and decision.quantity == Decimal("0.5")
    assert decision.reason == "POSITION_LIMIT_EXCEEDED" and decision.metadata["limit"] == "5000"


def test_slippage_beyond_the_limit_is_denied():
    stale = checks.Order("BTC/USDT", Decimal("0.01"), Decimal("102"), Decimal("100"))
    decision = checks.decide(LIMITS, checks.ACTIVE, checks.Book(), stale)
    assert decision.reason == "SLIPPAGE_TOO_HIGH" and decision.quantity == 0


def test_an_order_over_the_rate_is_denied_but_a_reducing_one_still_goes():
    busy = checks.Book(positions={"BTC/USDT": Decimal("0.1")}, orders_last_minute=LIMITS.max_orders_per_minute)
    adding = checks.decide(LIMITS, checks.ACTIVE, busy, order(Decimal("0.01"), 1, Decimal("100")))
    assert adding.reason == "ORDER_RATE_EXCEEDED" and adding.metadata["limit"] == "120"
    closing = checks.decide(LIMITS, checks.ACTIVE, busy, order(Decimal("0.05"), -1, Decimal("100")))
    assert closing.outcome == "APPROVED"
    calm = checks.Book(orders_last_minute=LIMITS.max_orders_per_minute - 1)
    assert checks.decide(LIMITS, checks.ACTIVE, calm, order(Decimal("0.01"), 1, Decimal("100"))).outcome == "APPROVED"


def test_a_wild_instrument_or_one_that_moves_with_a_held_position_is_denied_but_closing_is_not():
    import math
    calm = [0.001 * math.sin(i) for i in range(48)]  # about 6 % a year, hourly
    wild = [0.02 * math.sin(i) for i in range(48)]  # about 130 % a year
    twin = [r * 1.5 for r in calm]  # moves with calm
    book = checks.Book(positions={"ETH/USDT": Decimal("1")}, returns={
        "BTC/USDT": (calm, 8760.0), "ETH/USDT": (twin, 8760.0), "DOGE/USDT": (wild, 8760.0)})
    buy = lambda symbol: checks.Order(symbol, Decimal("0.01"), Decimal("100"), Decimal("100"))  # noqa: E731
    assert checks.decide(LIMITS, checks.ACTIVE, book, buy("DOGE/USDT")).reason == "VOLATILITY_TOO_HIGH"
    correlated = checks.decide(LIMITS, checks.ACTIVE, book, buy("BTC/USDT"))
    assert correlated.reason == "CORRELATION_TOO_HIGH" and correlated.metadata["symbol"] == "ETH/USDT"
    # A short of the twin hedges the long: not concentration.
    short = checks.Order("BTC/USDT", Decimal("-0.01"), Decimal("100"), Decimal("100"))
    assert checks.decide(LIMITS, checks.ACTIVE, book, short).outcome == "APPROVED"
    sell_eth = checks.Order("ETH/USDT", Decimal("-0.5"), Decimal("100"), Decimal("100"))
    assert checks.decide(LIMITS, checks.ACTIVE, book, sell_eth).outcome == "APPROVED"  # reducing: always
    assert checks.decide(LIMITS, checks.ACTIVE, checks.Book(), buy("DOGE/USDT")).outcome == "APPROVED"  # no data
