"""IbVenue: one Interactive Brokers account through ib_async (the maintained continuation of
ib_insync), speaking the TWS API socket protocol to TWS or IB Gateway — or to the loopback
simulator in venue_sim.ib. CME equity-index futures: ES, MES, NQ, MNQ (front quarterly month).

How IB's model maps onto the venue contract (services/replication/venues/base.py):

- Symbols are the futures roots ("ES", "MES"); the instrument's venue_symbol is the front month's
  local symbol ("ESZ6"), quantities are whole contracts (lot 1), prices sit on the tick (0.25),
  and contract_size is the multiplier (USD per point: 50, 5, 20, 2).
- The client order id travels in the order's `orderRef` (TWS keeps it, and returns it in
  openOrder, completedOrder and every execution). IB does not refuse a repeated orderRef, so the
  adapter does: an order is refused (REJECTED, unsent) when an order with the same orderRef is in
  flight or known to the venue (ib_async's session state is re-synchronised from TWS' open and
  completed orders at every connect). fetch_order asks TWS itself (open orders, then completed
  orders and executions), never only the local cache.
- venue_order_id is IB's permId: stable across API clients and reconnects (orderId is per client).
- IB's order ids are the client's: ib_async takes them from nextValidId and increases them; TWS
  answers a reused one with error 103.
- IB has no reduce-only flag for futures: reduce_only is enforced here against the position TWS
  reports (clamped to it; REJECTED unsent when there is nothing to reduce).
- Errors arrive as (code, text) error messages; see `ERROR_KINDS` / `classify`.
- One socket carries everything, so "the stream" is the API connection: when it drops, fills()
  and order_updates() report the loss, reconnect with backoff, recover executions missed
  meanwhile (reqExecutions), and report the stream back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from ib_async import IB, ExecutionFilter, Future, Order, StartupFetch
from ib_async import Fill as IbFill
from ib_async import Trade as IbTrade

from services.replication.venues import roll
from services.replication.venues.base import (
    LIMIT_TYPES, ZERO, AccountSnapshot, Balance, ErrorKind, Fill, FillCursor, Instrument, OrderRequest, OrderState,
    Position, RoundedQuantity, VenueError, check_request,
)

log = logging.getLogger("copytrade.venue.ib")

DEFAULT_SYMBOLS = ("ES", "MES", "NQ", "MNQ")
STREAM_BACKOFF_S = (0.05, 0.25, 1.0, 2.0, 5.0)
SEEN_EXECUTIONS = 20_000
SECOND = timedelta(seconds=1)
PENDING = frozenset({"PendingSubmit", "ApiPending"})
STATUS = {"Filled": "closed", "Cancelled": "canceled", "ApiCancelled": "canceled", "Inactive": "rejected"}

# IB error codes by what they mean for the caller (TWS API message codes). Anything else an order
# or request gets is a refusal of it (REJECTED: 103, 110, 200, 201, 321, 434, 436, 10148, ...).
RATE_LIMIT_CODES = frozenset({100})  # "Max rate of messages per second has been exceeded"
UNKNOWN_CODES = frozenset({322, 1100, 1300, 2110})  # server error / TWS lost IB's servers: outcome unknown
NETWORK_CODES = frozenset({502, 504})  # couldn't connect / not connected: nothing was sent
PLATFORM_CODES = frozenset({326, 501, 503, 505, 506, 507})  # client id in use, version, bad message
CANCELED_OK = frozenset({0, 202})  # 202 "Order Canceled" is how TWS confirms a cancel
SUMMARY_TAGS = "NetLiquidation,TotalCashValue,AvailableFunds,InitMarginReq"
# Our order types → IB's (a take-profit is IB's "if touched" order), and back.
IB_TYPES = {"market": "MKT", "limit": "LMT", "stop_market": "STP", "stop_limit": "STP LMT",
            "take_profit_market": "MIT", "take_profit_limit": "LIT"}
OUR_TYPES = {v: k for k, v in IB_TYPES.items()}
OCA_CANCEL_WITH_BLOCK = 1  # ocaType: the others are canceled once one fills


class IbError(Exception):
    """An error message TWS sent about a request or order."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"IB error {code}: {message}")
        self.code, self.message = code, message


def classify(exc: BaseException, *, order_sent: bool = False, pacing_backoff_s: float = 1.0) -> VenueError:
    """What a failure talking to TWS means. order_sent: the call may have delivered an order."""
    if isinstance(exc, VenueError):
        return exc
    message = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, IbError):
        code, venue_code = exc.code, str(exc.code)
        if code in RATE_LIMIT_CODES:  # refused before execution; IB paces per second and names no delay
            return VenueError(ErrorKind.RATE_LIMIT, message, pacing_backoff_s, venue_code)
        if code in UNKNOWN_CODES:
            return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.PLATFORM, message, None,
                              venue_code)
        if code in NETWORK_CODES:
            return VenueError(ErrorKind.NETWORK, message, None, venue_code)
        if code in PLATFORM_CODES or 2100 <= code < 2200:
            return VenueError(ErrorKind.PLATFORM, message, None, venue_code)
        return VenueError(ErrorKind.REJECTED, message, None, venue_code)  # 103, 110, 200, 201, 321, 434, 10148...
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.TIMEOUT, message)
    if isinstance(exc, ConnectionRefusedError):
        return VenueError(ErrorKind.NETWORK, message)
    if isinstance(exc, (ConnectionError, OSError)):  # the socket broke (after sending, if order_sent)
        return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.NETWORK, message)
    return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.PLATFORM, message)


def _dec(value: float | str | None) -> Decimal:
    if value is None or value == "" or (isinstance(value, float) and (math.isnan(value) or value >= 1e300)):
        return ZERO
    return Decimal(str(value))


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


class _Seen:
    def __init__(self, size: int = SEEN_EXECUTIONS) -> None:
        self.size, self._ids = size, OrderedDict()

    def add(self, key: str) -> bool:
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


class IbVenue:
    """One IB account through one TWS / IB Gateway API connection. See base.Venue.

    host/port: the API socket of TWS or IB Gateway; client_id: this connection's API client id
    (unique per gateway); account: the IB account code ("U1234567", "DU1234567" for paper).
    timeout_s bounds every request. pacing_backoff_s is what a pacing refusal (error 100) asks
    the caller to wait: IB paces API messages per second and names no delay of its own.
    trade_log_days: how many days of executions TWS gives reqExecutions (its Trade Log setting:
    1, today's, by default; up to 7; IB Gateway only 1)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 7497, client_id: int = 1, account: str,
                 timeout_s: float = 10.0, symbols: tuple[str, ...] = DEFAULT_SYMBOLS, exchange: str = "CME",
                 pacing_backoff_s: float = 1.0, trade_log_days: int = 1, now: roll.When = None) -> None:
        self.host, self.port, self.client_id, self.account_code = host, int(port), int(client_id), account
        self.timeout_s, self.symbols, self.exchange = timeout_s, tuple(symbols), exchange
        self.pacing_backoff_s = pacing_backoff_s
        self.trade_log_days = trade_log_days  # what TWS's Trade Log shows reqExecutions: 1 (today) to 7 days
        self.now = now  # the day (or a clock) whose front month is traded; the real clock when not given
        self.ib = IB()
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected
        self._connect_lock = asyncio.Lock()
        self._query_lock = asyncio.Lock()  # ib_async keys open/completed orders and positions by name
        self._closed = False
        self._closing = asyncio.Event()
        self._generation = 0  # counts successful connects
        self._instruments: dict[str, Instrument] = {}
        self._contracts: dict[str, Future] = {}
        self._inflight: set[str] = set()
        self._waiters: set[asyncio.Future] = set()  # order acks waiting on this connection
        self._stream_listeners: dict[str, Callable[[str, bool], None]] = {}
        self._connect_error: IbError | None = None
        self._loaded_on = ""  # the UTC day the front months were chosen
        self._queues: set[asyncio.Queue] = set()  # of the running streams

    # --- connection ----------------------------------------------------------------------------
    def classify(self, exc: BaseException, *, order_sent: bool = False) -> VenueError:
        return classify(exc, order_sent=order_sent, pacing_backoff_s=self.pacing_backoff_s)

    async def connect(self) -> None:
        await self._ensure_connected()

    def _today(self) -> str:
        return roll.utc_day(self.now).strftime("%Y%m%d")

    def _ready(self) -> bool:
        """Connected, with the front months of today (a contract past its roll date rolls)."""
        return self.ib.isConnected() and bool(self._instruments) and self._loaded_on == self._today()

    async def _ensure_connected(self) -> None:
        if self._ready():
            return
        async with self._connect_lock:
            if self._closed:
                raise VenueError(ErrorKind.PLATFORM, "the venue connection is closed")
            if self._ready():
                return
            self._connect_error = None
            try:
                if not self.ib.isConnected():
                    # No account here: ib_async would wait for updates of an account the login may
                    # not manage; ours is checked, then subscribed, below.
                    await self.ib.connectAsync(self.host, self.port, self.client_id, timeout=self.timeout_s,
                                               fetchFields=StartupFetch.POSITIONS | StartupFetch.ORDERS_OPEN
                                               | StartupFetch.ORDERS_COMPLETE | StartupFetch.EXECUTIONS)
            except Exception as exc:  # noqa: BLE001 - nothing was sent: NETWORK unless TWS said otherwise
                error = self.classify(self._connect_error) if self._connect_error else VenueError(
                    ErrorKind.NETWORK, f"cannot connect to TWS/Gateway at {self.host}:{self.port}: "
                                       f"{type(exc).__name__}: {exc}"[:500])
                raise error from exc
            if self.account_code not in self.ib.managedAccounts():
                self.ib.disconnect()
                raise VenueError(ErrorKind.AUTH, f"account {self.account_code} is not managed by the TWS/Gateway login "
                                                 f"at {self.host}:{self.port}")
            await self._ask(self.ib.reqAccountUpdatesAsync, self.account_code)  # account and portfolio updates
            self._generation += 1
            if not self._instruments or self._loaded_on != self._today():
                await self._load_instruments()

    async def _load_instruments(self) -> None:
        day = roll.utc_day(self.now)
        today = day.strftime("%Y%m%d")
        details = await asyncio.gather(*[self._ask(self.ib.reqContractDetailsAsync,
            Future(symbol=s, exchange=self.exchange, currency="USD")) for s in self.symbols])
        for symbol, found in zip(self.symbols, details):
            # IB lists every month; the front one is the shared roll rule's, as on Rithmic and NT8.
            by_expiry = {datetime.strptime(d.contract.lastTradeDateOrContractMonth[:8], "%Y%m%d").date(): d
                         for d in found if len(d.contract.lastTradeDateOrContractMonth) >= 8}
            front = roll.front_expiry(by_expiry, day)
            if front is None:
                log.warning("IB lists no %s future before its roll on %s", symbol, self.exchange)
                continue
            d = by_expiry[front]
            c = d.contract
            self._contracts[symbol] = c
            self._instruments[symbol] = Instrument(
                symbol=symbol, venue_symbol=c.localSymbol, base=symbol, quote=c.currency or "USD",
                tick_size=_dec(d.minTick), lot_size=Decimal(1), min_quantity=Decimal(1), min_notional=ZERO,
                contract_size=Decimal(c.multiplier or 1), market_type="future")
        self._loaded_on = today

    async def close(self) -> None:
        self._closed = True
        self._closing.set()
        for queue in list(self._queues):  # streams end, even while the connection is down
            queue.put_nowait(("closed",))
        self.ib.disconnect()

    def _on_error(self, req_id: int, code: int, message: str, contract) -> None:
        if code in PLATFORM_CODES:
            self._connect_error = IbError(code, message)
        if code in (1100, 1300):  # TWS lost IB's servers: no order in flight can be confirmed
            for waiter in list(self._waiters):
                if not waiter.done():
                    waiter.set_exception(IbError(code, message))

    def _on_disconnected(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_exception(ConnectionError("the TWS API connection was lost"))

    async def _ask(self, request: Callable, *args, **kwargs):
        """A read request: TIMEOUT when TWS does not answer in time, NETWORK when the socket is down."""
        try:
            return await asyncio.wait_for(request(*args, **kwargs), self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - every failure is classified
            raise self.classify(exc) from exc

    # --- reference data and account ------------------------------------------------------------
    async def instruments(self) -> dict[str, Instrument]:
        await self._ensure_connected()
        return dict(self._instruments)

    async def instrument(self, symbol: str) -> Instrument:
        await self._ensure_connected()
        if symbol not in self._instruments:
            raise VenueError(ErrorKind.REJECTED, f"IB: no instrument {symbol!r} (have {', '.join(self._instruments)})")
        return self._instruments[symbol]

    async def fit_quantity(self, symbol: str, quantity: Decimal, price: Decimal | None = None) -> RoundedQuantity:
        return (await self.instrument(symbol)).fit_quantity(quantity, price)

    async def free_balance(self, asset: str) -> Decimal:
        return (await self.account()).free(asset)  # one account read: balances come with equity here

    async def account(self) -> AccountSnapshot:
        await self._ensure_connected()
        # An account summary is a subscription at TWS (two at most at a time): ask, then cancel.
        req_id = self.ib.client.getReqId()
        answered = self.ib.wrapper.startReq(req_id)
        try:
            await self._ask(lambda: (self.ib.client.reqAccountSummary(req_id, "All", SUMMARY_TAGS), answered)[1])
        finally:
            with contextlib.suppress(ConnectionError):
                self.ib.client.cancelAccountSummary(req_id)
        values = {v.tag: _dec(v.value) for v in self.ib.wrapper.acctSummary.values()
                  if v.account == self.account_code and v.currency in ("USD", "BASE")}
        free, used = values.get("AvailableFunds", ZERO), values.get("InitMarginReq", ZERO)
        return AccountSnapshot(balances={"USD": Balance("USD", free, used)},
                               equity=values.get("NetLiquidation", free + used), currency="USD")

    async def positions(self) -> list[Position]:
        await self._ensure_connected()
        async with self._query_lock:
            rows = await self._ask(self.ib.reqPositionsAsync)
        unrealized = {p.contract.conId: _dec(p.unrealizedPNL) for p in self.ib.portfolio(self.account_code)}
        result = []
        for row in rows:
            if row.account != self.account_code or not row.position:
                continue
            symbol = row.contract.symbol
            multiplier = _dec(row.contract.multiplier) or Decimal(1)
            entry = (_dec(row.avgCost) / multiplier).quantize(Decimal("0.00000001")).normalize()
            result.append(Position(symbol, _dec(row.position), entry, Decimal(1),
                                   unrealized.get(row.contract.conId, ZERO)))
        return result

    async def price(self, symbol: str) -> Decimal:
        await self.instrument(symbol)
        [ticker] = await self._ask(self.ib.reqTickersAsync, self._contracts[symbol])
        last = ticker.last if ticker.last == ticker.last else ticker.close  # NaN when there is no last
        if last != last:
            raise VenueError(ErrorKind.PLATFORM, f"IB sent no last price for {symbol}")
        return _dec(last)

    async def recent_returns(self, symbol: str, periods: int = 48) -> list[float]:
        await self.instrument(symbol)
        days = math.ceil((periods + 1) / 23) + 1
        bars = await self._ask(self.ib.reqHistoricalDataAsync,
            self._contracts[symbol], "", f"{days} D", "1 hour", "TRADES", False, 2, timeout=self.timeout_s)
        closes = [float(b.close) for b in bars][-(periods + 1):]
        return [b / a - 1 for a, b in zip(closes, closes[1:]) if a > 0]

    def history_start(self) -> datetime | None:
        """reqExecutions answers with the executions since midnight (the gateway's time zone; UTC
        assumed), or of up to 7 days when TWS's Trade Log is set to show them (`trade_log_days`)."""
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=self.trade_log_days - 1)

    async def trades(self, symbol: str, since: datetime) -> list[Fill]:
        await self.instrument(symbol)
        fills = await self._executions(since, self._contracts[symbol].symbol)
        return [f for f in fills if f.timestamp >= since.replace(microsecond=0)]

    async def _executions(self, since: datetime | float | None = None, symbol: str = "") -> list[Fill]:
        if isinstance(since, (int, float)):
            since = datetime.fromtimestamp(since, UTC)
        stamp = since.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S") if since else ""
        rows = await self._ask(self.ib.reqExecutionsAsync, ExecutionFilter(acctCode=self.account_code, time=stamp,
                                                                          symbol=symbol))
        fills = [self._fill(self.ib.wrapper.fills.get(r.execution.execId, r)) for r in rows
                 if r.execution.acctNumber == self.account_code]
        return sorted(fills, key=lambda f: f.timestamp)

    # --- orders ------------------------------------------------------------------------------
    def _known(self, client_order_id: str) -> bool:
        return client_order_id in self._inflight or any(
            t.order.orderRef == client_order_id and t.order.permId and t.order.account in ("", self.account_code)
            for t in self.ib.trades())

    def supports(self, order: OrderRequest) -> bool:
        """Every order type (take-profits as MIT / LIT), OCA groups and bracket parents; no
        close-position flag (the caller sizes a protective order to the position)."""
        return not order.close_position

    def supports_group(self, orders: list[OrderRequest]) -> bool:
        return all(map(self.supports, orders))

    async def place_order(self, order: OrderRequest) -> OrderState:
        """Whole contracts (rounded down; below one contract REJECTED unsent); a limit price is
        rounded to the tick in the caller's favour, a trigger price to the nearest tick."""
        await asyncio.sleep(0)  # take in what TWS sent already (a closed socket shows here, before sending)
        ib_order = await self._ib_order(order)
        return await self._place(order, ib_order)

    async def _ib_order(self, order: OrderRequest, *, transmit: bool = True, parent_id: int = 0) -> Order:
        """The ib_async order for a request, checked (REJECTED unsent when it cannot go)."""
        check_request(order)
        if not self.supports(order):
            raise VenueError(ErrorKind.REJECTED, "IB has no close-position orders")
        instrument = await self.instrument(order.symbol)
        fitted = instrument.fit_quantity(order.quantity)
        if not fitted.ok:
            raise VenueError(ErrorKind.REJECTED, f"{order.quantity} rounds to {fitted.quantity} contracts: below "
                                                 f"the minimum of {instrument.min_quantity}")
        quantity = fitted.quantity
        if order.parent_client_order_id and not parent_id:
            parent = self._trade_by_ref(order.parent_client_order_id)
            if parent is None or STATUS.get(parent.orderStatus.status) in ("canceled", "rejected"):
                raise VenueError(ErrorKind.REJECTED, f"no working parent order {order.parent_client_order_id}")
            # A child of a parent that has filled works at once: it goes out on its own.
            parent_id = 0 if parent.orderStatus.status == "Filled" else parent.order.orderId
        if order.reduce_only and not parent_id:  # a working child reduces what its parent's fill opens
            held = next((p.quantity for p in await self.positions() if p.symbol == order.symbol), ZERO)
            reducible = -held if order.side == "buy" else held
            if reducible <= 0:
                raise VenueError(ErrorKind.REJECTED, f"reduce-only {order.side} of {order.symbol}: the position "
                                                     f"is {held}, nothing to reduce")
            quantity = min(quantity, reducible)
        if self._known(order.client_order_id):
            raise VenueError(ErrorKind.REJECTED, f"an order with client id {order.client_order_id} exists")
        ib_order = Order(action="BUY" if order.side == "buy" else "SELL", totalQuantity=float(quantity),
                         orderType=IB_TYPES[order.order_type], orderRef=order.client_order_id,
                         account=self.account_code, transmit=transmit, parentId=parent_id,
                         tif=order.time_in_force if order.order_type in LIMIT_TYPES else "DAY")
        if order.order_type in LIMIT_TYPES:
            steps = (order.price / instrument.tick_size).to_integral_value(
                rounding=ROUND_FLOOR if order.side == "buy" else ROUND_CEILING)
            ib_order.lmtPrice = float(steps * instrument.tick_size)
        if order.triggered:
            steps = (order.trigger_price / instrument.tick_size).to_integral_value(ROUND_HALF_UP)
            ib_order.auxPrice = float(steps * instrument.tick_size)
        if order.oco_group:
            ib_order.ocaGroup, ib_order.ocaType = order.oco_group, OCA_CANCEL_WITH_BLOCK
        return ib_order

    async def _place(self, order: OrderRequest, ib_order: Order) -> OrderState:
        self._inflight.add(order.client_order_id)
        try:
            for attempt in range(2):
                try:
                    return await self._send(order, ib_order)
                except VenueError as err:
                    lost = isinstance(err.__cause__, ConnectionError)
                    if attempt or not lost or not await self._never_arrived(order):
                        raise
                    log.warning("IB: the connection closed before TWS took order %s; sending it again",
                                order.client_order_id)
            raise AssertionError("unreachable")
        finally:
            self._inflight.discard(order.client_order_id)

    async def place_orders(self, orders: list[OrderRequest]) -> list[OrderState]:
        """A bracket goes out as IB sends one: the parent and all but the last child with
        transmit=False, the last child transmitting them all (no child works before TWS has its
        parent). Orders without a parent in the batch go one after another."""
        batch = {o.client_order_id for o in orders}
        children = [o for o in orders if o.parent_client_order_id in batch]
        if not children:
            return [await self.place_order(o) for o in sorted(orders, key=lambda o: bool(o.parent_client_order_id))]
        parents = [o for o in orders if o not in children]
        await asyncio.sleep(0)
        await self._ensure_connected()
        sent: list[tuple[OrderRequest, IbTrade]] = []
        ids: dict[str, int] = {}
        try:
            sequence = [*parents, *children]
            for i, order in enumerate(sequence):
                ib_order = await self._ib_order(order, transmit=i == len(sequence) - 1,
                                                parent_id=ids.get(order.parent_client_order_id, 0))
                self._inflight.add(order.client_order_id)
                try:
                    trade = self.ib.placeOrder(self._contracts[order.symbol], ib_order)
                except ConnectionError as exc:
                    raise VenueError(ErrorKind.UNKNOWN_OUTCOME if sent else ErrorKind.NETWORK,
                                     f"not connected to TWS: {exc}") from exc
                ids[order.client_order_id] = trade.order.orderId
                sent.append((order, trade))
            for _, trade in sent:
                await self._settled(trade, lambda t: t.orderStatus.status not in PENDING, order_sent=True)
            return [self._state(trade, order) for order, trade in sent]
        finally:
            for order in orders:
                self._inflight.discard(order.client_order_id)

    def _trade_by_ref(self, client_order_id: str) -> IbTrade | None:
        return next((t for t in reversed(self.ib.trades()) if t.order.orderRef == client_order_id
                     and t.order.account in ("", self.account_code)), None)

    async def _send(self, order: OrderRequest, ib_order) -> OrderState:
        await self._ensure_connected()
        try:
            trade = self.ib.placeOrder(self._contracts[order.symbol], ib_order)
        except ConnectionError as exc:  # not connected: nothing left this process
            raise VenueError(ErrorKind.NETWORK, f"not connected to TWS: {exc}") from exc
        await self._settled(trade, lambda t: t.orderStatus.status not in PENDING, order_sent=True)
        return self._state(trade, order)

    async def _never_arrived(self, order: OrderRequest) -> bool:
        """After the socket closed under an order: reconnect and ask TWS. An order TWS reports
        neither open nor completed never reached it (TWS handles a connection's messages in order,
        before it notices the connection closed), so it is safe to send again."""
        try:
            return await self.fetch_order(order.client_order_id, order.symbol) is None
        except VenueError:
            return False

    async def _settled(self, trade: IbTrade, done: Callable[[IbTrade], bool], *, order_sent: bool,
                       ok_codes: frozenset[int] = frozenset({0})) -> None:
        """Wait until TWS has answered for this order: done(trade), or an error about it."""
        waiter: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_status(t: IbTrade) -> None:
            if waiter.done():
                return
            code = t.log[-1].errorCode if t.log else 0
            if t.orderStatus.status == "Cancelled" and code not in ok_codes:
                waiter.set_exception(IbError(code, t.log[-1].message))
            elif done(t):
                waiter.set_result(None)

        trade.statusEvent += on_status
        self._waiters.add(waiter)
        try:
            on_status(trade)
            await asyncio.wait_for(waiter, self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - every failure is classified
            raise self.classify(exc, order_sent=order_sent) from exc
        finally:
            self._waiters.discard(waiter)
            trade.statusEvent -= on_status

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderState:
        trade = await self._open_trade(client_order_id)
        if trade is None:
            state = await self.fetch_order(client_order_id, symbol)
            raise VenueError(ErrorKind.REJECTED, f"no open order with client id {client_order_id} "
                                                 f"({state.status if state else 'unknown'})")
        self.ib.cancelOrder(trade.order)
        await self._settled(trade, lambda t: t.orderStatus.status in ("Cancelled", "ApiCancelled", "Filled"),
                            order_sent=False, ok_codes=CANCELED_OK)
        return self._state(trade)

    async def _open_trade(self, client_order_id: str) -> IbTrade | None:
        await self._ensure_connected()
        async with self._query_lock:
            trades = await self._ask(self.ib.reqAllOpenOrdersAsync)
        return next((t for t in trades if t.order.orderRef == client_order_id
                     and t.order.account in ("", self.account_code) and t.orderStatus.status not in STATUS), None)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderState | None:
        trade = await self._open_trade(client_order_id)
        if trade is not None:
            return self._state(trade)
        async with self._query_lock:
            completed = await self._ask(self.ib.reqCompletedOrdersAsync, False)
        trade = next((t for t in completed if t.order.orderRef == client_order_id
                      and t.order.account in ("", self.account_code)), None)
        if trade is None:
            return None
        fills = [f for f in await self._executions() if f.client_order_id == client_order_id]
        filled = sum((f.quantity for f in fills), ZERO) or _dec(trade.order.filledQuantity)
        average = sum((f.quantity * f.price for f in fills), ZERO) / filled if fills and filled else None
        return self._state(trade, filled=filled, average=average)

    def _state(self, trade: IbTrade, request: OrderRequest | None = None, *, filled: Decimal | None = None,
               average: Decimal | None = None) -> OrderState:
        o, st, c = trade.order, trade.orderStatus, trade.contract
        if filled is None:
            filled = _dec(st.filled) or sum((_dec(f.execution.shares) for f in trade.fills), ZERO)
        if average is None and filled:
            average = _dec(st.avgFillPrice) or None
        stamp = trade.log[-1].time if trade.log else None
        order_type = OUR_TYPES.get(o.orderType, "market")
        parent = ""
        if o.parentId:  # the parent's client order id, as the caller named it
            parent_trade = next((t for t in self.ib.trades() if t.order.orderId == o.parentId
                                 and t.order.clientId == o.clientId), None)
            parent = parent_trade.order.orderRef if parent_trade is not None else str(o.parentId)
        return OrderState(
            client_order_id=o.orderRef or (request.client_order_id if request else ""),
            venue_order_id=str(o.permId or st.permId or ""), symbol=c.symbol or (request.symbol if request else ""),
            side="buy" if o.action == "BUY" else "sell", quantity=_dec(o.totalQuantity), filled_quantity=filled,
            average_price=average, status=STATUS.get(st.status, "open"),
            timestamp=_utc(stamp) if stamp else None, order_type=order_type,
            price=_dec(o.lmtPrice) or None if order_type in LIMIT_TYPES else None,
            trigger_price=_dec(o.auxPrice) or None if o.orderType in ("STP", "STP LMT", "MIT", "LIT") else None,
            oco_group=o.ocaGroup or "", parent_id=parent,
            triggered=o.orderType in ("STP", "STP LMT", "MIT", "LIT") and filled > 0)

    def _fill(self, fill: IbFill) -> Fill:
        e, report = fill.execution, fill.commissionReport
        # IB stamps executions to the second; ib_async stamps a live one with its arrival time.
        # The arrival time is the finer one while it lies within the execution's second.
        executed, arrived = _utc(e.time), _utc(fill.time)
        stamp = arrived if 0 <= (arrived - executed).total_seconds() < 1 else executed
        return Fill(venue_trade_id=e.execId, venue_order_id=str(e.permId), client_order_id=e.orderRef,
                    symbol=fill.contract.symbol, side="buy" if e.side == "BOT" else "sell",
                    quantity=_dec(e.shares), price=_dec(e.price), fee=_dec(report.commission),
                    fee_currency=report.currency or "USD", timestamp=stamp)

    # --- streams -------------------------------------------------------------------------------
    def add_stream_listener(self, name: str, listener: Callable[[str, bool], None]) -> None:
        self._stream_listeners[name] = listener

    def _stream_state(self, what: str, *, up: bool) -> None:
        for listener in list(self._stream_listeners.values()):
            try:
                listener(what, up)
            except Exception:  # noqa: BLE001 - a listener's trouble is not the stream's
                log.exception("stream listener failed")

    async def _reconnect(self, what: str) -> None:
        failures = 0
        while not self._closed:
            try:
                await self._ensure_connected()
                return
            except VenueError as err:
                delay = STREAM_BACKOFF_S[min(failures, len(STREAM_BACKOFF_S) - 1)]
                failures += 1
                log.warning("IB %s stream: reconnect failed (%s); again in %.2fs", what, err, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)

    async def _events(self, what: str, subscribe: Callable[[asyncio.Queue], Callable[[], None]],
                      recover: Callable[[float], object], since: float | None = None) -> AsyncIterator[object]:
        """Items the event handlers queue, until close(). When the connection drops: report the
        stream down, reconnect, queue what `recover(since)` finds, report it up. since: first
        what `recover(since)` finds, once subscribed (what arrives live meanwhile follows it)."""
        queue: asyncio.Queue = asyncio.Queue()
        handled: set[int] = set()

        lost_at: list[float] = []

        def on_down() -> None:
            queue.put_nowait(("down", self._generation, time.time()))

        def on_error(req_id: int, code: int, message: str, contract) -> None:
            if code in (1100, 1300):
                lost_at.append(time.time())
            elif code in (1101, 1102) and lost_at:  # TWS is back with IB: ask for what passed meanwhile
                queue.put_nowait(("resync", lost_at.pop(0)))

        unsubscribe = subscribe(queue)
        self.ib.disconnectedEvent += on_down
        self.ib.errorEvent += on_error
        self._queues.add(queue)
        try:
            if not self.ib.isConnected():
                await self._reconnect(what)
            if since is not None:
                for recovered in await recover(since):
                    yield recovered
            while not self._closed:
                item = await queue.get()
                if not (isinstance(item, tuple) and item and item[0] in ("down", "resync", "closed")):
                    yield item
                    continue
                if item[0] == "closed":
                    return
                if item[0] == "resync":
                    for recovered in await recover(item[1] - 2.0):
                        yield recovered
                    continue
                _, generation, at = item
                if self._closed:
                    return
                if generation in handled:
                    continue
                handled.add(generation)
                self._stream_state(what, up=False)
                log.warning("IB %s stream lost; reconnecting", what)
                await self._reconnect(what)
                handled.update(range(generation, self._generation))
                for recovered in await recover(at - 2.0):  # execution times have one-second resolution
                    yield recovered
                if not self._closed:
                    self._stream_state(what, up=True)
        finally:
            self._queues.discard(queue)
            unsubscribe()
            self.ib.disconnectedEvent -= on_down
            self.ib.errorEvent -= on_error

    async def fills(self, since: FillCursor | None = None) -> AsyncIterator[Fill]:
        """Executions as TWS reports them; with `since`, first the executions after the cursor
        (reqExecutions: TWS keeps those of its trade log, today's unless it is set to show up to
        7 days), marked backfilled."""
        seen = _Seen()

        def subscribe(queue: asyncio.Queue) -> Callable[[], None]:
            def on_report(trade, fill, report) -> None:  # execDetails, then its commission report
                queue.put_nowait(fill)

            self.ib.commissionReportEvent += on_report
            return lambda: self.ib.commissionReportEvent.disconnect(on_report)

        def taken(fill: Fill) -> bool:  # TWS stamps executions to the second: older only if that whole second is
            return since is not None and since.covers(fill.symbol, fill.venue_trade_id,
                                                      fill.timestamp.replace(microsecond=0) + SECOND)

        async def recover(at: float) -> list[Fill]:
            for _ in range(3):
                try:
                    return [replace(f, backfilled=True) for f in await self._executions(at) if not taken(f)]
                except VenueError as err:
                    log.warning("IB fill recovery failed: %s", err)
                    await self._reconnect("fill")
            return []

        initial = since.since().timestamp() - 2.0 if since is not None else None  # IB stamps to the second
        async for item in self._events("fill", subscribe, recover, initial):
            fill = item if isinstance(item, Fill) else self._fill(item)
            if isinstance(item, IbFill) and item.execution.acctNumber != self.account_code:
                continue
            # ib_async also reports executions TWS sends in answer to reqExecutions as they come.
            if not taken(fill) and seen.add(fill.venue_trade_id):
                yield fill

    async def order_updates(self) -> AsyncIterator[OrderState]:
        def subscribe(queue: asyncio.Queue) -> Callable[[], None]:
            def on_status(trade: IbTrade) -> None:
                if trade.order.account in ("", self.account_code) and trade.order.orderRef:
                    queue.put_nowait(self._state(trade))

            # A modification (a new price, trigger or size) comes as an openOrder with no change of status.
            self.ib.orderStatusEvent += on_status
            self.ib.openOrderEvent += on_status

            def unsubscribe() -> None:
                self.ib.orderStatusEvent.disconnect(on_status)
                self.ib.openOrderEvent.disconnect(on_status)
            return unsubscribe

        async def recover(since: float) -> list[OrderState]:
            with contextlib.suppress(VenueError):
                async with self._query_lock:
                    open_trades = await self._ask(self.ib.reqAllOpenOrdersAsync)
                return [self._state(t) for t in open_trades
                        if t.order.account in ("", self.account_code) and t.order.orderRef]
            return []

        # First the orders resting now: one placed before the stream is followed (a watcher
        # starting or restarting) is reported, not missed until it next changes.
        async for state in self._events("order", subscribe, recover, time.time()):
            yield state


REPLICA_SLOTS = 64  # replication replicas that may connect one account at once (ownership.SLOTS)


def client_id_for(account_id: str, replica_slot: int = 0) -> int:
    """A stable API client id per venue account and replica (TWS refuses a second connection
    with a client id in use: error 326; 0 and 1..99 are left to people and tools)."""
    if not 0 <= replica_slot < REPLICA_SLOTS:
        raise ValueError(f"replica_slot is in [0, {REPLICA_SLOTS})")
    return 100 + (zlib.crc32(account_id.encode()) % 33_000_000) * REPLICA_SLOTS + replica_slot


def ib_venue_from_credential(*, account_code: str, address: str, client_id: str, account_id: str,
                             replica_slot: int = 0) -> IbVenue:
    """An IbVenue from the vault's credential fields (see VenuePool._open). TWS has no API key:
    what a connection needs is where the gateway listens, which account, and an API client id.

    api_key → account_code: the IB account code ("U1234567"), which the login must manage.
    api_secret → address: "host:port" of the TWS / IB Gateway API socket ("tws://" optional).
    passphrase → client_id: the API client id, when the user reserved one; else a stable id
        derived from the venue account and this replica's slot (TWS refuses two connections with
        one id: error 326). A reserved id is one connection: only one replica can use it, so
        reserve one for a watched master (one replica watches it at a time), not a follower.
        A watched master account wants the gateway's "Master API client ID" here: TWS tells that
        client of every client's orders and executions (and client 0 of manual TWS orders)."""
    host, _, port = (address or "127.0.0.1:7497").removeprefix("tws://").rpartition(":")
    return IbVenue(host=host or "127.0.0.1", port=int(port or 7497), account=account_code,
                   client_id=int(client_id) if client_id.strip().isdigit() else client_id_for(account_id, replica_slot))
