"""CcxtVenue: any ccxt exchange (binance, bybit, okx, ...) through ccxt's async API, with
ccxt.pro's user-data stream for fills and order updates. Spot or perpetual swaps.

Pointed at a simulator or a testnet by configuration alone: `config` goes to the ccxt
constructor, which deep-merges `urls` and `options` (see venue_sim.ccxt_config)."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import email.utils
import functools
import hashlib
import logging
import math
import re
import ssl
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import aiohttp
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
from ccxt.base import errors as ccxt_errors
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE
from opentelemetry.trace import SpanKind

from services.kit import tracing
from services.replication.venues.base import (
    ZERO, AccountSnapshot, Balance, ErrorKind, Fill, Instrument, OrderRequest, OrderState, Position,
    RoundedQuantity, VenueError,
)

log = logging.getLogger("copytrade.venue.ccxt")

STREAM_BACKOFF_S = (0.05, 0.25, 1.0, 2.0, 5.0)
# After a reconnect, fills missed while the stream was down are fetched over REST at these
# delays (while the new subscription stays quiet): early for speed, later to cover a
# subscription that took longer to go live than the first fetch.
BACKFILL_AFTER_S = (0.25, 1.0, 3.0)
# After a reconnect, how long the new subscription may take to prove itself before the stream
# is reported back up (a subscription refused right away means still down).
STREAM_UP_CHECK_S = 0.5
# How often a waiting fill stream looks into ccxt's cache for trades no watch handed out.
PEEK_S = 0.05
PEEK_TRADES = 100  # the newest trades of the cache: stragglers are at its end
SEEN_TRADES = 20_000  # trade ids remembered to deliver each fill once
IP_BAN_RETRY_S = 600.0  # how long an IP ban (bybit's 403) lasts when the venue does not say
MARKET_TYPES = {"spot": "spot", "swap": "swap", "perpetual": "swap", "future": "future"}

# Venue constants as data. How each exchange's fetchMarkets option names the market type, so
# load_markets asks for that one market type only.
FETCH_MARKETS_TYPE = {"binance": {"swap": "linear", "future": "linear"}, "bybit": {"swap": "linear"},
                      "binanceusdm": {"swap": "linear"}}
# Options that keep load_markets to one request and avoid binance's quoteOrderQty trap (a market
# order given a price is sent as quoteOrderQty = amount * price).
EXCHANGE_OPTIONS = {
    "binance": {"fetchCurrencies": False, "fetchMargins": False, "createOrder": {"quoteOrderQty": False}},
    "binanceusdm": {"fetchCurrencies": False, "fetchMargins": False},
    # bybit's unified account keeps the last 500 orders of any state queryable; ccxt wants that acknowledged.
    "bybit": {"fetchOrder": {"acknowledged": True}},
    # Advanced Trade's brokerage accounts (api/v3), not the Coinbase app's v2 wallets.
    "coinbase": {"fetchBalance": "v3PrivateGetBrokerageAccounts"},
}
# The parameter naming an order by its client order id in ccxt's cancel/fetch calls, where it is
# not ccxt's own `clientOrderId`.
CLIENT_ID_PARAM = {"bybit": "orderLinkId"}
# The createOrder parameter carrying our client order id, where ccxt drops its own `clientOrderId`
# (ccxt's coinbase sends "ccxt-<uuid>" unless `client_order_id` is given).
CREATE_CLIENT_ID_PARAM = {"coinbase": "client_order_id"}
# Client order ids a venue takes as they are; others go as the UUID their SHA-256 names (Kraken's
# cl_ord_id is a UUID or at most 18 characters; ours are 28).
CLIENT_ID_FORMAT = {"kraken": re.compile(r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                                         r"[0-9a-fA-F]{12}|[0-9a-fA-F]{32}|[\x21-\x7e]{1,18})$")}
# How an order is found by its client order id after an unknown outcome (README, "Recovery by
# venue"). Unlisted: ccxt's fetchOrder takes the id (binance origClientOrderId).
#   bybit:    /v5/order/realtime by orderLinkId (ccxt's fetchOrder insists on an orderId)
#   kraken:   OpenOrders, then ClosedOrders, filtered by cl_ord_id at the venue (QueryOrders wants a txid)
#   coinbase: no lookup by client_order_id exists; the product's recent orders are listed and matched
RECOVERY = {"bybit": "_fetch_bybit_order", "kraken": "_find_kraken_order", "coinbase": "_scan_coinbase_orders"}
RECOVERY_SCAN_S = 7 * 86_400  # coinbase: how far back the orders are listed
RECOVERY_SCAN_PAGES = 20  # of 250 orders each
# Venues whose ccxt spends a quote amount on a market buy (and wants a price to work it out):
# these parameters buy the base quantity itself (coinbase: market_market_ioc.base_size).
MARKET_BUY_BASE_SIZE = {"coinbase": lambda size: {"createMarketBuyOrderRequiresPrice": False,
                                                  "order_configuration": {"market_market_ioc": {"base_size": size}}}}
# Venues whose createOrder answer acknowledges only (ids: no status, no fills): a market order's
# state is asked for at once by its venue id, so the copy records what it filled.
ACK_ONLY = {"bybit", "coinbase", "kraken"}
# Venues that cancel by their own order id only: the order is found by client order id first.
CANCEL_BY_VENUE_ID = {"coinbase"}
# Venues whose ccxt.pro stream carries orders but no fills (coinbase's user channel): a fill is
# an order's filled quantity growing, and its trades are read over REST.
FILLS_FROM_ORDERS = {"coinbase"}
# Answers a venue gives with HTTP 200 (so no status to judge by) that are clear refusals, no order
# made, which ccxt raises as a bare ExchangeError: coinbase's `success: false`, kraken's EOrder errors.
REFUSALS = {"coinbase": re.compile(r'"success"\s*:\s*false'), "kraken": re.compile(r'\bEOrder:')}
# A stream's fills from before it started are history, not news (kraken's snapshot replays the last
# 50 fills on every subscription); this much earlier is still taken, for clocks apart.
STREAM_START_GRACE_S = 2.0

# (HTTP status, headers) of the last REST answer in this task: ccxt exceptions carry neither,
# and exchange.last_response_headers is shared by every concurrent request of the instance.
ACCOUNT_ORDER_LIMIT = re.compile(r'"code"\s*:\s*-1015\b')  # Binance: the account's new-order count
_last_response: contextvars.ContextVar[tuple[int, Mapping[str, str]] | None] = contextvars.ContextVar(
    "ccxt_last_response", default=None)


@functools.lru_cache(maxsize=4)
def _shared_ssl_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def _dec(value, default: Decimal = ZERO) -> Decimal:
    return default if value is None or value == "" else Decimal(str(value))


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(
            merged.get(key), dict) else value
    return merged


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Retry-After in seconds: delta-seconds, or an HTTP date; else Bybit's
    X-Bapi-Limit-Reset-Timestamp (epoch ms), rounded up to whole seconds."""
    if not headers:
        return None
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if raw is None:
        reset = next((v for k, v in headers.items() if k.lower() == "x-bapi-limit-reset-timestamp"), None)
        try:
            wait = int(reset) / 1000 - (time.time() if now is None else now)
        except (TypeError, ValueError):
            return None
        return float(max(0, math.ceil(wait)))
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def venue_client_order_id(exchange_id: str, client_order_id: str) -> str:
    """Our client order id as the venue takes it: itself, or (where the venue's format has no room
    for it) the UUID its SHA-256 names, so the same copy always carries the same venue id."""
    fmt = CLIENT_ID_FORMAT.get(exchange_id)
    if fmt is None or fmt.match(client_order_id):
        return client_order_id
    return str(uuid.UUID(bytes=hashlib.sha256(client_order_id.encode()).digest()[:16]))


def _venue_code(exc: BaseException) -> str | None:
    """The venue's error code from ccxt's message ('binance {"code":-2010,"msg":...}')."""
    match = re.search(r'"code"\s*:\s*"?(-?\w+)"?', str(exc))
    return match.group(1) if match else None


def _never_sent(exc: BaseException) -> bool:
    """True when the request provably never reached the venue: no connection was made, or the
    request could not be written (a venue does not execute an incomplete request)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, (aiohttp.ClientConnectorError, ConnectionRefusedError)):
            return True
        if isinstance(cause, aiohttp.ClientOSError) and "Can not write request" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def classify(exc: BaseException, *, order_sent: bool = False, status: int | None = None,
             headers: Mapping[str, str] | None = None) -> VenueError:
    """What a ccxt failure means for the caller.

    status/headers: the HTTP answer the failure came with, if any. For a call that may have
    delivered an order (order_sent), everything short of a clear refusal — a 5xx, a timeout,
    -1007, a connection lost after sending — is UNKNOWN_OUTCOME: the order may exist, so ask
    for it by client order id before sending it again."""
    if isinstance(exc, VenueError):
        return exc
    message = f"{type(exc).__name__}: {exc}"[:500]
    code = _venue_code(exc)
    unknown_or = (lambda kind: ErrorKind.UNKNOWN_OUTCOME if order_sent else kind)  # noqa: E731

    def err(kind: ErrorKind, retry_after: float | None = None) -> VenueError:
        return VenueError(kind, message, retry_after, code)

    if isinstance(exc, (ccxt_errors.DDoSProtection, ccxt_errors.RateLimitExceeded)):
        retry_after = parse_retry_after(headers)
        if retry_after is None and status == 403:  # bybit's IP ban: a bare 403, for 10 minutes at least
            retry_after = IP_BAN_RETRY_S
        return err(ErrorKind.RATE_LIMIT, retry_after)  # 429/418/10006/403: refused, not executed
    if isinstance(exc, ccxt_errors.InvalidNonce):
        return err(ErrorKind.PLATFORM)  # clock skew (-1021): refused before execution
    if isinstance(exc, (ccxt_errors.RequestTimeout, asyncio.TimeoutError, TimeoutError)):
        return err(unknown_or(ErrorKind.TIMEOUT))  # includes -1007 and HTTP 408/504
    if isinstance(exc, ccxt_errors.NetworkError):  # ExchangeNotAvailable, OnMaintenance, transport failures
        if status is None:
            return err(ErrorKind.NETWORK if _never_sent(exc) else unknown_or(ErrorKind.NETWORK))
        return _by_status(exc, status, order_sent, err)
    if isinstance(exc, ccxt_errors.OperationFailed):  # BadResponse, -1000/-1001/-1006 internal errors
        return err(unknown_or(ErrorKind.PLATFORM))
    if isinstance(exc, ccxt_errors.AuthenticationError):  # -1022, -2014, -2015, PermissionDenied
        return err(ErrorKind.AUTH)
    if isinstance(exc, (ccxt_errors.InsufficientFunds, ccxt_errors.InvalidOrder, ccxt_errors.BadRequest,
                        ccxt_errors.OperationRejected, ccxt_errors.ArgumentsRequired)):
        return err(ErrorKind.REJECTED)  # the venue answered and refused: nothing was executed
    if isinstance(exc, (ccxt_errors.NotSupported, ccxt_errors.InvalidProxySettings,
                        ccxt_errors.ExchangeClosedByUser)):
        return err(ErrorKind.PLATFORM)  # our configuration or lifecycle, raised before sending
    if isinstance(exc, ccxt_errors.ExchangeError):  # an error code ccxt does not map
        if status is None:
            return err(unknown_or(ErrorKind.PLATFORM))
        return _by_status(exc, status, order_sent, err)
    if _never_sent(exc):
        return err(ErrorKind.NETWORK)
    return err(unknown_or(ErrorKind.PLATFORM))


def _by_status(exc: BaseException, status: int, order_sent: bool, err) -> VenueError:
    if status >= 500 or status < 400:  # the venue failed, or said something odd on a 2xx
        return err(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.PLATFORM)
    if status in (401, 407, 511):
        return err(ErrorKind.AUTH)
    if status == 400 or status == 422:
        return err(ErrorKind.REJECTED)
    return err(ErrorKind.PLATFORM)  # 403 (WAF), 404/405/410 (wrong URL), 409, 451


class _Seen:
    """The last N trade ids: each fill is delivered once, memory stays bounded."""

    def __init__(self, size: int = SEEN_TRADES) -> None:
        self.size, self._ids = size, OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._ids

    def add(self, key: str) -> bool:
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


class CcxtVenue:
    """One account on one ccxt exchange. See base.Venue for the contract.

    exchange_id: a ccxt id ("binance", "bybit", "okx", ...). market_type: "spot" or "swap"
    (perpetuals). rate_limit: ccxt's rate limiter (on unless turned off here or in config).
    watch_symbols: symbols whose fills are fetched over REST after a stream reconnects
    (symbols this venue traded or saw fills in are added as they occur)."""

    def __init__(self, exchange_id: str, *, api_key: str, secret: str, password: str = "",
                 market_type: str = "spot", config: dict | None = None, rate_limit: bool | None = None,
                 quote_currency: str = "USDT", watch_symbols: tuple[str, ...] = ()) -> None:
        if market_type not in MARKET_TYPES:
            raise ValueError(f"market_type is one of {', '.join(MARKET_TYPES)}")
        cls = getattr(ccxt_pro, exchange_id, None) or getattr(ccxt_async, exchange_id, None)
        if cls is None:
            raise ValueError(f"ccxt has no exchange {exchange_id!r}")
        self.exchange_id = exchange_id
        self.market_type = MARKET_TYPES[market_type]
        fetch_type = FETCH_MARKETS_TYPE.get(exchange_id, {}).get(self.market_type, self.market_type)
        defaults = {"enableRateLimit": True,
                    "options": {"defaultType": self.market_type, "fetchMarkets": {"types": [fetch_type]},
                                **EXCHANGE_OPTIONS.get(exchange_id, {})}}
        params = _deep_merge(defaults, config or {})
        # The market type is this adapter's to decide, whatever a shared config says.
        params["options"].update(defaultType=self.market_type,
                                 fetchMarkets={**params["options"].get("fetchMarkets", {}), "types": [fetch_type]})
        params.update(apiKey=api_key, secret=secret)
        if password:
            params["password"] = password
        if rate_limit is not None:
            params["enableRateLimit"] = rate_limit
        self.exchange = cls(params)
        if self.exchange.verify and self.exchange.ssl_context is None:
            # ccxt builds a CA store per instance on its first request (tens of ms of blocking CPU
            # each): with hundreds of follower accounts that stalls the loop; one store serves all.
            self.exchange.ssl_context = _shared_ssl_context(self.exchange.cafile)
        if "fetchCurrencies" not in EXCHANGE_OPTIONS.get(exchange_id, {}):
            # Currencies are not needed to trade, and fetching them costs requests (signed ones).
            self.exchange.has = {**self.exchange.has, "fetchCurrencies": False}
        self._record_responses()
        self.quote_currency = quote_currency
        self._instruments: dict[str, Instrument] = {}
        self._symbols: set[str] = set(watch_symbols)
        self._closed = asyncio.Event()
        self._stream_listeners: dict[str, Callable[[str, bool], None]] = {}
        self._background: set[asyncio.Task] = set()
        self._our_ids: OrderedDict[str, str] = OrderedDict()  # venue client order id -> ours, where they differ
        self._filled: OrderedDict[str, Decimal] = OrderedDict()  # FILLS_FROM_ORDERS: venue order id -> filled
        self._orders_seen: OrderedDict[str, OrderState] = OrderedDict()  # order_updates: the last state by venue id
        self.budget = None  # see use_budget

    def use_budget(self, budget) -> None:
        """Send every REST request through `budget.request()` and every order through
        `budget.order()` (services.replication.budget.KeyBudget) instead of ccxt's own
        per-instance rate limiter, and tell it of refusals the venue still sends."""
        self.budget = budget

        async def throttle(cost=None) -> None:
            await budget.request()

        self.exchange.throttle = throttle
        self.exchange.enableRateLimit = True

    def _record_responses(self) -> None:
        original = self.exchange.on_rest_response

        def on_rest_response(code, reason, url, method, headers, body, request_headers, request_body):
            _last_response.set((code, headers or {}))
            return original(code, reason, url, method, headers, body, request_headers, request_body)

        self.exchange.on_rest_response = on_rest_response

    # --- failures --------------------------------------------------------------------------
    def classify(self, exc: BaseException, *, order_sent: bool = False) -> VenueError:
        status, headers = _last_response.get() or (None, None)
        return classify(self._market_specific(exc), order_sent=order_sent, status=status, headers=headers)

    async def _call(self, method: Callable[..., Awaitable], *args, order_sent: bool = False, **kwargs):
        _last_response.set(None)
        # A span per venue request (the copy's "venue place" is create_order). Its status says the
        # error's class only: venue error texts may quote signed URLs, so they stay out of traces.
        with tracing.span(f"venue {method.__name__}", kind=SpanKind.CLIENT, exceptions_fail=False, attributes={
                "copytrade.venue": self.exchange_id, "copytrade.market_type": self.market_type}) as span:
            try:
                return await method(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every failure is classified
                error = self.classify(exc, order_sent=order_sent)
                tracing.fail(span, error.kind.value)
                if error.kind == ErrorKind.RATE_LIMIT and self.budget is not None:
                    status = (_last_response.get() or (None, None))[0]
                    # Bybit's 10006 (HTTP 200) and Binance's -1015 (too many new orders) are one
                    # account's order limit; any other 429/418/403 is the whole venue's (the IP's).
                    per_key = status == 200 or ACCOUNT_ORDER_LIMIT.search(str(exc)) is not None
                    self.budget.penalize(error.retry_after or 1.0, whole_venue=not per_key)
                if isinstance(exc, ccxt_errors.InvalidNonce):
                    self._spawn(self._resync_clock())
                raise error from exc

    async def _resync_clock(self) -> None:
        """After -1021, measure the clock offset so the next signed request is in its window."""
        try:
            await self.exchange.load_time_difference()
        except Exception as exc:  # noqa: BLE001 - best effort
            log.warning("%s: clock resync failed: %s", self.exchange_id, exc)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _market_specific(self, exc: BaseException) -> BaseException:
        """ccxt picks some exchanges' per-market error tables by hostname (binance futures'
        -2019 "Margin is insufficient", -4116 duplicate id, ...), so behind any other URL (a
        simulator, a proxy) those arrive as a bare ExchangeError. Apply the market's table."""
        if type(exc) is not ccxt_errors.ExchangeError:
            return exc
        refusal = REFUSALS.get(self.exchange_id)
        if refusal is not None and refusal.search(str(exc)):
            return ccxt_errors.InvalidOrder(str(exc))
        code = _venue_code(exc)
        kind = {"swap": "linear", "future": "linear"}.get(self.market_type, self.market_type)
        table = ((self.exchange.exceptions or {}).get(kind) or {}).get("exact", {})
        return table[code](str(exc)) if code in table else exc

    # --- lifecycle and reference data ------------------------------------------------------
    async def connect(self) -> None:
        await self._call(self.exchange.load_markets)
        wanted = "spot" if self.market_type == "spot" else self.market_type
        self._instruments = {s: self._instrument(m) for s, m in self.exchange.markets.items()
                             if m.get("type") == wanted and m.get("active", True) is not False}

    async def close(self) -> None:
        self._closed.set()
        for task in list(self._background):
            task.cancel()
        await self.exchange.close()

    def _step(self, value) -> Decimal | None:
        if value is None:
            return None
        if self.exchange.precisionMode == TICK_SIZE:
            return _dec(value)
        if self.exchange.precisionMode == DECIMAL_PLACES:
            return Decimal(1).scaleb(-int(value))
        return None  # significant digits: no fixed step

    def _instrument(self, market: dict) -> Instrument:
        limits = market.get("limits") or {}
        min_amount = _dec((limits.get("amount") or {}).get("min"), ZERO)
        lot = self._step(market["precision"].get("amount")) or min_amount or Decimal("1e-8")
        return Instrument(
            symbol=market["symbol"], venue_symbol=market["id"], base=market["base"], quote=market["quote"],
            tick_size=self._step(market["precision"].get("price")) or Decimal("1e-8"), lot_size=lot,
            min_quantity=max(min_amount, lot), min_notional=_dec((limits.get("cost") or {}).get("min")),
            contract_size=_dec(market.get("contractSize"), Decimal(1)),
            market_type="spot" if market.get("spot") else "swap")

    async def instruments(self) -> dict[str, Instrument]:
        if not self._instruments:
            await self.connect()
        return self._instruments

    async def instrument(self, symbol: str) -> Instrument:
        instruments = await self.instruments()
        if symbol not in instruments:
            raise VenueError(ErrorKind.REJECTED, f"{self.exchange_id} {self.market_type} has no instrument {symbol}")
        return instruments[symbol]

    async def fit_quantity(self, symbol: str, quantity: Decimal, price: Decimal | None = None) -> RoundedQuantity:
        """Round down to the venue's lot size (ccxt's amount_to_precision, truncating) and say
        whether the result is below the minimum quantity or (given a price) minimum notional."""
        instrument = await self.instrument(symbol)
        try:
            rounded = Decimal(self.exchange.amount_to_precision(symbol, format(quantity, "f")))
        except ccxt_errors.InvalidOrder:  # rounds to zero
            rounded = ZERO
        return RoundedQuantity(
            rounded, below_min_quantity=rounded <= 0 or rounded < instrument.min_quantity,
            below_min_notional=price is not None and
            rounded * price * instrument.contract_size < instrument.min_notional)

    # --- account ---------------------------------------------------------------------------
    async def account(self) -> AccountSnapshot:
        raw = await self._call(self.exchange.fetch_balance)
        balances = {asset: Balance(asset, _dec(v.get("free")), _dec(v.get("total")) - _dec(v.get("free")))
                    for asset, v in raw.items()
                    if isinstance(v, dict) and "free" in v and _dec(v.get("total"))}
        return AccountSnapshot(balances=balances, equity=await self._equity(balances), currency=self.quote_currency)

    async def _equity(self, balances: dict[str, Balance]) -> Decimal:
        """Everything valued in the quote currency. For perpetuals the margin balance (ccxt's
        total) already includes unrealised PnL."""
        quote = self.quote_currency
        equity = balances[quote].total if quote in balances else ZERO
        priced = {a: s for a in balances if a != quote
                  for s in (f"{a}/{quote}", f"{a}/{quote}:{quote}") if s in self._instruments}
        if priced:
            tickers = await self._call(self.exchange.fetch_tickers, list(priced.values()))
            for asset, symbol in priced.items():
                equity += balances[asset].total * _dec((tickers.get(symbol) or {}).get("last"))
        return equity

    async def positions(self) -> list[Position]:
        if self.market_type == "spot":  # a spot position is a holding of a base asset
            snapshot = await self.account()
            return [Position(f"{a}/{self.quote_currency}", b.total) for a, b in snapshot.balances.items()
                    if a != self.quote_currency and f"{a}/{self.quote_currency}" in self._instruments]
        raw = await self._call(self.exchange.fetch_positions)
        return [Position(p["symbol"], _dec(p.get("contracts")) * (-1 if p.get("side") == "short" else 1),
                         _dec(p.get("entryPrice")), _dec(p.get("leverage"), Decimal(1)),
                         _dec(p.get("unrealizedPnl")))
                for p in raw if _dec(p.get("contracts"))]

    async def price(self, symbol: str) -> Decimal:
        ticker = await self._call(self.exchange.fetch_ticker, symbol)
        return _dec(ticker.get("last"))

    async def recent_returns(self, symbol: str, periods: int = 48) -> list[float]:
        candles = await self._call(self.exchange.fetch_ohlcv, symbol, "1h", None, periods + 1)
        closes = [float(c[4]) for c in candles if c[4]]
        return [b / a - 1 for a, b in zip(closes, closes[1:]) if a > 0]

    async def trades(self, symbol: str, since: datetime) -> list[Fill]:
        raw = await self._call(self.exchange.fetch_my_trades, symbol, int(since.timestamp() * 1000))
        return [self._fill(t) for t in sorted(raw, key=lambda t: t.get("timestamp") or 0)]

    # --- orders ----------------------------------------------------------------------------
    async def place_order(self, order: OrderRequest) -> OrderState:
        """The quantity is rounded down to the lot size; below the venue's minimums the order is
        REJECTED here, unsent. A limit price is rounded to the tick in the caller's favour."""
        instrument = await self.instrument(order.symbol)
        limit = order.order_type == "limit"
        if order.order_type not in ("market", "limit") or order.side not in ("buy", "sell"):
            raise VenueError(ErrorKind.REJECTED, f"unsupported order {order.order_type} {order.side}")
        if limit and (order.price is None or order.price <= 0):
            raise VenueError(ErrorKind.REJECTED, "a limit order needs a positive price")
        if order.reduce_only and self.market_type == "spot":
            raise VenueError(ErrorKind.REJECTED, "spot has no reduce-only orders")
        fitted = await self.fit_quantity(order.symbol, order.quantity, order.price if limit else None)
        if not fitted.ok:  # refuse here: the venue would, and nothing needs to be sent
            raise VenueError(ErrorKind.REJECTED, f"{order.quantity} rounds to {fitted.quantity} at a lot size of "
                             f"{instrument.lot_size}: below the venue's minimum quantity {instrument.min_quantity} "
                             f"or order value {instrument.min_notional}")
        params: dict = {CREATE_CLIENT_ID_PARAM.get(self.exchange_id, "clientOrderId"): self._venue_cid(
            order.client_order_id)}
        price = None
        if not limit and order.side == "buy" and self.market_type == "spot" and self.exchange_id in MARKET_BUY_BASE_SIZE:
            params.update(MARKET_BUY_BASE_SIZE[self.exchange_id](format(fitted.quantity, "f")))
        if limit:
            params["timeInForce"] = order.time_in_force
            # Never worse than asked: a buy's price rounds down to the tick, a sell's up.
            steps = (order.price / instrument.tick_size).to_integral_value(
                rounding=ROUND_FLOOR if order.side == "buy" else ROUND_CEILING)
            price = format(steps * instrument.tick_size, "f")
        if order.reduce_only:
            params["reduceOnly"] = True
        self._symbols.add(order.symbol)
        if self.budget is not None:
            await self.budget.order()
        # Decimal strings, not floats (0.29 as a float may truncate to the lot below), and no price
        # on a market order (binance would turn it into quoteOrderQty).
        raw = await self._call(self.exchange.create_order, order.symbol, order.order_type, order.side,
                               format(fitted.quantity, "f"), price, params, order_sent=True)
        state = self._order_state(raw, order)
        if not limit and self.exchange_id in ACK_ONLY and raw.get("status") is None and state.venue_order_id:
            try:
                state = self._order_state(await self._call(self.exchange.fetch_order, state.venue_order_id,
                                                           order.symbol), order)
            except VenueError as err:  # the order stands; what it filled is learnt later
                log.warning("%s: state of order %s unknown after placing: %s", self.exchange_id,
                            state.venue_order_id, err)
        return state

    def _by_client_id(self, venue_client_id: str) -> dict:
        return {CLIENT_ID_PARAM.get(self.exchange_id, "clientOrderId"): venue_client_id}

    def _venue_cid(self, client_order_id: str) -> str:
        """Our client order id as this venue holds it (and remember the way back)."""
        venue_id = venue_client_order_id(self.exchange_id, client_order_id)
        if venue_id != client_order_id:
            self._our_ids[venue_id] = client_order_id
            self._our_ids.move_to_end(venue_id)
            if len(self._our_ids) > SEEN_TRADES:
                self._our_ids.popitem(last=False)
        return venue_id

    def _our_cid(self, venue_id: str | None) -> str:
        return self._our_ids.get(venue_id, venue_id) if venue_id else ""

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderState:
        venue_id = self._venue_cid(client_order_id)
        if self.exchange_id in CANCEL_BY_VENUE_ID:
            found = await self._call(getattr(self, RECOVERY[self.exchange_id]), venue_id, symbol)
            if found is None:
                raise VenueError(ErrorKind.REJECTED, f"{self.exchange_id} has no order {client_order_id} on {symbol}")
            raw = await self._call(self.exchange.cancel_order, found["id"], symbol)
        else:
            raw = await self._call(self.exchange.cancel_order, None, symbol, self._by_client_id(venue_id))
        if raw.get("status") is None:  # only acknowledged (bybit answers ids alone): ask for the state
            fetched = await self.fetch_order(client_order_id, symbol)
            if fetched is not None:
                return fetched
        return self._order_state(raw, None, client_order_id, symbol)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderState | None:
        """The order with this client order id, found by the venue's own means (RECOVERY), or None."""
        venue_id = self._venue_cid(client_order_id)
        lookup = RECOVERY.get(self.exchange_id)
        try:
            if lookup is not None:
                raw = await self._call(getattr(self, lookup), venue_id, symbol)
            else:
                raw = await self._call(self.exchange.fetch_order, None, symbol, self._by_client_id(venue_id))
        except VenueError as err:
            if isinstance(err.__cause__, ccxt_errors.OrderNotFound):
                return None
            raise
        if raw is None:
            return None
        return self._order_state(raw, None, client_order_id, symbol)

    async def _find_kraken_order(self, venue_client_id: str, symbol: str) -> dict | None:
        """Kraken's QueryOrders wants its own txid, so ccxt's fetchOrder cannot ask by cl_ord_id
        (it sends the id as a userref); OpenOrders and ClosedOrders filter by cl_ord_id. Kraken
        keeps a cl_ord_id unique among open orders only: the latest closed one is the one."""
        for fetch in (self.exchange.fetch_open_orders, self.exchange.fetch_closed_orders):
            rows = await fetch(symbol, None, None, {"clientOrderId": venue_client_id})
            if rows:
                return sorted(rows, key=lambda o: o.get("timestamp") or 0)[-1]
        return None

    async def _scan_coinbase_orders(self, venue_client_id: str, symbol: str) -> dict | None:
        """Coinbase has no lookup by client_order_id (Get Order's parameter is deprecated; List
        Orders has no such filter): list the product's orders of the last RECOVERY_SCAN_S, newest
        first, and match it here."""
        market = self.exchange.market(symbol)
        since = self.exchange.milliseconds() - RECOVERY_SCAN_S * 1000
        request = {"product_ids": [market["id"]], "limit": 250, "start_date": self.exchange.iso8601(since)}
        for _ in range(RECOVERY_SCAN_PAGES):
            response = await self.exchange.v3PrivateGetBrokerageOrdersHistoricalBatch(dict(request))
            for row in (response or {}).get("orders") or []:
                if row.get("client_order_id") == venue_client_id:
                    return self.exchange.parse_order(row, market)
            if not response.get("has_next") or not response.get("cursor"):
                return None
            request["cursor"] = response["cursor"]
        return None

    async def _fetch_bybit_order(self, client_order_id: str, symbol: str) -> dict | None:
        """ccxt's bybit fetchOrder always sends an orderId (None when asked by orderLinkId), so
        ask /v5/order/realtime by orderLinkId through ccxt's implicit API and parse its answer."""
        market = self.exchange.market(symbol)
        response = await self.exchange.privateGetV5OrderRealtime(
            {"category": "spot" if market["spot"] else "linear", "symbol": market["id"], "orderLinkId": client_order_id})
        rows = ((response or {}).get("result") or {}).get("list") or []
        return self.exchange.parse_order(rows[0], market) if rows else None

    def _order_state(self, raw: dict, request: OrderRequest | None, client_order_id: str = "",
                     symbol: str = "") -> OrderState:
        stamp = raw.get("lastUpdateTimestamp") or raw.get("timestamp")
        amount = raw.get("amount")
        info = raw.get("info") if isinstance(raw.get("info"), dict) else {}
        # kraken's stream: ccxt reads the userref as the client id; the cl_ord_id is in info
        venue_id = info.get("cl_ord_id") or raw.get("clientOrderId")
        filled = raw.get("filled") if raw.get("filled") is not None else info.get("cum_qty")
        return OrderState(
            client_order_id=self._our_cid(venue_id) or (request.client_order_id if request else client_order_id),
            venue_order_id=str(raw.get("id")), symbol=raw.get("symbol") or (request.symbol if request else symbol),
            side=raw.get("side") or (request.side if request else ""),
            quantity=_dec(amount) if amount is not None else (request.quantity if request else ZERO),
            filled_quantity=_dec(filled),
            average_price=_dec(raw["average"]) if raw.get("average") else None,
            # ccxt leaves status None when the venue only acknowledged: the order stands, state unknown yet
            status=raw.get("status") or "open",
            timestamp=datetime.fromtimestamp(stamp / 1000, UTC) if stamp else None,
            order_type=raw.get("type"), price=_dec(raw["price"]) if raw.get("price") else None)

    # --- streams ---------------------------------------------------------------------------
    async def _watch(self, watch: Callable[[], Awaitable[list]], what: str,
                     backfill: Callable[[float], Awaitable[list]] | None = None,
                     peek: Callable[[], list] | None = None) -> AsyncIterator[list]:
        """Batches from a ccxt.pro watch method until close(), reconnecting with backoff. After a
        reconnect, `backfill(since)` (REST) recovers what happened while the stream was down.
        `peek()` returns items in ccxt's cache that no watch has handed out yet: looked at while
        waiting, for a message that came between one watch resolving and the next being armed."""
        failures, down_since = 0, None
        # ccxt.pro resolves a watch only if one is waiting when the message comes; a message that
        # arrives while none waits stays in its cache until the *next* message. So a pump keeps a
        # watch waiting at all times and queues what it hears, however long a batch takes to be
        # handled downstream; a failure goes through the queue too, and ends that pump.
        queue: asyncio.Queue = asyncio.Queue()
        pump: asyncio.Task | None = None

        async def run_pump() -> None:
            while True:
                try:
                    queue.put_nowait(await watch())
                except Exception as exc:  # noqa: BLE001 - handed on: the consumer reconnects
                    queue.put_nowait(exc)
                    return

        async def next_batch() -> list:
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            return item

        while not self._closed.is_set():
            if pump is None or pump.done():
                pump = asyncio.ensure_future(run_pump())
            pending = asyncio.ensure_future(next_batch())
            try:
                if down_since is not None and backfill is not None:
                    # Give the new subscription a moment, then ask REST for the gap: what trades
                    # after the subscription is live is on the stream, what traded before is in
                    # the answer (repeats are dropped by the caller).
                    waited = 0.0
                    for at in BACKFILL_AFTER_S:
                        await asyncio.wait({pending}, timeout=at - waited)
                        waited = at
                        missed = await backfill(down_since)
                        if missed:
                            yield missed
                        if pending.done():
                            break
                if down_since is not None:
                    if not pending.done():
                        await asyncio.wait({pending}, timeout=STREAM_UP_CHECK_S)
                    if pending.done() and pending.exception() is not None:
                        await pending  # still down: to the handler below
                    self._stream_state(what, up=True)  # back, and what it missed recovered
                down_since = None
                while peek is not None and not pending.done():
                    await asyncio.wait({pending}, timeout=PEEK_S)
                    early = [] if pending.done() else peek()
                    if early:
                        yield early
                batch = await pending
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the stream reconnects by itself
                if self._closed.is_set():
                    return
                if down_since is None:
                    self._stream_state(what, up=False)
                down_since = down_since or time.time() - 1.0
                delay = STREAM_BACKOFF_S[min(failures, len(STREAM_BACKOFF_S) - 1)]
                failures += 1
                log.warning("%s %s stream lost (%s: %s); reconnecting in %.2fs", self.exchange_id, what,
                            type(exc).__name__, str(exc)[:200], delay)
                try:
                    await asyncio.wait_for(self._closed.wait(), delay)
                except TimeoutError:
                    pass
                continue
            finally:
                if not pending.done():  # cancelled, or the consumer stopped iterating
                    pending.cancel()
                    if pump is not None:
                        pump.cancel()
            try:
                yield batch
            except BaseException:  # the consumer stopped iterating: stop listening too
                pump.cancel()
                raise
        if pump is not None:
            pump.cancel()

    def add_stream_listener(self, name: str, listener: Callable[[str, bool], None]) -> None:
        self._stream_listeners[name] = listener

    def _stream_state(self, what: str, *, up: bool) -> None:
        for listener in list(self._stream_listeners.values()):
            try:
                listener(what, up)
            except Exception:  # noqa: BLE001 - a listener's trouble is not the stream's
                log.exception("stream listener failed")

    async def order_updates(self) -> AsyncIterator[OrderState]:
        async for orders in self._watch(self.exchange.watch_orders, "order"):
            for raw in orders:
                yield self._merged(self._order_state(raw, None, raw.get("clientOrderId") or "", raw.get("symbol") or ""))

    def _merged(self, state: OrderState) -> OrderState:
        """Fill in what an update leaves out from the order's earlier ones (kraken streams a cancel
        with the order's ids and totals only: no symbol, side, price or size)."""
        before = self._orders_seen.get(state.venue_order_id)
        if before is not None:
            state = dataclasses.replace(
                state, client_order_id=state.client_order_id or before.client_order_id,
                symbol=state.symbol or before.symbol, side=state.side or before.side,
                quantity=state.quantity or before.quantity, order_type=state.order_type or before.order_type,
                price=state.price if state.price is not None else before.price)
        self._orders_seen[state.venue_order_id] = state
        self._orders_seen.move_to_end(state.venue_order_id)
        if len(self._orders_seen) > SEEN_TRADES:
            self._orders_seen.popitem(last=False)
        return state

    async def _order_fills(self) -> list[dict]:
        """(FILLS_FROM_ORDERS) The next fills, read off the order stream: every order in ccxt's
        cache whose filled quantity grew since last looked at has its trades fetched over REST.
        The whole cache is looked at before waiting, not only what a watch returned: updates that
        came while the last fills were being fetched are in it already."""
        while True:
            grown = [o for o in list(self.exchange.orders or []) if o.get("id") and o.get("symbol")
                     and _dec(o.get("filled")) > self._filled.get(o["id"], ZERO)]
            if not grown:
                await self.exchange.watch_orders()
                continue
            trades: list[dict] = []
            for order in grown:
                for trade in await self._call(self.exchange.fetch_my_trades, order["symbol"], None, None,
                                              {"order_ids": [order["id"]]}):
                    trade["clientOrderId"] = order.get("clientOrderId")
                    trades.append(trade)
                self._filled[order["id"]] = _dec(order.get("filled"))
                if len(self._filled) > SEEN_TRADES:
                    self._filled.popitem(last=False)
            if trades:
                return sorted(trades, key=lambda t: t.get("timestamp") or 0)

    async def fills(self) -> AsyncIterator[Fill]:
        seen = _Seen()
        started = time.time()

        async def backfill(since: float) -> list[dict]:
            trades: list[dict] = []
            for symbol in sorted(self._symbols):
                try:
                    trades += await self._call(self.exchange.fetch_my_trades, symbol,
                                               int(max(since, started) * 1000) - 1000)
                except VenueError as err:
                    log.warning("%s fill backfill for %s failed: %s", self.exchange_id, symbol, err)
            trades = [t for t in trades if f"{t.get('symbol')}:{t['id']}" not in seen]
            for trade in trades:  # REST trades do not carry the client order id; the order does
                trade["clientOrderId"] = trade.get("clientOrderId") or (trade.get("info") or {}).get("orderLinkId")
                if not trade.get("clientOrderId") and trade.get("order"):
                    try:
                        order = await self._call(self.exchange.fetch_order, trade["order"], trade["symbol"])
                        trade["clientOrderId"] = order.get("clientOrderId")
                    except VenueError:
                        pass
            return sorted(trades, key=lambda t: t.get("timestamp") or 0)

        def peek() -> list[dict]:  # trades in ccxt's cache that no watch call has returned yet
            cached = getattr(self.exchange, "myTrades", None) or []
            return [t for t in cached[-PEEK_TRADES:] if f"{t.get('symbol')}:{t['id']}" not in seen]

        from_orders = self.exchange_id in FILLS_FROM_ORDERS
        watch = self._order_fills if from_orders else self.exchange.watch_my_trades
        history = (started - STREAM_START_GRACE_S) * 1000
        async for trades in self._watch(watch, "fill", backfill, None if from_orders else peek):
            for trade in trades:
                if trade.get("id") is None:  # not a trade (kraken's snapshot also lists orders)
                    continue
                if not seen.add(f"{trade.get('symbol')}:{trade['id']}"):
                    continue  # delivered already (ccxt's cache, or the backfill overlapping the stream)
                if (trade.get("timestamp") or 0) < history:
                    continue  # before this stream began: a snapshot's history, not a new fill
                self._symbols.add(trade["symbol"])
                yield self._fill(trade)

    def _fill(self, trade: dict) -> Fill:
        fee = trade.get("fee") or {}
        info = trade.get("info") or {}
        info_order = info.get("o") if isinstance(info.get("o"), dict) else {}
        venue_id = (trade.get("clientOrderId") or info.get("c") or info_order.get("c")
                    or info.get("orderLinkId") or info.get("cl_ord_id") or "")
        return Fill(
            venue_trade_id=str(trade["id"]), venue_order_id=str(trade.get("order") or ""),
            client_order_id=self._our_cid(str(venue_id)), symbol=trade["symbol"], side=trade["side"],
            quantity=_dec(trade["amount"]), price=_dec(trade["price"]), fee=_dec(fee.get("cost")),
            fee_currency=fee.get("currency") or "",
            timestamp=datetime.fromtimestamp(trade["timestamp"] / 1000, UTC))

