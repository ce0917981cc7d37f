"""Pure parts, property-tested: failure classification, Retry-After, and the simulator's books
(spot balances conserve value, perpetual positions and wallets add up). Quantity rounding is in
tests/domain/test_instruments.py."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import aiohttp
import pytest
from ccxt.base import errors as E
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.replication.venues.base import ErrorKind
from services.replication.venues.ccxt_venue import classify, parse_retry_after
from venue_sim.book import ZERO, BinanceError, Exchange
from venue_sim.perp_book import Perpetuals


def refused_connection() -> E.ExchangeNotAvailable:
    try:
        try:
            raise aiohttp.ClientConnectorError(None, OSError(111, "Connect call failed"))
        except aiohttp.ClientConnectorError as cause:
            raise E.ExchangeNotAvailable("binance POST http://127.0.0.1:1/api/v3/order") from cause
    except E.ExchangeNotAvailable as exc:
        return exc


K = ErrorKind
CASES = [
    # exception, order_sent, HTTP status, expected kind
    (E.DDoSProtection("binance 429"), True, 429, K.RATE_LIMIT),
    (E.RateLimitExceeded('{"code":-1015}'), False, 400, K.RATE_LIMIT),
    (E.InvalidNonce('{"code":-1021}'), True, 400, K.PLATFORM),
    (E.RequestTimeout('{"code":-1007}'), True, 408, K.UNKNOWN_OUTCOME),
    (E.RequestTimeout("binance GET"), False, None, K.TIMEOUT),
    (asyncio.TimeoutError(), True, None, K.UNKNOWN_OUTCOME),
    (refused_connection(), True, None, K.NETWORK),  # never connected: safe to send again
    (E.ExchangeNotAvailable("Server disconnected"), True, None, K.UNKNOWN_OUTCOME),
    (E.ExchangeNotAvailable("Server disconnected"), False, None, K.NETWORK),
    (E.ExchangeNotAvailable("503 Service Unavailable"), True, 503, K.UNKNOWN_OUTCOME),
    (E.ExchangeNotAvailable("503 Service Unavailable"), False, 503, K.PLATFORM),
    (E.ExchangeNotAvailable("403 Forbidden"), True, 403, K.PLATFORM),  # WAF: refused, not executed
    (E.OnMaintenance("system maintenance"), True, 503, K.UNKNOWN_OUTCOME),
    (E.OperationFailed('{"code":-1001,"msg":"Internal error"}'), True, 503, K.UNKNOWN_OUTCOME),
    (E.OperationFailed('{"code":-1001,"msg":"Internal error"}'), False, 503, K.PLATFORM),
    (E.BadResponse("not json"), True, 200, K.UNKNOWN_OUTCOME),
    (E.AuthenticationError('{"code":-1022}'), True, 400, K.AUTH),
    (E.PermissionDenied('{"code":-2015}'), False, 401, K.AUTH),
    (E.InsufficientFunds('{"code":-2019}'), True, 400, K.REJECTED),
    (E.InvalidOrder('{"code":-2010,"msg":"Duplicate order sent."}'), True, 400, K.REJECTED),
    (E.OrderNotFound('{"code":-2011}'), False, 400, K.REJECTED),
    (E.BadSymbol('{"code":-1121}'), True, 400, K.REJECTED),
    (E.ExchangeError('{"code":-9999}'), True, 400, K.REJECTED),
    (E.ExchangeError('{"code":-9999}'), True, 500, K.UNKNOWN_OUTCOME),
    (E.ExchangeError("?"), False, None, K.PLATFORM),
    (E.NotSupported("no apiKey"), True, None, K.PLATFORM),
    (ValueError("a bug"), True, None, K.UNKNOWN_OUTCOME),
]


@pytest.mark.parametrize("exc,order_sent,status,kind", CASES,
                         ids=[f"{type(c[0]).__name__}-{'order' if c[1] else 'read'}-{c[2]}" for c in CASES])
def test_classification(exc, order_sent, status, kind):
    assert classify(exc, order_sent=order_sent, status=status, headers={}).kind == kind


def test_classification_keeps_retry_after_and_the_venue_code():
    err = classify(E.DDoSProtection('binance 429 {"code":-1003,"msg":"Too many requests"}'), order_sent=True,
                   status=429, headers={"retry-after": "12"})
    assert (err.kind, err.retry_after, err.venue_code) == (K.RATE_LIMIT, 12.0, "-1003")


def test_retry_after_as_seconds_or_http_date():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "30"}) == 30.0
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now=now.timestamp()) == 90.0
    assert parse_retry_after({"Retry-After": "soon"}) is None and parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "-5"}) == 0.0


# --- the simulator's books ------------------------------------------------------------------

SPOT_OPS = st.lists(st.one_of(
    st.tuples(st.just("market"), st.sampled_from(["BUY", "SELL"]), st.integers(1, 3000)),
    st.tuples(st.just("limit"), st.sampled_from(["BUY", "SELL"]), st.integers(1, 3000),
              st.integers(-300, 300), st.sampled_from(["GTC", "IOC"])),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("price"), st.integers(-500, 500)),
    st.tuples(st.just("slippage"), st.sampled_from(["0", "0.001", "0.01"])),
), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=SPOT_OPS)
def test_spot_book_conserves_value_and_locks_exactly_what_open_orders_hold(ops):
    exchange = Exchange(seed=1)
    account = exchange.create_account("p", {"USDT": "2000", "BTC": "0.05"})
    step = exchange.symbols["BTCUSDT"].step_size
    for op in ops:
        try:
            if op[0] == "market":
                exchange.place_order(account, symbol="BTCUSDT", side=op[1], type="MARKET", quantity=step * op[2],
                                     quote_qty=None, price=None, time_in_force=None, client_order_id=None)
            elif op[0] == "limit":
                price = exchange.prices["BTCUSDT"] + op[3] * 10
                exchange.place_order(account, symbol="BTCUSDT", side=op[1], type="LIMIT", quantity=step * op[2],
                                     quote_qty=None, price=price, time_in_force=op[4], client_order_id=None)
            elif op[0] == "cancel":
                open_orders = exchange.open_orders(account)
                if open_orders:
                    exchange.cancel_order(account, "BTCUSDT", open_orders[op[1] % len(open_orders)].order_id, None)
            elif op[0] == "price":
                exchange.set_price("BTCUSDT", exchange.prices["BTCUSDT"] + op[1] * 10)
            else:
                exchange.slippage = Decimal(op[1])
        except BinanceError:
            pass  # refused orders change nothing (checked below)
        for asset in ("USDT", "BTC"):
            assert account.balances.get(asset, ZERO) >= 0 and account.locked.get(asset, ZERO) >= 0
        held = {"USDT": ZERO, "BTC": ZERO}
        for order in exchange.open_orders(account):
            held["USDT" if order.side == "BUY" else "BTC"] += order.reserved
        assert held == {a: account.locked.get(a, ZERO) for a in held}
        buys = [t for t in account.trades if t.side == "BUY"]
        sells = [t for t in account.trades if t.side == "SELL"]
        btc = Decimal("0.05") + sum((t.qty - t.commission for t in buys), ZERO) - sum((t.qty for t in sells), ZERO)
        usdt = Decimal(2000) - sum((t.qty * t.price for t in buys), ZERO) + sum(
            (t.qty * t.price - t.commission for t in sells), ZERO)
        assert account.balances.get("BTC", ZERO) + account.locked.get("BTC", ZERO) == btc
        assert account.balances.get("USDT", ZERO) + account.locked.get("USDT", ZERO) == usdt


PERP_OPS = st.lists(st.one_of(
    st.tuples(st.just("market"), st.sampled_from(["BUY", "SELL"]), st.integers(1, 40), st.booleans()),
    st.tuples(st.just("limit"), st.sampled_from(["BUY", "SELL"]), st.integers(1, 40), st.integers(-30, 30),
              st.booleans()),
    st.tuples(st.just("price"), st.integers(-300, 300)),
), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=PERP_OPS)
def test_perpetual_positions_and_wallet_add_up_and_reduce_only_never_grows_a_position(ops):
    exchange = Exchange(seed=1)
    perps = Perpetuals(exchange)
    account = exchange.create_account("p")
    perps.fund(account, Decimal(5000))
    book = perps.book(account)
    grown: list = []

    def on_fill(account, order, trade, execution_type) -> None:
        """A reduce-only order's fill never grows or flips the position, whenever it happens."""
        if trade is None or not order.close_only:
            return
        after = perps.position(book, order.symbol).quantity
        before = after - (trade.qty if trade.side == "BUY" else -trade.qty)
        if abs(after) > abs(before) or after * before < 0:
            grown.append((before, after, order))
    perps.listeners.append(on_fill)
    for op in ops:
        try:
            if op[0] == "price":
                exchange.set_price("BTCUSDT", exchange.prices["BTCUSDT"] + op[1] * 10)
                continue
            price = exchange.prices["BTCUSDT"] + op[3] * 10 if op[0] == "limit" else None
            perps.place_order(account, symbol="BTCUSDT", side=op[1], type=op[0].upper(),
                              quantity=Decimal("0.001") * op[2], price=price,
                              time_in_force="GTC" if price else None, client_order_id=None,
                              reduce_only=op[-1], position_side=None)
        except BinanceError:
            continue
    assert grown == []
    signed = sum(((t.qty if t.side == "BUY" else -t.qty) for t in book.trades), ZERO)
    assert perps.position(book, "BTCUSDT").quantity == signed
    assert book.wallet == Decimal(5000) + sum((t.realized_pnl - t.commission for t in book.trades), ZERO)
    assert all(o.margin == 0 for o in book.orders.values() if not o.is_open)  # closed orders hold nothing
