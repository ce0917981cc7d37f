"""User-data streams as ccxt.pro consumes them today.

Spot: the WebSocket API (/ws-api/v3). The client sends `userDataStream.subscribe.signature`
(apiKey, timestamp, recvWindow, signature over the key-sorted parameters); events then arrive
on that socket as {"subscriptionId": N, "event": {...executionReport...}}. The socket is the
whole WebSocket API besides: `session.logon` (Ed25519 keys only, as on Binance; then signed
methods need no apiKey or signature), `session.status`, `session.logout`,
`userDataStream.subscribe` (on a logged-on session), `userDataStream.unsubscribe`, and every
REST method of spot.WS_METHODS (order.place, account.status, ...) answered by the same handler
as its REST endpoint. Each answer carries `rateLimits` (the IP's weight, shared with REST, and
the account's order counts after an order), unless the request said `returnRateLimits: false`.

USDⓈ-M futures: a REST listenKey (POST/PUT/DELETE /fapi/v1/listenKey, API key only, valid 60
minutes after the last keep-alive), then ORDER_TRADE_UPDATE and ACCOUNT_UPDATE events at
/ws/<listenKey> or /private/ws?listenKey=<listenKey> (the path ccxt.pro uses now).

Ping frames are answered on every socket (aiohttp's autoping)."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from venue_sim import wire
from venue_sim.auth import Authenticator, auth_value
from venue_sim import binance_limits
from venue_sim.binance_limits import BinanceLimits
from venue_sim.book import Account, ApiKey, BinanceError, Exchange, Order, Trade
from venue_sim.endpoints import Endpoint
from venue_sim.perp_book import PerpOrder, Perpetuals

LISTEN_KEY_TTL_S = 3600.0
# The WebSocket API's own methods' weights (the REST ones weigh what their endpoint weighs).
WS_METHOD_WEIGHT = {"session.logon": 2, "session.status": 2, "session.logout": 2, "session.subscriptions": 2,
                    "userDataStream.subscribe": 2, "userDataStream.subscribe.signature": 2,
                    "userDataStream.unsubscribe": 2}


@dataclass(eq=False)
class Socket:
    """One client connection; events are queued so they leave in order, never blocking the venue.
    A message is JSON, or a text frame as it is (OKX's "pong")."""

    ws: web.WebSocketResponse
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    subscriptions: dict[int, str] = field(default_factory=dict)  # spot: subscriptionId -> API key
    task: asyncio.Task | None = None
    # Quietly dead (see UserData.mute): open, answering pings and requests, delivering no event.
    muted: bool = False
    ip: str = ""
    connected_ms: int = 0
    session: ApiKey | None = None  # the WebSocket API key logged on (session.logon)
    authorized_ms: int | None = None

    def send(self, message: dict | str | None) -> None:
        self.queue.put_nowait(message)

    async def pump(self) -> None:
        while (message := await self.queue.get()) is not None:
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(message if isinstance(message, str) else json.dumps(message))
            except ConnectionError:
                return


@dataclass
class ListenKey:
    key: str
    api_key: str
    account: str
    expires_at: float


class UserData:
    def __init__(self, exchange: Exchange, perps: Perpetuals, auth: Authenticator,
                 listen_key_ttl_s: float = LISTEN_KEY_TTL_S, *, limits: BinanceLimits | None = None,
                 methods: dict[str, Endpoint] | None = None) -> None:
        """methods: the WebSocket API methods answered as REST endpoints (spot.SpotApi.ws_methods)."""
        self.exchange, self.perps, self.auth = exchange, perps, auth
        self.limits, self.methods = limits or BinanceLimits(), methods or {}
        self.listen_key_ttl_s = listen_key_ttl_s
        self.spot: dict[str, list[Socket]] = {}  # API key -> subscribed sockets
        self.futures: dict[str, list[Socket]] = {}  # API key -> sockets on its listenKey
        self.listen_keys: dict[str, ListenKey] = {}
        self.held_down: set[str] = set()  # accounts whose streams refuse to (re)connect, for outage tests
        self._sockets: set[Socket] = set()
        self._subscription_ids = itertools.count(0)
        exchange.listeners.append(self.on_spot_event)
        exchange.list_listeners.append(self.on_spot_list)
        perps.listeners.append(self.on_futures_event)
        perps.algo_listeners.append(self.on_algo_event)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws-api/v3", self.ws_api), web.get("/ws/{listen_key}", self.ws_listen_key),
                web.get("/private/ws", self.ws_listen_key),
                *(web.route(m, "/fapi/v1/listenKey", self.listen_key) for m in ("POST", "PUT", "DELETE"))]

    def subscribed(self, api_key: str, market: str = "spot") -> bool:
        return bool((self.spot if market == "spot" else self.futures).get(api_key))

    # --- spot: WebSocket API ---------------------------------------------------------------
    async def ws_api(self, request: web.Request) -> web.WebSocketResponse:
        socket = await self._open(request)
        self.limits.weigh("api", socket.ip, 2, self.exchange.clock())  # a new connection weighs 2
        try:
            async for msg in socket.ws:
                if msg.type == WSMsgType.TEXT:
                    socket.send(await self._ws_api_request(socket, msg.data))
        finally:
            for api_key in set(socket.subscriptions.values()):
                self._forget(self.spot, api_key, socket)
            await self._close(socket)
        return socket.ws

    async def _ws_api_request(self, socket: Socket, raw: str) -> dict:
        try:
            request = json.loads(raw)
            request_id, method, params = request.get("id"), request.get("method"), dict(request.get("params") or {})
        except (ValueError, AttributeError, TypeError):
            return {"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed request."}}
        show_limits = params.get("returnRateLimits") is not False
        endpoint = self.methods.get(method)
        text = {k: auth_value(v) for k, v in params.items() if k != "returnRateLimits"}
        used = self.limits.weigh("api", socket.ip, endpoint.weight_of(text) if endpoint else WS_METHOD_WEIGHT.get(
            method, 1), self.exchange.clock())
        try:
            if endpoint is not None:
                key = self._ws_key(socket, params) if endpoint.signed else None
                if endpoint.trade and not key.can_trade:
                    raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
                result = await endpoint.handler(key, text)
                if key is not None and (placed := endpoint.orders_of(text)):
                    used += self.limits.count_orders("api", key.account.name, placed, self.exchange.clock())
            else:
                result = self._ws_session_request(socket, method, params)
        except BinanceError as err:
            answer = {"id": request_id, "status": err.status, "error": {"code": err.code, "msg": err.msg}}
        else:
            answer = {"id": request_id, "status": 200, "result": result}
        if show_limits:
            answer["rateLimits"] = binance_limits.ws_rate_limits(used)
        return answer

    def _ws_key(self, socket: Socket, params: dict) -> ApiKey:
        """A signed method's key: its own signature, else the session's (session.logon), whose
        requests still carry a timestamp."""
        if "signature" in params or socket.session is None:
            return self.auth.ws_api(params)
        self.auth.check_timestamp({k: auth_value(v) for k, v in params.items()})
        return socket.session

    def _ws_session_request(self, socket: Socket, method: str, params: dict) -> dict:
        """The WebSocket API's own methods: the session and the user-data stream."""
        if method == "session.logon":
            key = self.auth.ws_api(params)
            if not key.public_key:  # Binance: only Ed25519 keys log on
                raise BinanceError(400, -1022, "Signature for this request is not valid.")
            socket.session, socket.authorized_ms = key, self.exchange.now_ms()
            return self._session_status(socket)
        if method == "session.status":
            return self._session_status(socket)
        if method == "session.logout":
            socket.session, socket.authorized_ms = None, None
            return self._session_status(socket)
        if method in ("userDataStream.subscribe.signature", "userDataStream.subscribe"):
            if method == "userDataStream.subscribe" and socket.session is None:
                raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
            key = self.auth.ws_api(params) if method.endswith(".signature") else socket.session
            if key.account.name in self.held_down:
                raise BinanceError(503, -1001, "Internal error; unable to process your request. Please try again.")
            subscription_id = next(self._subscription_ids)
            socket.subscriptions[subscription_id] = key.key
            self.spot.setdefault(key.key, []).append(socket)
            return {"subscriptionId": subscription_id}
        if method == "userDataStream.unsubscribe":
            wanted = params.get("subscriptionId")
            for subscription_id in [s for s in socket.subscriptions if wanted in (None, s)]:
                api_key = socket.subscriptions.pop(subscription_id)
                if api_key not in socket.subscriptions.values():
                    self._forget(self.spot, api_key, socket)
            return {}
        if method == "session.subscriptions":
            return [{"subscriptionId": s} for s in socket.subscriptions]
        raise BinanceError(400, -1100, f"Illegal characters found in parameter 'method'; unknown method {method!r}.")

    def _session_status(self, socket: Socket) -> dict:
        return {"apiKey": socket.session.key if socket.session else None, "authorizedSince": socket.authorized_ms,
                "connectedSince": socket.connected_ms, "returnRateLimits": True,
                "serverTime": self.exchange.now_ms(), "userDataStream": bool(socket.subscriptions)}

    def on_spot_event(self, account: Account, order: Order, trade: Trade | None, execution_type: str) -> None:
        targets = [(s, sid) for key in account.keys for s in self.spot.get(key, ())
                   for sid, k in s.subscriptions.items() if k == key and not s.muted]
        if not targets:
            return
        report = wire.execution_report(self.exchange, order, trade, execution_type)
        sym = self.exchange.symbols[order.symbol]
        balances = wire.account_position(self.exchange, account, {sym.base, sym.quote})
        for socket, subscription_id in targets:
            socket.send({"subscriptionId": subscription_id, "event": report})
            socket.send({"subscriptionId": subscription_id, "event": balances})

    def on_spot_list(self, account: Account, order_list) -> None:
        """An OCO's listStatus, after its orders' executionReports (as Binance sends them)."""
        report = wire.list_status(self.exchange, order_list, [account.orders[i] for i in order_list.order_ids])
        for key in account.keys:
            for socket in self.spot.get(key, ()):
                for subscription_id, k in socket.subscriptions.items():
                    if k == key:
                        socket.send({"subscriptionId": subscription_id, "event": report})

    # --- futures: listenKey ----------------------------------------------------------------
    async def listen_key(self, request: web.Request) -> web.Response:
        """Needs only the API key, as on Binance. One key per account, extended by PUT."""
        try:
            key = self.auth.key(request.headers.get("X-MBX-APIKEY"))
            self.expire()
            current = next((lk for lk in self.listen_keys.values() if lk.api_key == key.key), None)
            if request.method == "DELETE":
                if current is not None:
                    await self._drop_listen_key(current, expired=False)
                return web.json_response({})
            if request.method == "PUT" and current is None:
                raise BinanceError(400, -1125, "This listenKey does not exist.")
            if current is None:
                current = ListenKey(secrets.token_urlsafe(48), key.key, key.account.name, 0.0)
                self.listen_keys[current.key] = current
            current.expires_at = self.exchange.clock() + self.listen_key_ttl_s
            return web.json_response({"listenKey": current.key} if request.method == "POST" else {})
        except BinanceError as err:
            return web.json_response({"code": err.code, "msg": err.msg}, status=err.status)

    async def ws_listen_key(self, request: web.Request) -> web.WebSocketResponse:
        self.expire()
        listen_key = self.listen_keys.get(request.match_info.get("listen_key") or request.query.get("listenKey", ""))
        socket = await self._open(request)
        if listen_key is None or listen_key.account in self.held_down:
            await socket.ws.close(code=1008, message=b"invalid listenKey")
            await self._close(socket)
            return socket.ws
        self.futures.setdefault(listen_key.api_key, []).append(socket)
        try:
            async for _ in socket.ws:  # clients send nothing here; ping frames are answered by aiohttp
                pass
        finally:
            self._forget(self.futures, listen_key.api_key, socket)
            await self._close(socket)
        return socket.ws

    def on_futures_event(self, account: Account, order: PerpOrder, trade: Trade | None, execution_type: str) -> None:
        sockets = [s for key in account.keys for s in self.futures.get(key, ()) if not s.muted]
        if not sockets:
            return
        events = [wire.order_trade_update(self.exchange, order, trade, execution_type)]
        if trade is not None:
            events.append(wire.account_update(self.perps, self.perps.book(account), order.symbol))
        for socket in sockets:
            for event in events:
                socket.send(event)

    def on_algo_event(self, account: Account, algo) -> None:
        """ALGO_UPDATE: a conditional order's algo status changed."""
        event = wire.algo_update(self.exchange, algo)
        for key in account.keys:
            for socket in self.futures.get(key, ()):
                socket.send(event)

    def expire(self) -> None:
        """listenKeys not kept alive for their lifetime expire: their streams hear
        listenKeyExpired and are closed."""
        now = self.exchange.clock()
        for listen_key in [lk for lk in self.listen_keys.values() if lk.expires_at <= now]:
            asyncio.ensure_future(self._drop_listen_key(listen_key, expired=True))

    async def _drop_listen_key(self, listen_key: ListenKey, *, expired: bool) -> None:
        self.listen_keys.pop(listen_key.key, None)
        for socket in list(self.futures.get(listen_key.api_key, ())):
            if expired:
                socket.send({"e": "listenKeyExpired", "E": self.exchange.now_ms(), "listenKey": listen_key.key})
            socket.send(None)  # the pump stops after what is queued; then the socket closes
            if socket.task is not None:
                await socket.task
            await socket.ws.close()

    # --- connections -----------------------------------------------------------------------
    async def drop(self, account: str | None = None) -> int:
        """Close user-data sockets (all, or one account's) as a venue does when it restarts a
        stream: clients must reconnect and subscribe again. Returns how many were closed."""
        keys = None if account is None else set(self.exchange.accounts[account].keys)
        victims = {s for streams in (self.spot, self.futures) for key, sockets in streams.items()
                   if keys is None or key in keys for s in sockets}
        for socket in victims:
            await socket.ws.close(code=1001, message=b"stream restarted")
        return len(victims)

    def mute(self, account: str) -> int:
        """The account's current user-data sockets go quiet: still open, still answering pings and
        requests, but delivering no more events (a subscription the venue lost without saying).
        A new subscription delivers again. Returns how many went quiet."""
        keys = set(self.exchange.accounts[account].keys)
        victims = {s for streams in (self.spot, self.futures) for key, sockets in streams.items()
                   if key in keys for s in sockets}
        for socket in victims:
            socket.muted = True
        return len(victims)

    async def close_all(self) -> None:
        for socket in list(self._sockets):
            await socket.ws.close(code=1001, message=b"venue shutting down")

    async def _open(self, request: web.Request) -> Socket:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        socket = Socket(ws, ip=request.remote or "", connected_ms=self.exchange.now_ms())
        socket.task = asyncio.create_task(socket.pump())
        self._sockets.add(socket)
        return socket

    async def _close(self, socket: Socket) -> None:
        socket.send(None)
        await socket.task
        self._sockets.discard(socket)

    @staticmethod
    def _forget(streams: dict[str, list[Socket]], api_key: str, socket: Socket) -> None:
        sockets = streams.get(api_key, [])
        if socket in sockets:
            sockets.remove(socket)
        if not sockets:
            streams.pop(api_key, None)
