"""Bybit's private WebSocket (/v5/private) as ccxt.pro's watchOrders / watchMyTrades use it.

The client authenticates with {"op": "auth", "args": [apiKey, expires, signature]} where
signature = hex HMAC-SHA256(secret, "GET/realtime" + expires) and expires (ms) lies ahead;
then subscribes ({"op": "subscribe", "req_id": N, "args": ["order", "execution"]}) and pings
({"op": "ping"}) every ~20 s. One unified stream carries spot and linear alike: `order`
messages on every order change, `execution` messages on every fill (each row has its
`category`). Ping frames are answered too (aiohttp's autoping)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from venue_sim import bybit_wire as bw
from venue_sim.book import Account, Exchange, Order, Trade
from venue_sim.perp_book import Perpetuals
from venue_sim.userdata import Socket

TOPICS = ("order", "execution", "execution.fast", "position", "wallet", "greeks", "dcp")


@dataclass(eq=False)
class PrivateSocket(Socket):
    conn_id: str = field(default_factory=lambda: secrets.token_hex(10))
    api_key: str | None = None  # once authenticated
    topics: set[str] = field(default_factory=set)


class BybitUserData:
    def __init__(self, exchange: Exchange, perps: Perpetuals) -> None:
        self.exchange, self.perps = exchange, perps
        self.by_key: dict[str, list[PrivateSocket]] = {}  # API key -> authenticated sockets
        self.held_down: set[str] = set()
        self._sockets: set[PrivateSocket] = set()
        exchange.listeners.append(lambda *event: self.on_event("spot", *event))
        perps.listeners.append(lambda *event: self.on_event("linear", *event))

    # The admin API counts streams per market; Bybit has one unified stream for both.
    @property
    def spot(self) -> dict[str, list[PrivateSocket]]:
        return self.by_key

    futures = spot

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v5/private", self.private)]

    def subscribed(self, api_key: str, market: str = "spot") -> bool:
        return any(s.topics for s in self.by_key.get(api_key, ()))

    async def private(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        socket = PrivateSocket(ws)
        socket.task = asyncio.create_task(socket.pump())
        self._sockets.add(socket)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    reply = self._request(socket, msg.data)
                    if reply is not None:
                        socket.send(reply)
        finally:
            if socket.api_key and socket in self.by_key.get(socket.api_key, []):
                self.by_key[socket.api_key].remove(socket)
                if not self.by_key[socket.api_key]:
                    del self.by_key[socket.api_key]
            socket.send(None)
            await socket.task
            self._sockets.discard(socket)
        return ws

    def _request(self, socket: PrivateSocket, raw: str) -> dict | None:
        try:
            message = json.loads(raw)
            op, args, req_id = message.get("op"), message.get("args") or [], message.get("req_id")
        except (ValueError, AttributeError):
            return {"success": False, "ret_msg": "Params Error: invalid json", "conn_id": socket.conn_id}
        reply = {"req_id": req_id} if req_id is not None else {}
        if op == "ping":
            return {**reply, "op": "pong", "args": [str(self.exchange.now_ms())], "conn_id": socket.conn_id}
        if op == "auth":
            error = self._auth(socket, args)
            return {**reply, "success": error is None, "ret_msg": error or "", "op": "auth", "conn_id": socket.conn_id}
        if op in ("subscribe", "unsubscribe"):
            if socket.api_key is None:
                return {**reply, "success": False, "ret_msg": "Request not authorized", "op": op,
                        "conn_id": socket.conn_id}
            unknown = [t for t in args if t not in TOPICS]
            if unknown or not args:
                return {**reply, "success": False, "ret_msg": f"Invalid topic: {unknown or args}", "op": op,
                        "conn_id": socket.conn_id}
            (socket.topics.update if op == "subscribe" else socket.topics.difference_update)(args)
            return {**reply, "success": True, "ret_msg": "", "op": op, "conn_id": socket.conn_id}
        return {**reply, "success": False, "ret_msg": f"Invalid op: {op}", "conn_id": socket.conn_id}

    def _auth(self, socket: PrivateSocket, args: list) -> str | None:
        if len(args) != 3:
            return "Params Error"
        api_key, expires, signature = (str(a) for a in args)
        key = self.exchange.keys.get(api_key)
        if key is None:
            return "Invalid apikey"
        expected = hmac.new(key.secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            return "Invalid sign"
        try:
            if int(expires) < self.exchange.now_ms():
                return "Params Error: auth expired"
        except ValueError:
            return "Params Error"
        if key.account.name in self.held_down:
            return "Request not authorized: service unavailable"
        if socket.api_key is None:
            socket.api_key = key.key
            self.by_key.setdefault(key.key, []).append(socket)
        return None

    def on_event(self, category: str, account: Account, order: Order, trade: Trade | None, kind: str) -> None:
        sockets = [s for k in account.keys for s in self.by_key.get(k, ()) if not s.muted]
        if not sockets:
            return
        now = self.exchange.now_ms()
        trades = account.trades if category == "spot" else self.perps.book(account).trades
        messages = []
        if trade is not None:
            row = bw.execution_json(order, trade, category=category, mark=self.exchange.prices[order.symbol],
                                    with_category=True)
            messages.append(("execution", {"id": str(uuid.uuid4()), "topic": "execution", "creationTime": now,
                                           "data": [row]}))
        messages.append(("order", {"id": str(uuid.uuid4()), "topic": "order", "creationTime": now,
                                   "data": [bw.order_json(order, trades, category=category, with_category=True)]}))
        for socket in sockets:
            for topic, message in messages:
                if topic in socket.topics:
                    socket.send(message)

    def mute(self, account: str) -> int:
        """See UserData.mute: the account's current sockets stay open and deliver nothing more."""
        keys = set(self.exchange.accounts[account].keys)
        victims = [s for s in self._sockets if s.api_key in keys]
        for socket in victims:
            socket.muted = True
        return len(victims)

    async def drop(self, account: str | None = None) -> int:
        keys = None if account is None else set(self.exchange.accounts[account].keys)
        victims = [s for s in self._sockets if keys is None or s.api_key in keys]
        for socket in victims:
            await socket.ws.close(code=1001, message=b"stream restarted")
        return len(victims)

    async def close_all(self) -> None:
        for socket in list(self._sockets):
            await socket.ws.close(code=1001, message=b"venue shutting down")

    def expire(self) -> None:
        """Nothing expires on Bybit's private stream (kept for the Simulator's housekeeping)."""
