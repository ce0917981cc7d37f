"""Coinbase Advanced Trade's WebSocket (advanced-trade-ws) as ccxt.pro's watchOrders uses it:
the `user` channel.

The client sends {"type": "subscribe", "channel": "user", "product_ids": [...], "jwt": ...}
with a JWT signed like a REST one but without the `uri` claim. The venue answers with a
`subscriptions` message and a `snapshot` event of the open orders, then an `update` event on
every order change (status, cumulative_quantity, leaves_quantity, avg_price, total_fees). Every
message carries the connection's sequence_num. A token that does not verify is answered
{"type": "error", "message": "authentication failure"}.

The user channel carries orders only: Coinbase streams no fills of its own (ccxt.pro's
coinbase has no watchMyTrades); a client sees an order's cumulative quantity grow and asks
REST (orders/historical/fills) for the fills. `heartbeats` may be subscribed too."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from venue_sim import coinbase_wire as cw
from venue_sim.coinbase import Unauthorized, verify_jwt
from venue_sim.book import Account, Order, Trade
from venue_sim.userdata import Socket

if TYPE_CHECKING:
    from venue_sim.server import Simulator


@dataclass(eq=False)
class UserSocket(Socket):
    api_key: str | None = None  # once the user channel is subscribed
    products: set[str] = field(default_factory=set)  # empty: every product
    sequence: itertools.count = field(default_factory=itertools.count)

    def message(self, channel: str, events: list[dict]) -> dict:
        return {"channel": channel, "client_id": "", "timestamp": cw.iso(time.time(), seconds=True),
                "sequence_num": next(self.sequence), "events": events}


class CoinbaseUserData:
    def __init__(self, sim: Simulator) -> None:
        self.sim, self.exchange = sim, sim.exchange
        self.by_key: dict[str, list[UserSocket]] = {}
        self.held_down: set[str] = set()
        self.post_only: set[int] = set()  # book ids of orders placed post-only (REST shows them too)
        self._sockets: set[UserSocket] = set()
        self.exchange.listeners.append(self.on_event)

    # The admin API counts streams per market; the user channel is one stream.
    @property
    def spot(self) -> dict[str, list[UserSocket]]:
        return self.by_key

    futures = spot

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/", self.websocket)]

    def subscribed(self, api_key: str, market: str = "spot") -> bool:
        return bool(self.by_key.get(api_key))

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        socket = UserSocket(ws)
        socket.task = asyncio.create_task(socket.pump())
        self._sockets.add(socket)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    for reply in self._request(socket, msg.data):
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

    def _request(self, socket: UserSocket, raw: str) -> list[dict]:
        try:
            message = json.loads(raw)
            kind, channel = message.get("type"), message.get("channel")
            products = message.get("product_ids") or []
        except (ValueError, AttributeError):
            return [{"type": "error", "message": "failure to parse message"}]
        if kind not in ("subscribe", "unsubscribe"):
            return [{"type": "error", "message": f"unknown message type {kind!r}"}]
        if channel == "heartbeats":
            return [socket.message("subscriptions", [{"subscriptions": {"heartbeats": ["heartbeats"]}}])]
        if channel != "user":
            return [{"type": "error", "message": f"channel {channel!r} is not served by this venue"}]
        try:
            key = verify_jwt(self.exchange.keys, str(message.get("jwt") or ""), uri=None, now=time.time())
        except Unauthorized:
            return [{"type": "error", "message": "authentication failure"}]
        if key.account.name in self.held_down:
            return [{"type": "error", "message": "service unavailable"}]
        if kind == "unsubscribe":
            if socket in self.by_key.get(key.key, []):
                self.by_key[key.key].remove(socket)
            socket.api_key = None
            return [socket.message("subscriptions", [{"subscriptions": {}}])]
        socket.products = set(products)
        if socket.api_key is None:
            socket.api_key = key.key
            self.by_key.setdefault(key.key, []).append(socket)
        account = key.account
        open_orders = [self._user_order(account, o) for o in sorted(account.orders.values(), key=lambda o: o.order_id)
                       if o.is_open and self._wanted(socket, o)]
        return [socket.message("subscriptions", [{"subscriptions": {"user": [cw.user_id(self.exchange, account)]}}]),
                socket.message("user", [{"type": "snapshot", "orders": open_orders,
                                         "positions": {"perpetual_futures_positions": [],
                                                       "expiring_futures_positions": []}}])]

    def _wanted(self, socket: UserSocket, order: Order) -> bool:
        return not socket.products or cw.product_id(self.exchange.symbols[order.symbol]) in socket.products

    def _user_order(self, account: Account, order: Order) -> dict:
        return cw.user_order(self.exchange, account, order, account.trades, post_only=order.order_id in self.post_only)

    def on_event(self, account: Account, order: Order, trade: Trade | None, kind: str) -> None:
        sockets = [s for k in account.keys for s in self.by_key.get(k, ()) if self._wanted(s, order)]
        if not sockets:
            return
        row = self._user_order(account, order)  # the order as it stands now, not when the pump sends it
        for socket in sockets:
            socket.send(socket.message("user", [{"type": "update", "orders": [row]}]))

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
        """Nothing expires here (kept for the Simulator's housekeeping)."""
