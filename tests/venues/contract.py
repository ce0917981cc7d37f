"""The venue contract: what replication relies on from every adapter. An adapter's test module
subclasses VenueContract and provides a `harness` fixture (see VenueHarness)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from services.kit.testing import eventually
from services.replication.venues.base import ErrorKind, OrderRequest, Venue, VenueError


@dataclass
class VenueHarness:
    venue: Venue  # connected, funded
    symbol: str
    quantity: Decimal  # a valid order size
    price: Callable[[], Decimal]  # the current price
    set_price: Callable[[Decimal], Awaitable[None]]
    orders_at_venue: Callable[[str], Awaitable[int]]  # how many orders with this client id the venue holds
    inject: Callable[..., Awaitable[None]]  # inject(kind, **params): the next order call fails so
    stop_venue: Callable[[], Awaitable[None]]
    venue_with_bad_key: Callable[[], Awaitable[Venue]]
    stream_subscribed: Callable[[], bool]  # the venue has our fill stream attached


def new_cid() -> str:
    return f"ct{uuid.uuid4().hex[:20]}"


class VenueContract:
    async def test_market_order_fills_once(self, harness: VenueHarness):
        cid = new_cid()
        state = await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity))
        assert state.client_order_id == cid and state.filled_quantity == harness.quantity
        assert state.status == "closed"
        assert await harness.orders_at_venue(cid) == 1
        fetched = await harness.venue.fetch_order(cid, harness.symbol)
        assert fetched is not None and fetched.venue_order_id == state.venue_order_id

    async def test_limit_order_rests_then_fills_when_crossed(self, harness: VenueHarness):
        fills = harness.venue.fills()
        first_fill = asyncio.ensure_future(anext(fills))
        await eventually(harness.stream_subscribed)
        cid = new_cid()
        limit = (harness.price() * Decimal("0.99")).quantize(Decimal("0.01"))
        state = await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity,
                                                             "limit", limit))
        assert state.status == "open" and state.filled_quantity == 0
        await harness.set_price(limit - Decimal("1"))
        fill = await asyncio.wait_for(first_fill, 5)
        assert (fill.client_order_id, fill.quantity, fill.price) == (cid, harness.quantity, limit)
        closed = await eventually(lambda: harness.venue.fetch_order(cid, harness.symbol))
        assert closed.status == "closed"

    async def test_order_updates_stream_new_and_canceled(self, harness: VenueHarness):
        updates = harness.venue.order_updates()
        seen: list = []

        async def collect():
            async for update in updates:
                seen.append(update)
        collector = asyncio.ensure_future(collect())
        await eventually(harness.stream_subscribed)
        cid = new_cid()
        limit = (harness.price() * Decimal("0.5")).quantize(Decimal("0.01"))
        await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity, "limit", limit))
        await harness.venue.cancel_order(cid, harness.symbol)
        await eventually(lambda: [u.status for u in seen if u.client_order_id == cid][-1:] == ["canceled"])
        collector.cancel()

    async def test_cancel_by_client_order_id(self, harness: VenueHarness):
        cid = new_cid()
        limit = (harness.price() * Decimal("0.5")).quantize(Decimal("0.01"))
        await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity, "limit", limit))
        canceled = await harness.venue.cancel_order(cid, harness.symbol)
        assert canceled.status == "canceled"
        assert (await harness.venue.fetch_order(cid, harness.symbol)).status == "canceled"

    async def test_unknown_client_order_id_is_none(self, harness: VenueHarness):
        assert await harness.venue.fetch_order(new_cid(), harness.symbol) is None

    async def test_a_repeated_client_order_id_never_makes_a_second_order(self, harness: VenueHarness):
        cid = new_cid()
        order = OrderRequest(cid, harness.symbol, "buy", harness.quantity)
        await harness.venue.place_order(order)
        with pytest.raises(VenueError) as err:
            await harness.venue.place_order(order)
        assert err.value.kind == ErrorKind.REJECTED
        assert await harness.orders_at_venue(cid) == 1

    async def test_fill_stream_delivers_within_50ms(self, harness: VenueHarness):
        fills = harness.venue.fills()
        waiting = asyncio.ensure_future(anext(fills))
        await eventually(harness.stream_subscribed)  # trades before the subscription are not streamed
        await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "sell", harness.quantity))
        sent_at = time.time()
        fill = await asyncio.wait_for(waiting, 5)
        delay_ms = (time.time() - max(sent_at, fill.timestamp.timestamp())) * 1000
        assert delay_ms < 50, f"fill arrived {delay_ms:.1f} ms after the trade"

    @pytest.mark.parametrize("fault,kind,exists", [
        ("http_5xx_after_accept", ErrorKind.UNKNOWN_OUTCOME, True),
        ("unknown_after_accept", ErrorKind.UNKNOWN_OUTCOME, True),
        ("rate_limit", ErrorKind.RATE_LIMIT, False),
        ("reject", ErrorKind.REJECTED, False),
    ])
    async def test_failures_are_classified(self, harness: VenueHarness, fault, kind, exists):
        await harness.inject(fault)
        cid = new_cid()
        with pytest.raises(VenueError) as err:
            await harness.venue.place_order(OrderRequest(cid, harness.symbol, "buy", harness.quantity))
        assert err.value.kind == kind
        if kind == ErrorKind.RATE_LIMIT:
            assert err.value.retry_after == 7
        # An unknown outcome is exactly that: the order may exist, so it must be asked for.
        assert await harness.orders_at_venue(cid) == (1 if exists else 0)
        found = await harness.venue.fetch_order(cid, harness.symbol)
        assert (found is not None) == exists

    async def test_insufficient_funds_is_rejected(self, harness: VenueHarness):
        with pytest.raises(VenueError) as err:
            await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", harness.quantity * 10**6))
        assert err.value.kind == ErrorKind.REJECTED

    async def test_bad_credentials_are_a_platform_error(self, harness: VenueHarness):
        venue = await harness.venue_with_bad_key()
        try:
            with pytest.raises(VenueError) as err:
                await venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", harness.quantity))
            assert err.value.kind == ErrorKind.PLATFORM
        finally:
            await venue.close()

    async def test_unreachable_venue_is_a_network_error(self, harness: VenueHarness):
        await harness.stop_venue()
        with pytest.raises(VenueError) as err:
            await harness.venue.place_order(OrderRequest(new_cid(), harness.symbol, "buy", harness.quantity))
        assert err.value.kind == ErrorKind.NETWORK
