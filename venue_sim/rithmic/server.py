"""RithmicSim: the R|Protocol plants async_rithmic talks to, on one loopback WebSocket port.

Every frame is a 4-byte big-endian length and one protobuf message whose `template_id` says
which. A request's id travels in `user_msg` and is echoed; a multi-part answer sends parts with
`rq_handler_rp_code = ["0"]` and ends with a message carrying `rp_code` (["0"] = done, ["7", ...]
= no data, anything else = an error code and its text).

Served (what async_rithmic's connect() and our adapter use):
- any plant: 16→17 system info (the ticker plant asks first, on its own connection), 10→11
  login (user, password, system name; a wrong one gets rp_code ["13", "permission denied"]),
  18→19 heartbeat, 12→13 logout;
- order plant: 300→301 login info, 310→311 trade routes, 302→303 accounts, 308→309 order
  updates and 336→337 bracket updates subscriptions, 312→313 new order followed by rithmic
  (351) and exchange (352) order notifications with fills, 316→317 cancel, 320→321 show
  orders (the day's orders as 352 snapshots), 3512→3513 fill history;
- PnL plant: 402→403 position snapshot (450 per instrument, 451 for the account), 400→401;
- ticker plant: 100→101 market data subscription, answered with a LastTrade (150) snapshot
  and then a LastTrade at every price change;
- history plant: 202 time-bar replay, answered with 203 bars (`rq_handler_rp_code = ["0"]`)
  and a closing 203 (`rp_code = ["0"]`); bars come from a seeded random walk of hourly closes
  that ends at the current price.

The account is the only counterparty: market orders fill whole at the current price, limit
orders rest and fill whole at their limit when the price crosses. An order whose initial
margin the balance cannot cover is refused on its 313 (rp_code ["5", "... insufficient margin"]).
Like Rithmic, the server does not enforce unique user tags."""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import websockets
from async_rithmic import protocol_buffers as pb
from async_rithmic.plants.base import TEMPLATES_MAP
from websockets.asyncio.server import ServerConnection, serve

from venue_sim.cme import FUTURES, listed, rithmic_name

log = logging.getLogger("venue_sim.rithmic")

ORDER_PLANT, PNL_PLANT, TICKER_PLANT = 2, 4, 1
New = pb.request_new_order_pb2.RequestNewOrder
ROrder = pb.rithmic_order_notification_pb2.RithmicOrderNotification
XOrder = pb.exchange_order_notification_pb2.ExchangeOrderNotification
TRIGGERED_TYPES = (New.STOP_MARKET, New.STOP_LIMIT, New.MARKET_IF_TOUCHED, New.LIMIT_IF_TOUCHED)
LIMIT_TYPES = (New.LIMIT, New.STOP_LIMIT, New.LIMIT_IF_TOUCHED)
STOP_TIMEOUT_S = 5.0  # how long stop waits for connections to close


def reached(order: "SimOrder", price: float) -> bool:
    """A stop buys once the price rises to its trigger and sells once it falls to it; an
    if-touched order the other way."""
    against = order.price_type in (New.STOP_MARKET, New.STOP_LIMIT)
    return price >= order.trigger_price if (order.side == New.BUY) == against else price <= order.trigger_price


@dataclass
class SimOrder:
    basket_id: str
    user_tag: str
    account_id: str
    symbol: str
    exchange: str
    side: int  # New.BUY | New.SELL
    quantity: int
    price_type: int  # New.MARKET | New.LIMIT | New.STOP_MARKET | New.STOP_LIMIT | MARKET/LIMIT_IF_TOUCHED
    price: float
    duration: int
    trade_route: str
    trigger_price: float = 0.0
    triggered: bool = False  # a stop or if-touched order whose trigger price was reached
    status: str = "open"  # open | complete
    completion: str = ""  # "" | Fill | Cancel
    filled: int = 0
    average: float = 0.0
    at: float = field(default_factory=time.time)


@dataclass
class SimFill:
    fill_id: str
    basket_id: str
    user_tag: str
    account_id: str
    symbol: str
    exchange: str
    side: int
    size: int
    price: float
    at: float


@dataclass(eq=False)
class Session:
    ws: ServerConnection
    infra_type: int = 0
    user: str = ""
    order_updates: set[str] = field(default_factory=set)  # accounts subscribed with 308
    market_data: set[tuple[str, str]] = field(default_factory=set)


def frame(message) -> bytes:
    body = message.SerializeToString()
    return len(body).to_bytes(4, "big", signed=True) + body


class RithmicSim:
    def __init__(self, *, user: str = "trader", password: str = "secret",
                 system_name: str = "Rithmic Paper Trading", account_id: str = "SIM-001",
                 fcm_id: str = "SimFCM", ib_id: str = "SimIB", balance: str | Decimal = "100000",
                 prices: dict[str, str | Decimal] | None = None, heartbeat_interval: int = 60,
                 seed: int = 7, now: datetime | None = None) -> None:
        """now: the day the simulator lives on (the real one by default); it lists every quarterly
        month trading then, as CME does, and which one an adapter picks is the adapter's roll."""
        self.now = now
        self.user, self.password, self.system_name = user, password, system_name
        self.account_id, self.fcm_id, self.ib_id = account_id, fcm_id, ib_id
        self.balance = Decimal(str(balance))
        self.heartbeat_interval = heartbeat_interval
        self.symbols = {rithmic_name(root, month=m): root for root in FUTURES for m in listed(now)}
        # One price per root across its months (the simulator has no calendar spread).
        self._prices = {name: float((prices or {}).get(root, "5000")) for name, root in self.symbols.items()}
        self._rng = random.Random(seed)
        self.orders: dict[str, SimOrder] = {}
        self.fills: list[SimFill] = []
        self._positions: dict[str, tuple[int, float]] = {}  # symbol -> (signed qty, average entry)
        self._sessions: set[Session] = set()
        self._faults: list[tuple[str, dict]] = []
        self._query_latency = 0.0
        self._serial = 0
        self._server = None
        self._background: set[asyncio.Task] = set()
        self.url = ""
        self.certificate = ""  # PEM of the self-signed certificate when serving wss://

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0, *, tls_dir: str | None = None) -> RithmicSim:
        """Listen on ws://host:port, or with tls_dir on wss:// with a self-signed certificate
        for the host written there (`self.certificate`: give it to the client to trust)."""
        context = None
        if tls_dir is not None:
            context = self._tls(host, tls_dir)
        self._server = await serve(self._handle, host, port, max_size=2**20, ping_interval=None, ssl=context)
        sock_port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"{'wss' if context else 'ws'}://{host}:{sock_port}"
        return self

    def _tls(self, host: str, tls_dir: str) -> ssl.SSLContext:
        import ipaddress
        from datetime import datetime, timedelta, timezone
        from pathlib import Path

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rithmic-sim")])
        try:
            alt = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            alt = x509.DNSName(host)
        now = datetime.now(timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=1)).add_extension(x509.SubjectAlternativeName([alt]), False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), True).sign(key, hashes.SHA256()))
        folder = Path(tls_dir)
        self.certificate = str(folder / "rithmic-sim.pem")
        (folder / "rithmic-sim.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / "rithmic-sim.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "rithmic-sim.pem", folder / "rithmic-sim.key")
        return context

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._server is not None:
            self._server.close()
            try:  # a connection's handler still at work (a client not answering the close) must not hold stop
                await asyncio.wait_for(self._server.wait_closed(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("rithmic simulator: connections still closing after %.0f s; stopped anyway", STOP_TIMEOUT_S)
            self._server = None

    async def __aenter__(self) -> RithmicSim:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # --- admin hooks -----------------------------------------------------------------------
    def price(self, root: str) -> Decimal:
        return Decimal(str(self._prices[rithmic_name(root, self.now)]))

    async def set_price(self, root: str, price: str | Decimal) -> None:
        """Move the last price (subscribers get a LastTrade); resting limits it crosses fill."""
        for symbol in [name for name, of in self.symbols.items() if of == root]:
            self._prices[symbol] = float(price)
            await self._publish_trade(symbol)
            for order in list(self.orders.values()):
                if order.status != "open" or order.symbol != symbol:
                    continue
                if order.price_type in TRIGGERED_TYPES and not order.triggered:
                    if not reached(order, self._prices[symbol]):
                        continue
                    await self._trigger(order)
                elif self._crosses(order):
                    await self._fill(order, order.price)

    def orders_with_tag(self, user_tag: str) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.user_tag == user_tag]

    def position(self, root: str) -> int:
        """The position in the root's front month (CME's roll date, venue_sim.cme, on the simulator's day)."""
        return self._positions.get(rithmic_name(root, self.now), (0, 0.0))[0]

    def inject(self, kind: str, **params) -> None:
        """The next new order (312) meets a fault: reject | rate_limit | error_after_accept |
        unknown_after_accept | disconnect_after_accept | latency (latency_ms). query_latency
        (latency_ms): the next order/PnL/fill query is answered that late."""
        if kind == "query_latency":
            self._query_latency = params.get("latency_ms", 0) / 1000
        else:
            self._faults.append((kind, params))

    def stream_subscribed(self, account_id: str | None = None) -> bool:
        return any((account_id or self.account_id) in s.order_updates for s in self._sessions)

    async def drop_streams(self, account_id: str | None = None) -> int:
        """Close the order-plant connections of the account (where its notifications flow)."""
        victims = [s for s in self._sessions if (account_id or self.account_id) in s.order_updates]
        for session in victims:
            self._sessions.discard(session)
            await session.ws.close(1011, "connection reset")
        return len(victims)

    # --- the protocol ----------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        session = Session(ws)
        self._sessions.add(session)
        try:
            async for data in ws:
                if not isinstance(data, bytes) or len(data) < 4:
                    continue
                base = pb.base_pb2.Base()
                base.ParseFromString(data[4:])
                cls = TEMPLATES_MAP.get(base.template_id)
                if cls is None:
                    continue
                request = cls()
                request.ParseFromString(data[4:])
                try:
                    await self._dispatch(session, request)
                except websockets.ConnectionClosed:
                    raise
                except Exception:  # noqa: BLE001 - one bad request does not end the session
                    log.exception("rithmic sim: request %s failed", base.template_id)
        except websockets.ConnectionClosed:
            pass
        finally:
            self._sessions.discard(session)

    async def _send(self, session: Session, message) -> None:
        try:
            await session.ws.send(frame(message))
        except websockets.ConnectionClosed:
            self._sessions.discard(session)

    def _reply(self, cls, request, rp_code=("0",), **fields):
        message = cls(template_id=request.template_id + 1, **fields)
        message.user_msg.extend(request.user_msg)
        if rp_code is not None:
            message.rp_code.extend(rp_code)
        return message

    def _part(self, cls, request, **fields):
        message = cls(template_id=request.template_id + 1, **fields)
        message.user_msg.extend(request.user_msg)
        message.rq_handler_rp_code.append("0")
        return message

    async def _dispatch(self, s: Session, rq) -> None:
        t = rq.template_id
        if t == 16:
            reply = self._reply(pb.response_rithmic_system_info_pb2.ResponseRithmicSystemInfo, rq)
            reply.system_name.append(self.system_name)
            reply.has_aggregated_quotes.append(False)
            await self._send(s, reply)
        elif t == 10:
            if (rq.user, rq.password, rq.system_name) != (self.user, self.password, self.system_name):
                await self._send(s, self._reply(pb.response_login_pb2.ResponseLogin, rq, ("13", "permission denied")))
                return
            s.infra_type, s.user = rq.infra_type, rq.user
            await self._send(s, self._reply(pb.response_login_pb2.ResponseLogin, rq, fcm_id=self.fcm_id,
                                            ib_id=self.ib_id, heartbeat_interval=self.heartbeat_interval,
                                            unique_user_id=rq.user))
        elif not s.user:
            await self._send(s, self._not_logged_in(rq))
        elif t == 18:
            await self._send(s, self._reply(pb.response_heartbeat_pb2.ResponseHeartbeat, rq,
                                            ssboe=int(time.time()), usecs=0))
        elif t == 12:
            await self._send(s, self._reply(pb.response_logout_pb2.ResponseLogout, rq))
        elif t == 300:
            await self._send(s, self._reply(pb.response_login_info_pb2.ResponseLoginInfo, rq, fcm_id=self.fcm_id,
                                            ib_id=self.ib_id, user=s.user, user_type=3))
        elif t == 310:
            cls = pb.response_trade_routes_pb2.ResponseTradeRoutes
            await self._send(s, self._part(cls, rq, fcm_id=self.fcm_id, ib_id=self.ib_id, exchange="CME",
                                           trade_route="simulator", status="UP", is_default=True))
            await self._send(s, self._reply(cls, rq))
        elif t == 302:
            cls = pb.response_account_list_pb2.ResponseAccountList
            await self._send(s, self._part(cls, rq, fcm_id=self.fcm_id, ib_id=self.ib_id, account_id=self.account_id,
                                           account_name=self.account_id, account_currency="USD"))
            await self._send(s, self._reply(cls, rq))
        elif t == 308:
            s.order_updates.add(rq.account_id)
            await self._send(s, self._reply(pb.response_subscribe_for_order_updates_pb2.ResponseSubscribeForOrderUpdates, rq))
        elif t == 336:
            await self._send(s, self._reply(
                pb.response_subscribe_to_bracket_updates_pb2.ResponseSubscribeToBracketUpdates, rq))
        elif t == 312:
            await self._new_order(s, rq)
        elif t == 316:
            await self._cancel(s, rq)
        elif t == 320:
            await self._later_query(self._show_orders(s, rq))
        elif t == 3512:
            await self._later_query(self._fill_history(s, rq))
        elif t == 402:
            await self._later_query(self._pnl_snapshot(s, rq))
        elif t == 202:
            await self._time_bars(s, rq)
        elif t == 400:
            await self._send(s, self._reply(pb.response_pnl_position_updates_pb2.ResponsePnLPositionUpdates, rq))
        elif t == 100:
            key = (rq.symbol, rq.exchange)
            if rq.request == pb.request_market_data_update_pb2.RequestMarketDataUpdate.Request.UNSUBSCRIBE:
                s.market_data.discard(key)
                await self._send(s, self._reply(pb.response_market_data_update_pb2.ResponseMarketDataUpdate, rq))
                return
            if rq.symbol not in self._prices:
                await self._send(s, self._reply(pb.response_market_data_update_pb2.ResponseMarketDataUpdate, rq,
                                                ("7", "no data")))
                return
            s.market_data.add(key)
            await self._send(s, self._reply(pb.response_market_data_update_pb2.ResponseMarketDataUpdate, rq))
            await self._send(s, self._last_trade(rq.symbol, rq.exchange, snapshot=True))
        else:
            log.info("rithmic sim: template %s not simulated", t)
            await self._send(s, self._not_logged_in(rq, ("1", f"template {t} not supported")))

    def _not_logged_in(self, rq, code=("3", "not logged in")):
        reject = pb.reject_pb2.Reject(template_id=75)
        reject.user_msg.extend(rq.user_msg)
        reject.rp_code.extend(code)
        return reject

    async def _later_query(self, coro) -> None:
        delay, self._query_latency = self._query_latency, 0.0
        if delay:
            self._spawn(self._after(delay, coro))
        else:
            await coro

    async def _after(self, delay: float, coro) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            coro.close()  # stopped before its time: never sent
            raise
        await coro

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- orders ----------------------------------------------------------------------------
    async def _new_order(self, s: Session, rq) -> None:
        kind, params = self._faults.pop(0) if self._faults else ("", {})
        reply_cls = pb.response_new_order_pb2.ResponseNewOrder
        refusal = self._refusal(rq)
        if kind == "reject":
            refusal = ("5", "order rejected: price out of band")
        elif kind == "rate_limit":
            refusal = ("6", "rate limit exceeded")
        if refusal:
            await self._send(s, self._reply(reply_cls, rq, refusal, user_tag=rq.user_tag))
            return
        self._serial += 1
        order = SimOrder(f"SIM{self._serial:08d}", rq.user_tag, rq.account_id, rq.symbol, rq.exchange,
                         rq.transaction_type, rq.quantity, rq.price_type, rq.price, rq.duration, rq.trade_route,
                         trigger_price=rq.trigger_price)
        self.orders[order.basket_id] = order
        now = time.time()
        ack = self._reply(reply_cls, rq, user_tag=rq.user_tag, basket_id=order.basket_id, ssboe=int(now),
                          usecs=int(now % 1 * 1e6))
        if kind == "latency":
            await self._accept(order)
            self._spawn(self._after(params.get("latency_ms", 0) / 1000, self._send(s, ack)))
        elif kind in ("error_after_accept", "unknown_after_accept"):
            await self._accept(order)
            text = "internal error" if kind == "error_after_accept" else "order status unknown"
            await self._send(s, self._not_logged_in(rq, ("1", text)))  # a Reject (75): the request failed
        elif kind == "disconnect_after_accept":
            self._sessions.discard(s)
            await self._accept(order)
            await s.ws.close(1011, "connection reset")
        else:
            await self._send(s, ack)
            await self._accept(order)

    def _refusal(self, rq) -> tuple[str, str] | None:
        if rq.account_id != self.account_id:
            return ("3", "permission denied: account")
        if rq.symbol not in self._prices or rq.exchange != "CME":
            return ("5", f"rejected: no such instrument {rq.symbol} {rq.exchange}")
        if rq.quantity <= 0 or rq.transaction_type not in (New.BUY, New.SELL) or rq.price_type not in (
                New.MARKET, *LIMIT_TYPES, *TRIGGERED_TYPES) or (rq.price_type in LIMIT_TYPES and rq.price <= 0) or (
                rq.price_type in TRIGGERED_TYPES and rq.trigger_price <= 0):
            return ("5", "rejected: invalid order")
        exposure = {symbol: abs(q) for symbol, (q, _) in self._positions.items()}
        for o in self.orders.values():
            if o.status == "open":
                exposure[o.symbol] = exposure.get(o.symbol, 0) + o.quantity
        exposure[rq.symbol] = exposure.get(rq.symbol, 0) + rq.quantity
        margin = sum(FUTURES[self.symbols[symbol]].initial_margin * q for symbol, q in exposure.items())
        if margin > self.balance:
            return ("5", "rejected: insufficient margin")
        return None

    async def _accept(self, order: SimOrder) -> None:
        if order.price_type in TRIGGERED_TYPES:  # held by the server until the price reaches its trigger
            await self._notify(order, ROrder.TRIGGER_PENDING, XOrder.STATUS)
            if reached(order, self._prices[order.symbol]):
                await self._trigger(order)
            return
        await self._notify(order, ROrder.OPEN, XOrder.STATUS)
        if order.price_type == New.MARKET or self._crosses(order):
            await self._fill(order, self._prices[order.symbol])

    async def _trigger(self, order: SimOrder) -> None:
        """The trigger is reached: a stop (if-touched) market order fills at the price, a limit one
        works at its limit price."""
        order.triggered = True
        await self._notify(order, ROrder.OPEN, XOrder.TRIGGER)
        if order.price_type in (New.STOP_MARKET, New.MARKET_IF_TOUCHED) or self._crosses(order):
            await self._fill(order, self._prices[order.symbol])

    def _crosses(self, order: SimOrder) -> bool:
        price = self._prices[order.symbol]
        working_limit = order.price_type == New.LIMIT or (order.price_type in LIMIT_TYPES and order.triggered)
        return working_limit and (price <= order.price if order.side == New.BUY else price >= order.price)

    async def _fill(self, order: SimOrder, price: float) -> None:
        now = time.time()
        self._serial += 1
        fill = SimFill(f"F{self._serial:08d}", order.basket_id, order.user_tag, order.account_id, order.symbol,
                       order.exchange, order.side, order.quantity - order.filled, price, now)
        self.fills.append(fill)
        order.average = (order.average * order.filled + price * fill.size) / (order.filled + fill.size)
        order.filled += fill.size
        order.status, order.completion = "complete", "Fill"
        qty, entry = self._positions.get(order.symbol, (0, 0.0))
        delta = fill.size if order.side == New.BUY else -fill.size
        new = qty + delta
        if new == 0:
            entry = 0.0
        elif qty == 0 or (qty > 0) != (new > 0):
            entry = price
        elif (qty > 0) == (delta > 0):
            entry = (entry * abs(qty) + price * abs(delta)) / abs(new)
        self._positions[order.symbol] = (new, entry)
        await self._notify(order, ROrder.COMPLETE, XOrder.FILL, fill)

    async def _cancel(self, s: Session, rq) -> None:
        cls = pb.response_cancel_order_pb2.ResponseCancelOrder
        order = self.orders.get(rq.basket_id)
        if order is None or order.account_id != rq.account_id:
            await self._send(s, self._reply(cls, rq, ("5", "no such order"), basket_id=rq.basket_id))
            return
        if order.status != "open":
            await self._send(s, self._reply(cls, rq, ("5", "order is not working"), basket_id=rq.basket_id))
            return
        now = time.time()
        await self._send(s, self._reply(cls, rq, basket_id=rq.basket_id, ssboe=int(now)))
        order.status, order.completion = "complete", "Cancel"
        await self._notify(order, ROrder.COMPLETE, XOrder.CANCEL)

    def _exchange_notification(self, order: SimOrder, notify_type: int, fill: SimFill | None = None,
                               snapshot: bool = False) -> XOrder:
        now = fill.at if fill else time.time()
        message = XOrder(
            template_id=352, user_tag=order.user_tag, notify_type=notify_type, is_snapshot=snapshot,
            status=order.status, basket_id=order.basket_id, fcm_id=self.fcm_id, ib_id=self.ib_id, user_id=self.user,
            account_id=order.account_id, symbol=order.symbol, exchange=order.exchange, trade_exchange="CME",
            trade_route=order.trade_route, exchange_order_id=f"X{order.basket_id}", instrument_type="Future",
            quantity=order.quantity, price=order.price, trigger_price=order.trigger_price,
            transaction_type=order.side, duration=order.duration,
            price_type=order.price_type, avg_fill_price=order.average, total_fill_size=order.filled,
            total_unfilled_size=0 if order.status == "complete" else order.quantity - order.filled,
            currency="USD", ssboe=int(now), usecs=int(now % 1 * 1e6))
        if notify_type == XOrder.CANCEL:
            message.cancelled_size = order.quantity - order.filled
        if fill is not None:
            message.fill_price, message.fill_size, message.fill_id = fill.price, fill.size, fill.fill_id
            message.fill_time = time.strftime("%H:%M:%S", time.gmtime(fill.at))
            message.fill_date = time.strftime("%Y%m%d", time.gmtime(fill.at))
        return message

    async def _notify(self, order: SimOrder, rithmic_type: int, exchange_type: int, fill: SimFill | None = None) -> None:
        now = time.time()
        rithmic = ROrder(template_id=351, user_tag=order.user_tag, notify_type=rithmic_type, status=order.status,
                         basket_id=order.basket_id, fcm_id=self.fcm_id, ib_id=self.ib_id, user_id=self.user,
                         account_id=order.account_id, symbol=order.symbol, exchange=order.exchange,
                         trade_route=order.trade_route, quantity=order.quantity, price=order.price,
                         trigger_price=order.trigger_price,
                         transaction_type=order.side, duration=order.duration, price_type=order.price_type,
                         avg_fill_price=order.average, total_fill_size=order.filled,
                         total_unfilled_size=0 if order.status == "complete" else order.quantity - order.filled,
                         completion_reason=order.completion, ssboe=int(now), usecs=int(now % 1 * 1e6))
        exchange = self._exchange_notification(order, exchange_type, fill)
        for session in [s for s in self._sessions if order.account_id in s.order_updates]:
            await self._send(session, rithmic)
            await self._send(session, exchange)

    async def _show_orders(self, s: Session, rq) -> None:
        for order in self.orders.values():
            if order.account_id == rq.account_id:
                kind = XOrder.STATUS if order.status == "open" else (
                    XOrder.FILL if order.completion == "Fill" else XOrder.CANCEL)
                await self._send(s, self._exchange_notification(order, kind, snapshot=True))
        await self._send(s, self._reply(pb.response_show_orders_pb2.ResponseShowOrders, rq))

    async def _fill_history(self, s: Session, rq) -> None:
        cls = pb.response_show_fill_history_pb2.ResponseShowFillHistory
        for fill in self.fills:
            if fill.account_id == rq.account_id and rq.start_index <= int(fill.at) <= (rq.finish_index or 2**62):
                order = self.orders[fill.basket_id]
                await self._send(s, self._part(
                    cls, rq, basket_id=fill.basket_id, fcm_id=self.fcm_id, ib_id=self.ib_id, account_id=fill.account_id,
                    symbol=fill.symbol, exchange=fill.exchange, trade_exchange="CME", trade_route=order.trade_route,
                    exchange_order_id=f"X{fill.basket_id}", transaction_type=New.TransactionType.Name(fill.side),
                    duration=New.Duration.Name(order.duration), price_type=New.PriceType.Name(order.price_type), fill_time=time.strftime("%H:%M:%S", time.gmtime(fill.at)),
                    fill_date=time.strftime("%Y%m%d", time.gmtime(fill.at)), fill_id=fill.fill_id, price=order.price,
                    fill_price=fill.price, avg_fill_price=order.average, fill_size=fill.size,
                    total_fill_size=order.filled, ssboe=int(fill.at), usecs=int(fill.at % 1 * 1e6)))
        await self._send(s, self._reply(cls, rq))

    async def _pnl_snapshot(self, s: Session, rq) -> None:
        now = time.time()
        open_pnl = 0.0
        for symbol, (qty, entry) in self._positions.items():
            if qty == 0:
                continue
            multiplier = float(FUTURES[self.symbols[symbol]].multiplier)
            pnl = (self._prices[symbol] - entry) * qty * multiplier
            open_pnl += pnl
            await self._send(s, pb.instrument_pnl_position_update_pb2.InstrumentPnLPositionUpdate(
                template_id=450, is_snapshot=True, fcm_id=self.fcm_id, ib_id=self.ib_id, account_id=rq.account_id,
                symbol=symbol, exchange="CME", product_code=self.symbols[symbol], instrument_type="Future",
                buy_qty=max(qty, 0), sell_qty=max(-qty, 0), net_quantity=qty, open_position_quantity=abs(qty),
                avg_open_fill_price=entry, open_position_pnl=f"{pnl:.2f}", ssboe=int(now)))
        used = sum(FUTURES[self.symbols[sym]].initial_margin * abs(q) for sym, (q, _) in self._positions.items())
        await self._send(s, pb.account_pnl_position_update_pb2.AccountPnLPositionUpdate(
            template_id=451, is_snapshot=True, fcm_id=self.fcm_id, ib_id=self.ib_id, account_id=rq.account_id,
            account_balance=str(self.balance), cash_on_hand=str(self.balance), open_position_pnl=f"{open_pnl:.2f}",
            used_buying_power=str(used), available_buying_power=str(self.balance - used), ssboe=int(now)))
        await self._send(s, self._reply(pb.response_pnl_position_snapshot_pb2.ResponsePnLPositionSnapshot, rq))

    # --- market data -----------------------------------------------------------------------
    async def _time_bars(self, s: Session, rq) -> None:
        cls = pb.response_time_bar_replay_pb2.ResponseTimeBarReplay
        period_s = rq.bar_type_period * {1: 1, 2: 60, 3: 86400, 4: 7 * 86400}.get(rq.bar_type, 60)
        if rq.symbol not in self._prices or period_s <= 0:
            await self._send(s, self._reply(cls, rq, ("7", "no data")))
            return
        now = int(time.time())
        last_end = now - now % period_s  # the last bar that has closed
        first_end = max(rq.start_index - rq.start_index % period_s + period_s, last_end - 500 * period_s)
        ends = list(range(first_end, min(last_end, rq.finish_index or last_end) + 1, period_s))
        close, closes = self._prices[rq.symbol], []
        for _ in ends:  # walk back from the current price
            closes.append(close)
            close = round(close * (1 + self._rng.gauss(0, 0.002)) * 4) / 4
        for end, close in zip(ends, reversed(closes)):
            bar = cls(template_id=203, symbol=rq.symbol, exchange=rq.exchange, type=rq.bar_type,
                      period=str(rq.bar_type_period), marker=end, num_trades=100, volume=1000, open_price=close,
                      close_price=close, high_price=close, low_price=close)
            bar.user_msg.extend(rq.user_msg)
            bar.rq_handler_rp_code.append("0")
            await self._send(s, bar)
        await self._send(s, self._reply(cls, rq))

    def _last_trade(self, symbol: str, exchange: str, snapshot: bool = False):
        now = time.time()
        return pb.last_trade_pb2.LastTrade(
            template_id=150, symbol=symbol, exchange=exchange, presence_bits=1, is_snapshot=snapshot,
            trade_price=self._prices[symbol], trade_size=1, ssboe=int(now), usecs=int(now % 1 * 1e6))

    async def _publish_trade(self, symbol: str) -> None:
        for session in [s for s in self._sessions if any(k[0] == symbol for k in s.market_data)]:
            await self._send(session, self._last_trade(symbol, "CME"))
