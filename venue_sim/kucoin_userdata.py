"""KuCoin's private WebSocket as ccxt.pro's watchOrders / watchMyTrades use it.

The client first asks for a token with a signed POST /api/v1/bullet-private (spot host, or the
futures host for contracts); the answer names the instance server to connect to, here
ws://<simulator>/ws-api-spot/ or /ws-api-futures/, with ?token=...&connectId=.... The server
greets with {"id": connectId, "type": "welcome"}, answers {"type": "ping"} with "pong", and a
{"type": "subscribe", "topic": "/spotMarket/tradeOrders" (spot) or "/contractMarket/tradeOrders"
(futures), "privateChannel": true, "response": true} with {"type": "ack"}. Then every order
change is a {"type": "message", "subject": "orderChange", "data"} message: "received"/"open",
one "match" per fill (tradeId, matchPrice, matchSize), "filled", "canceled". A bad token is an
error message ("token is invalid") and the socket closes. Tokens live 24 hours."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from venue_sim import kucoin_wire as kw
from venue_sim.book import Account, ApiKey, Order, Trade
from venue_sim.perp_book import PerpOrder
from venue_sim.private_streams import KeyedSocket, PrivateStreams

if TYPE_CHECKING:
    from venue_sim.server import Simulator

TOKEN_TTL_S = 86_400
TOPICS = {False: ("/spotMarket/tradeOrders", "/spotMarket/tradeOrdersV2", "/account/balance"),
          True: ("/contractMarket/tradeOrders", "/contractAccount/wallet", "/contract/positionAll")}


@dataclass
class Token:
    api_key: str
    futures: bool
    expires_at: float


@dataclass(eq=False)
class PrivateSocket(KeyedSocket):
    futures: bool = False
    topics: set[str] = field(default_factory=set)


class KucoinUserData(PrivateStreams):
    def __init__(self, sim: Simulator) -> None:
        super().__init__(sim.exchange)
        self.perps = sim.perps
        self.tokens: dict[str, Token] = {}
        self.exchange.listeners.append(self.on_event)
        self.perps.listeners.append(self.on_event)

    # The admin API counts streams per market.
    @property
    def spot(self) -> dict[str, list[PrivateSocket]]:
        return {k: [s for s in v if not s.futures] for k, v in self.by_key.items()}

    @property
    def futures(self) -> dict[str, list[PrivateSocket]]:
        return {k: [s for s in v if s.futures] for k, v in self.by_key.items()}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws-api-spot/", self._connect(False)), web.get("/ws-api-futures/", self._connect(True))]

    def issue(self, key: ApiKey, futures: bool) -> str:
        token = secrets.token_urlsafe(48)
        self.tokens[token] = Token(key.key, futures, self.exchange.clock() + TOKEN_TTL_S)
        return token

    def subscribed(self, api_key: str, market: str = "spot") -> bool:
        return any(s.topics for s in self.by_key.get(api_key, ()))

    def _connect(self, futures: bool):
        async def handle(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(autoping=True)
            await ws.prepare(request)
            connect_id = request.query.get("connectId") or secrets.token_hex(8)
            token = self.tokens.get(request.query.get("token", ""))
            key = self.exchange.keys.get(token.api_key) if token else None
            if token is None or key is None or token.futures != futures or token.expires_at < self.exchange.clock() \
                    or key.account.name in self.held_down:
                await ws.send_str(json.dumps({"id": connect_id, "type": "error", "code": 401,
                                              "data": "token is invalid"}))
                await ws.close()
                return ws
            socket = PrivateSocket(ws, futures=futures)
            self.bind(socket, key.key)
            socket.send({"id": connect_id, "type": "welcome"})
            await self.serve(ws, socket, self._request)
            return ws

        return handle

    def _request(self, socket: PrivateSocket, raw: str) -> dict | None:
        try:
            message = json.loads(raw)
            kind, request_id = message.get("type"), message.get("id")
        except (ValueError, AttributeError):
            return {"type": "error", "code": 400, "data": "message is not json"}
        if kind == "ping":
            return {"id": request_id, "type": "pong", "timestamp": self.exchange.now_ms() * 1000}
        if kind in ("subscribe", "unsubscribe"):
            topic = message.get("topic")
            if topic not in TOPICS[socket.futures]:
                return {"id": request_id, "type": "error", "code": 404, "data": f"topic {topic} is not found"}
            (socket.topics.add if kind == "subscribe" else socket.topics.discard)(topic)
            return {"id": request_id, "type": "ack"} if message.get("response", True) else None
        return {"id": request_id, "type": "error", "code": 415, "data": "type is not supported"}

    def on_event(self, account: Account, order: Order, trade: Trade | None, kind: str) -> None:
        futures = isinstance(order, PerpOrder)
        topic = "/contractMarket/tradeOrders" if futures else "/spotMarket/tradeOrders"
        sockets = [s for s in self.of(account) if s.futures == futures and topic in s.topics]
        if not sockets:
            return
        changes = [kw.order_change(self.exchange, order, trade, kind)]
        if trade is not None and order.status == "FILLED":  # the last fill: then the order is done
            _, done = kw.order_change(self.exchange, order, None, "FILLED")
            done.update(type="filled", status="done")
            changes.append(("filled", done))
        for _, data in changes:
            message = {"type": "message", "topic": topic, "subject": "orderChange", "channelType": "private",
                       "userId": account.name, "data": data}
            for socket in sockets:
                socket.send(message)

    def expire(self) -> None:
        now = self.exchange.clock()
        for token in [t for t, v in self.tokens.items() if v.expires_at < now]:
            del self.tokens[token]
