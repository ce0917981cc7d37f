"""The simulated venue's state and spot rules: symbols, accounts and API keys, balances,
prices (a seeded random walk with real markets' volatility and correlation, venue_sim/paths.py,
or a scripted path) and spot order matching.

Pure and synchronous (no I/O): the HTTP layer turns requests into calls here, and listeners
hear every order change (the user-data streams, benchmarks)."""

from __future__ import annotations

import itertools
import math
import random
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from venue_sim import paths

ZERO = Decimal(0)
DECIMAL_FORMAT = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")  # Binance's: no sign, no exponent
CLIENT_ID_FORMAT = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{16,128}$")  # what the venue accepts as an API key (else -2014)


class BinanceError(Exception):
    """An error exactly as Binance sends it: HTTP status, code, message (and headers)."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


def bad_param(msg: str) -> BinanceError:
    return BinanceError(400, -1102, msg)


def mandatory(name: str) -> BinanceError:
    return bad_param(f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def bad_client_id() -> BinanceError:
    return BinanceError(400, -1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                                    "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.")


def parse_decimal(name: str, raw: str | None, *, required: bool = True) -> Decimal | None:
    """A decimal parameter however it is padded ("0.01000000", "1", ".5")."""
    if raw is None or raw == "":
        if required:
            raise mandatory(name)
        return None
    if not DECIMAL_FORMAT.match(raw):
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                       f"'^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.")
    return Decimal(raw)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


@dataclass(frozen=True)
class Symbol:
    name: str  # BTCUSDT
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    initial_price: Decimal
    max_qty: Decimal = Decimal(9000)


DEFAULT_SYMBOLS = (
    Symbol("BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5"),
           Decimal("64000")),
    Symbol("ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"), Decimal("5"),
           Decimal("3200")),
    Symbol("SOLUSDT", "SOL", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("5"),
           Decimal("150")),
)


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str  # BUY / SELL
    type: str  # MARKET / LIMIT
    time_in_force: str
    price: Decimal  # limit price; 0 for market orders
    orig_qty: Decimal
    executed_qty: Decimal = ZERO
    cumulative_quote: Decimal = ZERO
    status: str = "NEW"
    time_ms: int = 0
    update_ms: int = 0
    created_at: float = 0.0  # the venue clock in seconds, full precision (latency measurements)
    orig_quote_qty: Decimal = ZERO
    reserved: Decimal = ZERO  # what is still locked for the unfilled rest (quote for a buy, base for a sell)
    stop_price: Decimal = ZERO  # the stop and take-profit types: the last price that triggers it
    working: bool = True  # on the book (a stop is not until it triggers)
    working_ms: int = 0  # when it started working
    order_list_id: int = -1  # an OCO's legs share one
    cancel_client_id: str = ""  # the client id of the cancel that canceled it (Binance gives a cancel its own)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty


@dataclass
class Trade:
    trade_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_maker: bool
    at: float = 0.0  # the venue clock in seconds, full precision
    realized_pnl: Decimal = ZERO  # perpetuals only
    position_side: str = "BOTH"


@dataclass
class Account:
    name: str
    api_key: str  # the first key; more can be added (Exchange.add_key)
    secret: str
    balances: dict[str, Decimal] = field(default_factory=dict)  # free
    locked: dict[str, Decimal] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    by_client_id: dict[str, int] = field(default_factory=dict)  # the latest order with that id
    trades: list[Trade] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # every API key of the account
    passphrase: str = ""  # the first key's (OKX and KuCoin sign with one)
    order_lists: dict[int, "OrderList"] = field(default_factory=dict)
    deposits: list[tuple[int, str, Decimal]] = field(default_factory=list)  # (ms, asset, amount) credited


@dataclass
class OrderList:
    """An OCO: two orders on one quantity; the first to trigger or fill expires the other, and
    canceling either cancels both."""

    order_list_id: int
    list_client_order_id: str
    symbol: str
    order_ids: list[int]
    status: str = "EXECUTING"  # EXECUTING | ALL_DONE
    list_status_type: str = "EXEC_STARTED"  # EXEC_STARTED | ALL_DONE
    time_ms: int = 0


@dataclass
class ApiKey:
    key: str
    secret: str
    account: Account
    can_trade: bool = True
    passphrase: str = ""  # chosen with the key on OKX and KuCoin; the Binance and Bybit dialects ignore it
    public_key: str = ""  # an Ed25519 key's public half (PEM): it signs instead of the secret (Binance)


def hex_credentials() -> tuple[str, str]:
    """A new (API key, secret) as Binance and Bybit issue them: two random hex strings."""
    return secrets.token_hex(32), secrets.token_hex(32)


Listener = Callable[[Account, Order, "Trade | None", str], None]

# Spot order types, and how the stop and take-profit ones work once triggered.
SPOT_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
PRICED_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})


def stop_triggers(order_type: str, side: str, stop_price: Decimal, last: Decimal) -> bool:
    """Binance's rule for every venue type with a stop price: a stop (STOP_LOSS*, STOP*) buys
    once the price rises to it and sells once it falls to it; a take-profit the other way."""
    against = not order_type.startswith("TAKE_PROFIT")
    return last >= stop_price if (side == "BUY") == against else last <= stop_price


class Exchange:
    """One venue: prices and accounts shared by spot and perpetuals, spot matching here.

    client_id_scope: "known" refuses any newClientOrderId the account has used before (what
    copy trading needs and what the tracker asks of the simulator); "open" refuses it only
    while that order is open, which is what Binance documents ("unique among open orders").

    id_base is added to every order and trade id: a venue restarted under clients that keep
    the ids they saw (the demo on a kept data directory) must not hand the same ones out again.

    fee_in_quote: a buy pays its fee in the quote currency (Coinbase, Kraken) rather than in the
    base asset bought (Binance, Bybit). key_format and new_credentials: what this venue's API
    keys look like, and how it issues a new (key, secret). client_id_format: the client order
    ids it takes (Binance's by default; a dialect with rules of its own checks them itself)."""

    def __init__(self, seed: int = 0, symbols: tuple[Symbol, ...] = DEFAULT_SYMBOLS,
                 fee_rate: Decimal = Decimal("0.001"), clock: Callable[[], float] = time.time,
                 client_id_scope: str = "known", id_base: int = 0, *, fee_in_quote: bool = False,
                 key_format: re.Pattern = KEY_FORMAT, client_id_format: re.Pattern = CLIENT_ID_FORMAT,
                 new_credentials: Callable[[], tuple[str, str]] = hex_credentials) -> None:
        if client_id_scope not in ("known", "open"):
            raise ValueError("client_id_scope is 'known' or 'open'")
        self.seed = seed
        self.random = random.Random(seed)
        self.symbols = {s.name: s for s in symbols}
        self.prices = {s.name: s.initial_price for s in symbols}
        self.history: dict[str, deque[tuple[int, Decimal]]] = {s.name: deque(maxlen=20_000) for s in symbols}
        self.price_paths: dict[str, list[Decimal]] = {}
        self.slippage = ZERO  # fraction of the price a market order pays away
        self.fee_rate = fee_rate
        self.fee_in_quote = fee_in_quote
        self.key_format, self.new_credentials = key_format, new_credentials
        self.client_id_format = client_id_format
        self.clock = clock
        self.client_id_scope = client_id_scope
        self.accounts: dict[str, Account] = {}  # by name
        self.keys: dict[str, ApiKey] = {}  # by API key
        self.listeners: list[Listener] = []
        self.price_hooks: list[Callable[[str], None]] = []  # other books matching on price moves
        self.id_base = id_base
        self._order_ids = itertools.count(id_base + 1000)
        self._trade_ids = itertools.count(id_base + 5000)
        self._resting: dict[int, tuple[Account, Order]] = {}  # open limit orders, by order id
        self._stops: dict[int, tuple[Account, Order]] = {}  # stops not yet triggered, by order id
        self._list_ids = itertools.count(id_base + 100)
        self.list_listeners: list[Callable[[Account, OrderList], None]] = []
        now = self.now_ms()
        for name, price in self.prices.items():
            self.history[name].append((now, price))

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # --- accounts and keys -----------------------------------------------------------------
    def create_account(self, name: str, balances: dict[str, str] | None = None, *, api_key: str | None = None,
                       secret: str | None = None, passphrase: str | None = None,
                       public_key: str | None = None) -> Account:
        if name in self.accounts:
            raise ValueError(f"account {name!r} exists")
        account = Account(name=name, api_key="", secret="")
        self.accounts[name] = account
        key = self.add_key(account, api_key=api_key, secret=secret, passphrase=passphrase, public_key=public_key)
        account.api_key, account.secret, account.passphrase = key.key, key.secret, key.passphrase
        for asset, amount in (balances or {}).items():
            self.fund(account, asset, Decimal(str(amount)))
        return account

    def add_key(self, account: Account, *, api_key: str | None = None, secret: str | None = None,
                can_trade: bool = True, passphrase: str | None = None, public_key: str | None = None) -> ApiKey:
        """public_key: register an Ed25519 key (its public half, PEM) as Binance does; requests
        are then signed with its private half, and the key has no secret."""
        new_key, new_secret = self.new_credentials()
        key = ApiKey(api_key or new_key, "" if public_key else (secret or new_secret), account, can_trade,
                     passphrase or secrets.token_hex(8), public_key or "")
        if not self.key_format.match(key.key):
            raise ValueError(f"this venue's API keys match {self.key_format.pattern}")
        if key.key in self.keys:
            raise ValueError("API key in use")
        self.keys[key.key] = key
        account.keys.append(key.key)
        return key

    def account_by_name(self, name: str) -> Account:
        return self.accounts[name]

    def fund(self, account: Account, asset: str, amount: Decimal) -> None:
        """Deposit (or, negative, withdraw) free balance."""
        after = account.balances.get(asset, ZERO) + amount
        if after < 0:
            raise ValueError(f"{account.name} would hold {after} {asset}")
        account.balances[asset] = after
        if amount > 0:
            account.deposits.append((self.now_ms(), asset, amount))

    # --- prices ----------------------------------------------------------------------------
    def symbol(self, name: str) -> Symbol:
        if name not in self.symbols:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return self.symbols[name]

    def set_price(self, symbol: str, price: Decimal) -> None:
        sym = self.symbol(symbol)
        if price <= 0:
            raise ValueError("price must be positive")
        self._move(sym.name, price.quantize(sym.tick_size))

    def step_prices(self, dt_s: float = 1.0) -> None:
        """One tick of dt_s seconds for every symbol: the next scripted price, else the seeded
        random walk (paths.py: each asset's own volatility, correlated through the market)."""
        names = list(self.symbols)
        moves = paths.log_returns(self.random, [self.symbols[n].base for n in names], dt_s)
        for name, move in zip(names, moves):
            sym = self.symbols[name]
            path = self.price_paths.get(name)
            price = path.pop(0) if path else self.prices[name] * Decimal(repr(math.exp(move)))
            self._move(name, max(price.quantize(sym.tick_size), sym.tick_size))

    def backfill(self, hours: int) -> None:
        """Hourly prices for the `hours` before the first one known, by the same walk run
        backwards from it: the history a venue has before the simulator started. Call it before
        prices move (the history keeps its newest points)."""
        names = list(self.symbols)
        first = {n: self.history[n][0] for n in names}
        price = {n: float(first[n][1]) for n in names}
        earlier: dict[str, list[tuple[int, Decimal]]] = {n: [] for n in names}
        for k in range(1, hours + 1):
            moves = paths.log_returns(self.random, [self.symbols[n].base for n in names], 3600.0)
            for name, move in zip(names, moves):
                tick = self.symbols[name].tick_size
                price[name] /= math.exp(move)
                earlier[name].append((first[name][0] - k * 3_600_000,
                                      max(Decimal(repr(price[name])).quantize(tick), tick)))
        for name in names:
            self.history[name].extendleft(earlier[name])  # newest first in, so oldest ends first

    def _move(self, symbol: str, price: Decimal) -> None:
        self.prices[symbol] = price
        self.history[symbol].append((self.now_ms(), price))
        self._trigger_stops(symbol)
        self._match_resting(symbol)
        for hook in self.price_hooks:
            hook(symbol)

    # --- orders ----------------------------------------------------------------------------
    def check_client_id(self, by_client_id: dict[str, int], orders: dict, client_order_id: str,
                        error: BinanceError) -> None:
        known = by_client_id.get(client_order_id)
        if known is not None and (self.client_id_scope == "known" or orders[known].is_open):
            raise error

    def check_order(self, account: Account, **order) -> Order:
        """Validate an order as place_order would (POST /api/v3/order/test): nothing is locked,
        booked or matched."""
        return self._new_order(account, **order)

    def market_trades(self, symbol: str) -> list[Trade]:
        """Every trade on the symbol, oldest first: the public trade list (each account traded
        with the venue)."""
        return sorted((t for a in self.accounts.values() for t in a.trades if t.symbol == symbol),
                      key=lambda t: t.trade_id)

    def place_order(self, account: Account, *, symbol: str, side: str, type: str, quantity: Decimal | None,
                    quote_qty: Decimal | None, price: Decimal | None, time_in_force: str | None,
                    client_order_id: str | None, stop_price: Decimal | None = None) -> tuple[Order, list[Trade]]:
        order = self._new_order(account, symbol=symbol, side=side, type=type, quantity=quantity,
                                quote_qty=quote_qty, price=price, time_in_force=time_in_force,
                                client_order_id=client_order_id, stop_price=stop_price)
        reserve_asset, reserve = self._reservation(order)
        if account.balances.get(reserve_asset, ZERO) < reserve:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested action.")
        self._lock(account, order, reserve_asset, reserve)
        self._add(account, order)
        self._emit(account, order, None, "NEW")
        return order, self._start(account, order)

    def _new_order(self, account: Account, *, symbol: str, side: str, type: str, quantity: Decimal | None,
                   quote_qty: Decimal | None, price: Decimal | None, time_in_force: str | None,
                   client_order_id: str | None, stop_price: Decimal | None, order_list_id: int = -1,
                   taken: set[str] = frozenset()) -> Order:
        """Validate one order as Binance does and build it (nothing is locked or booked yet)."""
        sym = self.symbol(symbol)
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'side'; legal range is "
                                           "'BUY, SELL'.")
        if type not in SPOT_TYPES:
            raise BinanceError(400, -1116, "Invalid orderType.")
        client_order_id = client_order_id or f"sim-{secrets.token_hex(8)}"
        if not self.client_id_format.match(client_order_id):
            raise bad_client_id()
        # Binance refuses a newClientOrderId in use with -2010: never a second order.
        self.check_client_id(account.by_client_id, account.orders, client_order_id,
                             BinanceError(400, -2010, "Duplicate order sent."))
        if client_order_id in taken:
            raise BinanceError(400, -2010, "Duplicate order sent.")
        market_price = self.prices[sym.name]
        if type == "MARKET":
            if price is not None or time_in_force:
                raise BinanceError(400, -1106, "Parameter 'price' sent when not required." if price is not None
                                   else "Parameter 'timeInForce' sent when not required.")
            if (quantity is None) == (quote_qty is None):
                raise bad_param("Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
                                if quantity is None else "Only one of 'quantity' or 'quoteOrderQty' may be sent.")
            if quantity is None:  # spend this much quote: as much base as it buys, in whole steps
                quantity = (quote_qty / market_price).quantize(sym.step_size, rounding=ROUND_DOWN)
            tif, limit_price = "GTC", ZERO
        else:
            if quote_qty is not None:
                raise BinanceError(400, -1106, "Parameter 'quoteOrderQty' sent when not required.")
            if quantity is None:
                raise mandatory("quantity")
            if type in PRICED_TYPES:
                if price is None:
                    raise mandatory("price")
                if price <= 0 or not is_multiple(price, sym.tick_size):
                    raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
            elif price is not None:
                raise BinanceError(400, -1106, "Parameter 'price' sent when not required.")
            if type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
                if time_in_force not in ("GTC", "IOC", "FOK"):
                    raise mandatory("timeInForce")
            elif time_in_force:
                raise BinanceError(400, -1106, "Parameter 'timeInForce' sent when not required.")
            tif, limit_price = time_in_force or "GTC", price or ZERO
        if type in STOP_TYPES:
            if stop_price is None:
                raise mandatory("stopPrice")
            if stop_price <= 0 or not is_multiple(stop_price, sym.tick_size):
                raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
            if stop_triggers(type, side, stop_price, market_price):
                raise BinanceError(400, -2010, "Stop price would trigger immediately.")
        elif stop_price is not None:
            raise BinanceError(400, -1106, "Parameter 'stopPrice' sent when not required.")
        if type == "LIMIT_MAKER" and self._crosses(side, limit_price, market_price):
            raise BinanceError(400, -2010, "Order would immediately match and take.")
        if quantity < sym.min_qty or quantity > sym.max_qty or not is_multiple(quantity, sym.step_size):
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        reference = limit_price or stop_price or market_price
        if quantity * reference < sym.min_notional:
            raise BinanceError(400, -1013, "Filter failure: NOTIONAL")
        now = self.now_ms()
        stop = type in STOP_TYPES
        return Order(next(self._order_ids), client_order_id, sym.name, side, type, tif, limit_price, quantity,
                     time_ms=now, update_ms=now, created_at=self.clock(), orig_quote_qty=quote_qty or ZERO,
                     stop_price=stop_price or ZERO, working=not stop, working_ms=0 if stop else now,
                     order_list_id=order_list_id)

    def _reservation(self, order: Order) -> tuple[str, Decimal]:
        """What to lock: a buy locks quote at the worst price it may pay (a stop's trigger, plus
        slippage, when it fires at market), a sell locks the base."""
        sym = self.symbols[order.symbol]
        if order.side == "SELL":
            return sym.base, order.orig_qty
        fee = 1 + self.fee_rate if self.fee_in_quote else 1  # a fee paid in the quote is locked too
        if order.price:
            return sym.quote, order.orig_qty * order.price * fee
        reference = order.stop_price or self.prices[sym.name]
        return sym.quote, order.orig_qty * reference * (1 + self.slippage) * fee

    @staticmethod
    def _lock(account: Account, order: Order, asset: str, amount: Decimal) -> None:
        account.balances[asset] -= amount
        account.locked[asset] = account.locked.get(asset, ZERO) + amount
        order.reserved = amount

    def _add(self, account: Account, order: Order) -> None:
        account.orders[order.order_id] = order
        account.by_client_id[order.client_order_id] = order.order_id

    def _start(self, account: Account, order: Order) -> list[Trade]:
        """A new (or just triggered) order works: fill what crosses, rest the rest."""
        sym = self.symbols[order.symbol]
        market_price = self.prices[sym.name]
        if not order.working:
            self._stops[order.order_id] = (account, order)
            return []
        if order.type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
            return [self._fill(account, order, order.orig_qty, self._market_fill_price(sym, order.side),
                               is_maker=False)]
        if self._crosses(order.side, order.price, market_price):
            # Marketable limit: fills at once at the (better) market price, as a taker.
            return [self._fill(account, order, order.remaining, market_price, is_maker=False)]
        if order.time_in_force in ("IOC", "FOK"):
            self._close(account, order, "EXPIRED")
        else:
            self._resting[order.order_id] = (account, order)
        return []

    # --- order lists (OCO) -----------------------------------------------------------------
    def place_oco(self, account: Account, *, symbol: str, side: str, quantity: Decimal | None,
                  legs: dict[str, dict], list_client_order_id: str | None) -> tuple[OrderList, list[Order]]:
        """POST /api/v3/orderList/oco: `legs` = {"above": {...}, "below": {...}}, each with type,
        price, stop_price, time_in_force, client_order_id. A sell takes profit above and stops
        below; a buy stops above and takes profit below. One quantity is locked for both."""
        sym = self.symbol(symbol)
        if quantity is None:
            raise mandatory("quantity")
        allowed = {"SELL": ({"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}, {"STOP_LOSS", "STOP_LOSS_LIMIT"}),
                   "BUY": ({"STOP_LOSS", "STOP_LOSS_LIMIT"}, {"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})}
        if side not in allowed:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'side'; legal range is "
                                           "'BUY, SELL'.")
        list_client_order_id = list_client_order_id or f"sim-{secrets.token_hex(8)}"
        if any(ol.list_client_order_id == list_client_order_id and ol.status == "EXECUTING"
               for ol in account.order_lists.values()):
            raise BinanceError(400, -1158, "Order list client order id is already used.")
        list_id = next(self._list_ids)
        orders, taken = [], set()
        for name, kinds in zip(("above", "below"), allowed[side]):
            leg = legs[name]
            if leg.get("type") not in kinds:
                raise BinanceError(400, -1102, f"Mandatory parameter '{name}Type' was not sent, was empty/null, "
                                               f"or malformed.")
            order = self._new_order(account, symbol=sym.name, side=side, type=leg["type"], quantity=quantity,
                                    quote_qty=None, price=leg.get("price"), time_in_force=leg.get("time_in_force"),
                                    client_order_id=leg.get("client_order_id"), stop_price=leg.get("stop_price"),
                                    order_list_id=list_id, taken=taken)
            taken.add(order.client_order_id)
            orders.append(order)
        above, below = orders
        if (above.price or above.stop_price) <= (below.price or below.stop_price):
            raise BinanceError(400, -2010, "The relationship of the prices for the orders is not correct.")
        reservations = [self._reservation(o) for o in orders]
        asset, reserve = reservations[0][0], max(r for _, r in reservations)
        if account.balances.get(asset, ZERO) < reserve:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested action.")
        self._lock(account, orders[0], asset, reserve)  # held by the first leg, handed on to the one that works
        order_list = OrderList(list_id, list_client_order_id, sym.name, [o.order_id for o in orders],
                               time_ms=self.now_ms())
        account.order_lists[list_id] = order_list
        for order in orders:
            self._add(account, order)
        for order in orders:
            self._emit(account, order, None, "NEW")
        self._emit_list(account, order_list)
        for order in orders:
            if order.is_open:
                self._start(account, order)
        return order_list, orders

    def find_order_list(self, account: Account, order_list_id: int | None, list_client_id: str | None) -> OrderList:
        for order_list in account.order_lists.values():
            if order_list.order_list_id == order_list_id or (
                    list_client_id and order_list.list_client_order_id == list_client_id):
                return order_list
        raise BinanceError(400, -2011, "Order list does not exist.")

    def cancel_order_list(self, account: Account, order_list: OrderList) -> list[Order]:
        if order_list.status != "EXECUTING":
            raise BinanceError(400, -2011, "Unknown order sent.")
        orders = [account.orders[i] for i in order_list.order_ids]
        for order in orders:
            if order.is_open:
                order.cancel_client_id = order.cancel_client_id or f"sim-{secrets.token_hex(8)}"
                self._close(account, order, "CANCELED")
        return orders

    def _siblings(self, account: Account, order: Order) -> list[Order]:
        if order.order_list_id < 0:
            return []
        order_list = account.order_lists[order.order_list_id]
        return [account.orders[i] for i in order_list.order_ids if i != order.order_id and account.orders[i].is_open]

    def _take_over(self, account: Account, order: Order) -> None:
        """An OCO leg triggered or fills: it takes the list's reservation and the others expire."""
        for sibling in self._siblings(account, order):
            order.reserved, sibling.reserved = order.reserved + sibling.reserved, ZERO
            self._close(account, sibling, "EXPIRED")

    def _list_done(self, account: Account, order: Order) -> None:
        if order.order_list_id < 0 or order.is_open:
            return
        order_list = account.order_lists[order.order_list_id]
        if order_list.status == "EXECUTING" and not any(account.orders[i].is_open for i in order_list.order_ids):
            order_list.status, order_list.list_status_type = "ALL_DONE", "ALL_DONE"
            self._emit_list(account, order_list)

    def _emit_list(self, account: Account, order_list: OrderList) -> None:
        for listener in list(self.list_listeners):
            listener(account, order_list)

    def cancel_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None, *,
                     cancel_client_id: str | None = None) -> Order:
        """cancel_client_id: the cancel's own client id (Binance's newClientOrderId on a cancel),
        made up when not given."""
        if cancel_client_id and not self.client_id_format.match(cancel_client_id):
            raise bad_client_id()
        order = self.find_order(account, symbol, order_id, client_id)
        if not order.is_open:
            raise BinanceError(400, -2011, "Unknown order sent.")
        order.cancel_client_id = cancel_client_id or f"sim-{secrets.token_hex(8)}"
        if order.order_list_id >= 0:  # canceling a leg cancels the whole list
            self.cancel_order_list(account, account.order_lists[order.order_list_id])
        else:
            self._close(account, order, "CANCELED")
        return order

    def find_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        self.symbol(symbol)
        if order_id is None and not client_id:
            raise bad_param("Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order_id is None:
            order_id = account.by_client_id.get(client_id)
        order = account.orders.get(order_id) if order_id is not None else None
        if order is None or order.symbol != symbol or (client_id and order.client_order_id != client_id):
            raise BinanceError(400, -2013, "Order does not exist.")
        return order

    def open_orders(self, account: Account, symbol: str | None = None) -> list[Order]:
        return [o for o in account.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)]

    # --- internals -------------------------------------------------------------------------
    def _market_fill_price(self, sym: Symbol, side: str) -> Decimal:
        price = self.prices[sym.name]
        slip = price * self.slippage
        return (price + slip if side == "BUY" else price - slip).quantize(sym.tick_size)

    @staticmethod
    def _crosses(side: str, limit: Decimal, market: Decimal) -> bool:
        return market <= limit if side == "BUY" else market >= limit

    def _close(self, account: Account, order: Order, status: str) -> None:
        """Cancel or expire: the unfilled rest's reservation goes back to free balance."""
        sym = self.symbols[order.symbol]
        asset = sym.quote if order.side == "BUY" else sym.base
        self._unlock(account, asset, order.reserved, order.reserved)
        order.reserved = ZERO
        order.status, order.update_ms = status, self.now_ms()
        self._resting.pop(order.order_id, None)
        self._stops.pop(order.order_id, None)
        self._emit(account, order, None, status)
        self._list_done(account, order)

    @staticmethod
    def _unlock(account: Account, asset: str, amount: Decimal, back_to_free: Decimal) -> None:
        account.locked[asset] = account.locked.get(asset, ZERO) - amount
        account.balances[asset] = account.balances.get(asset, ZERO) + back_to_free

    def _fill(self, account: Account, order: Order, qty: Decimal, price: Decimal, *, is_maker: bool) -> Trade:
        sym = self.symbols[order.symbol]
        self._take_over(account, order)
        notional = qty * price
        share = order.reserved * qty / order.remaining  # the reservation this part of the order held
        order.reserved -= share
        if order.side == "BUY" and self.fee_in_quote:
            fee, fee_asset = notional * self.fee_rate, sym.quote
            self._unlock(account, sym.quote, share, share - notional - fee)  # the fee was locked too
            account.balances[sym.base] = account.balances.get(sym.base, ZERO) + qty
        elif order.side == "BUY":
            self._unlock(account, sym.quote, share, share - notional)  # paid at most what was locked
            fee, fee_asset = qty * self.fee_rate, sym.base
            account.balances[sym.base] = account.balances.get(sym.base, ZERO) + qty - fee
        else:
            self._unlock(account, sym.base, share, ZERO)
            fee, fee_asset = notional * self.fee_rate, sym.quote
            account.balances[sym.quote] = account.balances.get(sym.quote, ZERO) + notional - fee
        now = self.now_ms()
        order.executed_qty += qty
        order.cumulative_quote += notional
        order.status = "FILLED" if order.executed_qty >= order.orig_qty else "PARTIALLY_FILLED"
        order.update_ms = now
        if not order.is_open:
            self._resting.pop(order.order_id, None)
        trade = Trade(next(self._trade_ids), order.order_id, order.client_order_id, order.symbol, order.side,
                      price, qty, fee, fee_asset, now, is_maker, at=self.clock())
        account.trades.append(trade)
        self._emit(account, order, trade, "TRADE")
        self._list_done(account, order)
        return trade

    def _trigger_stops(self, symbol: str) -> None:
        """Stops the last price reached start working: at market, or as a limit order at their
        price. A triggered OCO leg expires its sibling."""
        market = self.prices[symbol]
        for account, order in list(self._stops.values()):
            if order.symbol != symbol or not order.is_open or order.working:
                continue
            if stop_triggers(order.type, order.side, order.stop_price, market):
                self._stops.pop(order.order_id, None)
                self._take_over(account, order)
                order.working, order.working_ms = True, self.now_ms()
                order.update_ms = order.working_ms
                self._emit(account, order, None, "NEW")  # on the book now ("w": true)
                self._start(account, order)

    def _match_resting(self, symbol: str) -> None:
        market = self.prices[symbol]
        for account, order in list(self._resting.values()):
            if order.symbol == symbol and order.is_open and self._crosses(order.side, order.price, market):
                self._fill(account, order, order.remaining, order.price, is_maker=True)

    def _emit(self, account: Account, order: Order, trade: Trade | None, execution_type: str) -> None:
        for listener in list(self.listeners):
            listener(account, order, trade, execution_type)
