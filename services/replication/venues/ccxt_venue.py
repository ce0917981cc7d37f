"""CcxtVenue: any ccxt exchange (binance, bybit, okx, ...) through ccxt's async API, with
ccxt.pro's user-data stream for fills and order updates. Spot or perpetual swaps.

Pointed at a testnet or a simulator by configuration alone: `config` goes to the ccxt
constructor, which deep-merges `urls` and `options` and takes `sandbox` (ccxt's testnet URLs);
replication's VenuePool builds it from VENUE_URLS (services.kit.config.venue_urls_from_json)."""

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
from dataclasses import replace
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

import aiohttp
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
from ccxt.base import errors as ccxt_errors
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE
from opentelemetry.trace import SpanKind

from services.kit import tracing
from services.replication.venues.base import (
    LIMIT_TYPES, ZERO, AccountSnapshot, Balance, ErrorKind, Fill, FillCursor, Instrument, OrderRequest, OrderState,
    Position, RoundedQuantity, VenueError, check_request, place_in_turn, tell_stream_listeners,
)

log = logging.getLogger("copytrade.venue.ccxt")

STREAM_BACKOFF_S = (0.05, 0.25, 1.0, 2.0, 5.0)
# After (re)subscribing: how long the venue may take to confirm the subscription, and how long
# the new socket must stay up, before the stream counts as live (a refusal comes at once).
PROVE_S = 5.0
STREAM_UP_CHECK_S = 0.5
# How often a live fill stream is checked against the venue's REST trade history, and how long a
# trade may take to arrive on the stream before its absence means the stream stopped delivering.
LIVENESS_CHECK_S = 15.0
STREAM_LAG_S = 2.0
# Trade history paging, the venue's own: Binance numbers trades per symbol and pages with fromId;
# Bybit lists every symbol of a category, newest first, by nextPageCursor in windows of <= 7 days;
# any other venue by time. Rows per page: the venue's maximum.
HISTORY_PAGING = {"binance": "from_id", "binanceusdm": "from_id", "bybit": "cursor"}
HISTORY_LIMITS = {"binance": 1000, "binanceusdm": 1000, "bybit": 100}
HISTORY_WINDOW_MS = 7 * 86_400_000
HISTORY_OVERLAP = timedelta(seconds=1)  # read back from the cursor a little: repeats are dropped by id
MAX_PAGES = 1000
# Venues whose spot user-data subscription is confirmed by an answer ccxt waits for.
CONFIRMED_SUBSCRIBE = {"binance"}
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
    # warnOnFetchOpenOrdersWithoutSymbol: the order stream starts with every resting order (one
    # request, weight 80 on spot, 40 on USDⓈ-M), on purpose.
    "binance": {"fetchCurrencies": False, "fetchMargins": False, "createOrder": {"quoteOrderQty": False},
                "warnOnFetchOpenOrdersWithoutSymbol": False},
    "binanceusdm": {"fetchCurrencies": False, "fetchMargins": False, "warnOnFetchOpenOrdersWithoutSymbol": False},
    # bybit's unified account keeps the last 500 orders of any state queryable; ccxt wants that acknowledged.
    "bybit": {"fetchOrder": {"acknowledged": True}},
    # Advanced Trade's brokerage accounts (api/v3), not the Coinbase app's v2 wallets.
    "coinbase": {"fetchBalance": "v3PrivateGetBrokerageAccounts"},
}
# The parameter naming an order by its client order id in ccxt's cancel/fetch calls, where it is
# not ccxt's own `clientOrderId`.
CLIENT_ID_PARAM = {"bybit": "orderLinkId"}
# Fill fields of a user-data stream ccxt.pro passes on with the venue's sign: OKX's fillFee is
# negative when charged (ccxt negates the REST fills' fee, not the stream's).
STREAM_FEE_NEGATED = {"okx": "fillFee"}
# Where a trade's client order id is in the venue's own fields, when ccxt leaves it out:
# Binance's stream (c, o.c), Bybit's orderLinkId, OKX's clOrdId, KuCoin's clientOid, Kraken's cl_ord_id.
CLIENT_ID_FIELDS = ("c", "orderLinkId", "clOrdId", "clientOid", "cl_ord_id")
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
# Venues that take a key's nonces only in increasing order of arrival: calls of one key in flight
# together can overtake each other on the way, and the overtaken one is refused unexecuted.
NONCE_ORDERED = {"kraken"}
NONCE_RESIGNS = 3
ACK_ONLY = {"bybit", "coinbase", "kraken"}
# Venues that cancel by their own order id only: the order is found by client order id first.
CANCEL_BY_VENUE_ID = {"coinbase"}
# Venues whose ccxt.pro stream carries orders but no fills (coinbase's user channel): a fill is
# an order's filled quantity growing, and its trades are read over REST.
FILLS_FROM_ORDERS = {"coinbase"}
# Answers that are the venue's definite "no" although ccxt has no class for their code (so they
# would read as an unknown outcome), given with HTTP 200: OKX's per-order sCode under code "1"/"2"
# (51169, nothing to reduce, is one ccxt does not map), coinbase's `success: false`, kraken's EOrder.
REFUSALS = {"okx": re.compile(r'"sCode"\s*:\s*"(?!0")\d+"'), "coinbase": re.compile(r'"success"\s*:\s*false'),
            "kraken": re.compile(r'\bEOrder:')}
# A stream's fills from before it started are history, not news (kraken's snapshot replays the last
# 50 fills on every subscription); this much earlier is still taken, for clocks apart.
STREAM_START_GRACE_S = 2.0
# Exchanges whose stop and take-profit orders this adapter speaks (ccxt's unified trigger
# parameters mean slightly different things per exchange).
TRIGGER_VENUES = frozenset({"binance", "binanceusdm", "bybit"})
# Venue order types → ours. Binance's TAKE_PROFIT is a market order on spot and a limit order on
# futures; futures' STOP is its stop-limit.
BINANCE_TYPES = {"MARKET": "market", "LIMIT": "limit", "LIMIT_MAKER": "limit", "STOP_LOSS": "stop_market",
                 "STOP_LOSS_LIMIT": "stop_limit", "TAKE_PROFIT_LIMIT": "take_profit_limit",
                 "STOP_MARKET": "stop_market", "STOP": "stop_limit", "TAKE_PROFIT_MARKET": "take_profit_market"}
BINANCE_OCO_TYPES = {"limit": "LIMIT_MAKER", "take_profit_market": "TAKE_PROFIT",
                     "take_profit_limit": "TAKE_PROFIT_LIMIT", "stop_market": "STOP_LOSS",
                     "stop_limit": "STOP_LOSS_LIMIT"}
# Binance's Algo Service statuses: a triggered conditional order is working (its order is in the
# matching engine) until FINISHED, whatever ccxt makes of them.
ALGO_WORKING = {"NEW", "TRIGGERING", "TRIGGERED"}

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
    X-Bapi-Limit-Reset-Timestamp (epoch ms) or KuCoin's gw-ratelimit-reset (ms to wait),
    rounded up to whole seconds."""
    if not headers:
        return None
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    countdown = next((v for k, v in headers.items() if k.lower() == "gw-ratelimit-reset"), None)
    if raw is None and countdown is not None:
        try:
            return float(max(0, math.ceil(int(countdown) / 1000)))
        except ValueError:
            return None
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
    """The venue's error code from ccxt's message ('binance {"code":-2010,"msg":...}'); for an
    order OKX refused, the order's own sCode rather than the envelope's "1"."""
    text = str(exc)
    match = re.search(r'"sCode"\s*:\s*"(?!0")(\w+)"', text) or re.search(r'"code"\s*:\s*"?(-?\w+)"?', text)
    return match.group(1) if match else None


def _client_id_in(info: dict) -> str:
    """A trade's client order id from the venue's own fields (CLIENT_ID_FIELDS; Binance's
    futures stream nests it in "o"), or ""."""
    nested = info.get("o") if isinstance(info.get("o"), dict) else {}
    return next((str(v) for f in CLIENT_ID_FIELDS for v in (info.get(f), nested.get(f)) if v), "")


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


def _consume_exception(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


class StreamStalled(Exception):
    """A subscription the venue did not confirm, or a live stream that stopped delivering."""


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
    watch_symbols: symbols whose fills are read from the trade history after a stream reconnects
    (symbols this venue traded or saw fills in are added as they occur, and those the account
    holds are looked at too). liveness_check_s: how often a live fill stream is compared with
    the venue's trade history (one request per traded symbol; Bybit: one in all)."""

    def __init__(self, exchange_id: str, *, api_key: str, secret: str, password: str = "",
                 market_type: str = "spot", config: dict | None = None, rate_limit: bool | None = None,
                 quote_currency: str = "USDT", watch_symbols: tuple[str, ...] = (),
                 liveness_check_s: float = LIVENESS_CHECK_S) -> None:
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
        self.liveness_check_s = liveness_check_s
        self.history_page_size = HISTORY_LIMITS.get(exchange_id, 500)  # rows per history request
        self._closed = asyncio.Event()
        self._stream_listeners: dict[str, Callable[[str, bool], None]] = {}
        self._background: set[asyncio.Task] = set()
        self._our_ids: OrderedDict[str, str] = OrderedDict()  # venue client order id -> ours, where they differ
        self._filled: OrderedDict[str, Decimal] = OrderedDict()  # FILLS_FROM_ORDERS: venue order id -> filled
        self._orders_seen: OrderedDict[str, OrderState] = OrderedDict()  # order_updates: the last state by venue id
        self.budget = None  # see use_budget

    def use_budget(self, budget) -> None:
        """Send every REST request through `budget.request()` (services.replication.budget.
        KeyBudget) instead of ccxt's own per-instance rate limiter, with the endpoint it goes
        to, so it weighs what the venue says; show it every answer's headers (the venue's own
        counts), and tell it of refusals the venue still sends."""
        self.budget = budget
        ccxt_cost = self.exchange.calculate_rate_limiter_cost

        # ccxt hands throttle() only its own cost of a request: hand it the endpoint as well.
        def request_of(api, method, path, params, config={}):  # noqa: B006 - ccxt's signature
            return self._endpoint(api, method, path), params, ccxt_cost(api, method, path, params, config)

        async def throttle(request=None) -> None:
            await budget.request(*(request or ("", {})))

        self.exchange.calculate_rate_limiter_cost = request_of
        self.exchange.throttle = throttle
        self.exchange.enableRateLimit = True

    def _endpoint(self, api, method: str, path: str) -> str:
        """"POST /api/v3/order": the method and URL path ccxt sends a request of `api` to."""
        base = self.exchange.urls["api"].get(api[0] if isinstance(api, (list, tuple)) else api)
        prefix = urlsplit(base).path.rstrip("/") if isinstance(base, str) else ""
        return f"{method.upper()} {prefix}/{path}"

    def _record_responses(self) -> None:
        original = self.exchange.on_rest_response

        def on_rest_response(code, reason, url, method, headers, body, request_headers, request_body):
            _last_response.set((code, headers or {}))
            if self.budget is not None and headers:
                self.budget.observe(headers)
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
                for _ in range(NONCE_RESIGNS if self.exchange_id in NONCE_ORDERED else 0):
                    try:
                        return await method(*args, **kwargs)
                    except ccxt_errors.InvalidNonce:
                        continue  # overtaken by a later call of the key: refused unexecuted; sign afresh
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
        simulator, a proxy) those arrive as a bare ExchangeError. Apply the market's table, and
        read a venue's answered refusal (REFUSALS) as one."""
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
        balances = await self._balances()
        return AccountSnapshot(balances=balances, equity=await self._equity(balances), currency=self.quote_currency)

    async def free_balance(self, asset: str) -> Decimal:
        return AccountSnapshot(balances=await self._balances()).free(asset)  # balances only, no valuation

    async def _balances(self) -> dict[str, Balance]:
        raw = await self._call(self.exchange.fetch_balance)
        return {asset: Balance(asset, _dec(v.get("free")), _dec(v.get("total")) - _dec(v.get("free")))
                for asset, v in raw.items() if isinstance(v, dict) and "free" in v and _dec(v.get("total"))}

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

    # --- orders ----------------------------------------------------------------------------
    @property
    def _binance_futures(self) -> bool:
        return self.exchange_id in ("binance", "binanceusdm") and self.market_type != "spot"

    def supports(self, order: OrderRequest) -> bool:
        """Stop and take-profit types on Binance and Bybit; close_position on Binance futures
        (closePosition) and Bybit perpetuals (reduce-only); no OCO leg on its own (Binance
        spot's order list goes whole, through place_orders), no bracket parents."""
        if order.parent_client_order_id or order.oco_group:
            return False
        if order.triggered and self.exchange_id not in TRIGGER_VENUES:
            return False
        if order.close_position and (self.market_type == "spot" or self.exchange_id not in TRIGGER_VENUES):
            return False
        return True

    def supports_group(self, orders: list[OrderRequest]) -> bool:
        """Binance spot's OCO order list: two orders of one group, a stop and a limit or
        take-profit, one symbol, side and quantity."""
        if not (self.exchange_id == "binance" and self.market_type == "spot") or len(orders) != 2:
            return False
        first, second = orders
        plain = [replace(o, oco_group="") for o in orders]
        return (bool(first.oco_group) and first.oco_group == second.oco_group and all(map(self.supports, plain))
                and (first.symbol, first.side, first.quantity) == (second.symbol, second.side, second.quantity)
                and first.order_type.startswith("stop") != second.order_type.startswith("stop"))

    async def place_order(self, order: OrderRequest) -> OrderState:
        """The quantity is rounded down to the lot size; below the venue's minimums the order is
        REJECTED here, unsent. A limit price is rounded to the tick in the caller's favour, a
        trigger price to the nearest tick."""
        check_request(order)
        instrument, params, price, quantity = await self._prepare(order)
        self._symbols.add(order.symbol)
        # Decimal strings, not floats (0.29 as a float may truncate to the lot below), and no price
        # on a market order (binance would turn it into quoteOrderQty).
        # A whole quantity goes as an int, as exact: ccxt's kucoin compares a contract order's amount
        # with 1 before sending.
        kind = "limit" if order.order_type in LIMIT_TYPES else "market"
        amount = int(Decimal(quantity)) if Decimal(quantity) == Decimal(quantity).to_integral_value() else quantity
        raw = await self._call(self.exchange.create_order, order.symbol, kind, order.side, amount, price, params,
                               order_sent=True)
        state = self._order_state(raw, order)
        if order.order_type == "market" and self.exchange_id in ACK_ONLY and raw.get("status") is None \
                and state.venue_order_id:
            try:
                state = self._order_state(await self._call(self.exchange.fetch_order, state.venue_order_id,
                                                           order.symbol), order)
            except VenueError as err:  # the order stands; what it filled is learnt later
                log.warning("%s: state of order %s unknown after placing: %s", self.exchange_id,
                            state.venue_order_id, err)
        return state

    async def _prepare(self, order: OrderRequest, *, in_group: bool = False
                       ) -> tuple[Instrument, dict, str | None, str]:
        """Check an order against the market and build ccxt's arguments: (instrument, params,
        limit price, quantity)."""
        instrument = await self.instrument(order.symbol)
        if not self.supports(replace(order, oco_group="") if in_group else order):
            raise VenueError(ErrorKind.REJECTED, f"{self.exchange_id} {self.market_type} does not take this "
                             f"{order.order_type} order" + (" (OCO)" if order.oco_group else "")
                             + (" (close position)" if order.close_position else ""))
        limit = order.order_type in LIMIT_TYPES
        if order.reduce_only and self.market_type == "spot":
            raise VenueError(ErrorKind.REJECTED, "spot has no reduce-only orders")
        reference = order.price if limit else order.trigger_price
        fitted = await self.fit_quantity(order.symbol, order.quantity, reference)
        closing = order.close_position or order.reduce_only
        if not fitted.ok and not (closing and fitted.quantity > 0 and not fitted.below_min_quantity):
            # refuse here: the venue would, and nothing needs to be sent (a reduce-only order may be
            # worth less than the minimum order value)
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
        if order.triggered:
            trigger = format((order.trigger_price / instrument.tick_size).to_integral_value(ROUND_HALF_UP)
                             * instrument.tick_size, "f")
            params.update(self._trigger_params(order, trigger))
        if order.close_position and self._binance_futures:
            params["closePosition"] = True  # the whole position when it fires; no quantity, no reduceOnly
        elif order.reduce_only or order.close_position:
            params["reduceOnly"] = True
        return instrument, params, price, format(fitted.quantity, "f")

    def _trigger_params(self, order: OrderRequest, trigger: str) -> dict:
        stop = order.order_type.startswith("stop")
        if self.exchange_id == "bybit":
            if self.market_type == "spot":  # Bybit spot finds the direction itself (orderFilter StopOrder)
                return {"triggerPrice": trigger}
            rises = (order.side == "buy") == stop  # a buy stop, or a sell take-profit
            return {"triggerPrice": trigger, "triggerDirection": "ascending" if rises else "descending"}
        # Binance: ccxt picks STOP_LOSS / STOP_MARKET / STOP / ... from the market and the key;
        # futures' conditional orders go to the Algo Service (clientAlgoId, triggerPrice).
        return {"stopLossPrice" if stop else "takeProfitPrice": trigger}

    async def place_orders(self, orders: list[OrderRequest]) -> list[OrderState]:
        """An OCO pair on Binance spot goes out as one order list (POST /api/v3/orderList/oco);
        anything else one order after another."""
        if not any(o.oco_group or o.parent_client_order_id for o in orders):
            return await place_in_turn(self, orders)
        if not self.supports_group(orders):
            raise VenueError(ErrorKind.REJECTED, f"{self.exchange_id} {self.market_type} takes no such group "
                                                 "(Binance spot: an OCO of a stop and a limit or take-profit)")
        return await self._place_oco(orders)

    async def _place_oco(self, orders: list[OrderRequest]) -> list[OrderState]:
        first, second = orders
        for order in orders:
            check_request(order)
        prepared = [await self._prepare(o, in_group=True) for o in orders]
        market = self.exchange.market(first.symbol)
        # A sell takes profit above and stops below; a buy stops above and takes profit below.
        stops = [o.order_type.startswith("stop") for o in orders]
        request = {"symbol": market["id"], "side": first.side.upper(), "quantity": prepared[0][3],
                   "listClientOrderId": first.oco_group, "newOrderRespType": "FULL"}
        for order, is_stop, (_, params, price, _) in zip(orders, stops, prepared):
            leg = "above" if is_stop == (order.side == "buy") else "below"
            request[f"{leg}Type"] = BINANCE_OCO_TYPES[order.order_type]
            request[f"{leg}ClientOrderId"] = order.client_order_id
            if price is not None:
                request[f"{leg}Price"] = price
            if order.triggered:
                request[f"{leg}StopPrice"] = params.get("stopLossPrice") or params.get("takeProfitPrice")
            if order.order_type in ("stop_limit", "take_profit_limit"):
                request[f"{leg}TimeInForce"] = order.time_in_force
        self._symbols.add(first.symbol)
        raw = await self._call(self.exchange.privatePostOrderListOco, request, order_sent=True)
        reports = {r.get("clientOrderId"): self.exchange.parse_order(r, market) for r in raw.get("orderReports", [])}
        return [self._order_state(reports.get(o.client_order_id) or {}, o) for o in orders]

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
            try:
                raw = await self._call(self.exchange.cancel_order, None, symbol, self._by_client_id(venue_id))
            except VenueError as err:
                if not (self._binance_futures and isinstance(err.__cause__, ccxt_errors.OrderNotFound)):
                    raise
                # Not in the matching engine: a conditional order still in the Algo Service.
                raw = await self._call(self.exchange.cancel_order, None, symbol,
                                       {**self._by_client_id(venue_id), "trigger": True})
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
            if not isinstance(err.__cause__, ccxt_errors.OrderNotFound):
                raise
            return await self._fetch_algo(client_order_id, symbol) if self._binance_futures else None
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

    async def _fetch_algo(self, client_order_id: str, symbol: str) -> OrderState | None:
        """A Binance futures conditional order: in the Algo Service until it triggers; then the
        order it placed in the matching engine tells how it filled."""
        try:
            raw = await self._call(self.exchange.fetch_order, None, symbol,
                                   {**self._by_client_id(client_order_id), "trigger": True})
        except VenueError as err:
            if isinstance(err.__cause__, ccxt_errors.OrderNotFound):
                return None
            raise
        state = self._order_state(raw, None, client_order_id, symbol)
        actual = (raw.get("info") or {}).get("actualOrderId")
        if actual:
            placed = await self._call(self.exchange.fetch_order, str(actual), symbol)
            done = self._order_state(placed, None, client_order_id, symbol)
            return OrderState(**{**done.__dict__, "venue_order_id": state.venue_order_id,
                                 "client_order_id": client_order_id, "order_type": state.order_type,
                                 "trigger_price": state.trigger_price, "triggered": True})
        return state

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
        # kraken's stream: ccxt reads the userref as the client id; the cl_ord_id is in info. A
        # Binance spot cancel answers with the cancel's own clientOrderId; the order's is origClientOrderId.
        venue_id = info.get("cl_ord_id") or info.get("origClientOrderId") or raw.get("clientOrderId")
        filled = raw.get("filled") if raw.get("filled") is not None else info.get("cum_qty")
        order_type, triggered = self._type_of(raw, info, request)
        # ccxt leaves status None when the venue only acknowledged: the order stands, state unknown yet
        status = raw.get("status") or "open"
        algo_status = info.get("algoStatus") or (info.get("X") if "aid" in info else None)
        if algo_status in ALGO_WORKING:
            status, triggered = "open", algo_status != "NEW"
        elif algo_status == "FINISHED":  # its order is done: filled, or not
            status = "closed" if _dec(info.get("executedQty") or info.get("aq")) > 0 else "canceled"
        trigger = raw.get("triggerPrice") or raw.get("stopPrice") or info.get("triggerPrice") or (
            request.trigger_price if request is not None else None)
        group = info.get("orderListId", info.get("g"))
        fills, fee, fee_currency = self._order_fees(raw, request, client_order_id, symbol, stamp)
        return OrderState(
            client_order_id=self._our_cid(venue_id) or (request.client_order_id if request else client_order_id),
            venue_order_id=str(raw.get("id")), symbol=raw.get("symbol") or (request.symbol if request else symbol),
            side=raw.get("side") or (request.side if request else ""),
            quantity=_dec(amount) if amount is not None else (request.quantity if request else ZERO),
            filled_quantity=_dec(filled),
            average_price=_dec(raw["average"]) if raw.get("average") else None,
            status=status,
            timestamp=datetime.fromtimestamp(stamp / 1000, UTC) if stamp else None,
            order_type=order_type, price=_dec(raw["price"]) if raw.get("price") else None,
            trigger_price=_dec(trigger) if trigger and _dec(trigger) > 0 else None,
            oco_group=str(group) if group not in (None, "", -1, "-1") else "",
            reduce_only=bool(raw.get("reduceOnly")),
            close_position=bool(info.get("closePosition", info.get("cp"))), triggered=triggered,
            fills=fills, fee=fee, fee_currency=fee_currency)

    def _order_fees(self, raw: dict, request: OrderRequest | None, client_order_id: str, symbol: str,
                    stamp) -> tuple[tuple[Fill, ...], Decimal | None, str]:
        """What the venue reported the order paid, as ccxt parsed it: the order's own fills when
        the answer lists them (Binance spot's FULL answer: trade id, quantity, price, commission;
        their time, order and side are the order's), and the order's fee (ccxt's fee, or its fees
        when all in one currency). (fills, fee or None when the venue did not say, fee currency)."""
        fills = []
        for trade in raw.get("trades") or []:
            if not isinstance(trade, dict) or trade.get("id") is None or not trade.get("amount") \
                    or trade.get("price") is None:
                continue
            trade = {**trade, "symbol": trade.get("symbol") or raw.get("symbol") or symbol,
                     "side": trade.get("side") or raw.get("side") or (request.side if request else ""),
                     "order": trade.get("order") or raw.get("id"),
                     "clientOrderId": trade.get("clientOrderId") or raw.get("clientOrderId"),
                     "timestamp": trade.get("timestamp") or raw.get("lastTradeTimestamp") or stamp}
            if trade["timestamp"] and trade["side"]:
                fills.append(self._fill(trade))
        fees = [f for f in (raw.get("fees") or ([raw["fee"]] if raw.get("fee") else []))
                if isinstance(f, dict) and f.get("cost") is not None]
        currencies = {f.get("currency") or "" for f in fees}
        if not fees or len(currencies) != 1:
            return tuple(fills), None, ""
        return tuple(fills), sum((_dec(f["cost"]) for f in fees), ZERO), currencies.pop()

    def _type_of(self, raw: dict, info: dict, request: OrderRequest | None) -> tuple[str | None, bool]:
        """Our order type (base.ORDER_TYPES) from the venue's, and whether a triggered type has fired."""
        if self.exchange_id in ("binance", "binanceusdm"):
            venue_type = info.get("orderType") or info.get("origType") or info.get("ot") or info.get("type") \
                or info.get("o")
            if venue_type == "TAKE_PROFIT":
                venue_type = "TAKE_PROFIT_LIMIT" if self.market_type != "spot" else "TAKE_PROFIT_MARKET"
            ours = BINANCE_TYPES.get(venue_type or "")
            if ours is None:
                return raw.get("type") or (request.order_type if request else None), False
            placed = info.get("type") or info.get("o")  # what the matching engine holds now
            fired = ours not in ("market", "limit") and (
                placed in ("MARKET", "LIMIT") or info.get("isWorking") is True or info.get("w") is True)
            return ours, fired
        if self.exchange_id == "bybit":
            if "orderType" not in info and request is not None:  # acknowledged only: as asked
                return request.order_type, False
            trigger = _dec(info.get("triggerPrice"))
            kind = (info.get("orderType") or raw.get("type") or "").lower()
            if trigger <= 0:
                return kind or None, False
            stop_kind = info.get("stopOrderType") or ""
            if stop_kind in ("StopLoss", "TakeProfit"):
                stop = stop_kind == "StopLoss"
            else:
                rises = str(info.get("triggerDirection")) == "1"
                stop = rises == ((raw.get("side") or info.get("side", "")).lower() == "buy")
            fired = (info.get("orderStatus") or "") not in ("Untriggered", "Deactivated", "")
            return f"{'stop' if stop else 'take_profit'}_{kind or 'market'}", fired
        return raw.get("type") or (request.order_type if request else None), False

    # --- history ---------------------------------------------------------------------------
    async def trades(self, symbol: str, since: datetime) -> list[Fill]:
        """Every own trade in symbol since a time, oldest first, paged as the venue pages."""
        raw = await self._history_pages(symbol, since, None)
        return [self._fill(t) for t in raw if t.get("symbol") == symbol]

    def history_start(self) -> datetime | None:
        return None  # paged back as far as asked

    @property
    def _paging(self) -> str:
        return HISTORY_PAGING.get(self.exchange_id, "since")

    async def _history_pages(self, symbol: str | None, since: datetime, after_id: str | None) -> list[dict]:
        """Own trades (raw ccxt) after `after_id`, or from `since`, oldest first: every page.
        Binance pages with fromId (trade ids ascend per symbol), Bybit with nextPageCursor inside
        windows of at most 7 days, any other venue by time."""
        limit = self.history_page_size
        now_ms = int(time.time() * 1000) + 60_000
        since_ms = int(since.timestamp() * 1000)
        rows: list[dict] = []
        if self._paging == "from_id":
            params = {"fromId": int(after_id) + 1} if after_id and after_id.isdigit() else {}
            while True:
                by_id = bool(params)
                page = await self._call(self.exchange.fetch_my_trades, symbol, None if by_id else since_ms, limit,
                                        dict(params))
                rows += page
                if page:
                    params = {"fromId": max(int(t["id"]) for t in page) + 1}
                if by_id and len(page) < limit:
                    break  # caught up (pages by id are not windowed)
                if not page:
                    if by_id or since_ms + HISTORY_WINDOW_MS >= now_ms:
                        break
                    since_ms += HISTORY_WINDOW_MS  # a quiet week of a windowed history (USDⓈ-M): the next
        elif self._paging == "cursor":
            while since_ms <= now_ms:
                until = min(since_ms + HISTORY_WINDOW_MS - 1, now_ms)
                page_cursor = None
                for _ in range(MAX_PAGES):
                    params = {"until": until, **({"cursor": page_cursor} if page_cursor else {})}
                    page = await self._call(self.exchange.fetch_my_trades, symbol, since_ms, limit, params)
                    rows += page
                    page_cursor = next((t["info"]["nextPageCursor"] for t in page
                                        if (t.get("info") or {}).get("nextPageCursor")), None)
                    if not page or not page_cursor:
                        break
                since_ms = until + 1
        else:
            for _ in range(MAX_PAGES):
                page = await self._call(self.exchange.fetch_my_trades, symbol, since_ms, limit)
                rows += page
                newest = max((t.get("timestamp") or 0 for t in page), default=0)
                if len(page) < limit or newest <= since_ms:
                    break
                since_ms = newest  # overlapping by one millisecond: repeats are dropped by id
        unique = {f"{t.get('symbol')}:{t['id']}": t for t in rows}
        return sorted(unique.values(), key=lambda t: (t.get("timestamp") or 0, str(t["id"])))

    async def _held_symbols(self) -> set[str]:
        """Symbols the account holds now (spot balances of base assets, open positions): where a
        trade may have happened that nothing recorded yet."""
        try:
            if self.market_type == "spot":
                return {p.symbol for p in await self.positions() if p.symbol in self._instruments}
            return {p.symbol for p in await self.positions()}
        except VenueError as err:
            log.warning("%s: holdings unreadable for the fill history (%s)", self.exchange_id, err)
            return set()

    async def _missed(self, cursor: FillCursor, seen: "_Seen", *, discover: bool) -> list[dict]:
        """Trades after the cursor that were not delivered yet, oldest first. discover: also look
        at symbols the account holds (after an outage), not only the ones known to be traded."""
        if self._paging == "cursor":  # the venue lists every symbol at once
            symbols: list[str | None] = [None]
        else:
            known = {s for s in cursor.last if s} | self._symbols
            symbols = sorted(known | (await self._held_symbols() if discover else set()))
        trades: list[dict] = []
        for symbol in symbols:
            try:
                trades += await self._history_pages(symbol, cursor.since(symbol) - HISTORY_OVERLAP,
                                                    cursor.trade_id(symbol) if symbol is not None else None)
            except VenueError as err:
                log.warning("%s fill history for %s failed: %s", self.exchange_id, symbol or "every symbol", err)
                raise
        trades = [t for t in trades if f"{t.get('symbol')}:{t['id']}" not in seen and not cursor.covers(
            t.get("symbol") or "", str(t["id"]), datetime.fromtimestamp((t.get("timestamp") or 0) / 1000, UTC))]
        for trade in trades:  # REST trades do not carry the client order id; the order does
            trade["clientOrderId"] = trade.get("clientOrderId") or _client_id_in(trade.get("info") or {})
            if not trade.get("clientOrderId") and trade.get("order"):
                try:
                    order = await self._call(self.exchange.fetch_order, trade["order"], trade["symbol"])
                    trade["clientOrderId"] = order.get("clientOrderId")
                except VenueError:
                    pass
        return sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t["id"])))

    # --- streams ---------------------------------------------------------------------------
    async def _watch(self, watch: Callable[[], Awaitable[list]], what: str, *,
                     backfill: Callable[[], Awaitable[list]] | None = None,
                     peek: Callable[[], list] | None = None,
                     check: Callable[[], Awaitable[list]] | None = None) -> AsyncIterator[tuple[list, bool]]:
        """Batches from a ccxt.pro watch method until close(), as (items, recovered): recovered
        items came from REST, not the stream.

        The stream is reported up only once the venue has confirmed the subscription (see
        _prove); then `backfill()` (REST) recovers what happened before it was live. While it
        runs, `check()` (REST) every `liveness_check_s` finds trades it should have delivered and
        did not: those are handed on and the stream is subscribed afresh, as after any failure
        (with backoff). `peek()` returns items in ccxt's cache no watch has handed out yet:
        looked at while waiting, for a message that came between one watch resolving and the
        next being armed."""
        failures, reported, proven_at, poll = 0, None, 0.0, False
        # ccxt.pro resolves a watch only if one is waiting when the message comes; a message that
        # arrives while none waits stays in its cache until the *next* message. So a pump keeps a
        # watch waiting at all times and queues what it hears, however long a batch takes to be
        # handled downstream; a failure goes through the queue too, and ends that pump.
        queue: asyncio.Queue = asyncio.Queue()
        pump: asyncio.Task | None = None

        async def run_pump() -> None:
            while True:
                try:
                    # Copied as heard: ccxt updates a cached order in place, so a batch handled
                    # later (behind a backfill) would otherwise show only the order's latest state.
                    queue.put_nowait([dict(item) if isinstance(item, dict) else item for item in await watch()])
                except asyncio.CancelledError:
                    if asyncio.current_task().cancelling():
                        raise  # stopped by us
                    queue.put_nowait(ccxt_errors.NetworkError(f"{what} stream reset"))  # ccxt closed its socket
                    return
                except Exception as exc:  # noqa: BLE001 - handed on: the consumer reconnects
                    queue.put_nowait(exc)
                    return

        async def next_batch() -> list:
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            return item

        while not self._closed.is_set():
            if poll:  # the stream is down, the history is not: what traded meanwhile comes from it
                poll = False
                try:
                    missed = await backfill()
                except Exception as exc:  # noqa: BLE001 - REST away too: the next round
                    log.warning("%s %s history unavailable while the stream is down: %s", self.exchange_id, what, exc)
                    missed = []
                if missed:
                    yield missed, True
            if pump is None or pump.done():
                pump = asyncio.ensure_future(run_pump())
            pending = asyncio.ensure_future(next_batch())
            pending.add_done_callback(_consume_exception)  # a failure after we stopped waiting is no news
            try:
                if not proven_at:
                    await self._prove(what, pending)
                    if backfill is not None:
                        missed = await backfill()
                        if missed:
                            log.info("%s %s stream: %d recovered from the trade history", self.exchange_id, what,
                                     len(missed))
                            yield missed, True
                    proven_at, failures = time.time(), 0
                    last_check = time.monotonic() - self.liveness_check_s + STREAM_LAG_S  # one early look
                    log.info("%s %s stream live", self.exchange_id, what)
                    if reported is False:  # a stream that never went down is not reported back
                        reported = True
                        self._stream_state(what, up=True)  # live, and what it missed recovered
                while not pending.done():
                    await asyncio.wait({pending}, timeout=PEEK_S if peek is not None else self.liveness_check_s)
                    if pending.done():
                        break
                    early = peek() if peek is not None else []
                    if early:
                        yield early, False
                    if check is not None and time.monotonic() - last_check >= self.liveness_check_s:
                        last_check = time.monotonic()
                        missed = await check()
                        if missed:
                            yield missed, True
                        if any((t.get("timestamp") or 0) >= proven_at * 1000 for t in missed):
                            raise StreamStalled(f"{what} stream is live but did not deliver {len(missed)} trade(s)")
                batch = await pending
            except Exception as exc:  # noqa: BLE001 - the stream reconnects by itself
                if self._closed.is_set():
                    return
                if reported is not False:
                    reported = False
                    self._stream_state(what, up=False)
                proven_at = 0.0
                if not pending.done():
                    pending.cancel()
                if pump is not None:
                    pump.cancel()
                    pump = None
                await self._reset_streams()
                delay = STREAM_BACKOFF_S[min(failures, len(STREAM_BACKOFF_S) - 1)]
                failures += 1
                log.warning("%s %s stream lost (%s: %s); subscribing again in %.2fs", self.exchange_id, what,
                            type(exc).__name__, str(exc)[:200], delay)
                try:
                    await asyncio.wait_for(self._closed.wait(), delay)
                except TimeoutError:
                    pass
                poll = backfill is not None and not self._closed.is_set()
                continue
            finally:
                if not pending.done():  # cancelled, or the consumer stopped iterating
                    pending.cancel()
                    if pump is not None:
                        pump.cancel()
            try:
                yield batch, False
            except BaseException:  # the consumer stopped iterating: stop listening too
                pump.cancel()
                raise
        if pump is not None:
            pump.cancel()

    async def _prove(self, what: str, pending: asyncio.Future) -> None:
        """Return once the venue has confirmed the new subscription; raise while it has not (the
        stream stays down). Binance spot: its WebSocket API answered userDataStream.subscribe;
        every venue: the private socket is open and the watch has not failed for a moment."""
        if self.exchange_id in CONFIRMED_SUBSCRIBE and self.market_type == "spot":
            try:
                await asyncio.wait_for(self.exchange.authenticate({"type": "spot"}), PROVE_S)
            except (TimeoutError, asyncio.TimeoutError):
                raise StreamStalled(f"{what} subscription not confirmed within {PROVE_S}s") from None
        deadline = time.monotonic() + PROVE_S
        await asyncio.wait({pending}, timeout=STREAM_UP_CHECK_S)
        while not pending.done() and not self._streams_open():
            if time.monotonic() > deadline:
                raise StreamStalled(f"{what} stream has no open connection after {PROVE_S}s")
            await asyncio.wait({pending}, timeout=PEEK_S)
        if pending.done() and pending.exception() is not None:
            raise pending.exception()

    def _streams_open(self) -> bool:
        for client in list((getattr(self.exchange, "clients", None) or {}).values()):
            connected = getattr(client, "connected", None)
            if (connected is not None and connected.done() and not connected.cancelled()
                    and connected.exception() is None and not client.closed()):
                return True
        return False

    async def _reset_streams(self) -> None:
        """Drop ccxt.pro's WebSocket clients and their pending futures, so the next watch connects
        and subscribes afresh (and futures streams ask for a new listenKey). A subscription that
        failed half-way can leave ccxt waiting forever for its confirmation: ccxt 4.5.90's
        binance, given an error answer to userDataStream.subscribe, never settles the
        authentication future the next attempt waits on."""
        clients = getattr(self.exchange, "clients", None) or {}
        for url, client in list(clients.items()):
            if url == "authenticationFlights":
                continue
            clients.pop(url, None)
            try:
                await client.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
        for market in ("linear", "inverse", "future", "delivery", "spot"):
            options = self.exchange.options.get(market)
            if isinstance(options, dict) and "lastAuthenticatedTime" in options:
                options["lastAuthenticatedTime"] = 0

    def add_stream_listener(self, name: str, listener: Callable[[str, bool], None]) -> None:
        self._stream_listeners[name] = listener

    def _stream_state(self, what: str, *, up: bool) -> None:
        tell_stream_listeners(self._stream_listeners, [what], up)

    async def order_updates(self) -> AsyncIterator[OrderState]:
        async def resting() -> list[dict]:
            """The orders resting once the stream is live: one placed before it was followed (a
            watcher starting or restarting) is reported, not missed until it next changes."""
            try:
                # binance picks the endpoint by a `type` parameter, not the defaultType, when no symbol is given
                typed = {"type": self.market_type} if self.exchange_id in ("binance", "binanceusdm") else {}
                return await self._call(self.exchange.fetch_open_orders, None, None, None, typed)
            except VenueError as exc:  # the stream itself still works: followed from now on
                log.warning("%s resting orders not read at the order stream's start: %s", self.exchange_id, exc)
                return []

        async for orders, _ in self._watch(self.exchange.watch_orders, "order", backfill=resting):
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

    async def fills(self, since: FillCursor | None = None) -> AsyncIterator[Fill]:
        seen = _Seen()
        # Without a cursor, nothing before the first subscription is wanted (a second's slack for
        # the clocks); with one, everything after it.
        state = {"cursor": since or FillCursor(start=datetime.fromtimestamp(time.time() - 1.0, UTC))}
        outage = [since is not None]  # whether there is anything to recover yet

        async def backfill() -> list[dict]:
            if not outage[0]:  # the first subscription, and nothing before it wanted
                outage[0] = True  # every later backfill follows an outage
                return []
            return await self._missed(state["cursor"], seen, discover=True)

        async def check() -> list[dict]:
            lag_ms = (time.time() - STREAM_LAG_S) * 1000
            try:
                missed = await self._missed(state["cursor"], seen, discover=False)
            except VenueError:
                return []  # REST unavailable says nothing about the stream: look again later
            # What is in ccxt's cache came on the stream (and is on its way here): not missed.
            heard = {f"{t.get('symbol')}:{t['id']}" for t in getattr(self.exchange, "myTrades", None) or []}
            return [t for t in missed if (t.get("timestamp") or 0) <= lag_ms
                    and f"{t.get('symbol')}:{t['id']}" not in heard]

        def peek() -> list[dict]:  # trades in ccxt's cache that no watch call has returned yet
            cached = getattr(self.exchange, "myTrades", None) or []
            return [t for t in cached[-PEEK_TRADES:] if f"{t.get('symbol')}:{t['id']}" not in seen]

        from_orders = self.exchange_id in FILLS_FROM_ORDERS
        watch = self._order_fills if from_orders else self.exchange.watch_my_trades
        # A stream's snapshot of earlier fills (kraken replays the last 50 on every subscription) is
        # history, not news: without a cursor, only what came after the stream began is taken.
        history = (state["cursor"].start.timestamp() - STREAM_START_GRACE_S) * 1000 if since is None else 0
        async for trades, recovered in self._watch(watch, "fill", backfill=backfill,
                                                   peek=None if from_orders else peek, check=check):
            for trade in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
                if trade.get("id") is None:  # not a trade (kraken's snapshot also lists orders)
                    continue
                if not seen.add(f"{trade.get('symbol')}:{trade['id']}"):
                    continue  # delivered already (ccxt's cache, or the history overlapping the stream)
                if not recovered and (trade.get("timestamp") or 0) < history:
                    continue  # before this stream began: a snapshot's history, not a new fill
                if since is not None and state["cursor"].covers(trade.get("symbol") or "", str(trade["id"]), (
                        datetime.fromtimestamp((trade.get("timestamp") or 0) / 1000, UTC))):
                    continue  # a snapshot's replay of what the cursor says was taken in already
                self._symbols.add(trade["symbol"])
                fill = self._fill(trade, backfilled=recovered)
                if self._binance_futures:
                    fill = self._as_conditional(fill, trade)
                state["cursor"] = state["cursor"].after(fill)
                yield fill

    def _as_conditional(self, fill: Fill, trade: dict) -> Fill:
        """A fill of the order a Binance conditional order placed when it triggered is that
        conditional order's (its algo id, as the order stream announced it): the order the
        caller placed and followed."""
        info = trade.get("info") or {}
        if (info.get("ot") or "") not in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT"):
            return fill
        for order in reversed(list(getattr(self.exchange, "orders", None) or [])):
            order_info = order.get("info") or {}
            if "aid" in order_info and (str(order_info.get("ai")) == fill.venue_order_id or (
                    fill.client_order_id and order_info.get("caid") == fill.client_order_id)):
                return Fill(**{**fill.__dict__, "venue_order_id": str(order_info["aid"]),
                               "client_order_id": order_info.get("caid") or fill.client_order_id})
        return fill

    def _fill(self, trade: dict, *, backfilled: bool = False) -> Fill:
        fee = trade.get("fee") or {}
        info = trade.get("info") or {}
        cost = _dec(fee.get("cost"))
        if STREAM_FEE_NEGATED.get(self.exchange_id) in info:  # the stream's raw sign: negative is charged
            cost = -cost
        return Fill(
            venue_trade_id=str(trade["id"]), venue_order_id=str(trade.get("order") or ""),
            client_order_id=self._our_cid(str(trade.get("clientOrderId") or _client_id_in(info))),
            symbol=trade["symbol"], side=trade["side"], quantity=_dec(trade["amount"]), price=_dec(trade["price"]),
            fee=cost,
            fee_currency=fee.get("currency") or "",
            timestamp=datetime.fromtimestamp(trade["timestamp"] / 1000, UTC), backfilled=backfilled)

