"""The demo's master: a bot trading small BTC/USDT market orders on the simulator with plain
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
SYMBOL, VENUE_SYMBOL = "BTC/USDT", "BTCUSDT"
# Buy then sell the same size, so the master goes flat every other trade and followers both
# open and close; sizes vary so the sizing modes show.
SIZES = (Decimal("0.002"), Decimal("0.003"), Decimal("0.001"))
ANCHOR = Decimal("64000")  # the price drifts around this, never far
DRIFT = 0.0004  # σ of one step, a fraction of the price
STREAM_WAIT_S = 60.0


class MasterBot:
    def __init__(self, sim: Simulator, account: str, api_key: str, secret: str, *, interval_s: float = 2.0,
                 say: Callable[[str], None] = print) -> None:
        self.sim, self.account = sim, account
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
        price = self.sim.price(VENUE_SYMBOL)
        pull = (ANCHOR - price) / ANCHOR / 10
        step = Decimal(str(round(self.random.gauss(0, DRIFT), 6))) + pull
        self.sim.set_price(VENUE_SYMBOL, price * (1 + step))

    async def _trade_once(self) -> None:
        side = "buy" if self.trades % 2 == 0 else "sell"
        size = SIZES[(self.trades // 2) % len(SIZES)]
        try:
            order = await self.exchange.create_order(
                SYMBOL, "market", side, format(size, "f"),
                params={"newClientOrderId": f"demo-bot-{time.time_ns() // 1_000_000}"})  # unique across runs
        except Exception as exc:  # noqa: BLE001 - a failed order is worth a line, not the end of the demo
            # The type only: ccxt's messages may carry signed request URLs.
            self.say(f"master bot: {side} {size} {SYMBOL} failed: {type(exc).__name__}")
            return
        finally:
            self.trades += 1
        price = Decimal(str(order.get("average") or self.sim.price(VENUE_SYMBOL))).quantize(Decimal("0.01"))
        self.say(f"master bot: {'bought' if side == 'buy' else 'sold'} {size} {SYMBOL} at {price}")
