"""Properties of the pre-trade decision that followers rely on."""

from decimal import Decimal

import math
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.risk import checks
from services.domain.risk.limits import RiskLimits
from venue_sim import wire
from venue_sim.book import Exchange

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
    wild = [0.04 * math.sin(i) for i in range(48)]  # about 260 % a year
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


HOURLY = 8760.0


def sim_returns(seed: int, hours: int = 72) -> dict[str, tuple[tuple[float, ...], float]]:
    """What replication hands risk at a freshly started simulator with history from before
    start-up: the last 48 hourly close-to-close returns of each symbol, from its klines."""
    exchange = Exchange(seed=seed)
    exchange.backfill(hours)
    series = {}
    for name, symbol in (("BTCUSDT", "BTC/USDT"), ("ETHUSDT", "ETH/USDT"), ("SOLUSDT", "SOL/USDT")):
        closes = [float(row[4]) for row in wire.klines(exchange, name, 3_600_000, 49, None, None)]
        series[symbol] = (tuple(b / a - 1 for a, b in zip(closes, closes[1:])), HOURLY)
    return series


def test_the_default_limits_let_ordinary_btc_and_eth_through_on_realistic_history():
    """Simulator paths at real markets' statistics (BTC 60 %, ETH 75 % a year, correlated at
    0.81): the defaults approve BTC, then ETH beside a BTC long; tighter limits still deny."""
    buy = lambda symbol, price: checks.Order(symbol, Decimal("0.01"), price, price)  # noqa: E731
    for seed in range(10):
        returns = sim_returns(seed)
        btc, eth = returns["BTC/USDT"][0], returns["ETH/USDT"][0]
        measured_btc = statistics.stdev(btc) * math.sqrt(HOURLY)
        measured_eth = statistics.stdev(eth) * math.sqrt(HOURLY)
        together = statistics.correlation(btc, eth)
        assert 0.35 < measured_btc < 0.9 and 0.45 < measured_eth < 1.1 and 0.6 < together < 0.95, seed
        first = checks.decide(LIMITS, checks.ACTIVE, checks.Book(returns=returns), buy("BTC/USDT", Decimal("64000")))
        assert first.outcome == "APPROVED", (seed, first)
        assert first.metadata["volatility"] == str(round(measured_btc, 4))
        assert first.metadata["volatility_observations"] == "48"
        holding = checks.Book(positions={"BTC/USDT": Decimal("0.01")}, prices={"BTC/USDT": Decimal("64000")},
                              returns=returns)
        second = checks.decide(LIMITS, checks.ACTIVE, holding, buy("ETH/USDT", Decimal("3200")))
        assert second.outcome == "APPROVED" and "correlation" not in second.metadata, (seed, second)
        # The checks do run on this history: a follower's tighter limits deny.
        calm = RiskLimits(volatility_limit=Decimal("0.3"))
        denied = checks.decide(calm, checks.ACTIVE, checks.Book(returns=returns), buy("ETH/USDT", Decimal("3200")))
        assert denied.reason == "VOLATILITY_TOO_HIGH" and denied.metadata["observations"] == "48"
        apart = RiskLimits(correlation_limit=Decimal("0.5"))
        concentrated = checks.decide(apart, checks.ACTIVE, holding, buy("ETH/USDT", Decimal("3200")))
        assert concentrated.reason == "CORRELATION_TOO_HIGH"
        assert abs(float(concentrated.metadata["correlation"]) - together) < 1e-3


def test_sparse_hourly_data_is_not_judged_and_the_decision_says_so():
    """A venue where most hours had no trade: BTC and ETH each moved once in 48 hours, the same
    way. That is no evidence of a 1.00 correlation, nor of a 135 % volatility."""
    btc = [0.0] * 47 + [0.1]
    eth = [0.0] * 47 + [0.004]
    book = checks.Book(positions={"ETH/USDT": Decimal("1")}, prices={"ETH/USDT": Decimal("3200")},
                       returns={"BTC/USDT": (btc, HOURLY), "ETH/USDT": (eth, HOURLY)})
    decision = checks.decide(LIMITS, checks.ACTIVE, book, checks.Order("BTC/USDT", Decimal("0.01"),
                                                                       Decimal("64000"), Decimal("64000")))
    assert decision.outcome == "APPROVED"
    assert decision.metadata["volatility"] == "not judged" and decision.metadata["volatility_observations"] == "1"
    assert decision.metadata["correlation"] == "not judged with ETH/USDT"
    assert decision.metadata["min_observations"] == "24"
    assert decision.metadata["leverage"] == "not judged: equity unknown"


@given(moved=st.integers(min_value=0, max_value=23),
       size=st.floats(min_value=1e-4, max_value=0.5), sign=st.sampled_from([1.0, -1.0]))
def test_below_the_minimum_observations_neither_check_denies(moved, size, sign):
    wild = [0.0] * (48 - moved) + [size * sign * (1 if i % 2 else -1) for i in range(moved)]
    twin = [r * 2 for r in wild]
    book = checks.Book(positions={"ETH/USDT": Decimal("1")}, returns={"BTC/USDT": (wild, HOURLY),
                                                                      "ETH/USDT": (twin, HOURLY)})
    decision = checks.decide(RiskLimits(volatility_limit=Decimal("0.01"), correlation_limit=Decimal("0.1")),
                             checks.ACTIVE, book, order(Decimal("0.01"), 1, Decimal("100")))
    assert decision.outcome == "APPROVED" and decision.metadata["volatility"] == "not judged"


def test_a_leverage_reduction_names_the_equity_it_was_measured_on():
    limits = RiskLimits(max_leverage=Decimal("0.02"))
    book = checks.Book(equity=Decimal("50000"))
    wanted = order(Decimal("0.05"), 1, Decimal("64000"), Decimal("0.00001"))
    decision = checks.decide(limits, checks.ACTIVE, book, wanted)
    assert (decision.outcome, decision.reason, decision.quantity) == ("REDUCED", "LEVERAGE_LIMIT_EXCEEDED",
                                                                      Decimal("0.01562"))
    assert decision.metadata["equity"] == "50000" and decision.metadata["limit"] == "0.02"
    assert "leverage" not in decision.metadata  # judged
