"""The simulated venue's state and rules: symbols, accounts, balances, prices, order matching.
Pure and synchronous (no I/O); the server turns requests into calls here."""

from __future__ import annotations

import itertools
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation

ZERO = Decimal(0)


class VenueError(Exception):
    """A Binance error: HTTP status, code and message exactly as Binance sends them."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


def bad_param(msg: str) -> VenueError:
    return VenueError(400, -1102, msg)


def parse_decimal(name: str, raw: str | None, *, required: bool = True) -> Decimal | None:
    if raw is None or raw == "":
        if required:
            raise bad_param(f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return None
    try:
        value = Decimal(raw)  # accepts "0.01000000" and other paddings
    except InvalidOperation:
        raise VenueError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                     f"'^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.") from None
    if not value.is_finite() or value < 0:
        raise VenueError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return value


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
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal = ZERO
    cumulative_quote: Decimal = ZERO
    status: str = "NEW"
    time_ms: int = 0
    update_ms: int = 0
    created_at: float = 0.0  # the venue clock in seconds, full precision (for latency measurements)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


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


@dataclass
class Account:
    name: str
    api_key: str
    secret: str
    balances: dict[str, Decimal] = field(default_factory=dict)  # free
    locked: dict[str, Decimal] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    by_client_id: dict[str, int] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)


Listener = Callable[[Account, Order, Trade | None, str], None]


class Exchange:
    """One venue. `listeners` hear every order change (for the user-data streams)."""

    def __init__(self, seed: int = 0, symbols: tuple[Symbol, ...] = DEFAULT_SYMBOLS,
                 fee_rate: Decimal = Decimal("0.001"), clock: Callable[[], float] = time.time) -> None:
        self.random = random.Random(seed)
        self.symbols = {s.name: s for s in symbols}
        self.prices = {s.name: s.initial_price for s in symbols}
        self.price_paths: dict[str, list[Decimal]] = {}
        self.slippage = ZERO  # fraction of price a market order pays away
        self.fee_rate = fee_rate
        self.clock = clock
        self.accounts: dict[str, Account] = {}  # by api key
        self.listeners: list[Listener] = []
        self.price_hooks: list[Callable[[], None]] = []  # other books that match on price moves
        self._order_ids = itertools.count(1000)
        self._trade_ids = itertools.count(5000)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # --- accounts ------------------------------------------------------------------------
    def create_account(self, name: str, balances: dict[str, str] | None = None) -> Account:
        api_key = secrets.token_hex(32)
        account = Account(name=name, api_key=api_key, secret=secrets.token_hex(32))
        for asset, amount in (balances or {}).items():
            account.balances[asset] = Decimal(str(amount))
        self.accounts[api_key] = account
        return account

    def account_by_name(self, name: str) -> Account:
        for account in self.accounts.values():
            if account.name == name:
                return account
        raise KeyError(name)

    def fund(self, account: Account, asset: str, amount: Decimal) -> None:
        account.balances[asset] = account.balances.get(asset, ZERO) + amount

    # --- prices --------------------------------------------------------------------------
    def symbol(self, name: str) -> Symbol:
        if name not in self.symbols:
            raise VenueError(400, -1121, "Invalid symbol.")
        return self.symbols[name]

    def set_price(self, symbol: str, price: Decimal) -> None:
        self.prices[self.symbol(symbol).name] = price
        self._match_resting(symbol)
        for hook in self.price_hooks:
            hook()

    def step_prices(self) -> None:
        """One tick: the next scripted price, or a seeded random walk (±0.05%)."""
        for name, sym in self.symbols.items():
            path = self.price_paths.get(name)
            if path:
                price = path.pop(0)
            else:
                move = Decimal(str(round(self.random.gauss(0, 0.0005), 6)))
                price = (self.prices[name] * (1 + move)).quantize(sym.tick_size)
            self.prices[name] = max(price, sym.tick_size)
            self._match_resting(name)
        for hook in self.price_hooks:
            hook()

    # --- orders --------------------------------------------------------------------------
    def place_order(self, account: Account, *, symbol: str, side: str, type: str, quantity: Decimal | None,
                    quote_qty: Decimal | None, price: Decimal | None, time_in_force: str | None,
                    client_order_id: str | None) -> tuple[Order, list[Trade]]:
        sym = self.symbol(symbol)
        if side not in ("BUY", "SELL"):
            raise VenueError(400, -1100, "Illegal characters found in parameter 'side'.")
        if type not in ("MARKET", "LIMIT"):
            raise VenueError(400, -1116, "Invalid orderType.")
        client_order_id = client_order_id or f"sim-{secrets.token_hex(8)}"
        if client_order_id in account.by_client_id:
            # Binance refuses a newClientOrderId that is already in use: never a second order.
            raise VenueError(400, -2010, "Duplicate order sent.")
        market_price = self.prices[sym.name]
        if type == "MARKET":
            if quantity is None and quote_qty is None:
                raise bad_param("Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
            if quantity is None:
                quantity = (quote_qty / market_price).quantize(sym.step_size, rounding=ROUND_DOWN)
            tif, limit_price = "GTC", ZERO
        else:
            if quantity is None or price is None:
                raise bad_param("Mandatory parameter 'quantity' and 'price' must be sent for LIMIT orders.")
            if time_in_force not in ("GTC", "IOC", "FOK"):
                raise bad_param("Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
            if price <= 0 or price % sym.tick_size != 0:
                raise VenueError(400, -1013, "Filter failure: PRICE_FILTER")
            tif, limit_price = time_in_force, price
        if quantity < sym.min_qty or quantity % sym.step_size != 0:
            raise VenueError(400, -1013, "Filter failure: LOT_SIZE")
        reference = market_price if type == "MARKET" else limit_price
        if quantity * reference < sym.min_notional:
            raise VenueError(400, -1013, "Filter failure: NOTIONAL")
        self._reserve(account, sym, side, quantity, reference)
        now = self.now_ms()
        order = Order(next(self._order_ids), client_order_id, sym.name, side, type, tif, limit_price, quantity,
                      time_ms=now, update_ms=now, created_at=self.clock())
        account.orders[order.order_id] = order
        account.by_client_id[client_order_id] = order.order_id
        self._emit(account, order, None, "NEW")
        trades: list[Trade] = []
        if type == "MARKET":
            fill_price = self._market_fill_price(sym, side)
            trades.append(self._fill(account, order, order.orig_qty, fill_price, is_maker=False))
        elif self._crosses(order, market_price):
            trades.append(self._fill(account, order, order.orig_qty, market_price, is_maker=False))
        elif tif in ("IOC", "FOK"):
            self._release(account, sym, order)
            order.status = "EXPIRED"
            self._emit(account, order, None, "EXPIRED")
        return order, trades

    def cancel_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        order = self.find_order(account, symbol, order_id, client_id)
        if not order.is_open:
            raise VenueError(400, -2011, "Unknown order sent.")
        self._release(account, self.symbols[order.symbol], order)
        order.status = "CANCELED"
        order.update_ms = self.now_ms()
        self._emit(account, order, None, "CANCELED")
        return order

    def find_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        if order_id is None and client_id:
            order_id = account.by_client_id.get(client_id)
        order = account.orders.get(order_id) if order_id is not None else None
        if order is None or order.symbol != symbol:
            raise VenueError(400, -2013, "Order does not exist.")
        return order

    # --- internals -----------------------------------------------------------------------
    def _market_fill_price(self, sym: Symbol, side: str) -> Decimal:
        price = self.prices[sym.name]
        slip = price * self.slippage
        return (price + slip if side == "BUY" else price - slip).quantize(sym.tick_size)

    @staticmethod
    def _crosses(order: Order, market: Decimal) -> bool:
        return market <= order.price if order.side == "BUY" else market >= order.price

    def _reserve(self, account: Account, sym: Symbol, side: str, qty: Decimal, price: Decimal) -> None:
        asset, amount = (sym.quote, qty * price * (1 + self.slippage)) if side == "BUY" else (sym.base, qty)
        if account.balances.get(asset, ZERO) < amount:
            raise VenueError(400, -2010, "Account has insufficient balance for requested action.")
        account.balances[asset] -= amount
        account.locked[asset] = account.locked.get(asset, ZERO) + amount

    def _release(self, account: Account, sym: Symbol, order: Order) -> None:
        remaining = order.orig_qty - order.executed_qty
        if order.side == "BUY":
            reserved_price = order.price if order.type == "LIMIT" else self.prices[sym.name]
            asset, amount = sym.quote, remaining * reserved_price * (1 + self.slippage)
        else:
            asset, amount = sym.base, remaining
        amount = min(amount, account.locked.get(asset, ZERO))
        account.locked[asset] = account.locked.get(asset, ZERO) - amount
        account.balances[asset] = account.balances.get(asset, ZERO) + amount

    def _fill(self, account: Account, order: Order, qty: Decimal, price: Decimal, *, is_maker: bool) -> Trade:
        sym = self.symbols[order.symbol]
        notional = qty * price
        reserved_price = order.price if order.type == "LIMIT" else self.prices[sym.name]
        if order.side == "BUY":
            reserved = qty * reserved_price * (1 + self.slippage)
            account.locked[sym.quote] = account.locked.get(sym.quote, ZERO) - reserved
            account.balances[sym.quote] = account.balances.get(sym.quote, ZERO) + reserved - notional
            fee, fee_asset = qty * self.fee_rate, sym.base
            account.balances[sym.base] = account.balances.get(sym.base, ZERO) + qty - fee
        else:
            account.locked[sym.base] = account.locked.get(sym.base, ZERO) - qty
            fee, fee_asset = notional * self.fee_rate, sym.quote
            account.balances[sym.quote] = account.balances.get(sym.quote, ZERO) + notional - fee
        now = self.now_ms()
        order.executed_qty += qty
        order.cumulative_quote += notional
        order.status = "FILLED" if order.executed_qty >= order.orig_qty else "PARTIALLY_FILLED"
        order.update_ms = now
        trade = Trade(next(self._trade_ids), order.order_id, order.client_order_id, order.symbol, order.side, price,
                      qty, fee, fee_asset, now, is_maker, at=self.clock())
        account.trades.append(trade)
        self._emit(account, order, trade, "TRADE")
        return trade

    def _match_resting(self, symbol: str) -> None:
        market = self.prices[symbol]
        for account in self.accounts.values():
            for order in list(account.orders.values()):
                if order.symbol == symbol and order.is_open and order.type == "LIMIT" and self._crosses(order, market):
                    self._fill(account, order, order.orig_qty - order.executed_qty, order.price, is_maker=True)

    def _emit(self, account: Account, order: Order, trade: Trade | None, execution_type: str) -> None:
        for listener in self.listeners:
            listener(account, order, trade, execution_type)
