"""Kraken's WebSocket v2 (ws-auth.kraken.com/v2) as ccxt.pro's watchMyTrades / watchOrders use
it: the `executions` channel.

The client first asks REST for a token (GetWebSocketsToken: valid 15 minutes to subscribe
with), then sends {"method": "subscribe", "params": {"channel": "executions", "token": ...,
"snap_trades": bool, "snap_orders": bool}, "req_id": N}. The venue acknowledges, sends one
snapshot (the last 50 fills when snap_trades, the open orders unless snap_orders is false),
then an update per execution: pending_new and new for an order, a trade per fill (followed by
filled when the order is done), canceled. Each message has the channel's sequence. The client
pings ({"method": "ping"}) every few seconds and expects a pong."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from venue_sim import kraken_wire as kw
from venue_sim.book import Account, Order, Trade
from venue_sim.userdata import Socket

if TYPE_CHECKING:
    from venue_sim.server import Simulator

SNAPSHOT_TRADES = 50


@dataclass(eq=False)
class V2Socket(Socket):
    api_key: str | None = None  # once subscribed to executions
    sequence: itertools.count = field(default_factory=lambda: itertools.count(1))


class KrakenUserData:
    def __init__(self, sim: Simulator) -> None:
        self.sim, self.exchange = sim, sim.exchange
        self.by_key: dict[str, list[V2Socket]] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (API key, valid to subscribe until)
        self.userrefs: dict[int, int] = {}  # book order id -> its userref
        self.post_only: set[int] = set()  # book order ids placed post-only
        self.held_down: set[str] = set()
        self._pending: tuple[int | None, bool] | None = None
        self._sockets: set[V2Socket] = set()
        self.exchange.listeners.append(self.on_event)

    @property
    def spot(self) -> dict[str, list[V2Socket]]:
        return self.by_key

    futures = spot

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v2", self.websocket)]

    def subscribed(self, api_key: str, market: str = "spot") -> bool:
        return bool(self.by_key.get(api_key))

    @contextlib.contextmanager
    def tagging(self, userref: int | None, post_only: bool):
        """The next order placed carries this userref and post-only flag from its first event on."""
        self._pending = (userref, post_only)
        try:
            yield
        finally:
            self._pending = None

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        socket = V2Socket(ws)
        socket.task = asyncio.create_task(socket.pump())
        self._sockets.add(socket)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    for reply in self._request(socket, msg.data):
                        socket.send(reply)
        finally:
            self._forget(socket)
            socket.send(None)
            await socket.task
            self._sockets.discard(socket)
        return ws

    def _forget(self, socket: V2Socket) -> None:
        if socket.api_key and socket in self.by_key.get(socket.api_key, []):
            self.by_key[socket.api_key].remove(socket)
            if not self.by_key[socket.api_key]:
                del self.by_key[socket.api_key]
        socket.api_key = None

    def _ack(self, method: str, req_id, *, result: dict | None = None, error: str | None = None) -> dict:
        now = kw.rfc3339(self.exchange.clock())
        reply = {"method": method, "success": error is None, "time_in": now, "time_out": now}
        if req_id is not None:
            reply["req_id"] = req_id
        if error is None:
            reply["result"] = result or {}
        else:
            reply["error"] = error
        return reply

    def _request(self, socket: V2Socket, raw: str) -> list[dict]:
        try:
            message = json.loads(raw)
            method, params, req_id = message.get("method"), message.get("params") or {}, message.get("req_id")
        except (ValueError, AttributeError):
            return [{"error": "EGeneral:Invalid arguments", "success": False}]
        if method == "ping":
            return [{k: v for k, v in self._ack("pong", req_id).items() if k not in ("success", "result")}]
        if method not in ("subscribe", "unsubscribe"):
            return [self._ack(str(method), req_id, error="EGeneral:Invalid arguments:method")]
        channel = params.get("channel")
        if channel != "executions":
            return [self._ack(method, req_id, error=f"Channel {channel!r} is not served by this venue")]
        held = self.tokens.get(str(params.get("token") or ""))
        if held is None or (method == "subscribe" and held[1] < self.exchange.clock()):
            return [self._ack(method, req_id, error="ESession:Invalid session")]
        key = self.exchange.keys.get(held[0])
        if key is None or key.account.name in self.held_down:
            return [self._ack(method, req_id, error="EService:Unavailable")]
        if method == "unsubscribe":
            self._forget(socket)
            return [self._ack(method, req_id, result={"channel": "executions"})]
        if socket.api_key == key.key:
            return [self._ack(method, req_id, error="Already subscribed")]
        socket.api_key = key.key
        self.by_key.setdefault(key.key, []).append(socket)
        snap_trades, snap_orders = params.get("snap_trades") is True, params.get("snap_orders", True) is not False
        ack = self._ack(method, req_id, result={"channel": "executions", "maxratecount": 125,
                                                "snapshot": snap_trades or snap_orders, "warnings": []})
        return [ack, {"channel": "executions", "type": "snapshot", "sequence": next(socket.sequence),
                      "data": self._snapshot(key.account, snap_trades, snap_orders)}]

    def _snapshot(self, account: Account, trades: bool, orders: bool) -> list[dict]:
        """The last fills first (ccxt.pro reads a message by its first row), then the open orders."""
        rows = []
        if trades:
            rows += [kw.snapshot_trade(self.exchange, account.orders[t.order_id], t,
                                       userref=self.userrefs.get(t.order_id))
                     for t in account.trades[-SNAPSHOT_TRADES:]]
        if orders:
            rows += [kw.snapshot_order(self.exchange, o, userref=self.userrefs.get(o.order_id))
                     for o in sorted(account.orders.values(), key=lambda o: o.order_id) if o.is_open]
        return rows

    def on_event(self, account: Account, order: Order, trade: Trade | None, kind: str) -> None:
        if kind == "NEW" and self._pending is not None:
            userref, post_only = self._pending
            if userref is not None:
                self.userrefs[order.order_id] = userref
            if post_only:
                self.post_only.add(order.order_id)
        sockets = [s for k in account.keys for s in self.by_key.get(k, ())]
        if not sockets:
            return
        rows = kw.execution(self.exchange, order, trade, kind, userref=self.userrefs.get(order.order_id))
        for socket in sockets:
            for row in rows:  # one execution a message: ccxt.pro routes a message by its first row
                socket.send({"channel": "executions", "type": "update", "sequence": next(socket.sequence),
                             "data": [row]})

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
        """Tokens no longer usable to subscribe are forgotten (subscriptions made with them stay)."""
        now = self.exchange.clock()
        for token in [t for t, (_, until) in self.tokens.items() if until < now]:
            del self.tokens[token]
