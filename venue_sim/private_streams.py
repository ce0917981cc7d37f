"""What a dialect's private WebSocket keeps whatever its protocol: the open sockets, each bound
to the API key it authenticated with, the accounts held down (an outage), and closing them
(one account's, or all) so that clients must reconnect. The OKX and KuCoin streams build on
it; their modules say how a client authenticates and what it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from venue_sim.book import Account, Exchange
from venue_sim.userdata import Socket


@dataclass(eq=False)
class KeyedSocket(Socket):
    api_key: str | None = None  # once authenticated


class PrivateStreams:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.by_key: dict[str, list[KeyedSocket]] = {}  # API key -> authenticated sockets
        self.held_down: set[str] = set()  # accounts whose streams refuse to (re)connect, for outage tests
        self._sockets: set[KeyedSocket] = set()

    def bind(self, socket: KeyedSocket, api_key: str) -> None:
        if socket.api_key is None:
            socket.api_key = api_key
            self.by_key.setdefault(api_key, []).append(socket)

    def of(self, account: Account) -> list[KeyedSocket]:
        return [s for k in account.keys for s in self.by_key.get(k, ())]

    async def serve(self, ws: web.WebSocketResponse, socket: KeyedSocket,
                    on_text: Callable[[KeyedSocket, str], dict | None]) -> None:
        """Read the client's text messages until it goes, queueing each answer; then forget it."""
        socket.task = asyncio.create_task(socket.pump())
        self._sockets.add(socket)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    reply = on_text(socket, msg.data)
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

    async def drop(self, account: str | None = None) -> int:
        """Close the sockets (all, or one account's); clients must reconnect."""
        keys = None if account is None else set(self.exchange.accounts[account].keys)
        victims = [s for s in self._sockets if keys is None or s.api_key in keys]
        for socket in victims:
            await socket.ws.close(code=1001, message=b"stream restarted")
        return len(victims)

    async def close_all(self) -> None:
        for socket in list(self._sockets):
            await socket.ws.close(code=1001, message=b"venue shutting down")

    def expire(self) -> None:
        """The Simulator's housekeeping, every second: nothing expires unless a dialect says so."""
