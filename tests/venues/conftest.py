"""Fixtures for the simulator's own tests: a simulator on port 0, and a raw Binance-style
client that signs requests itself (to test the protocol below ccxt)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import aiohttp
import pytest_asyncio

from venue_sim import Simulator
from venue_sim.auth import sign


class RawClient:
    """Speaks Binance's REST protocol by hand: X-MBX-APIKEY and an HMAC-SHA256 signature."""

    def __init__(self, sim: Simulator, api_key: str, secret: str) -> None:
        self.sim, self.api_key, self.secret = sim, api_key, secret
        self.http = aiohttp.ClientSession(base_url=sim.url)

    def signed(self, params: dict, *, secret: str | None = None, timestamp: int | None = None) -> str:
        query = urlencode({**params, "timestamp": timestamp if timestamp is not None else int(time.time() * 1000)})
        return f"{query}&signature={sign(secret or self.secret, query)}"

    async def call(self, method: str, path: str, params: dict | None = None, *, where: str = "body",
                   secret: str | None = None, timestamp: int | None = None, api_key: str | None = None):
        """-> (status, json, headers). where: "body" (form) or "query" for the signed payload."""
        payload = self.signed(params or {}, secret=secret, timestamp=timestamp)
        headers = {"X-MBX-APIKEY": api_key if api_key is not None else self.api_key}
        if where == "body" and method in ("POST", "PUT"):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = await self.http.request(method, path, data=payload, headers=headers)
        else:
            response = await self.http.request(method, f"{path}?{payload}", headers=headers)
        async with response:
            return response.status, await response.json(), response.headers

    async def public(self, path: str, params: dict | None = None):
        async with self.http.get(path, params=params or {}) as response:
            return response.status, await response.json()

    async def admin(self, method: str, path: str, body: dict | None = None):
        async with self.http.request(method, path, json=body) as response:
            return response.status, await response.json()

    async def close(self) -> None:
        await self.http.close()


@pytest_asyncio.fixture
async def sim():
    simulator = await Simulator(seed=3).start()
    yield simulator
    await simulator.stop()


@pytest_asyncio.fixture
async def client_for(sim):
    """client_for(name, balances, futures_wallet=None) -> RawClient for a new funded account."""
    clients: list[RawClient] = []

    def make(name: str, balances: dict | None = None, futures_wallet: str | None = None) -> RawClient:
        account = sim.create_account(name, balances or {}, futures_wallet=futures_wallet)
        client = RawClient(sim, account.api_key, account.secret)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
