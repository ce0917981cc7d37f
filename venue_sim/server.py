"""The simulator: one aiohttp server on loopback speaking Binance's spot and USDⓈ-M futures REST
APIs, its user-data WebSockets and the /_sim/ admin API; plus the same admin operations as
plain methods for in-process tests.

    sim = await Simulator(seed=1).start()            # port 0 picks a free port
    account = sim.create_account("alice", {"USDT": "10000"}, futures_wallet="10000")
    exchange = ccxt.pro.binance({**ccxt_config(sim.url), "apiKey": account.api_key, "secret": account.secret})
    ...
    sim.inject(kind="http_5xx_after_accept", account="alice")   # the next order: executed, but a 503
    sim.orders("alice", client_order_id="x-1")                  # what really reached the venue
    await sim.stop()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from decimal import Decimal

from aiohttp import web

from venue_sim import binance_limits, kucoin_wire, okx_wire, usdm_rules
from venue_sim.admin import AdminApi, loopback_only
from venue_sim.auth import Authenticator
from venue_sim.bybit import BybitApi
from venue_sim.binance_limits import BinanceLimits
from venue_sim.bybit_limits import RateLimits
from venue_sim.bybit_userdata import BybitUserData
from venue_sim.book import DEFAULT_SYMBOLS, Account, BinanceError, Exchange, Order, Symbol, Trade
from venue_sim import coinbase, kraken
from venue_sim.coinbase_userdata import CoinbaseUserData
from venue_sim.kraken_userdata import KrakenUserData
from venue_sim.endpoints import Endpoint
from venue_sim.faults import Fault, Faults
from venue_sim.futures import FuturesApi
from venue_sim.kucoin import KucoinApi
from venue_sim.kucoin_userdata import KucoinUserData
from venue_sim.okx import OkxApi
from venue_sim.okx_userdata import OkxUserData
from venue_sim.perp_book import PerpOrder, Perpetuals
from venue_sim.spot import SpotApi
from venue_sim.userdata import UserData
from venue_sim.wallet import WalletApi

log = logging.getLogger("venue_sim")
# Per dialect other than binance's: its REST API and its private stream (each built from the
# Simulator), its own spot rules (None: Binance's symbols), and what its book keeps differently
# (Exchange keyword arguments: fees, API key and client order id formats).
DIALECT_APIS = {
    "bybit": (BybitApi, lambda sim: BybitUserData(sim.exchange, sim.perps), None, {}),
    "okx": (OkxApi, OkxUserData, okx_wire.SYMBOLS, {}),
    "kucoin": (KucoinApi, KucoinUserData, kucoin_wire.SYMBOLS, {}),
    "coinbase": (coinbase.CoinbaseApi, CoinbaseUserData, None, coinbase.VENUE_RULES),
    "kraken": (kraken.KrakenApi, KrakenUserData, None, kraken.VENUE_RULES),
}
DIALECTS = ("binance", *DIALECT_APIS)


class Simulator:
    def __init__(self, seed: int = 0, host: str = "127.0.0.1", port: int = 0, tick_interval: float | None = None,
                 *, symbols: tuple[Symbol, ...] | None = None, client_id_scope: str | None = None,
                 listen_key_ttl_s: float = 3600.0, id_base: int = 0, dialect: str = "binance",
                 history_hours: int = 0) -> None:
        """tick_interval: seconds between random-walk price steps (None: prices move only when
        told, which keeps tests deterministic). history_hours: hourly prices from before
        start-up, by the same walk (risk's volatility and correlation windows are full at
        once). id_base: added to every order and trade id.
        dialect: the venue's protocol, "binance" (spot /api/v3 + USDⓈ-M /fapi), "bybit" (v5,
        spot + linear, with Bybit's request limits in rate_limits), "okx" (v5, spot + SWAP),
        "kucoin" (the spot HF API, and the futures API under kucoin.FUTURES_PREFIX), "coinbase"
        (Advanced Trade, spot) or "kraken" (spot).
        symbols: the books' symbols (default: the dialect's own spot rules, else Binance's).
        client_id_scope: "open" refuses a client order id only while its order is open (Binance's
        rule, and the binance dialect's default), "known" refuses any id used before (the other
        dialects' default)."""
        if dialect not in DIALECTS:
            raise ValueError(f"dialect is one of {', '.join(DIALECTS)}")
        self.dialect = dialect
        api = DIALECT_APIS.get(dialect)
        symbols = symbols or (api[2] if api and api[2] else DEFAULT_SYMBOLS)
        client_id_scope = client_id_scope or ("open" if dialect == "binance" else "known")
        self.exchange = Exchange(seed=seed, symbols=symbols, client_id_scope=client_id_scope, id_base=id_base,
                                 **(api[3] if api else {}))
        if history_hours:
            self.exchange.backfill(history_hours)
        # Binance's perpetuals trade by USDⓈ-M contract rules; the other dialects' by their books' own.
        self.perps = Perpetuals(self.exchange, *((usdm_rules.CONTRACTS, usdm_rules.BRACKETS) if not api else ()))
        self.limits = BinanceLimits()  # the binance dialect's weight and order-count meters
        self.auth = Authenticator(self.exchange)
        self.faults = Faults()
        self.rate_limits = RateLimits()  # enforced by the bybit dialect
        self.userdata = api[1](self) if api else UserData(self.exchange, self.perps, self.auth, listen_key_ttl_s,
                                                          limits=self.limits,
                                                          methods=SpotApi(self.exchange).ws_methods())
        self.host, self.port = host, port
        self.tick_interval = tick_interval
        self.request_log: deque[tuple[float, str, str | None]] = deque(maxlen=100_000)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []

    # Older names kept for callers elsewhere in the tree.
    @property
    def futures(self) -> Perpetuals:
        return self.perps

    @property
    def _streams(self) -> dict:
        return self.userdata.spot

    @property
    def _futures_streams(self) -> dict:
        return self.userdata.futures

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> Simulator:
        app = web.Application(middlewares=[loopback_only], client_max_size=1024**2)
        if self.dialect in DIALECT_APIS:
            app.add_routes(DIALECT_APIS[self.dialect][0](self).routes())
        else:
            endpoints = [*SpotApi(self.exchange).endpoints(), *FuturesApi(self.exchange, self.perps).endpoints(),
                         *WalletApi(self.exchange).endpoints()]
            app.add_routes([web.route(e.method, e.path, self._handler(e)) for e in endpoints])
        app.add_routes(self.userdata.routes())
        app.add_routes(AdminApi(self).routes())
        if self.dialect == "binance":  # last: only what no route above matched
            app.add_routes([web.route("*", "/{path:.*}", self._not_found)])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._tasks.append(asyncio.create_task(self._every(1.0, self.userdata.expire)))
        if self.tick_interval:
            self._tasks.append(asyncio.create_task(self._every(self.tick_interval, self.tick)))
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        await self.userdata.close_all()  # open sockets would hold the shutdown for its whole timeout
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    @staticmethod
    async def _every(seconds: float, action) -> None:
        while True:
            await asyncio.sleep(seconds)
            action()

    # --- the REST pipeline -----------------------------------------------------------------
    def _handler(self, endpoint: Endpoint):
        family = binance_limits.family(endpoint.path)

        async def run(request: web.Request) -> web.StreamResponse:
            used: list = []
            try:
                key, params = None, dict(request.query)
                try:
                    if endpoint.signed:
                        key, params = self.auth.rest(request.headers.get("X-MBX-APIKEY"), request.query_string,
                                                     await request.text())
                        if endpoint.trade and not key.can_trade:
                            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
                finally:  # a refused request weighs too
                    used = self.limits.weigh(family, request.remote or "", endpoint.weight_of(params),
                                            self.exchange.clock())
                account = key.account.name if key else None
                self.request_log.append((time.time(), endpoint.name, account))
                plan = self.faults.plan(endpoint.name, account)
                if plan.latency_s:
                    await asyncio.sleep(plan.latency_s)
                if plan.refuse:
                    raise plan.refuse
                result = await endpoint.handler(key, params)
                if key is not None and (placed := endpoint.orders_of(params)):
                    used += self.limits.count_orders(family, key.account.name, placed, self.exchange.clock())
                if plan.latency_after_s:
                    await asyncio.sleep(plan.latency_after_s)
                if plan.disconnect:  # done, but the caller never hears: the connection just drops
                    request.transport.close()
                    return web.Response(status=500)
                if plan.after:  # done, but the caller is told otherwise
                    raise plan.after
                return web.json_response(result, headers=binance_limits.headers(used))
            except BinanceError as err:
                return web.json_response({"code": err.code, "msg": err.msg}, status=err.status,
                                         headers={**binance_limits.headers(used), **err.headers})
        return run

    @staticmethod
    async def _not_found(request: web.Request) -> web.Response:
        """An unknown path answers as Binance's API does, in JSON."""
        return web.json_response({"code": -1020, "msg": "This operation is not supported."}, status=404)

    # --- in-process admin (the HTTP admin API calls these) ---------------------------------
    def create_account(self, name: str, balances: dict[str, str] | None = None, *,
                       futures_wallet: str | Decimal | None = None, api_key: str | None = None,
                       secret: str | None = None, passphrase: str | None = None,
                       public_key: str | None = None) -> Account:
        """A venue account with one API key (account.api_key / account.secret, and the
        account.passphrase OKX and KuCoin keys carry), spot balances and optionally a USDT
        futures wallet. public_key (PEM): the key is an Ed25519 one, Binance's, and has no secret."""
        account = self.exchange.create_account(name, balances, api_key=api_key, secret=secret, passphrase=passphrase,
                                               public_key=public_key)
        if futures_wallet is not None:
            self.perps.fund(account, Decimal(str(futures_wallet)))
        return account

    def fund(self, name: str, asset: str, amount: Decimal | str, *, wallet: str = "spot") -> None:
        account = self.exchange.accounts[name]
        if wallet == "futures":
            if asset != "USDT":
                raise ValueError("the futures wallet holds USDT")
            self.perps.fund(account, Decimal(str(amount)))
        elif wallet == "spot":
            self.exchange.fund(account, asset, Decimal(str(amount)))
        else:
            raise ValueError("wallet is spot or futures")

    def price(self, symbol: str) -> Decimal:
        return self.exchange.prices[symbol]

    def set_price(self, symbol: str, price: Decimal | str) -> None:
        """Move the price now; resting limit orders it crosses fill at their limit."""
        self.exchange.set_price(symbol, Decimal(str(price)))

    def price_path(self, symbol: str, prices: list[Decimal | str]) -> None:
        """The next ticks take these prices, in order, before the random walk resumes."""
        self.exchange.symbol(symbol)
        self.exchange.price_paths[symbol] = [Decimal(str(p)) for p in prices]

    def tick(self, n: int = 1) -> None:
        """n steps of the walk, each as long as the tick interval (1 s without one)."""
        for _ in range(n):
            self.exchange.step_prices(self.tick_interval or 1.0)

    def set_slippage(self, fraction: Decimal | str) -> None:
        fraction = Decimal(str(fraction))
        if not 0 <= fraction < 1:
            raise ValueError("slippage is a fraction in [0, 1)")
        self.exchange.slippage = fraction

    def inject(self, **spec) -> Fault:
        """Add a fault: kind (see faults.KINDS), endpoint ("POST /api/v3/order"; "*" for all),
        account (name or "*"), count (1; -1 for every request), latency_ms, status, code,
        msg, retry_after."""
        return self.faults.add(**spec)

    def clear_faults(self) -> None:
        self.faults.remove()

    def orders(self, name: str, client_order_id: str | None = None) -> list[Order]:
        """Every spot order that really reached the venue for this account, oldest first."""
        orders = self.exchange.accounts[name].orders.values()
        return sorted((o for o in orders if client_order_id in (None, o.client_order_id)), key=lambda o: o.order_id)

    def futures_orders(self, name: str, client_order_id: str | None = None) -> list[PerpOrder]:
        """Every perpetual order that really reached the venue for this account, oldest first."""
        orders = self.perps.book(self.exchange.accounts[name]).orders.values()
        return sorted((o for o in orders if client_order_id in (None, o.client_order_id)), key=lambda o: o.order_id)

    def algo_orders(self, name: str, client_algo_id: str | None = None) -> list:
        """Every conditional (algo) perpetual order that reached the venue for this account."""
        algos = self.perps.book(self.exchange.accounts[name]).algos.values()
        return sorted((a for a in algos if client_algo_id in (None, a.client_algo_id)), key=lambda a: a.algo_id)

    def trades(self, name: str, market: str = "spot") -> list[Trade]:
        account = self.exchange.accounts[name]
        return list(account.trades if market == "spot" else self.perps.book(account).trades)

    def stream_subscribed(self, name: str, market: str = "spot") -> bool:
        """Whether the account has a live user-data stream (market "spot" or "futures")."""
        return any(self.userdata.subscribed(k, market) for k in self.exchange.accounts[name].keys)

    async def drop_streams(self, name: str | None = None) -> int:
        """Close the user-data sockets (all, or one account's); clients must reconnect."""
        return await self.userdata.drop(name)

    def mute_streams(self, name: str) -> int:
        """One account's user-data streams die quietly: the sockets stay open and answer pings,
        but deliver no more events until the client subscribes again. Returns how many."""
        return self.userdata.mute(name)

    async def hold_streams_down(self, name: str, down: bool = True) -> None:
        """An outage of one account's user-data streams: closed, and refused until released."""
        if down:
            self.userdata.held_down.add(name)
            await self.userdata.drop(name)
        else:
            self.userdata.held_down.discard(name)
