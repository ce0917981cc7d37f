"""A demo master's live trading: a bot placing small market orders on the simulator with plain
ccxt, as a person's own trading tool would, while the price drifts a little so charts and
P&L move. Replication sees the fills on the master's user-data stream and copies them."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from decimal import Decimal

import ccxt.async_support as ccxt

from venue_sim import Simulator, ccxt_config

log = logging.getLogger("copytrade.demo.bot")
# Buy then sell the same size, so the master goes flat every other trade and followers both
# open and close; sizes vary so the sizing modes show.
SIZES = (Decimal("0.02"), Decimal("0.03"), Decimal("0.01"))
DRIFT = 0.0004  # σ of one step, a fraction of the price
STREAM_WAIT_S = 60.0


class MasterBot:
    def __init__(self, sim: Simulator, account: str, api_key: str, secret: str, *, interval_s: float = 2.0,
                 symbol: str = "BTC/USDT", sizes: tuple[Decimal, ...] = SIZES, anchor: Decimal = Decimal("64000"),
                 say: Callable[[str], None] = print) -> None:
        self.sim, self.account = sim, account
        self.symbol, self.venue_symbol = symbol, symbol.replace("/", "")
        self.sizes = sizes
        self.anchor = anchor  # the price drifts around this, never far
        self.exchange = ccxt.binance({**ccxt_config(sim.url, rate_limit=False), "apiKey": api_key, "secret": secret})
        self.interval_s = interval_s
        self.say = say
        self.random = random.Random()
        self.trades = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.exchange.close()

    async def run(self) -> None:
        await self._wait_for_replication()
        while True:
            self._drift()
            await self._trade_once()
            await asyncio.sleep(self.interval_s)

    async def _wait_for_replication(self) -> None:
        """Trade only once replication listens on the master's stream, so the first fills copy."""
        deadline = time.monotonic() + STREAM_WAIT_S
        while not self.sim.stream_subscribed(self.account):
            if time.monotonic() > deadline:
                log.warning("replication is not watching the master's stream yet; trading anyway")
                return
            await asyncio.sleep(0.1)

    def _drift(self) -> None:
        """A small random step, pulled back toward the anchor so a long demo stays near it."""
        price = self.sim.price(self.venue_symbol)
        pull = (self.anchor - price) / self.anchor / 10
        step = Decimal(str(round(self.random.gauss(0, DRIFT), 6))) + pull
        self.sim.set_price(self.venue_symbol, price * (1 + step))

    async def _trade_once(self) -> None:
        side = "buy" if self.trades % 2 == 0 else "sell"
        size = self.sizes[(self.trades // 2) % len(self.sizes)]
        try:
            order = await self.exchange.create_order(
                self.symbol, "market", side, format(size, "f"),  # the id is unique across runs
                params={"newClientOrderId": f"demo-{self.account}-{time.time_ns() // 1_000_000}"})
        except Exception as exc:  # noqa: BLE001 - a failed order is worth a line, not the end of the demo
            # The type only: ccxt's messages may carry signed request URLs.
            self.say(f"master bot: {self.account} {side} {size} {self.symbol} failed: {type(exc).__name__}")
            return
        finally:
            self.trades += 1
        price = Decimal(str(order.get("average") or self.sim.price(self.venue_symbol))).quantize(Decimal("0.01"))
        self.say(f"master bot: {self.account} {'bought' if side == 'buy' else 'sold'} {size} {self.symbol} at {price}")
