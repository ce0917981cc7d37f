"""RithmicVenue: one Rithmic account through async_rithmic (R|Protocol over WebSocket).

async_rithmic opens one WebSocket per plant; we log in to the ORDER plant (orders, order and
exchange notifications, fill history), the PNL plant (positions, account balance), the TICKER
plant (last trade price) and the HISTORY plant (hourly bars), and leave the repository plant
(agreements) alone.

- Our client order id travels as Rithmic's `user_tag`; Rithmic's own id is the `basket_id`.
  Rithmic does not refuse a repeated user tag, so the adapter refuses a repeat itself: it knows
  every tag of the account's orders today — the show-orders answer at each login, then every
  order notification (Rithmic notifies each session of the account's orders, whoever placed
  them) and each order it sends. (Two processes sending the same tag at the same instant are
  not caught here: replication's own exactly-once bookkeeping covers that.)
- Fills and order updates come from exchange order notifications (template 352) on the order
  plant. When that connection drops, async_rithmic reconnects and logs in again; the adapter
  reports the streams down, and once logged in again asks the fill history (3512) for what
  traded meanwhile, delivering each fill once (by fill id), then reports them up.
- A refused request comes back with `rp_code = [code, text]`; async_rithmic only logs it (the
  call returns no responses), so the adapter keeps the last error per request to classify it:
  "permission denied" is AUTH, a rate limit is RATE_LIMIT (Rithmic gives no retry hint: the
  adapter's `rate_limit_retry_after_s`), any other refusal of a new order is REJECTED. A
  generic Reject (75) or no answer after a new order was sent is UNKNOWN_OUTCOME.
- Rithmic has no reduce-only flag: the adapter checks the position (PnL plant) and refuses an
  order that would not reduce it, unsent, and trims one that would overshoot.

TLS: async_rithmic prepends wss:// to a URL without a scheme and verifies the server against
the certificate it bundles (Rithmic's), through `client.ssl_context`, which it hands to
websockets.connect. The adapter replaces that context when told to trust another certificate
(`ca_file`: e.g. the simulator's self-signed one on wss://), and sets it to None for a plain
ws:// URL (the loopback simulator without TLS)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

import websockets
from async_rithmic import ReconnectionSettings, RetrySettings, RithmicClient
from async_rithmic.enums import DataType, OrderDuration, OrderType, SysInfraType, TimeBarType, TransactionType
from async_rithmic.exceptions import RithmicErrorResponse
from async_rithmic.protocol_buffers import exchange_order_notification_pb2

from services.replication.venues import cme, roll
from services.replication.venues.base import (
    LIMIT_TYPES, ZERO, AccountSnapshot, Balance, ErrorKind, Fill, FillCursor, Instrument, OrderRequest, OrderState,
    Position, VenueError, check_request, place_in_turn, tell_stream_listeners,
)

log = logging.getLogger("copytrade.venue.rithmic")

XOrder = exchange_order_notification_pb2.ExchangeOrderNotification
EXCHANGE = "CME"
PLANTS = [SysInfraType.TICKER_PLANT, SysInfraType.ORDER_PLANT, SysInfraType.PNL_PLANT, SysInfraType.HISTORY_PLANT]
WATCH_S = 0.02  # how often the plants' connections are checked
SEEN_FILLS = 20_000
DURATIONS = {"GTC": OrderDuration.GTC, "IOC": OrderDuration.IOC, "FOK": OrderDuration.FOK}
# Our order types → R|Protocol's price types, and back. Its if-touched types have no name in the
# order notifications (whose PriceType stops at STOP_MARKET), so take-profits are not sent as such.
PRICE_TYPES = {"market": OrderType.MARKET, "limit": OrderType.LIMIT, "stop_market": OrderType.STOP_MARKET,
               "stop_limit": OrderType.STOP_LIMIT}
OUR_TYPES = {v: k for k, v in PRICE_TYPES.items()}


def _dec(value) -> Decimal:
    if value in (None, ""):
        return ZERO
    return Decimal(str(value))


class RithmicVenue:
    """See the module docstring. user/password/system_name: the Rithmic login ("Rithmic Paper
    Trading", "Rithmic 01", ...); url: the gateway (wss://... or a loopback ws://...);
    account_id: which of the user's accounts (the first one when not given)."""

    def __init__(self, *, user: str, password: str, system_name: str, url: str, account_id: str = "",
                 app_name: str = "copytrade", app_version: str = "1.0", timeout_s: float = 5.0,
                 rate_limit_retry_after_s: float = 1.0, reconnect_interval_s: float = 0.05,
                 symbols: tuple[str, ...] = tuple(cme.FUTURES), now: roll.When = None,
                 ca_file: str | None = None) -> None:
        self.ca_file = ca_file
        self._login = dict(user=user, password=password, system_name=system_name, app_name=app_name,
                           app_version=app_version, url=url)
        self.account_id = account_id
        self.timeout_s, self.rate_limit_retry_after_s = timeout_s, rate_limit_retry_after_s
        self.reconnect_interval_s = reconnect_interval_s
        # The front month of the day (the shared roll rule), chosen again when the day changes.
        self._fronts = roll.FrontMonths(symbols, cme.instrument, lambda root, month: cme.rithmic_name(root, month=month),
                                        now)
        self._fronts.current()
        self.client: RithmicClient | None = None
        self._connect_lock = asyncio.Lock()
        self._errors: dict[str, tuple[int, list[str]]] = {}  # user_tag or "t<template>" -> (template, rp_code)
        self._up: dict[str, bool] = {}  # plant -> logged in on its current connection
        self._streams_down_since: float | None = None
        self._latest: dict[str, OrderState] = {}  # user_tag -> last notified state
        self._tags: dict[str, str] = {}  # basket_id -> user_tag
        self._used_tags: set[str] = set()  # user tags of the account's orders (today's, and ours)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._fill_queues: set[asyncio.Queue] = set()
        self._order_queues: set[asyncio.Queue] = set()
        self._listeners: dict[str, Callable[[str, bool], None]] = {}
        self._snapshots: dict[str, list[asyncio.Future]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    @property
    def _instruments(self) -> dict[str, Instrument]:
        return self._fronts.current()

    @property
    def _roots(self) -> dict[str, str]:
        self._fronts.current()
        return self._fronts.roots_by_name

    # --- failures --------------------------------------------------------------------------
    def classify(self, exc: BaseException, *, order_sent: bool = False) -> VenueError:
        if isinstance(exc, VenueError):
            return exc
        message = f"{type(exc).__name__}: {exc}"[:500]
        unknown_or = (lambda kind: ErrorKind.UNKNOWN_OUTCOME if order_sent else kind)  # noqa: E731
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            return VenueError(unknown_or(ErrorKind.TIMEOUT), message)
        if isinstance(exc, ssl.SSLError):  # e.g. a certificate we do not trust: configuration, not the network
            return VenueError(ErrorKind.PLATFORM, message)
        if isinstance(exc, (OSError, websockets.InvalidHandshake)):
            return VenueError(ErrorKind.NETWORK, message)  # never connected: nothing was sent
        if isinstance(exc, websockets.ConnectionClosed):
            return VenueError(unknown_or(ErrorKind.NETWORK), message)
        return VenueError(unknown_or(ErrorKind.PLATFORM), message)

    def _refusal(self, key: str, *, order_sent: bool) -> VenueError:
        """What the error Rithmic sent for this request means (none recorded: no answer)."""
        template, rp_code = self._errors.pop(key, (0, []))
        code, text = (rp_code + ["", ""])[:2]
        message = f"Rithmic refused: {' '.join(rp_code)}" if rp_code else "Rithmic sent no answer"
        lowered = text.lower()
        if not rp_code:
            return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.PLATFORM, message)
        if code == "13" or "permission denied" in lowered or "authoriz" in lowered:
            return VenueError(ErrorKind.AUTH, message, venue_code=code)
        if "rate limit" in lowered or "too many" in lowered or "throttl" in lowered:
            return VenueError(ErrorKind.RATE_LIMIT, message, self.rate_limit_retry_after_s, code)
        if template == 75:  # a generic reject of a request that may have been acted on
            return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.PLATFORM, message, venue_code=code)
        return VenueError(ErrorKind.REJECTED, message, venue_code=code)

    # --- lifecycle -------------------------------------------------------------------------
    def _new_client(self) -> RithmicClient:
        login = self._login
        client = RithmicClient(
            user=login["user"], password=login["password"], system_name=login["system_name"],
            app_name=login["app_name"], app_version=login["app_version"], url=login["url"],
            reconnection_settings=ReconnectionSettings(max_retries=None, backoff_type="constant",
                                                       interval=self.reconnect_interval_s, max_delay=5.0),
            retry_settings=RetrySettings(max_retries=1, timeout=self.timeout_s))
        if client.credentials["gateway"].startswith("ws://"):
            client.ssl_context = None  # plain loopback WebSocket: no TLS
        elif self.ca_file:
            client.ssl_context = ssl.create_default_context(cafile=self.ca_file)
        client.on_exchange_order_notification += self._on_exchange_notification
        client.on_tick += self._on_tick
        for name, plant in client.plants.items():
            self._instrument_plant(name, plant)
        return client

    def _instrument_plant(self, name: str, plant) -> None:
        """Keep each refusal Rithmic sends (async_rithmic only logs it) and know when a plant
        is logged in again after a reconnect."""
        process, login = plant._process_response, plant._login

        async def process_response(response):
            request_id = response.user_msg[0] if len(getattr(response, "user_msg", ()) or ()) else None
            request = plant.request_manager.requests.get(request_id) if request_id else None
            key = (request.get("user_tag") or f"t{request['template_id']}") if request else None
            if response.template_id == 75 and request is not None:
                self._errors[key] = (75, list(response.rp_code))
                plant.request_manager.mark_complete(request_id)  # the request ends here
                return True
            try:
                return await process(response)
            except RithmicErrorResponse:
                if key is not None:
                    self._errors[key] = (response.template_id, list(response.rp_code))
                raise

        async def logged_in():
            await login()
            accounts = [a.account_id for a in plant.accounts or []] if name == "order" else []
            for account_id in [a for a in accounts if a == self.account_id or not self.account_id][:1]:
                orders = await plant.list_orders(account_id=account_id)
                self._used_tags.update(o.user_tag for o in orders)
                self._tags.update((o.basket_id, o.user_tag) for o in orders)
            self._up[name] = True
            if name == "order" and self._streams_down_since is not None:
                self._spawn(self._recover_streams())

        plant._process_response = process_response
        plant._login = logged_in

    async def connect(self) -> None:
        async with self._connect_lock:
            if self.client is not None:
                return
            self._errors.clear()
            client = self._new_client()
            try:
                await asyncio.wait_for(client.connect(plants=PLANTS, plant_connect_delay=0), self.timeout_s)
            except Exception as exc:  # noqa: BLE001 - classified below
                await self._discard(client)
                if "t10" in self._errors:
                    raise self._refusal("t10", order_sent=False) from exc
                raise self.classify(exc) from exc
            accounts = [a.account_id for a in client.accounts or []]
            if self.account_id and self.account_id not in accounts or not accounts:
                await self._discard(client)
                raise VenueError(ErrorKind.AUTH, f"Rithmic user has no account {self.account_id!r}")
            self.account_id = self.account_id or accounts[0]
            self.client = client
            self._spawn(self._watch_plants())

    async def _discard(self, client: RithmicClient) -> None:
        try:
            await client.disconnect(timeout=1.0)
        except Exception:  # noqa: BLE001 - already broken
            pass
        for plant in client.plants.values():
            await plant._stop_background_tasks()
            if plant.ws is not None:
                await plant.ws.close()

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.client is not None:
            client, self.client = self.client, None
            await self._discard(client)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _plant(self, name: str):
        return self.client.plants[name]

    async def _ready(self, plant: str = "order") -> None:
        """Connected and logged in on `plant`, waiting out a reconnect up to the timeout."""
        if self.client is None:
            await self.connect()
        deadline = time.monotonic() + self.timeout_s
        probed = False
        while not (self._plant(plant).is_connected and self._up.get(plant)):
            if not probed:  # reconnecting: when the gateway refuses connections, say so now
                probed = True
                await self._probe_gateway()
            if time.monotonic() >= deadline:
                raise VenueError(ErrorKind.NETWORK, f"Rithmic {plant} plant is not connected")
            await asyncio.sleep(WATCH_S)

    async def _probe_gateway(self) -> None:
        url = urlsplit(self.client.credentials["gateway"])
        port = url.port or (443 if url.scheme == "wss" else 80)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, port), self.timeout_s)
        except (OSError, asyncio.TimeoutError) as exc:
            raise VenueError(ErrorKind.NETWORK, f"Rithmic gateway {url.hostname}:{port} unreachable: {exc}") from exc
        writer.close()

    async def _call(self, plant: str, coro_fn, *args, **kwargs):
        await self._ready(plant)
        try:
            return await asyncio.wait_for(coro_fn(*args, **kwargs), self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - every failure is classified
            raise self.classify(exc) from exc

    # --- reference data and account --------------------------------------------------------
    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    async def instrument(self, symbol: str) -> Instrument:
        if symbol not in self._instruments:
            raise VenueError(ErrorKind.REJECTED, f"Rithmic adapter has no instrument {symbol}")
        return self._instruments[symbol]

    async def free_balance(self, asset: str) -> Decimal:
        return (await self.account()).free(asset)  # one account read: balances come with equity here

    async def account(self) -> AccountSnapshot:
        rows = await self._call("pnl", self._plant("pnl").list_account_summary, account_id=self.account_id)
        if not rows:
            raise VenueError(ErrorKind.PLATFORM, "Rithmic sent no account summary")
        row = rows[0]
        currency = "USD"
        balance = Balance(currency, _dec(row.available_buying_power), _dec(row.used_buying_power))
        return AccountSnapshot(balances={currency: balance},
                               equity=_dec(row.account_balance) + _dec(row.open_position_pnl), currency=currency)

    async def positions(self) -> list[Position]:
        rows = await self._call("pnl", self._plant("pnl").list_positions, account_id=self.account_id)
        return [Position(self._roots[r.symbol], Decimal(r.net_quantity), _dec(r.avg_open_fill_price),
                         unrealized_pnl=_dec(r.open_position_pnl))
                for r in rows if r.net_quantity and r.symbol in self._roots]

    async def price(self, symbol: str) -> Decimal:
        """Subscribing to last trades answers with a snapshot: the price now."""
        instrument = await self.instrument(symbol)
        await self._ready("ticker")
        waiter = asyncio.get_running_loop().create_future()
        self._snapshots.setdefault(instrument.venue_symbol, []).append(waiter)
        try:
            await self._plant("ticker").subscribe_to_market_data(instrument.venue_symbol, EXCHANGE,
                                                                 DataType.LAST_TRADE)
            return await asyncio.wait_for(waiter, self.timeout_s)
        except Exception as exc:  # noqa: BLE001
            raise self.classify(exc) from exc
        finally:
            if waiter in self._snapshots.get(instrument.venue_symbol, []):
                self._snapshots[instrument.venue_symbol].remove(waiter)

    async def _on_tick(self, data: dict) -> None:
        if data.get("is_snapshot") and "trade_price" in data:
            for waiter in self._snapshots.pop(data.get("symbol", ""), []):
                if not waiter.done():
                    waiter.set_result(_dec(data["trade_price"]))

    async def recent_returns(self, symbol: str, periods: int = 48) -> list[float]:
        """From hourly bars (60-minute bars replayed by the history plant)."""
        instrument = await self.instrument(symbol)
        now = datetime.now(UTC)
        bars = await self._call("history", self._plant("history").get_historical_time_bars,
                                instrument.venue_symbol, EXCHANGE, now - timedelta(hours=periods + 1), now,
                                TimeBarType.MINUTE_BAR, 60, idle_timeout=self.timeout_s, max_pages=5)
        closes = [float(b["close_price"]) for b in sorted(bars or [], key=lambda b: b["marker"])
                  if b.get("close_price")][-(periods + 1):]
        return [b / a - 1 for a, b in zip(closes, closes[1:]) if a > 0]

    async def trades(self, symbol: str, since: datetime) -> list[Fill]:
        instrument = await self.instrument(symbol)
        fills = await self._fill_history(since)
        return [f for f in fills if f.symbol == instrument.symbol]

    def history_start(self) -> datetime | None:
        return None  # the fill history (3512) answers for any time range asked

    async def _fill_history(self, since: datetime) -> list[Fill]:
        rows = await self._call("order", self._plant("order").get_fill_history, start_time=since,
                                end_time=datetime.now(UTC) + timedelta(hours=1), account_id=self.account_id)
        unknown = {r.basket_id for r in rows if r.basket_id not in self._tags}
        if unknown:  # which of our client order ids these fills belong to
            for order in await self._call("order", self._plant("order").list_orders, account_id=self.account_id):
                self._tags.setdefault(order.basket_id, order.user_tag)
        fills = [Fill(r.fill_id, r.basket_id, self._tags.get(r.basket_id, ""), self._roots.get(r.symbol, r.symbol),
                      "buy" if r.transaction_type.upper() in ("BUY", "B", "1") else "sell", Decimal(r.fill_size),
                      _dec(r.fill_price), ZERO, "USD", self._stamp(r.ssboe, r.usecs))
                 for r in rows]
        return sorted((f for f in fills if f.timestamp >= since), key=lambda f: f.timestamp)

    @staticmethod
    def _stamp(ssboe: int, usecs: int) -> datetime:
        return datetime.fromtimestamp(ssboe + usecs / 1e6, UTC)

    # --- orders ----------------------------------------------------------------------------
    async def _find(self, client_order_id: str):
        orders = await self._call("order", self._plant("order").list_orders, account_id=self.account_id)
        matches = [o for o in orders if o.user_tag == client_order_id]
        for order in orders:
            self._tags.setdefault(order.basket_id, order.user_tag)
        return matches[0] if matches else None

    def supports(self, order: OrderRequest) -> bool:
        """Market, limit, stop and stop-limit orders; no take-profit type (a limit order is one),
        OCO group, bracket or close-position order through this adapter (the caller emulates the
        group and sizes to the position)."""
        return order.order_type in PRICE_TYPES and not (
            order.oco_group or order.parent_client_order_id or order.close_position)

    def supports_group(self, orders: list[OrderRequest]) -> bool:
        return all(map(self.supports, orders))

    async def place_orders(self, orders: list[OrderRequest]) -> list[OrderState]:
        return await place_in_turn(self, orders)

    async def place_order(self, order: OrderRequest) -> OrderState:
        check_request(order)
        if not self.supports(order):
            raise VenueError(ErrorKind.REJECTED, f"Rithmic takes no {order.order_type} order here "
                                                 "(nor OCO, bracket or close-position orders)")
        instrument = await self.instrument(order.symbol)
        limit = order.order_type in LIMIT_TYPES
        fitted = instrument.fit_quantity(order.quantity)
        if not fitted.ok:
            raise VenueError(ErrorKind.REJECTED, f"{order.quantity} contracts round to {fitted.quantity}: "
                                                 f"below the minimum of {instrument.min_quantity}")
        quantity = fitted.quantity
        await self._ready()
        if order.client_order_id in self._used_tags:
            raise VenueError(ErrorKind.REJECTED, f"order id {order.client_order_id} was used before")
        if order.reduce_only:
            held = {p.symbol: p.quantity for p in await self.positions()}.get(order.symbol, ZERO)
            if held == 0 or (held > 0) == (order.side == "buy"):
                raise VenueError(ErrorKind.REJECTED, f"reduce-only {order.side}: no {order.symbol} position to reduce")
            quantity = min(quantity, abs(held))
        extra: dict = {"account_id": self.account_id,
                       "duration": DURATIONS.get(order.time_in_force, OrderDuration.DAY) if limit else OrderDuration.DAY}
        if limit:
            steps = (order.price / instrument.tick_size).to_integral_value(
                rounding=ROUND_FLOOR if order.side == "buy" else ROUND_CEILING)
            extra["price"] = float(steps * instrument.tick_size)
        if order.triggered:
            steps = (order.trigger_price / instrument.tick_size).to_integral_value(ROUND_HALF_UP)
            extra["trigger_price"] = float(steps * instrument.tick_size)
        plant = self._plant("order")
        self._used_tags.add(order.client_order_id)
        submit = asyncio.ensure_future(plant.submit_order(
            order.client_order_id, instrument.venue_symbol, EXCHANGE, int(quantity),
            TransactionType.BUY if order.side == "buy" else TransactionType.SELL,
            PRICE_TYPES[order.order_type], **extra))
        lost = asyncio.ensure_future(self._until_disconnected(plant))
        try:
            done, _ = await asyncio.wait({submit, lost}, timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if submit not in done:
            submit.cancel()
            why = "the connection dropped" if lost in done else f"no answer within {self.timeout_s}s"
            raise VenueError(ErrorKind.UNKNOWN_OUTCOME, f"order {order.client_order_id} sent, then {why}")
        try:
            responses = submit.result()
        except Exception as exc:  # noqa: BLE001
            raise self.classify(exc, order_sent=True) from exc
        if not responses:
            error = self._refusal(order.client_order_id, order_sent=True)
            if error.kind != ErrorKind.UNKNOWN_OUTCOME:
                self._used_tags.discard(order.client_order_id)  # refused: no order carries the tag
            raise error
        ack = responses[0]
        self._tags[ack.basket_id] = order.client_order_id
        latest = self._latest.get(order.client_order_id)
        if latest is not None and latest.venue_order_id == ack.basket_id:
            return latest
        return OrderState(order.client_order_id, ack.basket_id, order.symbol, order.side, quantity, ZERO, None, "open",
                          self._stamp(ack.ssboe, ack.usecs), order.order_type, Decimal(str(extra["price"])) if limit
                          else None, trigger_price=_dec(extra["trigger_price"]) if order.triggered else None)

    @staticmethod
    async def _until_disconnected(plant) -> None:
        while plant.is_connected:
            await asyncio.sleep(WATCH_S / 4)

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderState:
        current = await self.fetch_order(client_order_id, symbol)
        if current is None or not current.is_open:
            raise VenueError(ErrorKind.REJECTED, f"order {client_order_id} is not open "
                                                 f"({current.status if current else 'unknown'})")
        responses = await self._call("order", self._plant("order").cancel_order,
                                     basket_id=current.venue_order_id, account_id=self.account_id)
        if not responses:
            raise self._refusal("t316", order_sent=False)
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            latest = self._latest.get(client_order_id)
            if latest is not None and not latest.is_open:
                return latest
            await asyncio.sleep(WATCH_S / 4)
        return await self.fetch_order(client_order_id, symbol) or current

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderState | None:
        found = await self._find(client_order_id)
        return None if found is None else self._order_state(found)

    def _order_state(self, n) -> OrderState:
        if n.notify_type == XOrder.CANCEL:
            status = "canceled"
        elif n.notify_type == XOrder.REJECT:
            status = "rejected"
        elif n.status == "complete" or (n.total_fill_size and not n.total_unfilled_size):
            status = "closed"
        else:
            status = "open"
        return OrderState(
            client_order_id=n.user_tag, venue_order_id=n.basket_id, symbol=self._roots.get(n.symbol, n.symbol),
            side="buy" if n.transaction_type == XOrder.BUY else "sell", quantity=Decimal(n.quantity),
            filled_quantity=Decimal(n.total_fill_size),
            average_price=_dec(n.avg_fill_price) if n.total_fill_size else None, status=status,
            timestamp=self._stamp(n.ssboe, n.usecs) if n.ssboe else None,
            order_type=OUR_TYPES.get(n.price_type, "market"),
            price=_dec(n.price) if OUR_TYPES.get(n.price_type) in LIMIT_TYPES else None,
            trigger_price=_dec(n.trigger_price) if n.trigger_price else None,
            triggered=n.price_type in (XOrder.STOP_MARKET, XOrder.STOP_LIMIT) and (
                n.notify_type in (XOrder.TRIGGER, XOrder.FILL) or n.total_fill_size > 0))

    # --- streams ---------------------------------------------------------------------------
    async def _on_exchange_notification(self, n) -> None:
        if n.is_snapshot:
            return
        self._used_tags.add(n.user_tag)
        self._tags.setdefault(n.basket_id, n.user_tag)
        state = self._order_state(n)
        self._latest[n.user_tag] = state
        for queue in list(self._order_queues):
            queue.put_nowait(state)
        if n.notify_type == XOrder.FILL and n.fill_id:
            self._deliver(Fill(n.fill_id, n.basket_id, n.user_tag, state.symbol, state.side, Decimal(n.fill_size),
                               _dec(n.fill_price), ZERO, "USD", self._stamp(n.ssboe, n.usecs)))

    def _remember(self, fill_id: str) -> bool:
        """False when the fill was delivered already."""
        if fill_id in self._seen:
            return False
        self._seen[fill_id] = None
        if len(self._seen) > SEEN_FILLS:
            self._seen.popitem(last=False)
        return True

    def _deliver(self, fill: Fill) -> None:
        if not self._fill_queues or not self._remember(fill.venue_trade_id):
            return  # nobody listening (the history hands it over later), or delivered already
        for queue in list(self._fill_queues):
            queue.put_nowait(fill)

    async def _watch_plants(self) -> None:
        """Notice a plant's connection going away (async_rithmic reconnects by itself)."""
        while not self._closed and self.client is not None:
            for name in ("order", "pnl", "ticker", "history"):
                plant = self._plant(name)
                if self._up.get(name) and not plant.is_connected:
                    self._up[name] = False
                    if name == "order" and self._streams_down_since is None:
                        self._streams_down_since = time.time() - 1.0
                        self._stream_state(False)
            await asyncio.sleep(WATCH_S)

    async def _recover_streams(self) -> None:
        """Logged in again: deliver what traded while the order plant was away, then report up."""
        since = self._streams_down_since
        for attempt in range(5):
            try:
                missed = await self._fill_history(datetime.fromtimestamp(since, UTC))
                break
            except VenueError as err:
                log.warning("rithmic fill backfill failed (%s), retrying", err)
                await asyncio.sleep(0.2 * (attempt + 1))
        else:
            return
        for fill in missed:
            self._deliver(replace(fill, backfilled=True))
        self._streams_down_since = None
        self._stream_state(True)

    def _stream_state(self, up: bool) -> None:
        streams = (["fill"] if self._fill_queues else []) + (["order"] if self._order_queues else [])
        tell_stream_listeners(self._listeners, streams, up)

    def add_stream_listener(self, name: str, listener: Callable[[str, bool], None]) -> None:
        self._listeners[name] = listener

    async def _stream(self, queues: set[asyncio.Queue],
                      first: Callable[[], Awaitable[list]] | None = None) -> AsyncIterator:
        """What the plant notifies, from now on; `first()`'s items before, read once subscribed
        (so nothing falls between)."""
        queue: asyncio.Queue = asyncio.Queue()
        queues.add(queue)
        try:
            if self.client is None:
                await self.connect()
            for item in await first() if first is not None else []:
                yield item
            while True:
                yield await queue.get()
        finally:
            queues.discard(queue)

    async def fills(self, since: FillCursor | None = None) -> AsyncIterator[Fill]:
        """Fill notifications of the order plant; with `since`, first the fill history (3512)
        from the cursor, once the notifications are subscribed (so nothing falls between)."""
        queue: asyncio.Queue = asyncio.Queue()
        self._fill_queues.add(queue)
        try:
            if self.client is None:
                await self.connect()
            if since is not None:
                for attempt in range(5):
                    try:
                        missed = await self._fill_history(since.since() - timedelta(seconds=1))
                        break
                    except VenueError as err:
                        if attempt == 4:
                            raise
                        log.warning("rithmic fill history failed (%s), retrying", err)
                        await asyncio.sleep(0.2 * (attempt + 1))
                # What came live while the history was read stays in time order with it.
                live = [queue.get_nowait() for _ in range(queue.qsize())]
                recovered = []
                for fill in missed:
                    if not since.covers(fill.symbol, fill.venue_trade_id, fill.timestamp) and \
                            self._remember(fill.venue_trade_id):
                        recovered.append(replace(fill, backfilled=True))
                for fill in sorted(recovered + live, key=lambda f: f.timestamp):
                    yield fill
            while True:
                yield await queue.get()
        finally:
            self._fill_queues.discard(queue)

    def order_updates(self) -> AsyncIterator[OrderState]:
        """Order notifications; first the account's working orders, so one placed before the
        stream was followed (a watcher starting or restarting) is reported, not missed until it
        next changes."""
        return self._stream(self._order_queues, self._working_orders)

    async def _working_orders(self) -> list[OrderState]:
        try:
            working = await self._call("order", self._plant("order").list_orders, account_id=self.account_id)
        except VenueError as exc:  # followed from now on regardless
            log.warning("rithmic working orders not read at the order stream's start: %s", exc)
            return []
        for order in working:
            self._tags.setdefault(order.basket_id, order.user_tag)
        return [state for state in map(self._order_state, working) if state.status == "open"]


def from_credential(*, api_key: str, api_secret: str, passphrase: str, venue_url: str = "") -> RithmicVenue:
    """A Rithmic account from the vault's credential fields: api_key = the Rithmic user name,
    api_secret = its password, passphrase = "<system name>" or "<system name>|<account id>"
    (e.g. "Rithmic Paper Trading|SIM-001"; without an account id the user's first account).
    The gateway is the venue's configured URL (wss://... for Rithmic's servers, ws://127.0.0.1:...
    for the loopback simulator), Rithmic's paper-trading gateway when none is configured."""
    system_name, _, account_id = passphrase.partition("|")
    return RithmicVenue(user=api_key, password=api_secret, system_name=system_name or "Rithmic Paper Trading",
                        account_id=account_id, url=venue_url or "rituz00100.rithmic.com:443")
