"""The venue contract: what replication relies on from every adapter (ccxt today; IB, Rithmic,
NinjaTrader later). An adapter's test module subclasses VenueContract and provides a `harness`
fixture returning a VenueHarness: the adapter connected to a funded account on a simulator of
that venue, plus the simulator-side controls the tests need. Faults are named by what they do
(Fault), so each harness maps them onto its own simulator."""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.kit.testing import eventually
from services.replication.venues.base import (
    ErrorKind, Fill, FillCursor, Instrument, OrderRequest, OrderState, Venue, VenueError,
)


class Fault(enum.Enum):
    ERROR_AFTER_ACCEPT = "error_after_accept"  # the order is executed, then the venue answers 5xx
    UNKNOWN_AFTER_ACCEPT = "unknown_after_accept"  # executed, then "status unknown" (binance -1007)
    DISCONNECT_AFTER_ACCEPT = "disconnect_after_accept"  # executed, then the connection drops unanswered
    RATE_LIMIT = "rate_limit"  # refused: too many requests, retry after `retry_after` seconds
    REJECT = "reject"  # refused with a business error
    LATENCY = "latency"  # answered late (`latency_ms`), but executed


@dataclass
class VenueHarness:
    venue: Venue  # connected, funded (quote currency and some base)
    symbol: str
    quantity: Decimal  # a valid, affordable order size
    unaffordable_quantity: Decimal  # valid by the venue's filters, beyond the account's means
    derivatives: bool  # positions carry an entry price, and reduce-only orders exist
    price: Callable[[], Decimal]  # the venue's current price of `symbol`
    set_price: Callable[[Decimal], Awaitable[None]]  # move it (resting orders it crosses fill)
    orders_at_venue: Callable[[str], Awaitable[int]]  # orders with this client id the venue holds
    trade_time: Callable[[str], Awaitable[float]]  # venue clock (epoch s) of the first trade of that order
    inject: Callable[..., Awaitable[None]]  # inject(Fault, operation="place"|"query", **params): next call
    make_venue: Callable[..., Awaitable[Venue]]  # make_venue(bad_credentials=, timeout_s=): another adapter
    stop_venue: Callable[[], Awaitable[None]]
    drop_streams: Callable[[], Awaitable[None]]  # the venue closes the account's user-data streams
    stream_subscribed: Callable[[], bool]  # the venue has a live user-data stream for the account
    has_history: bool = True  # the venue keeps the account's trade history (fills() can resume from a cursor)
    # Whether the venue says when to retry a request it refused as too many (Retry-After, or its
    # own header); OKX's 50011 and Kraken's do not, and then the adapter must not make a time up.
    says_when_to_retry: bool = True
    # Our client order id as another client reading the venue sees it (Kraken holds a UUID made of
    # ids longer than its 18 characters; only the adapter that placed the order knows the way back).
    as_held: Callable[[str], str] = lambda client_order_id: client_order_id
    # Why the adapter cannot report the orders already resting when its order stream starts
    # ("" when it can): a venue with no way to list an account's open orders across symbols.
    no_resting_at_start: str = ""
    # The venue refuses a client order id only while its order is open (Binance: "cannot repeat
    # among open orders"), so a filled order's id may name a new order there.
    closed_ids_reusable: bool = False


def new_cid() -> str:
    return f"ct{uuid.uuid4().hex[:20]}"


class Collector:
    """Consumes an adapter stream in the background, stamping each item's arrival time."""

    def __init__(self, stream) -> None:
        self.items: list[tuple[object, float]] = []
        self._task = asyncio.ensure_future(self._run(stream))

    async def _run(self, stream) -> None:
        async for item in stream:
            self.items.append((item, time.time()))

    def where(self, predicate) -> list:
        return [item for item, _ in self.items if predicate(item)]

    def arrival(self, predicate) -> float | None:
        return next((at for item, at in self.items if predicate(item)), None)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def below(harness: VenueHarness, fraction: str) -> Decimal:
    """A valid limit price at `fraction` of the current price (on the venue's tick)."""
    instrument = await harness.venue.instrument(harness.symbol)
    return instrument.round_price(harness.price() * Decimal(fraction))


def needs(harness: VenueHarness, order: OrderRequest) -> None:
    if not harness.venue.supports(order):
        pytest.skip(f"this venue does not take {order.order_type} orders like this one")


def needs_group(harness: VenueHarness, orders: list[OrderRequest]) -> None:
    if not harness.venue.supports_group(orders):
        pytest.skip("this venue does not take these orders linked together")


async def filled(harness: VenueHarness, cid: str) -> OrderState:
    return await eventually(lambda: _when(harness.venue.fetch_order(cid, harness.symbol),
                                          lambda s: s.status == "closed"), message=f"{cid} filled")


class VenueContract:
    # --- reference data and account ----------------------------------------------------------
    async def test_instrument_describes_the_market(self, harness: VenueHarness):
        assert isinstance(harness.venue, Venue)  # the adapter implements the whole protocol
        instrument = await harness.venue.instrument(harness.symbol)
        assert isinstance(instrument, Instrument) and instrument.symbol == harness.symbol
        for value in (instrument.tick_size, instrument.lot_size, instrument.min_quantity, instrument.contract_size):
            assert isinstance(value, Decimal) and value > 0
        fitted = instrument.fit_quantity(harness.quantity + instrument.lot_size / 2, harness.price())
        assert fitted.quantity == harness.quantity and fitted.ok  # rounded down to the lot, still valid
        tiny = instrument.fit_quantity(instrument.min_quantity / 2, harness.price())
        assert tiny.below_min_quantity and not tiny.ok
        with pytest.raises(VenueError) as err:
            await harness.venue.instrument("NOPE/NOPE")
        assert err.value.kind == ErrorKind.REJECTED

    async def test_account_has_balances_and_equity(self, harness: VenueHarness):
        snapshot = await harness.venue.account()
        assert isinstance(snapshot.equity, Decimal) and snapshot.equity > 0
        assert snapshot.balances and all(isinstance(b.free, Decimal) and b.total >= 0
                                         for b in snapshot.balances.values())

    # --- orders -----------------------------------------------------------------------------
    async def test_market_order_fills_once(self, harness: VenueHarness):
        cid = new_cid()
        state = await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity))
        assert isinstance(state, OrderState) and state.client_order_id == cid and state.venue_order_id
        assert state.status in ("open", "closed")
        done = await eventually(lambda: _when(harness.venue.fetch_order(cid, harness.symbol),
                                              lambda s: s.status == "closed"))
        assert done.filled_quantity == harness.quantity and done.average_price and done.average_price > 0
        assert done.venue_order_id == state.venue_order_id
        assert await harness.orders_at_venue(cid) == 1

    async def test_limit_order_rests_then_fills_when_the_price_crosses(self, harness: VenueHarness):
        fills = Collector(harness.venue.fills())
        await eventually(harness.stream_subscribed, message="fill stream subscribed")
        cid = new_cid()
        limit = await below(harness, "0.99")
        state = await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity,
                                                             "limit", limit))
        assert state.status == "open" and state.filled_quantity == 0
        assert (await harness.venue.fetch_order(cid, harness.symbol)).status == "open"
        await harness.set_price(limit - (await harness.venue.instrument(harness.symbol)).tick_size)
        fill = (await eventually(lambda: fills.where(lambda f: f.client_order_id == cid)))[0]
        assert (fill.quantity, fill.price, fill.side) == (harness.quantity, limit, "buy")
        closed = await harness.venue.fetch_order(cid, harness.symbol)
        assert (closed.status, closed.filled_quantity) == ("closed", harness.quantity)
        await fills.stop()

    async def test_cancel_by_client_order_id(self, harness: VenueHarness):
        cid = new_cid()
        await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity, "limit",
                                                     await below(harness, "0.5")))
        canceled = await harness.venue.cancel_order(cid, harness.symbol)
        assert (canceled.client_order_id, canceled.status) == (cid, "canceled")
        assert (await harness.venue.fetch_order(cid, harness.symbol)).status == "canceled"
        with pytest.raises(VenueError) as err:  # nothing left to cancel
            await harness.venue.cancel_order(cid, harness.symbol)
        assert err.value.kind == ErrorKind.REJECTED

    async def test_unknown_client_order_id_is_none(self, harness: VenueHarness):
        assert await harness.venue.fetch_order(new_cid(), harness.symbol) is None

    @pytest.mark.parametrize("order_type", ["market", "limit"])
    async def test_a_repeated_client_order_id_never_makes_a_second_order(self, harness: VenueHarness, order_type):
        cid = new_cid()
        price = await below(harness, "0.5") if order_type == "limit" else None
        order = OrderRequest(cid, harness.symbol, "buy", harness.quantity, order_type, price)
        first = await harness.venue.place_order(order)
        if harness.closed_ids_reusable and order_type == "market":
            # The market order filled, so the venue would take its id again: what keeps a retry from
            # making a second order is asking the venue first (the copier does), and it finds the first.
            found = await harness.venue.fetch_order(cid, harness.symbol)
            assert found is not None and found.venue_order_id == first.venue_order_id
            assert await harness.orders_at_venue(cid) == 1
            return
        try:
            again = await harness.venue.place_order(order)
        except VenueError as err:  # refused (most venues)
            assert err.kind == ErrorKind.REJECTED
        else:  # or answered with the first order (coinbase: "the order corresponding with that ID")
            assert again.venue_order_id == first.venue_order_id
        assert await harness.orders_at_venue(cid) == 1

    async def test_a_quantity_below_the_minimum_is_refused_without_sending(self, harness: VenueHarness):
        instrument = await harness.venue.instrument(harness.symbol)
        cid = new_cid()
        with pytest.raises(VenueError) as err:
            await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", instrument.min_quantity / 2))
        assert err.value.kind == ErrorKind.REJECTED
        assert await harness.orders_at_venue(cid) == 0

    async def test_insufficient_funds_is_rejected(self, harness: VenueHarness):
        cid = new_cid()
        with pytest.raises(VenueError) as err:
            await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.unaffordable_quantity))
        assert err.value.kind == ErrorKind.REJECTED
        assert await harness.orders_at_venue(cid) == 0

    async def test_price_is_the_last_traded_price(self, harness: VenueHarness):
        await harness.set_price(harness.price() + 10)
        assert await harness.venue.price(harness.symbol) == harness.price()

    async def test_recent_returns_are_hourly_close_to_close(self, harness: VenueHarness):
        returns = await harness.venue.recent_returns(harness.symbol, periods=24)
        assert len(returns) <= 24 and all(isinstance(r, float) and abs(r) < 1 for r in returns)

    async def test_own_trades_since_a_time_carry_the_venue_order_id(self, harness: VenueHarness):
        since = datetime.now(UTC) - timedelta(seconds=1)
        state = await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", harness.quantity))
        trades = await eventually(lambda: harness.venue.trades(harness.symbol, since))
        assert [(t.venue_order_id, t.side, t.quantity) for t in trades] == [
            (state.venue_order_id, "buy", harness.quantity)]
        assert await harness.venue.trades(harness.symbol, datetime.now(UTC) + timedelta(seconds=5)) == []

    async def test_positions_follow_trades(self, harness: VenueHarness):
        before = {p.symbol: p.quantity for p in await harness.venue.positions()}.get(harness.symbol, Decimal(0))
        await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "sell", harness.quantity * 2))
        after = {p.symbol: p for p in await harness.venue.positions()}[harness.symbol]
        # Spot holdings pay the fee in the asset bought; a sell takes exactly the quantity.
        assert after.quantity == before - harness.quantity * 2
        if harness.derivatives:  # derivatives: a real position with its entry price
            assert after.entry_price == harness.price()

    async def test_reduce_only_never_opens_a_position(self, harness: VenueHarness):
        if not harness.derivatives:
            pytest.skip("this market has no reduce-only orders")
        await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "sell", harness.quantity * 2))
        await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", harness.quantity * 2,
                                                     reduce_only=True))
        assert harness.symbol not in {p.symbol for p in await harness.venue.positions()}
        cid = new_cid()
        with pytest.raises(VenueError) as err:  # nothing left to reduce
            await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity,
                                                         reduce_only=True))
        assert err.value.kind == ErrorKind.REJECTED
        assert await harness.orders_at_venue(cid) == 0

    # --- stops, take-profits, OCO and brackets ----------------------------------------------
    async def test_a_stop_rests_until_the_price_falls_through_it_then_fills_at_market(self, harness: VenueHarness):
        fills = Collector(harness.venue.fills())
        await eventually(harness.stream_subscribed, message="fill stream subscribed")
        cid, start = new_cid(), harness.price()
        trigger = await below(harness, "0.98")
        order = OrderRequest(cid, harness.symbol, "sell", harness.quantity, "stop_market", trigger_price=trigger)
        needs(harness, order)
        state = await harness.venue.place_order(order)
        assert (state.status, state.filled_quantity, state.order_type) == ("open", 0, "stop_market")
        assert state.trigger_price == trigger and not state.triggered
        tick = (await harness.venue.instrument(harness.symbol)).tick_size
        await harness.set_price(trigger + tick)  # near, not through: it keeps resting
        resting = await harness.venue.fetch_order(cid, harness.symbol)
        assert (resting.status, resting.filled_quantity, resting.triggered) == ("open", 0, False)
        assert await harness.orders_at_venue(cid) == 1
        await harness.set_price(trigger - tick)
        fill = (await eventually(lambda: fills.where(lambda f: f.client_order_id == cid), message="stop filled"))[0]
        assert (fill.side, fill.quantity) == ("sell", harness.quantity) and fill.price <= trigger
        done = await filled(harness, cid)
        assert done.filled_quantity == harness.quantity and done.order_type == "stop_market" and done.triggered
        assert start > trigger
        await fills.stop()

    async def test_a_stop_limit_triggers_into_a_limit_order_at_its_price(self, harness: VenueHarness):
        cid = new_cid()
        trigger, limit = await below(harness, "1.01"), await below(harness, "1.02")
        order = OrderRequest(cid, harness.symbol, "buy", harness.quantity, "stop_limit", limit, trigger_price=trigger)
        needs(harness, order)
        await harness.venue.place_order(order)
        await harness.set_price(await below(harness, "1.015"))  # through the trigger, under the limit
        done = await filled(harness, cid)
        assert done.filled_quantity == harness.quantity and done.average_price <= limit
        assert (done.order_type, done.price, done.trigger_price) == ("stop_limit", limit, trigger)

    async def test_a_take_profit_fills_once_the_price_rises_to_it(self, harness: VenueHarness):
        cid = new_cid()
        trigger = await below(harness, "1.02")
        order = OrderRequest(cid, harness.symbol, "sell", harness.quantity, "take_profit_market", trigger_price=trigger)
        needs(harness, order)
        state = await harness.venue.place_order(order)
        assert state.status == "open" and state.order_type == "take_profit_market"
        await harness.set_price(await below(harness, "0.99"))  # the other way: nothing
        assert (await harness.venue.fetch_order(cid, harness.symbol)).filled_quantity == 0
        await harness.set_price(trigger + (await harness.venue.instrument(harness.symbol)).tick_size)
        assert (await filled(harness, cid)).filled_quantity == harness.quantity

    async def test_a_canceled_stop_never_fills(self, harness: VenueHarness):
        updates = Collector(harness.venue.order_updates())
        await eventually(harness.stream_subscribed, message="order stream subscribed")
        cid = new_cid()
        trigger = await below(harness, "0.97")
        order = OrderRequest(cid, harness.symbol, "sell", harness.quantity, "stop_market", trigger_price=trigger)
        needs(harness, order)
        await harness.venue.place_order(order)
        opened = (await eventually(lambda: updates.where(lambda u: u.client_order_id == cid and u.status == "open"),
                                   message="the stop on the order stream"))[0]
        assert (opened.order_type, opened.trigger_price) == ("stop_market", trigger)
        assert (await harness.venue.cancel_order(cid, harness.symbol)).status == "canceled"
        await harness.set_price(await below(harness, "0.95"))
        state = await harness.venue.fetch_order(cid, harness.symbol)
        assert (state.status, state.filled_quantity) == ("canceled", 0)
        await eventually(lambda: updates.where(lambda u: u.client_order_id == cid and u.status == "canceled"),
                         message="canceled on the order stream")
        await updates.stop()

    async def test_an_oco_leg_that_fills_cancels_the_other(self, harness: VenueHarness):
        group = new_cid()
        profit, stop = new_cid(), new_cid()
        orders = [OrderRequest(profit, harness.symbol, "sell", harness.quantity, "limit", await below(harness, "1.02"),
                               oco_group=group),
                  OrderRequest(stop, harness.symbol, "sell", harness.quantity, "stop_market",
                               trigger_price=await below(harness, "0.98"), oco_group=group)]
        needs_group(harness, orders)
        states = await harness.venue.place_orders(orders)
        assert [s.status for s in states] == ["open", "open"]
        await harness.set_price(await below(harness, "1.03"))
        assert (await filled(harness, profit)).filled_quantity == harness.quantity
        other = await eventually(lambda: _when(harness.venue.fetch_order(stop, harness.symbol),
                                               lambda s: s.status in ("canceled", "expired")), message="sibling gone")
        assert other.filled_quantity == 0
        await harness.set_price(await below(harness, "0.9"))  # through the stop: it is gone
        assert (await harness.venue.fetch_order(stop, harness.symbol)).filled_quantity == 0

    async def test_a_bracket_s_children_work_once_the_parent_fills(self, harness: VenueHarness):
        parent, profit, stop, group = new_cid(), new_cid(), new_cid(), new_cid()
        entry = await below(harness, "0.99")
        orders = [OrderRequest(parent, harness.symbol, "buy", harness.quantity, "limit", entry),
                  OrderRequest(profit, harness.symbol, "sell", harness.quantity, "limit", await below(harness, "1.02"),
                               oco_group=group, parent_client_order_id=parent),
                  OrderRequest(stop, harness.symbol, "sell", harness.quantity, "stop_market",
                               trigger_price=await below(harness, "0.97"), oco_group=group,
                               parent_client_order_id=parent)]
        needs_group(harness, orders)
        await harness.venue.place_orders(orders)
        await harness.set_price(await below(harness, "1.025"))  # past the take-profit: the parent has not filled
        assert (await harness.venue.fetch_order(profit, harness.symbol)).filled_quantity == 0
        await harness.set_price(entry)  # the parent fills; its children start working
        assert (await filled(harness, parent)).filled_quantity == harness.quantity
        await harness.set_price(await below(harness, "0.96"))  # through the stop
        assert (await filled(harness, stop)).filled_quantity == harness.quantity
        other = await eventually(lambda: _when(harness.venue.fetch_order(profit, harness.symbol),
                                               lambda s: s.status in ("canceled", "expired")), message="sibling gone")
        assert other.filled_quantity == 0

    async def test_a_close_position_stop_flattens_whatever_is_held(self, harness: VenueHarness):
        if not harness.derivatives:
            pytest.skip("spot holds no positions to close")
        before = {p.symbol: p.quantity for p in await harness.venue.positions()}.get(harness.symbol, Decimal(0))
        await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", harness.quantity * 2))
        await eventually(lambda: _when(harness.venue.positions(), lambda ps: any(
            p.symbol == harness.symbol and p.quantity == before + harness.quantity * 2 for p in ps)))
        cid = new_cid()
        order = OrderRequest(cid, harness.symbol, "sell", before + harness.quantity * 2, "stop_market",
                             trigger_price=await below(harness, "0.98"), close_position=True)
        needs(harness, order)
        await harness.venue.place_order(order)
        await harness.set_price(await below(harness, "0.97"))
        await filled(harness, cid)
        held = {p.symbol: p.quantity for p in await harness.venue.positions()}.get(harness.symbol, Decimal(0))
        assert held == 0

    async def test_an_order_the_venue_cannot_take_is_refused_unsent(self, harness: VenueHarness):
        cid = new_cid()
        for order in (OrderRequest(cid, harness.symbol, "sell", harness.quantity, "stop_market"),  # no trigger
                      OrderRequest(cid, harness.symbol, "sell", harness.quantity, "trailing",
                                   trigger_price=Decimal(1))):
            with pytest.raises(VenueError) as err:
                await harness.venue.place_order(order)
            assert err.value.kind == ErrorKind.REJECTED
        assert await harness.orders_at_venue(cid) == 0

    # --- streams ----------------------------------------------------------------------------
    async def test_fill_stream_delivers_within_50ms(self, harness: VenueHarness):
        fills = Collector(harness.venue.fills())
        await eventually(harness.stream_subscribed, message="fill stream subscribed")
        cid = new_cid()
        await harness.venue.place_order(OrderRequest(cid, harness.symbol, "sell", harness.quantity))
        fill: Fill = (await eventually(lambda: fills.where(lambda f: f.client_order_id == cid)))[0]
        delay_ms = (fills.arrival(lambda f: f.client_order_id == cid) - await harness.trade_time(cid)) * 1000
        assert delay_ms < 50, f"the fill arrived {delay_ms:.1f} ms after the trade"
        assert fill.venue_trade_id and fill.venue_order_id and (fill.side, fill.quantity) == ("sell", harness.quantity)
        assert fill.price > 0 and fill.fee >= 0 and fill.timestamp.tzinfo == UTC
        await fills.stop()

    async def test_fills_that_come_while_one_is_being_handled_are_not_held_back(self, harness: VenueHarness):
        """A consumer busy with one fill (storing it, publishing it) must not make the next ones
        wait for some later message: each arrives on its own."""
        received: list[str] = []
        busy = asyncio.Event()

        async def slow_consumer() -> None:
            async for fill in harness.venue.fills():
                received.append(fill.client_order_id)
                await busy.wait()  # still handling the first fill while the others come

        consumer = asyncio.ensure_future(slow_consumer())
        await eventually(harness.stream_subscribed, message="fill stream subscribed")
        cids = [new_cid() for _ in range(3)]
        await harness.venue.place_order(OrderRequest(cids[0], harness.symbol, "buy", harness.quantity))
        await eventually(lambda: received == cids[:1], message="the first fill taken")
        for cid in cids[1:]:
            await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity))
            assert await harness.orders_at_venue(cid) == 1
        busy.set()
        await eventually(lambda: set(received) == set(cids), timeout=3, message="the later fills, unprompted")
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)

    async def test_the_order_stream_starts_with_the_orders_already_resting(self, harness: VenueHarness):
        """A master's order placed before its order stream is followed (the watcher starting, or
        restarting) is reported when the stream starts, so a follower who mirrors resting orders
        gets its copy; it is not missed until the order next changes."""
        if harness.no_resting_at_start:
            pytest.skip(harness.no_resting_at_start)
        other = await harness.make_venue()  # the master's own trading client, not the watcher's
        cid = new_cid()
        await other.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity, "limit",
                                             await below(harness, "0.9")))
        updates = Collector(harness.venue.order_updates())
        try:
            await eventually(lambda: [u.status for u in updates.where(
                lambda u: u.client_order_id in (cid, harness.as_held(cid)))][:1] == ["open"],
                message="the resting order reported when the stream starts")
        finally:
            await updates.stop()
            await other.cancel_order(cid, harness.symbol)

    async def test_order_updates_stream_new_and_canceled(self, harness: VenueHarness):
        updates = Collector(harness.venue.order_updates())
        await eventually(harness.stream_subscribed, message="order stream subscribed")
        cid = new_cid()
        await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity, "limit",
                                                     await below(harness, "0.5")))
        await harness.venue.cancel_order(cid, harness.symbol)
        await eventually(lambda: [u.status for u in updates.where(lambda u: u.client_order_id == cid)][-1:]
                         == ["canceled"], message="canceled on the order stream")
        assert "open" in [u.status for u in updates.where(lambda u: u.client_order_id == cid)], [(u.status, u.client_order_id) for u in updates.where(lambda u: True)]
        await updates.stop()

    async def test_fill_stream_reconnects_and_recovers_fills_missed_meanwhile(self, harness: VenueHarness):
        fills = Collector(harness.venue.fills())
        states: list[tuple[str, bool]] = []
        harness.venue.add_stream_listener("test", lambda stream, up: states.append((stream, up)))
        await eventually(harness.stream_subscribed, message="fill stream subscribed")
        first = new_cid()
        await harness.venue.place_order(OrderRequest(first, harness.symbol, "buy", harness.quantity))
        await eventually(lambda: fills.where(lambda f: f.client_order_id == first))
        await harness.drop_streams()
        during = new_cid()  # traded while the stream is down (or just reconnecting)
        await harness.venue.place_order(OrderRequest(during, harness.symbol, "buy", harness.quantity))
        await eventually(lambda: fills.where(lambda f: f.client_order_id == during), message="missed fill recovered")
        await eventually(harness.stream_subscribed, message="stream subscribed again")
        after = new_cid()
        await harness.venue.place_order(OrderRequest(after, harness.symbol, "buy", harness.quantity))
        await eventually(lambda: fills.where(lambda f: f.client_order_id == after), message="stream live again")
        trade_ids = [f.venue_trade_id for f in fills.where(lambda f: True)]
        assert len(trade_ids) == len(set(trade_ids)) == 3  # each fill once
        await eventually(lambda: states == [("fill", False), ("fill", True)], message="lost, then back, reported")
        await fills.stop()

    async def test_a_fill_stream_started_from_a_cursor_first_delivers_what_traded_after_it(self, harness):
        """What a watcher that starts (after a restart, a takeover) relies on: the fills made
        while nothing watched, after the last one taken in, then the live ones; each once."""
        if not harness.has_history:
            pytest.skip("this venue keeps no trade history a cursor could resume from")
        start = datetime.now(UTC) - timedelta(seconds=5)
        taken = await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", harness.quantity))

        async def the_taken_fill() -> Fill | None:
            return next((f for f in await harness.venue.trades(harness.symbol, start)
                         if f.venue_order_id == taken.venue_order_id), None)
        newest = await eventually(the_taken_fill, message="the fill taken in, in the venue's history")
        cursor = FillCursor(start=start, last={harness.symbol: (newest.venue_trade_id, newest.timestamp)})
        missed = [new_cid(), new_cid()]  # traded while nothing watched
        for cid in missed:
            await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity))
        watcher = await harness.make_venue()  # a watcher starting afresh, as after a restart
        fills = Collector(watcher.fills(since=cursor))
        try:
            held = [harness.as_held(cid) for cid in missed]  # placed by another client than the watcher
            await eventually(lambda: len(fills.where(lambda f: f.client_order_id in held)) == 2,
                             message="the missed fills, from the history")
            await eventually(harness.stream_subscribed, message="then the stream")
            live = new_cid()  # (placed by the watching client: IB tells only it, and the master client, live)
            await watcher.place_order(OrderRequest(live, harness.symbol, "buy", harness.quantity))
            await eventually(lambda: fills.where(lambda f: f.client_order_id == live), message="the live fill")
            delivered = fills.where(lambda f: True)
            assert [f.client_order_id for f in delivered] == [*held, live], delivered  # in order, each once
            assert [f.backfilled for f in delivered] == [True, True, False], delivered
            assert newest.venue_trade_id not in {f.venue_trade_id for f in delivered}
        finally:
            await fills.stop()
            await watcher.close()

    # --- failures ---------------------------------------------------------------------------
    @pytest.mark.parametrize("fault,kind,exists", [
        (Fault.ERROR_AFTER_ACCEPT, ErrorKind.UNKNOWN_OUTCOME, True),
        (Fault.UNKNOWN_AFTER_ACCEPT, ErrorKind.UNKNOWN_OUTCOME, True),
        (Fault.DISCONNECT_AFTER_ACCEPT, ErrorKind.UNKNOWN_OUTCOME, True),
        (Fault.RATE_LIMIT, ErrorKind.RATE_LIMIT, False),
        (Fault.REJECT, ErrorKind.REJECTED, False),
    ], ids=lambda v: getattr(v, "value", v))
    async def test_order_failures_are_classified(self, harness: VenueHarness, fault, kind, exists):
        await harness.inject(fault, operation="place", retry_after=7)
        cid = new_cid()
        with pytest.raises(VenueError) as err:
            await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity))
        assert err.value.kind == kind
        if kind == ErrorKind.RATE_LIMIT:
            assert err.value.retry_after == (7 if harness.says_when_to_retry else None)
        # An unknown outcome is exactly that: here the order exists, and asking finds it.
        assert await harness.orders_at_venue(cid) == (1 if exists else 0)
        assert (await harness.venue.fetch_order(cid, harness.symbol) is not None) == exists

    async def test_an_order_that_times_out_is_an_unknown_outcome(self, harness: VenueHarness):
        venue = await harness.make_venue(timeout_s=0.2)
        await harness.inject(Fault.LATENCY, operation="place", latency_ms=400)
        cid = new_cid()
        with pytest.raises(VenueError) as err:
            await venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity))
        assert err.value.kind == ErrorKind.UNKNOWN_OUTCOME
        assert await eventually(lambda: harness.orders_at_venue(cid)) == 1  # it did go through, late

    async def test_a_read_that_times_out_is_a_timeout(self, harness: VenueHarness):
        venue = await harness.make_venue(timeout_s=0.2)
        await harness.inject(Fault.LATENCY, operation="query", latency_ms=400)
        with pytest.raises(VenueError) as err:
            await venue.fetch_order(new_cid(), harness.symbol)
        assert err.value.kind == ErrorKind.TIMEOUT

    async def test_bad_credentials_are_an_auth_error(self, harness: VenueHarness):
        cid = new_cid()
        with pytest.raises(VenueError) as err:  # on connecting (KuCoin signs load_markets) or at the order
            venue = await harness.make_venue(bad_credentials=True)
            await venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity))
        assert err.value.kind == ErrorKind.AUTH
        assert await harness.orders_at_venue(cid) == 0

    async def test_an_unreachable_venue_is_a_network_error(self, harness: VenueHarness):
        await harness.stop_venue()
        for call in (harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", harness.quantity)),
                     harness.venue.fetch_order(new_cid(), harness.symbol)):
            with pytest.raises(VenueError) as err:
                await call
            assert err.value.kind == ErrorKind.NETWORK  # never reached it: safe to send again


async def _when(awaitable, predicate):
    value = await awaitable
    return value if value is not None and predicate(value) else None
