"""The one interface every venue adapter implements (ccxt today; IB, Rithmic, NinjaTrader
later), the values it speaks in, and the failure classes replication and recovery act on.

Money and quantities are Decimal, times are UTC datetimes, ids are strings. Every adapter
passes the contract suite in tests/venues/contract.py."""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

# An instrument and its rounding are shared with sizing and discovery's preview (services.domain):
# part of this interface, taken from there; the adapters import both from here.
from services.domain.instruments import Instrument, RoundedQuantity  # noqa: F401 - RoundedQuantity: re-exported

ZERO = Decimal(0)


class ErrorKind(enum.Enum):
    """What a failure means for the caller — the only thing recovery needs to know."""

    NETWORK = "NETWORK"  # the request never reached the venue: safe to send again
    RATE_LIMIT = "RATE_LIMIT"  # refused, slow down: wait VenueError.retry_after seconds when given
    TIMEOUT = "TIMEOUT"  # a read timed out (for an order that was sent, see UNKNOWN_OUTCOME)
    AUTH = "AUTH"  # credentials refused (bad key or signature, permissions): a person must act
    PLATFORM = "PLATFORM"  # the venue failed or refused for its own reasons (5xx on a read, clock skew, config)
    REJECTED = "REJECTED"  # the venue refused this order or request (funds, filters, duplicate id): do not retry
    UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"  # an order may or may not exist: ask by client order id before re-sending


# Not frozen: Python sets an exception's __traceback__ (contextlib does, re-raising it out of an
# async with), which a frozen dataclass refuses with FrozenInstanceError. eq=False: compared and
# hashed by identity, as exceptions are.
@dataclass(eq=False)
class VenueError(Exception):
    kind: ErrorKind
    message: str
    retry_after: float | None = None  # seconds, when the venue said (Retry-After)
    venue_code: str | None = None  # the venue's own error code, when it sent one ("-2010")

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


# Order types. A triggered type rests until the venue's last price reaches its trigger_price,
# then works as a market order (*_market) or as a limit order at `price` (*_limit):
#   stop_*        — the price moved against the order's side: a buy triggers at or above the
#                   trigger, a sell at or below (a stop-loss, or a breakout entry);
#   take_profit_* — the price moved its way: a buy triggers at or below, a sell at or above.
# Venues without a take-profit type carry it as their "if touched" type (IB, Rithmic and
# NinjaTrader MIT / LIT).
ORDER_TYPES = ("market", "limit", "stop_market", "stop_limit", "take_profit_market", "take_profit_limit")
TRIGGERED_TYPES = frozenset(ORDER_TYPES[2:])
LIMIT_TYPES = frozenset({"limit", "stop_limit", "take_profit_limit"})  # those that need a limit price


def triggers(order_type: str, side: str, trigger_price: Decimal, last_price: Decimal) -> bool:
    """Whether a triggered order of this type and side fires at this last price."""
    against = order_type.startswith("stop")
    if (side == "buy") == against:
        return last_price >= trigger_price
    return last_price <= trigger_price


def is_protective(order_type: str) -> str:
    """"stop_loss" / "take_profit" for the triggered types, "" otherwise (a plain limit that
    closes a position is a take-profit to the caller, who knows the position)."""
    if order_type.startswith("stop"):
        return "stop_loss"
    return "take_profit" if order_type.startswith("take_profit") else ""


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str  # the caller's id: the venue refuses a second order with it
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal  # in the venue's amount unit (contracts for derivatives; see contract_size)
    order_type: str = "market"  # one of ORDER_TYPES
    price: Decimal | None = None  # limit price (the *limit types)
    time_in_force: str = "GTC"  # "GTC" | "IOC" | "FOK" (limit orders)
    reduce_only: bool = False  # derivatives: may only shrink a position
    trigger_price: Decimal | None = None  # the triggered types: the last price that fires the order
    # Derivatives: close whatever position the account holds when it fires (Binance's
    # closePosition); the quantity then only sizes the order where the venue needs one.
    close_position: bool = False
    # Orders sharing a group id cancel each other: the first to fill (or be canceled, where the
    # venue says so) takes the others with it (OCO / OCA). Sent together with place_orders.
    oco_group: str = ""
    # A bracket child: it works only once this order (sent before it) has filled (IB parentId).
    parent_client_order_id: str = ""

    @property
    def triggered(self) -> bool:
        return self.order_type in TRIGGERED_TYPES


def check_request(order: OrderRequest) -> None:
    """Raise REJECTED for a request no venue could take: an unknown type or side, a limit type
    without a positive price, a triggered type without a positive trigger price, a close of the
    position that is not a triggered order."""
    problem = ""
    if order.order_type not in ORDER_TYPES or order.side not in ("buy", "sell"):
        problem = f"unsupported order {order.order_type} {order.side}"
    elif order.order_type in LIMIT_TYPES and (order.price is None or order.price <= 0):
        problem = f"a {order.order_type} order needs a positive price"
    elif order.triggered and (order.trigger_price is None or order.trigger_price <= 0):
        problem = f"a {order.order_type} order needs a positive trigger price"
    elif order.close_position and not order.triggered:
        problem = "only a stop or take-profit order closes the position"
    if problem:
        raise VenueError(ErrorKind.REJECTED, problem)


async def place_in_turn(venue: "Venue", orders: list[OrderRequest]) -> list[OrderState]:
    """place_orders for venues with no request of their own for a group: one order after
    another, parents before their children."""
    ordered = sorted(orders, key=lambda o: bool(o.parent_client_order_id))
    return [await venue.place_order(order) for order in ordered]


@dataclass(frozen=True)
class Fill:
    venue_trade_id: str
    venue_order_id: str
    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: datetime  # UTC, the venue's trade time
    backfilled: bool = False  # read from the venue's trade history, not its live stream


@dataclass(frozen=True)
class OrderState:
    """An order as the venue last reported it (also what place_order acknowledges)."""

    client_order_id: str
    venue_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    filled_quantity: Decimal
    average_price: Decimal | None
    status: str  # "open" | "closed" (fully filled) | "canceled" | "rejected" | "expired"
    timestamp: datetime | None = None  # UTC
    order_type: str | None = None  # one of ORDER_TYPES, as the venue reports it
    price: Decimal | None = None  # limit price
    trigger_price: Decimal | None = None  # triggered types
    oco_group: str = ""  # the venue's id of the group it belongs to (OCO / OCA / order list)
    parent_id: str = ""  # a bracket child: the parent's client order id (else its venue order id)
    reduce_only: bool = False
    close_position: bool = False
    triggered: bool = False  # a triggered type that has fired (it is working, or done)
    # What the venue said the order paid so far, in its own figures: its fills when it reported
    # them with the order (Binance spot's FULL answer), else the order's fee when it gave one
    # (None: it did not say; its trades then tell, see Venue.trades). Never computed here.
    fills: tuple[Fill, ...] = ()
    fee: Decimal | None = None
    fee_currency: str = ""

    @property
    def is_open(self) -> bool:
        return self.status == "open"


OrderAck = OrderState  # place_order's answer is the order's state at acknowledgement


@dataclass(frozen=True)
class FillCursor:
    """Where a venue account's fill history resumes: the newest fill taken in, per symbol (a venue
    that numbers trades per symbol, like Binance, resumes each symbol from its own id), and since
    when fills are wanted at all.

    It may lag behind what was taken in (a fill read twice is dropped by its trade id), never run
    ahead of it."""

    start: datetime  # UTC: nothing before this is wanted (when watching the account began)
    last: Mapping[str, tuple[str, datetime]] = field(default_factory=dict)  # symbol -> (trade id, trade time)

    def since(self, symbol: str | None = None) -> datetime:
        """The time to read from: the symbol's newest fill, or (None) the newest of any symbol,
        for a venue that lists every symbol's trades at once; start when there is none."""
        if symbol is not None:
            entry = self.last.get(symbol)
            return max(self.start, entry[1]) if entry else self.start
        return max([self.start, *(t for _, t in self.last.values())])

    def trade_id(self, symbol: str) -> str | None:
        entry = self.last.get(symbol)
        return entry[0] if entry else None

    def covers(self, symbol: str, trade_id: str, at: datetime) -> bool:
        """Whether a trade is one the cursor says was taken in already (or was never wanted): the
        newest fill itself, anything older than it in its symbol, anything before start."""
        if at < self.start:
            return True
        entry = self.last.get(symbol)
        return entry is not None and (trade_id == entry[0] or at < entry[1])

    def after(self, fill: Fill) -> "FillCursor":
        """This cursor moved on to `fill`, never back in time."""
        current = self.last.get(fill.symbol)
        if current is not None and current[1] > fill.timestamp:
            return self
        return replace(self, last={**self.last, fill.symbol: (fill.venue_trade_id, fill.timestamp)})


@dataclass(frozen=True)
class Balance:
    asset: str
    free: Decimal
    used: Decimal  # locked in orders or margin

    @property
    def total(self) -> Decimal:
        return self.free + self.used


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: Decimal  # signed: long > 0, short < 0 (contracts for derivatives)
    entry_price: Decimal = ZERO
    leverage: Decimal = Decimal(1)
    unrealized_pnl: Decimal = ZERO


@dataclass
class AccountSnapshot:
    balances: dict[str, Balance] = field(default_factory=dict)
    equity: Decimal = ZERO  # everything valued in `currency`
    currency: str = "USDT"

    def free(self, asset: str) -> Decimal:
        held = self.balances.get(asset)
        return held.free if held else ZERO


def tell_stream_listeners(listeners: dict[str, Callable[[str, bool], None]], streams: list[str], up: bool) -> None:
    """Call every listener (see Venue.add_stream_listener) for each of the streams; a listener's
    failure is logged, never the stream's."""
    for stream in streams:
        for listener in list(listeners.values()):
            try:
                listener(stream, up)
            except Exception:  # noqa: BLE001 - a listener's trouble is not the stream's
                logging.getLogger("copytrade.venue").exception("stream listener failed")


@runtime_checkable
class Venue(Protocol):
    """One account on one venue. Every method raises VenueError (see classify) on failure."""

    async def connect(self) -> None:
        """Load instruments; call before trading."""
        ...

    async def close(self) -> None: ...

    async def instruments(self) -> dict[str, Instrument]: ...

    async def instrument(self, symbol: str) -> Instrument:
        """REJECTED when the venue has no such instrument."""
        ...

    async def account(self) -> AccountSnapshot:
        """Balances and equity."""
        ...

    async def free_balance(self, asset: str) -> Decimal:
        """What of `asset` the account may sell now (spot venues): balances only, no valuation."""
        ...

    async def positions(self) -> list[Position]:
        """Open positions (spot: holdings of base assets)."""
        ...

    async def price(self, symbol: str) -> Decimal:
        """The last traded price."""
        ...

    async def recent_returns(self, symbol: str, periods: int = 48) -> list[float]:
        """Hourly close-to-close returns of the last `periods` hours, oldest first (public data)."""
        ...

    async def trades(self, symbol: str, since: datetime) -> list[Fill]:
        """Own trades in symbol since a time, oldest first (venue order ids; client ids may be
        empty): the whole history since then, paged through as the venue pages it."""
        ...

    def history_start(self) -> datetime | None:
        """The oldest trade time trades() can still see (None: the whole history). Before it,
        an account's position has to come from positions()."""
        ...

    async def place_order(self, order: OrderRequest) -> OrderState:
        """Send an order under the caller's client order id. A repeated id never makes a
        second order (REJECTED); on UNKNOWN_OUTCOME ask fetch_order before sending again."""
        ...

    async def place_orders(self, orders: list[OrderRequest]) -> list[OrderState]:
        """Orders that belong together — an OCO pair (one oco_group), a bracket's parent and its
        children — sent as the venue takes them: in one request where it has one (Binance
        spot's order list), else one after another, parents first. REJECTED unsent when
        supports_group() says no."""
        ...

    def supports(self, order: OrderRequest) -> bool:
        """Whether place_order takes this order as asked (its type, close_position, an oco_group
        the venue links order by order, a parent): the caller otherwise adapts or emulates (a
        group's fill cancels the rest)."""
        ...

    def supports_group(self, orders: list[OrderRequest]) -> bool:
        """Whether place_orders takes these orders together, linked as asked."""
        ...

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderState: ...

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderState | None:
        """None when the venue has no order with this client order id."""
        ...

    def fills(self, since: FillCursor | None = None) -> AsyncIterator[Fill]:
        """Own fills as they happen, each once; reconnects by itself and never ends until close().
        With `since`: first every fill after the cursor, from the venue's trade history (paging
        until caught up, marked `backfilled`), then the live stream; after each reconnect the
        history again from the last fill delivered. The fill stream is reported up (see
        add_stream_listener) only once the venue has shown it delivers."""
        ...

    def order_updates(self) -> AsyncIterator[OrderState]:
        """Own orders' changes (new, filled, canceled) as they happen; reconnects by itself."""
        ...

    def add_stream_listener(self, name: str, listener: Callable[[str, bool], None]) -> None:
        """listener(stream, up) is called when a stream ("fill", "order") is lost (up=False) and
        when it is back with what it missed recovered (up=True). One listener per name."""
        ...

    def classify(self, exc: BaseException, *, order_sent: bool = False) -> VenueError:
        """What a failure of this venue's client means. order_sent: the failing call may have
        delivered an order (then anything short of a clear refusal is UNKNOWN_OUTCOME)."""
        ...
