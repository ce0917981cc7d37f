"""The simulator's HTTP + WebSocket server (aiohttp): Binance's spot REST API and WebSocket
API user-data stream with its authentication, plus an admin API under /_sim/ for tests,
demos and benchmarks (create accounts, fund, move prices, inject faults, inspect orders)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from venue_sim import wire
from venue_sim.exchange import Account, Exchange, Order, Trade, VenueError, parse_decimal
from venue_sim.futures import Futures, FuturesOrder

log = logging.getLogger("venue_sim")
MAX_RECV_WINDOW_MS = 60_000


@dataclass
class Fault:
    """An injected failure. kind: latency | http_5xx_after_accept | unknown_after_accept (-1007) |
    rate_limit (429 / 418 with Retry-After) | reject (a given code and message)."""

    kind: str
    endpoint: str = "POST /api/v3/order"
    account: str = "*"
    count: int = 1  # how many requests it hits; -1 for every request
    latency_ms: int = 0
    status: int = 0
    code: int = 0
    msg: str = ""
    retry_after: int = 1

    def matches(self, endpoint: str, account: Account | None) -> bool:
        return self.count != 0 and self.endpoint == endpoint and self.account in ("*", account.name if account else "")


class Simulator:
    def __init__(self, seed: int = 0, host: str = "127.0.0.1", port: int = 0,
                 tick_interval: float | None = None) -> None:
        self.exchange = Exchange(seed=seed)
        self.host, self.port = host, port
        self.tick_interval = tick_interval
        self.faults: list[Fault] = []
        self.request_log: list[tuple[str, str]] = []  # (endpoint, account) of every authenticated call
        self._streams: dict[str, list[asyncio.Queue]] = {}  # api key -> user-data socket queues
        self._sockets: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task | None = None
        self.exchange.listeners.append(self._on_order_event)
        self.futures = Futures(self.exchange)
        self.futures.listeners.append(self._on_futures_event)
        self.exchange.price_hooks.append(self.futures.match_resting)
        self._listen_keys: dict[str, str] = {}  # listenKey -> api key
        self._futures_streams: dict[str, list[asyncio.Queue]] = {}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> "Simulator":
        app = web.Application()
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        if self.tick_interval:
            self._ticker = asyncio.create_task(self._tick_forever())
        return self

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        for queues in [*self._streams.values(), *self._futures_streams.values()]:
            for queue in queues:
                queue.put_nowait(None)
        for ws in list(self._sockets):  # open sockets would hold the shutdown for its full timeout
            await ws.close()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            self.exchange.step_prices()

    # --- conveniences for in-process callers (the admin API does the same over HTTP) ------
    def create_account(self, name: str, balances: dict[str, str] | None = None) -> Account:
        return self.exchange.create_account(name, balances)

    def orders(self, name: str) -> list[Order]:
        """Every order that really reached the venue for this account, oldest first."""
        return sorted(self.exchange.account_by_name(name).orders.values(), key=lambda o: o.order_id)

    def inject(self, **fault) -> Fault:
        item = Fault(**fault)
        self.faults.append(item)
        return item

    # --- routing -------------------------------------------------------------------------
    def _routes(self) -> list:
        public = [("GET", "/api/v3/ping", self.ping), ("GET", "/api/v3/time", self.time),
                  ("GET", "/api/v3/exchangeInfo", self.exchange_info), ("GET", "/api/v3/ticker/price", self.ticker),
                  ("GET", "/api/v3/ticker/24hr", self.ticker_24hr),
                  ("GET", "/api/v3/klines", self.klines)]
        signed = [("GET", "/api/v3/account", self.account), ("POST", "/api/v3/order", self.new_order),
                  ("GET", "/api/v3/order", self.query_order), ("DELETE", "/api/v3/order", self.cancel),
                  ("GET", "/api/v3/openOrders", self.open_orders), ("GET", "/api/v3/myTrades", self.my_trades)]
        public += [("GET", "/fapi/v1/ping", self.ping), ("GET", "/fapi/v1/time", self.time),
                   ("GET", "/fapi/v1/exchangeInfo", self.futures_exchange_info),
                   ("GET", "/fapi/v1/premiumIndex", self.premium_index)]
        signed += [(m, f"/fapi/{v}/{name}", h) for v in ("v2", "v3")
                   for m, name, h in (("GET", "account", self.futures_account), ("GET", "balance", self.futures_balance),
                                      ("GET", "positionRisk", self.position_risk))]
        signed += [("POST", "/fapi/v1/leverage", self.set_leverage), ("POST", "/fapi/v1/marginType", self.margin_type),
                   ("GET", "/fapi/v1/positionSide/dual", self.get_dual), ("POST", "/fapi/v1/positionSide/dual",
                                                                           self.set_dual),
                   ("POST", "/fapi/v1/order", self.futures_new_order), ("GET", "/fapi/v1/order", self.futures_query),
                   ("DELETE", "/fapi/v1/order", self.futures_cancel),
                   ("GET", "/fapi/v1/openOrders", self.futures_open_orders),
                   ("GET", "/fapi/v1/userTrades", self.futures_user_trades),
                   ("GET", "/fapi/v1/leverageBracket", self.leverage_brackets)]
        routes = [web.route(m, p, self._public(h)) for m, p, h in public]
        routes += [web.route(m, p, self._signed(f"{m} {p}", h)) for m, p, h in signed]
        routes += [web.route(m, "/fapi/v1/listenKey", self.listen_key) for m in ("POST", "PUT", "DELETE")]
        # Futures user data: /ws/<listenKey>, or the newer /private/ws?listenKey=... that ccxt.pro uses.
        routes += [web.get("/ws-api/v3", self.ws_api), web.get("/ws/{listen_key}", self.ws_listen_key),
                   web.get("/private/ws", self.ws_listen_key)]
        routes += [web.post("/_sim/accounts", self.admin_create_account),
                   web.post("/_sim/accounts/{name}/fund", self.admin_fund),
                   web.get("/_sim/accounts/{name}/orders", self.admin_orders),
                   web.get("/_sim/accounts/{name}/futures/orders", self.admin_futures_orders),
                   web.get("/_sim/accounts/{name}/futures/positions", self.admin_futures_positions),
                   web.get("/_sim/accounts/{name}/trades", self.admin_trades),
                   web.get("/_sim/accounts/{name}/balances", self.admin_balances),
                   web.post("/_sim/prices", self.admin_set_price),
                   web.post("/_sim/price-path", self.admin_price_path),
                   web.post("/_sim/tick", self.admin_tick),
                   web.post("/_sim/slippage", self.admin_slippage),
                   web.post("/_sim/faults", self.admin_add_fault),
                   web.delete("/_sim/faults", self.admin_clear_faults)]
        return routes

    @staticmethod
    def _error(err: VenueError) -> web.Response:
        return web.json_response({"code": err.code, "msg": err.msg}, status=err.status, headers=err.headers)

    def _public(self, handler):
        async def run(request: web.Request) -> web.Response:
            try:
                return web.json_response(await handler(request, dict(request.query)))
            except VenueError as err:
                return self._error(err)
        return run

    def _signed(self, endpoint: str, handler):
        async def run(request: web.Request) -> web.Response:
            account = None
            try:
                body = await request.text()
                account, params = self._authenticate(request.headers.get("X-MBX-APIKEY"), request.query_string, body)
                self.request_log.append((endpoint, account.name))
                after = await self._faults_before(endpoint, account)
                result = await handler(account, params)
                if after is not None:
                    raise after  # the venue did the work, but the caller is told otherwise
                return web.json_response(result)
            except VenueError as err:
                return self._error(err)
        return run

    def _authenticate(self, api_key: str | None, query: str, body: str) -> tuple[Account, dict[str, str]]:
        if not api_key:
            raise VenueError(401, -2014, "API-key format invalid.")
        account = self.exchange.accounts.get(api_key)
        if account is None:
            raise VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        total = query + body if query and body else (query or body)
        payload, sep, signature = total.rpartition("&signature=")
        if not sep:
            raise VenueError(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise VenueError(400, -1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(payload, keep_blank_values=True))
        self._check_timestamp(params)
        return account, params

    def _check_timestamp(self, params: dict[str, str]) -> None:
        try:
            timestamp = int(params["timestamp"])
            recv_window = int(params.get("recvWindow", 5000))
        except (KeyError, ValueError):
            raise VenueError(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.") from None
        if recv_window > MAX_RECV_WINDOW_MS:
            raise VenueError(400, -1131, "recvWindow must be less than 60000")
        now = self.exchange.now_ms()
        if timestamp > now + 1000 or now - timestamp > recv_window:
            raise VenueError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    async def _faults_before(self, endpoint: str, account: Account) -> VenueError | None:
        """Apply matching faults. Returns an error to give *after* the request was executed."""
        after = None
        for fault in self.faults:
            if not fault.matches(endpoint, account):
                continue
            fault.count -= 1 if fault.count > 0 else 0
            if fault.kind == "latency":
                await asyncio.sleep(fault.latency_ms / 1000)
            elif fault.kind == "rate_limit":
                status = fault.status or 429
                raise VenueError(status, -1003, "Too many requests; please use the websocket for live updates.",
                                 headers={"Retry-After": str(fault.retry_after)})
            elif fault.kind == "reject":
                raise VenueError(fault.status or 400, fault.code or -2010, fault.msg or "Order was rejected.")
            elif fault.kind == "http_5xx_after_accept":
                after = VenueError(fault.status or 503, -1001, "Internal error; unable to process your request.")
            elif fault.kind == "unknown_after_accept":
                after = VenueError(fault.status or 408, -1007, "Timeout waiting for response from backend server. "
                                   "Send status unknown; execution status unknown.")
        return after

    # --- public endpoints ----------------------------------------------------------------
    async def ping(self, request, params) -> dict:
        return {}

    async def time(self, request, params) -> dict:
        return {"serverTime": self.exchange.now_ms()}

    async def exchange_info(self, request, params) -> dict:
        return {"timezone": "UTC", "serverTime": self.exchange.now_ms(), "rateLimits": [], "exchangeFilters": [],
                "symbols": [wire.symbol_info(s) for s in self.exchange.symbols.values()]}

    async def ticker(self, request, params):
        if "symbol" in params:
            sym = self.exchange.symbol(params["symbol"])
            return {"symbol": sym.name, "price": wire.d8(self.exchange.prices[sym.name])}
        return [{"symbol": s, "price": wire.d8(p)} for s, p in self.exchange.prices.items()]

    async def ticker_24hr(self, request, params):
        """Last price only; the day's statistics are flat (no trading history is simulated)."""
        wanted = params.get("symbols") or params.get("symbol")
        names = json.loads(wanted) if wanted and wanted.startswith("[") else ([wanted] if wanted else None)
        rows = []
        for name in names or list(self.exchange.prices):
            price = wire.d8(self.exchange.prices[self.exchange.symbol(name).name])
            rows.append({"symbol": name, "priceChange": "0.00000000", "priceChangePercent": "0.000",
                         "weightedAvgPrice": price, "lastPrice": price, "bidPrice": price, "askPrice": price,
                         "openPrice": price, "highPrice": price, "lowPrice": price, "volume": "0.00000000",
                         "quoteVolume": "0.00000000", "openTime": self.exchange.now_ms() - 86_400_000,
                         "closeTime": self.exchange.now_ms(), "count": 0})
        return rows[0] if params.get("symbol") else rows

    async def klines(self, request, params) -> list:
        """Flat candles at the current price: enough for clients that ask for recent history."""
        sym = self.exchange.symbol(params.get("symbol", ""))
        limit = min(int(params.get("limit", 500)), 1000)
        price = wire.d8(self.exchange.prices[sym.name])
        now = self.exchange.now_ms() // 60_000 * 60_000
        return [[now - (limit - i) * 60_000, price, price, price, price, "0", now - (limit - i - 1) * 60_000 - 1,
                 "0", 0, "0", "0", "0"] for i in range(limit)]

    # --- signed endpoints ----------------------------------------------------------------
    async def account(self, account: Account, params) -> dict:
        return wire.account_json(self.exchange, account)

    async def new_order(self, account: Account, params) -> dict:
        order, trades = self.exchange.place_order(
            account, symbol=params.get("symbol", ""), side=params.get("side", ""), type=params.get("type", ""),
            quantity=parse_decimal("quantity", params.get("quantity"), required=False),
            quote_qty=parse_decimal("quoteOrderQty", params.get("quoteOrderQty"), required=False),
            price=parse_decimal("price", params.get("price"), required=False),
            time_in_force=params.get("timeInForce"), client_order_id=params.get("newClientOrderId"))
        return wire.order_json(order, trades)

    def _order_ref(self, params) -> tuple[int | None, str | None]:
        order_id = params.get("orderId")
        return (int(order_id) if order_id else None), params.get("origClientOrderId")

    async def query_order(self, account: Account, params) -> dict:
        return wire.order_json(self.exchange.find_order(account, params.get("symbol", ""), *self._order_ref(params)))

    async def cancel(self, account: Account, params) -> dict:
        return wire.order_json(self.exchange.cancel_order(account, params.get("symbol", ""), *self._order_ref(params)))

    async def open_orders(self, account: Account, params) -> list:
        symbol = params.get("symbol")
        return [wire.order_json(o) for o in account.orders.values() if o.is_open and (not symbol or o.symbol == symbol)]

    async def my_trades(self, account: Account, params) -> list:
        symbol = self.exchange.symbol(params.get("symbol", "")).name
        return [wire.trade_json(t) for t in account.trades if t.symbol == symbol]

    # --- WebSocket API: the user-data stream ----------------------------------------------
    async def ws_api(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        self._sockets.add(ws)
        queue: asyncio.Queue = asyncio.Queue()
        writer = asyncio.create_task(self._write(ws, queue))
        subscribed: list[str] = []
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                reply = self._ws_request(msg.data, queue, subscribed)
                await queue.put(reply)
        finally:
            for api_key in subscribed:
                self._streams.get(api_key, []).remove(queue) if queue in self._streams.get(api_key, []) else None
            await queue.put(None)
            await writer
            self._sockets.discard(ws)
        return ws

    def _ws_request(self, raw: str, queue: asyncio.Queue, subscribed: list[str]) -> dict:
        try:
            request = json.loads(raw)
            request_id, method, params = request.get("id"), request.get("method"), request.get("params", {})
        except (ValueError, AttributeError):
            return {"id": None, "status": 400, "error": {"code": -1102, "msg": "Malformed request."}}
        if method != "userDataStream.subscribe.signature":
            return {"id": request_id, "status": 400, "error": {"code": -1100, "msg": f"Unknown method {method}."}}
        try:
            account = self.exchange.accounts.get(params.get("apiKey", ""))
            if account is None:
                raise VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")
            signature = params.get("signature", "")
            payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
            expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, str(signature)):
                raise VenueError(400, -1022, "Signature for this request is not valid.")
            self._check_timestamp({k: str(v) for k, v in params.items()})
        except VenueError as err:
            return {"id": request_id, "status": err.status, "error": {"code": err.code, "msg": err.msg}}
        self._streams.setdefault(account.api_key, []).append(queue)
        subscribed.append(account.api_key)
        return {"id": request_id, "status": 200, "result": {"subscriptionId": 0}}

    @staticmethod
    async def _write(ws: web.WebSocketResponse, queue: asyncio.Queue) -> None:
        while (item := await queue.get()) is not None:
            if ws.closed:
                return
            await ws.send_str(json.dumps(item))

    def _on_order_event(self, account: Account, order: Order, trade: Trade | None, execution_type: str) -> None:
        queues = self._streams.get(account.api_key)
        if queues:
            event = {"subscriptionId": 0,
                     "event": wire.execution_report(self.exchange, order, trade, execution_type)}
            for queue in queues:
                queue.put_nowait(event)

    # --- USDⓈ-M perpetuals -----------------------------------------------------------------
    async def futures_exchange_info(self, request, params) -> dict:
        return {"timezone": "UTC", "serverTime": self.exchange.now_ms(), "futuresType": "U_MARGINED",
                "rateLimits": [], "exchangeFilters": [], "assets": [{"asset": "USDT", "marginAvailable": True}],
                "symbols": [wire.futures_symbol_info(s) for s in self.exchange.symbols.values()]}

    async def premium_index(self, request, params):
        rows = [{"symbol": s, "markPrice": str(p), "indexPrice": str(p), "estimatedSettlePrice": str(p),
                 "lastFundingRate": "0.00010000", "interestRate": "0.00010000",
                 "nextFundingTime": self.exchange.now_ms() // 28_800_000 * 28_800_000 + 28_800_000,
                 "time": self.exchange.now_ms()} for s, p in self.exchange.prices.items()]
        if "symbol" in params:
            return next((r for r in rows if r["symbol"] == params["symbol"]), None) or self._raise(-1121)
        return rows

    @staticmethod
    def _raise(code: int):
        raise VenueError(400, code, "Invalid symbol.")

    async def futures_account(self, account: Account, params) -> dict:
        return wire.futures_account_json(self.futures, self.futures.book(account))

    async def futures_balance(self, account: Account, params) -> list:
        return wire.futures_balance_json(self.futures, self.futures.book(account))

    async def position_risk(self, account: Account, params) -> list:
        rows = wire.futures_positions_json(self.futures, self.futures.book(account))
        return [r for r in rows if not params.get("symbol") or r["symbol"] == params["symbol"]]

    async def set_leverage(self, account: Account, params) -> dict:
        symbol = self.exchange.symbol(params.get("symbol", "")).name
        leverage = int(params.get("leverage", "0") or 0)
        if not 1 <= leverage <= 125:
            raise VenueError(400, -4028, "Leverage is not valid.")
        self.futures.book(account).leverage[symbol] = leverage
        return {"symbol": symbol, "leverage": leverage, "maxNotionalValue": "1000000"}

    async def margin_type(self, account: Account, params) -> dict:
        symbol = self.exchange.symbol(params.get("symbol", "")).name
        kind = params.get("marginType", "").upper()
        if kind not in ("ISOLATED", "CROSSED"):
            raise VenueError(400, -4044, "Margin type is invalid.")
        self.futures.book(account).margin_type[symbol] = "isolated" if kind == "ISOLATED" else "cross"
        return {"code": 200, "msg": "success"}

    async def get_dual(self, account: Account, params) -> dict:
        return {"dualSidePosition": self.futures.book(account).dual_side}

    async def set_dual(self, account: Account, params) -> dict:
        self.futures.book(account).dual_side = params.get("dualSidePosition", "false").lower() == "true"
        return {"code": 200, "msg": "success"}

    async def futures_new_order(self, account: Account, params) -> dict:
        order = self.futures.place_order(
            account, symbol=params.get("symbol", ""), side=params.get("side", ""), type=params.get("type", ""),
            quantity=parse_decimal("quantity", params.get("quantity"), required=False),
            price=parse_decimal("price", params.get("price"), required=False),
            time_in_force=params.get("timeInForce"), client_order_id=params.get("newClientOrderId"),
            reduce_only=params.get("reduceOnly", "false").lower() == "true",
            position_side=params.get("positionSide", "BOTH"))
        return wire.futures_order_json(order)

    async def futures_query(self, account: Account, params) -> dict:
        return wire.futures_order_json(self.futures.find_order(account, params.get("symbol", ""),
                                                               *self._order_ref(params)))

    async def futures_cancel(self, account: Account, params) -> dict:
        return wire.futures_order_json(self.futures.cancel_order(account, params.get("symbol", ""),
                                                                 *self._order_ref(params)))

    async def futures_open_orders(self, account: Account, params) -> list:
        symbol = params.get("symbol")
        return [wire.futures_order_json(o) for o in self.futures.book(account).orders.values()
                if o.is_open and (not symbol or o.symbol == symbol)]

    async def futures_user_trades(self, account: Account, params) -> list:
        symbol = self.exchange.symbol(params.get("symbol", "")).name
        return [wire.futures_trade_json(t) for t in self.futures.book(account).trades if t.symbol == symbol]

    async def leverage_brackets(self, account: Account, params) -> list:
        bracket = {"bracket": 1, "initialLeverage": 125, "notionalCap": 1_000_000, "notionalFloor": 0,
                   "maintMarginRatio": 0.004, "cum": 0.0}
        return [{"symbol": s, "brackets": [bracket]} for s in self.exchange.symbols
                if not params.get("symbol") or s == params["symbol"]]

    async def listen_key(self, request: web.Request) -> web.Response:
        """listenKeys need only the API key, as on Binance."""
        account = self.exchange.accounts.get(request.headers.get("X-MBX-APIKEY", ""))
        if account is None:
            return self._error(VenueError(401, -2015, "Invalid API-key, IP, or permissions for action."))
        if request.method == "DELETE":
            return web.json_response({})
        key = next((k for k, v in self._listen_keys.items() if v == account.api_key), None)
        if key is None:  # one key per account, extended by PUT, like Binance
            key = secrets.token_urlsafe(48)
            self._listen_keys[key] = account.api_key
        return web.json_response({"listenKey": key})

    async def ws_listen_key(self, request: web.Request) -> web.WebSocketResponse:
        api_key = self._listen_keys.get(request.match_info.get("listen_key") or request.query.get("listenKey", ""))
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if api_key is None:
            await ws.close(code=4000, message=b"invalid listen key")
            return ws
        self._sockets.add(ws)
        queue: asyncio.Queue = asyncio.Queue()
        self._futures_streams.setdefault(api_key, []).append(queue)
        writer = asyncio.create_task(self._write(ws, queue))
        try:
            async for _ in ws:  # nothing to answer; pings are answered by aiohttp
                pass
        finally:
            streams = self._futures_streams.get(api_key, [])
            if queue in streams:
                streams.remove(queue)
            await queue.put(None)
            await writer
            self._sockets.discard(ws)
        return ws

    def _on_futures_event(self, account: Account, order: FuturesOrder, trade: Trade | None,
                          execution_type: str) -> None:
        queues = self._futures_streams.get(account.api_key)
        if not queues:
            return
        events = [wire.order_trade_update(self.exchange, order, trade, execution_type)]
        if trade is not None:
            events.append(wire.account_update(self.futures, self.futures.book(account), order.symbol))
        for queue in queues:
            for event in events:
                queue.put_nowait(event)

    def futures_orders(self, name: str) -> list[FuturesOrder]:
        """Every perpetual order that reached the venue for this account, oldest first."""
        account = self.exchange.account_by_name(name)
        return sorted(self.futures.book(account).orders.values(), key=lambda o: o.order_id)

    # --- admin API -----------------------------------------------------------------------
    def _account(self, request: web.Request) -> Account:
        try:
            return self.exchange.account_by_name(request.match_info["name"])
        except KeyError:
            raise web.HTTPNotFound(text=json.dumps({"error": "no such account"}), content_type="application/json") from None

    async def admin_create_account(self, request):
        body = await request.json()
        account = self.exchange.create_account(body["name"], body.get("balances"))
        return web.json_response({"name": account.name, "api_key": account.api_key, "secret": account.secret})

    async def admin_fund(self, request):
        """{"asset": "USDT", "amount": "1000"} funds spot; add "wallet": "futures" for perpetuals."""
        body = await request.json()
        account = self._account(request)
        if body.get("wallet") == "futures":
            self.futures.book(account).wallet += Decimal(str(body["amount"]))
        else:
            self.exchange.fund(account, body["asset"], Decimal(str(body["amount"])))
        return web.json_response({"ok": True})

    async def admin_futures_orders(self, request):
        return web.json_response([wire.futures_order_json(o) for o in self.futures_orders(request.match_info["name"])])

    async def admin_futures_positions(self, request):
        return web.json_response(wire.futures_positions_json(self.futures, self.futures.book(self._account(request))))

    async def admin_orders(self, request):
        account = self._account(request)
        return web.json_response([wire.order_json(o) for o in sorted(account.orders.values(), key=lambda o: o.order_id)])

    async def admin_trades(self, request):
        return web.json_response([wire.trade_json(t) for t in self._account(request).trades])

    async def admin_balances(self, request):
        return web.json_response(wire.account_json(self.exchange, self._account(request))["balances"])

    async def admin_set_price(self, request):
        body = await request.json()
        self.exchange.set_price(body["symbol"], Decimal(str(body["price"])))
        return web.json_response({"ok": True})

    async def admin_price_path(self, request):
        body = await request.json()
        self.exchange.price_paths[body["symbol"]] = [Decimal(str(p)) for p in body["prices"]]
        return web.json_response({"ok": True})

    async def admin_tick(self, request):
        self.exchange.step_prices()
        return web.json_response({s: wire.d8(p) for s, p in self.exchange.prices.items()})

    async def admin_slippage(self, request):
        self.exchange.slippage = Decimal(str((await request.json())["fraction"]))
        return web.json_response({"ok": True})

    async def admin_add_fault(self, request):
        self.inject(**(await request.json()))
        return web.json_response({"ok": True})

    async def admin_clear_faults(self, request):
        self.faults.clear()
        return web.json_response({"ok": True})
