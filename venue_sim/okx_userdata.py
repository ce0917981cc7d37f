"""OKX's private WebSocket (/ws/v5/private) as ccxt.pro's watchOrders / watchMyTrades use it.

The client logs in with {"op": "login", "args": [{apiKey, passphrase, timestamp, sign}]},
where timestamp is Unix seconds (within 30 s of the venue's clock) and sign = base64
HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify"); the venue answers
{"event": "login", "code": "0", ...}, or {"event": "error", "code": "60009", ...} and closes
nothing (the client decides). Then {"op": "subscribe", "args": [{"channel": "orders",
"instType": "ANY"|"SPOT"|"SWAP"}]}: every order change is pushed as {"arg", "data": [order]},
one message per fill carrying that fill (tradeId, fillSz, fillPx, fillFee...). Keep-alive is
the text "ping", answered "pong" (OKX closes a connection silent for 30 s)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from venue_sim import okx_wire as ow
from venue_sim.book import Account, Order, Trade
from venue_sim.perp_book import PerpOrder
from venue_sim.private_streams import KeyedSocket, PrivateStreams

if TYPE_CHECKING:
    from venue_sim.server import Simulator

CHANNELS = ("orders", "account", "positions", "balance_and_position")
LOGIN_WINDOW_S = 30


@dataclass(eq=False)
class PrivateSocket(KeyedSocket):
    conn_id: str = field(default_factory=lambda: secrets.token_hex(4))
    channels: list[dict] = field(default_factory=list)  # the subscribed args


class OkxUserData(PrivateStreams):
    def __init__(self, sim: Simulator) -> None:
        super().__init__(sim.exchange)
        self.perps = sim.perps
        self.exchange.listeners.append(lambda *event: self.on_event("SPOT", *event))
        self.perps.listeners.append(lambda *event: self.on_event("SWAP", *event))

    # The admin API counts streams per market; OKX has one private stream for both.
    @property
    def spot(self) -> dict[str, list[PrivateSocket]]:
        return self.by_key

    futures = spot

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws/v5/private", self.private)]

    def subscribed(self, api_key: str, market: str = "spot") -> bool:
        return any(s.channels for s in self.by_key.get(api_key, ()))

    async def private(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await self.serve(ws, PrivateSocket(ws), self._request)
        return ws

    def _error(self, socket: PrivateSocket, code: str, msg: str) -> dict:
        return {"event": "error", "code": code, "msg": msg, "connId": socket.conn_id}

    def _request(self, socket: PrivateSocket, raw: str) -> dict | str | None:
        if raw == "ping":
            return "pong"
        try:
            message = json.loads(raw)
            op, args = message.get("op"), message.get("args") or []
        except (ValueError, AttributeError):
            return self._error(socket, "60012", f"Illegal request: {raw}")
        if op == "login":
            error = self._login(socket, args)
            if error is not None:
                return self._error(socket, *error)
            return {"event": "login", "code": "0", "msg": "", "connId": socket.conn_id}
        if op in ("subscribe", "unsubscribe"):
            if socket.api_key is None:
                return self._error(socket, "60011", "Please log in.")
            if len(args) != 1 or not isinstance(args[0], dict) or args[0].get("channel") not in CHANNELS:
                return self._error(socket, "60018", f"Wrong URL or channel:{args}, instType or instId doesn't exist.")
            arg = args[0]
            if arg.get("channel") == "orders" and arg.get("instType") not in ("ANY", "SPOT", "SWAP", "MARGIN",
                                                                              "FUTURES", "OPTION"):
                return self._error(socket, "60018", f"Wrong URL or channel:{arg}, instType doesn't exist.")
            if op == "subscribe":
                if arg not in socket.channels:
                    socket.channels.append(arg)
            else:
                socket.channels = [a for a in socket.channels if a != arg]
            return {"event": op, "arg": arg, "connId": socket.conn_id}
        return self._error(socket, "60019", f"Invalid op: {op}")

    def _login(self, socket: PrivateSocket, args: list) -> tuple[str, str] | None:
        if len(args) != 1 or not isinstance(args[0], dict):
            return "60012", "Illegal request"
        arg = args[0]
        key = self.exchange.keys.get(str(arg.get("apiKey") or ""))
        if key is None:
            return "60005", "Invalid OK-ACCESS-KEY"
        try:
            stamp = int(str(arg.get("timestamp")))
        except ValueError:
            return "60004", "Invalid timestamp"
        if abs(stamp - self.exchange.clock()) > LOGIN_WINDOW_S:
            return "60006", "Timestamp request expired"
        if not hmac.compare_digest(str(arg.get("passphrase") or ""), key.passphrase):
            return "60024", "Wrong passphrase"
        prehash = f"{arg.get('timestamp')}GET/users/self/verify"
        expected = base64.b64encode(hmac.new(key.secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, str(arg.get("sign") or "")):
            return "60009", "Login failed."
        if key.account.name in self.held_down:
            return "60009", "Login failed."
        self.bind(socket, key.key)
        return None

    def on_event(self, inst_type: str, account: Account, order: Order, trade: Trade | None, kind: str) -> None:
        sockets = self.of(account)
        if not sockets:
            return
        trades = account.trades if not isinstance(order, PerpOrder) else self.perps.book(account).trades
        row = ow.ws_order(self.exchange, order, trades, trade)
        uid = ow.uid(self.exchange, account)
        for socket in sockets:
            for arg in socket.channels:
                if arg.get("channel") == "orders" and arg.get("instType") in ("ANY", inst_type) and \
                        arg.get("instId") in (None, row["instId"]):
                    socket.send({"arg": {**arg, "uid": uid}, "data": [row]})
