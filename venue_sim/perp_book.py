"""USDⓈ-M perpetuals on the simulated venue (pure, no I/O): a USDT wallet per account, one-way
or hedge-mode positions with leverage and entry price, initial margin for positions and open
orders, reduce-only orders, maker/taker fees and realised PnL. Prices and accounts are the
spot venue's (book.Exchange). Liquidation and funding are not simulated."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from venue_sim.book import (
    CLIENT_ID_FORMAT, ZERO, Account, BinanceError, Exchange, Order, Symbol, Trade, bad_param, is_multiple,
    mandatory, stop_triggers,
)
from venue_sim.usdm_rules import Bracket, Contract, max_notional

TAKER_FEE = Decimal("0.0004")
MAKER_FEE = Decimal("0.0002")
DEFAULT_LEVERAGE = 20
MAX_LEVERAGE = 125
ENTRY_PRICE_STEP = Decimal("1e-8")
# Conditional orders live in Binance's Algo Service (POST /fapi/v1/algoOrder, algoType CONDITIONAL)
# until their trigger price is reached; then each places an order in the matching engine.
ALGO_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT")
WORKING_TYPES = ("CONTRACT_PRICE", "MARK_PRICE")


@dataclass
class PerpPosition:
    quantity: Decimal = ZERO  # signed: long > 0, short < 0 (a SHORT hedge position is negative too)
    entry_price: Decimal = ZERO


@dataclass
class PerpOrder(Order):
    reduce_only: bool = False
    position_side: str = "BOTH"
    average_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    margin: Decimal = ZERO  # initial margin held for the unfilled rest of an order that adds exposure
    close_only: bool = False  # reduce-only, or a hedge-mode close: never opens or flips a position
    algo_id: int | None = None  # placed by a triggered conditional order
    orig_type: str = ""  # that order's type (STOP_MARKET, ...), else the order's own
    close_position: bool = False
    # An in-book conditional order (Bybit's): it waits, holding no margin, until the price rises
    # (1) or falls (2) to stop_price, then works as the MARKET or LIMIT order it is.
    trigger_direction: int = 0
    # Take-profit / stop-loss to attach once it fills (Bybit's takeProfit / stopLoss): prices.
    take_profit: Decimal = ZERO
    stop_loss: Decimal = ZERO
    tpsl_parent: int | None = None  # a take-profit / stop-loss placed by that order's fill
    stop_order_type: str = ""  # "" | "Stop" | "TakeProfit" | "StopLoss"


@dataclass
class AlgoOrder:
    """A conditional order in the Algo Service: NEW until triggered, then TRIGGERING, TRIGGERED
    (its order is in the matching engine) and FINISHED (that order is done); or CANCELED,
    REJECTED (its order was refused when it triggered) or EXPIRED (a close-position order
    whose position was closed)."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    position_side: str
    type: str
    quantity: Decimal  # 0 for a close-position order
    price: Decimal  # 0 for the *_MARKET types
    trigger_price: Decimal
    working_type: str
    time_in_force: str
    close_position: bool
    reduce_only: bool
    price_protect: bool
    create_ms: int
    update_ms: int
    status: str = "NEW"
    trigger_ms: int = 0
    actual_order_id: int | None = None
    executed_qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    reject_reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "TRIGGERING", "TRIGGERED")


@dataclass(frozen=True)
class Income:
    """A row of the futures wallet's income history (GET /fapi/v1/income)."""

    symbol: str
    income_type: str  # TRANSFER | REALIZED_PNL | COMMISSION (no funding is simulated)
    income: Decimal
    time_ms: int
    tran_id: int
    trade_id: str
    info: str


@dataclass
class PerpAccount:
    wallet: Decimal = ZERO  # USDT
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, str] = field(default_factory=dict)  # "cross" | "isolated"
    dual_side: bool = False  # hedge mode
    positions: dict[tuple[str, str], PerpPosition] = field(default_factory=dict)  # (symbol, BOTH|LONG|SHORT)
    orders: dict[int, PerpOrder] = field(default_factory=dict)
    by_client_id: dict[str, int] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    algos: dict[int, AlgoOrder] = field(default_factory=dict)
    by_client_algo_id: dict[str, int] = field(default_factory=dict)
    transfers: list[tuple[int, Decimal]] = field(default_factory=list)  # (ms, USDT in or out of the wallet)


Listener = Callable[[Account, PerpOrder, "Trade | None", str], None]


class Perpetuals:
    """contracts and brackets: the venue's own perpetual rules and leverage brackets per symbol
    (Binance USDⓈ-M's, usdm_rules); a symbol without a contract trades by the spot pair's rules,
    one without brackets up to MAX_LEVERAGE with no cap on the position."""

    def __init__(self, exchange: Exchange, contracts: dict[str, Contract] | None = None,
                 brackets: dict[str, tuple[Bracket, ...]] | None = None) -> None:
        self.exchange = exchange
        self.contracts, self.brackets = contracts or {}, brackets or {}
        self.books: dict[str, PerpAccount] = {}  # by account name
        self.listeners: list[Listener] = []
        self.algo_listeners: list[Callable[[Account, AlgoOrder], None]] = []
        self._order_ids = itertools.count(exchange.id_base + 800_000)
        self._algo_ids = itertools.count(exchange.id_base + 3_000_000)
        self._trade_ids = itertools.count(exchange.id_base + 900_000)
        exchange.price_hooks.append(self.match_resting)

    def book(self, account: Account) -> PerpAccount:
        return self.books.setdefault(account.name, PerpAccount())

    def contract(self, symbol: str) -> Symbol:
        """The perpetual's trading rules (tick, lot, min notional); an unknown symbol is -1121."""
        sym = self.exchange.symbol(symbol)
        contract = self.contracts.get(sym.name)
        return contract.rules if contract else sym

    def market_max_qty(self, symbol: str) -> Decimal:
        contract = self.contracts.get(symbol)
        return contract.market_max_qty if contract else self.contract(symbol).max_qty

    def max_leverage(self, symbol: str) -> int:
        brackets = self.brackets.get(symbol)
        return brackets[0].initial_leverage if brackets else MAX_LEVERAGE

    def _check_position_cap(self, book: PerpAccount, symbol: str, leverage: int, notional: Decimal) -> None:
        brackets = self.brackets.get(symbol)
        if brackets and notional > max_notional(brackets, leverage):
            raise BinanceError(400, -2027, "Exceeded the maximum allowable position at current leverage.")

    def fund(self, account: Account, amount: Decimal) -> None:
        book = self.book(account)
        if book.wallet + amount < 0:
            raise ValueError(f"{account.name} would hold {book.wallet + amount} USDT in futures")
        book.wallet += amount
        book.transfers.append((self.exchange.now_ms(), amount))

    def income(self, book: PerpAccount) -> list[Income]:
        """The wallet's income history, oldest first: transfers, and per trade its commission and
        any realised PnL."""
        rows = [Income("", "TRANSFER", amount, ms, n + 1, "", "TRANSFER")
                for n, (ms, amount) in enumerate(book.transfers)]
        for t in book.trades:
            if t.realized_pnl:
                rows.append(Income(t.symbol, "REALIZED_PNL", t.realized_pnl, t.time_ms, t.trade_id * 10 + 1,
                                   str(t.trade_id), ""))
            rows.append(Income(t.symbol, "COMMISSION", -t.commission, t.time_ms, t.trade_id * 10 + 2,
                               str(t.trade_id), ""))
        return sorted(rows, key=lambda r: (r.time_ms, r.tran_id))

    # --- margin ----------------------------------------------------------------------------
    def leverage(self, book: PerpAccount, symbol: str) -> int:
        return book.leverage.get(symbol, DEFAULT_LEVERAGE)

    def position(self, book: PerpAccount, symbol: str, side: str = "BOTH") -> PerpPosition:
        return book.positions.setdefault((symbol, side), PerpPosition())

    def unrealized(self, symbol: str, position: PerpPosition) -> Decimal:
        return (self.exchange.prices[symbol] - position.entry_price) * position.quantity

    def position_margin(self, book: PerpAccount, symbol: str | None = None) -> Decimal:
        return sum((abs(p.quantity) * self.exchange.prices[s] / self.leverage(book, s)
                    for (s, _), p in book.positions.items() if symbol in (None, s)), ZERO)

    def order_margin(self, book: PerpAccount) -> Decimal:
        return sum((o.margin for o in book.orders.values() if o.is_open), ZERO)

    def unrealized_total(self, book: PerpAccount) -> Decimal:
        return sum((self.unrealized(s, p) for (s, _), p in book.positions.items()), ZERO)

    def available(self, book: PerpAccount) -> Decimal:
        """Cross margin: wallet plus unrealised PnL, less the margin positions and orders hold."""
        return book.wallet + self.unrealized_total(book) - self.position_margin(book) - self.order_margin(book)

    # --- settings --------------------------------------------------------------------------
    def set_leverage(self, account: Account, symbol: str, leverage: int) -> int:
        sym = self.exchange.symbol(symbol)
        if not 1 <= leverage <= self.max_leverage(sym.name):
            raise BinanceError(400, -4028, f"Leverage {leverage} is not valid")
        book = self.book(account)
        held = sum((abs(p.quantity) for (s, _), p in book.positions.items() if s == sym.name), ZERO)
        self._check_position_cap(book, sym.name, leverage, held * self.exchange.prices[sym.name])
        book.leverage[sym.name] = leverage
        return leverage

    def max_notional_value(self, book: PerpAccount, symbol: str) -> Decimal | None:
        """The position cap at the account's leverage (None: no brackets for the symbol)."""
        brackets = self.brackets.get(symbol)
        return max_notional(brackets, self.leverage(book, symbol)) if brackets else None

    def set_margin_type(self, account: Account, symbol: str, kind: str) -> None:
        sym = self.exchange.symbol(symbol)
        book = self.book(account)
        if kind not in ("ISOLATED", "CROSSED"):
            raise BinanceError(400, -4044, "The balance type is not valid.")
        wanted = "isolated" if kind == "ISOLATED" else "cross"
        if book.margin_type.get(sym.name, "cross") == wanted:
            raise BinanceError(400, -4046, "No need to change margin type.")
        if any(p.quantity for (s, _), p in book.positions.items() if s == sym.name) or \
                any(o.is_open and o.symbol == sym.name for o in book.orders.values()):
            raise BinanceError(400, -4048, "Margin type cannot be changed if there exists position.")
        book.margin_type[sym.name] = wanted

    def set_dual_side(self, account: Account, dual: bool) -> None:
        book = self.book(account)
        if book.dual_side == dual:
            raise BinanceError(400, -4059, "No need to change position side.")
        if any(o.is_open for o in book.orders.values()):
            raise BinanceError(400, -4067, "Position side cannot be changed if there exists open orders.")
        if any(p.quantity for p in book.positions.values()):
            raise BinanceError(400, -4068, "Position side cannot be changed if there exists position.")
        book.dual_side = dual

    # --- orders ----------------------------------------------------------------------------
    def _reducible(self, book: PerpAccount, symbol: str, side: str, position_side: str) -> Decimal:
        """How much of the order would reduce an existing position (the rest adds exposure)."""
        held = self.position(book, symbol, position_side).quantity
        if position_side == "BOTH":
            reduces = (held > 0 and side == "SELL") or (held < 0 and side == "BUY")
        else:  # hedge mode: SELL LONG and BUY SHORT close
            reduces = (position_side, side) in (("LONG", "SELL"), ("SHORT", "BUY"))
        return abs(held) if reduces else ZERO

    def place_order(self, account: Account, *, symbol: str, side: str, type: str, quantity: Decimal | None,
                    price: Decimal | None, time_in_force: str | None, client_order_id: str | None,
                    reduce_only: bool | None, position_side: str | None, algo: AlgoOrder | None = None,
                    trigger_price: Decimal | None = None, trigger_direction: int = 0,
                    take_profit: Decimal | None = None, stop_loss: Decimal | None = None) -> PerpOrder:
        sym = self.contract(symbol)
        book = self.book(account)
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'side'.")
        if type not in ("MARKET", "LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        if quantity is None:
            raise mandatory("quantity")
        if quantity <= 0:
            raise BinanceError(400, -4003, "Quantity less than or equal to zero.")
        if not is_multiple(quantity, sym.step_size):
            raise BinanceError(400, -1111, "Precision is over the maximum defined for this asset.")
        if quantity < sym.min_qty or quantity > sym.max_qty:
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        if type == "MARKET" and quantity > self.market_max_qty(sym.name):
            raise BinanceError(400, -1013, "Filter failure: MARKET_LOT_SIZE")
        position_side = position_side or "BOTH"
        if position_side not in ("BOTH", "LONG", "SHORT") or book.dual_side == (position_side == "BOTH"):
            raise BinanceError(400, -4061, "Order's position side does not match user's setting.")
        if book.dual_side and reduce_only is not None:
            raise BinanceError(400, -1106, "Parameter 'reduceOnly' sent when not required.")
        reduce_only = bool(reduce_only)
        client_order_id = client_order_id or f"sim-{secrets.token_hex(8)}"
        if not self.exchange.client_id_format.match(client_order_id):
            raise BinanceError(400, -4015, "Client order id is not valid.")
        self.exchange.check_client_id(book.by_client_id, book.orders, client_order_id,
                                      BinanceError(400, -4116, "ClientOrderId is duplicated."))
        market = self.exchange.prices[sym.name]
        if type == "LIMIT":
            if price is None:
                raise mandatory("price")
            if time_in_force not in ("GTC", "IOC", "FOK", "GTX"):
                raise mandatory("timeInForce")
            if price <= 0 or not is_multiple(price, sym.tick_size):
                raise BinanceError(400, -4014, "Price not increased by tick size.")
            if time_in_force == "GTX" and self.exchange._crosses(side, price, market):
                raise BinanceError(400, -5022, "Due to the order could not be executed as maker, the Post Only "
                                               "order will be rejected.")
        elif price is not None:
            raise bad_param("Parameter 'price' sent when not required.")
        if trigger_price is not None:
            if trigger_direction not in (1, 2):
                raise BinanceError(400, -1102, "triggerDirection must be 1 (rise) or 2 (fall).")
            if trigger_price <= 0 or not is_multiple(trigger_price, sym.tick_size):
                raise BinanceError(400, -4014, "Price not increased by tick size.")
            if self._reached(trigger_direction, trigger_price, market):
                raise BinanceError(400, -2021, "Order would immediately trigger.")
        reference = price if type == "LIMIT" else (trigger_price or market)
        reducible = self._reducible(book, sym.name, side, position_side)
        # In hedge mode SELL LONG / BUY SHORT can only close: they act as reduce-only.
        close_only = reduce_only or (position_side, side) in (("LONG", "SELL"), ("SHORT", "BUY"))
        if close_only and quantity > reducible:
            raise BinanceError(400, -2022, "ReduceOnly Order is rejected.")
        if not close_only and quantity * reference < sym.min_notional:
            raise BinanceError(400, -4164, f"Order's notional must be no smaller than {sym.min_notional} "
                                           f"(unless you choose reduce only).")
        adds = max(quantity - reducible, ZERO) if trigger_price is None else ZERO  # a waiting order holds none
        if adds:
            held = abs(self.position(book, sym.name, position_side).quantity)
            self._check_position_cap(book, sym.name, self.leverage(book, sym.name), (held + adds) * reference)
        margin = adds * reference / self.leverage(book, sym.name)
        if margin > self.available(book):
            raise BinanceError(400, -2019, "Margin is insufficient.")
        now = self.exchange.now_ms()
        order_id = algo.actual_order_id if algo is not None else next(self._order_ids)
        order = PerpOrder(order_id, client_order_id, sym.name, side, type, time_in_force or "GTC",
                          price or ZERO, quantity, time_ms=now, update_ms=now, created_at=self.exchange.clock(),
                          reduce_only=reduce_only, position_side=position_side, margin=margin,
                          close_only=close_only, algo_id=algo.algo_id if algo else None,
                          orig_type=algo.type if algo else type,
                          stop_price=algo.trigger_price if algo else (trigger_price or ZERO),
                          close_position=bool(algo and algo.close_position), trigger_direction=trigger_direction,
                          working=trigger_price is None, working_ms=now if trigger_price is None else 0,
                          take_profit=take_profit or ZERO, stop_loss=stop_loss or ZERO,
                          stop_order_type="Stop" if trigger_price is not None else "")
        book.orders[order.order_id] = order
        book.by_client_id[client_order_id] = order.order_id
        self._emit(account, order, None, "NEW")
        return self._work(account, order)

    @staticmethod
    def _reached(direction: int, trigger: Decimal, market: Decimal) -> bool:
        return market >= trigger if direction == 1 else market <= trigger

    def _work(self, account: Account, order: PerpOrder) -> PerpOrder:
        """A new (or just triggered) order: fill what crosses; a waiting conditional order waits."""
        if not order.working:
            return order
        sym = self.contract(order.symbol)
        market, type, side = self.exchange.prices[sym.name], order.type, order.side
        if type == "MARKET":
            slip = market * self.exchange.slippage
            fill_price = (market + slip if side == "BUY" else market - slip).quantize(sym.tick_size)
            self._fill(account, order, fill_price, is_maker=False)
        elif self.exchange._crosses(side, order.price, market):
            self._fill(account, order, market, is_maker=False)
        elif order.time_in_force in ("IOC", "FOK"):
            self._close(account, order, "EXPIRED")
        return order

    def _trigger_waiting(self, symbol: str) -> None:
        """In-book conditional orders the price reached start working (Bybit: Untriggered →
        Triggered → New); one whose margin is no longer there is rejected."""
        market = self.exchange.prices[symbol]
        for name, book in list(self.books.items()):
            account = self.exchange.accounts[name]
            for order in list(book.orders.values()):
                if not order.is_open or order.working or order.symbol != symbol or \
                        not self._reached(order.trigger_direction, order.stop_price, market):
                    continue
                reference = order.price if order.type == "LIMIT" else market
                adds = ZERO if order.close_only else max(
                    order.remaining - self._reducible(book, symbol, order.side, order.position_side), ZERO)
                margin = adds * reference / self.leverage(book, symbol)
                if margin > self.available(book):
                    self._close(account, order, "REJECTED")
                    continue
                order.margin, order.working = margin, True
                order.working_ms = order.update_ms = self.exchange.now_ms()
                self._emit(account, order, None, "TRIGGERED")
                self._work(account, order)

    def _attach_tpsl(self, account: Account, order: PerpOrder) -> None:
        """Bybit's takeProfit / stopLoss on an order: once it has filled, a reduce-only take-profit
        and stop-loss on what it filled, each the other's OCO (the first to fill cancels the other)."""
        if not (order.take_profit or order.stop_loss) or order.is_open or not order.executed_qty:
            return
        close = "SELL" if order.side == "BUY" else "BUY"
        rises = close == "SELL"  # a long's take-profit is above, its stop-loss below
        for price, kind in ((order.take_profit, "TakeProfit"), (order.stop_loss, "StopLoss")):
            if not price:
                continue
            direction = 1 if (kind == "TakeProfit") == rises else 2
            if self._reached(direction, price, self.exchange.prices[order.symbol]):
                continue
            leg = self.place_order(account, symbol=order.symbol, side=close, type="MARKET", quantity=order.executed_qty,
                                   price=None, time_in_force=None, client_order_id=None,
                                   reduce_only=None if self.book(account).dual_side else True,
                                   position_side=order.position_side, trigger_price=price, trigger_direction=direction)
            leg.tpsl_parent, leg.stop_order_type = order.order_id, kind

    def _tpsl_done(self, account: Account, order: PerpOrder) -> None:
        if order.tpsl_parent is None or order.is_open or not order.executed_qty:
            return
        for sibling in self.book(account).orders.values():
            if sibling.tpsl_parent == order.tpsl_parent and sibling is not order and sibling.is_open:
                self._close(account, sibling, "CANCELED")

    def amend_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None, *,
                    side: str, quantity: Decimal, price: Decimal) -> PerpOrder:
        """Binance's Modify Order: a resting LIMIT order takes a new price and quantity in place
        (same order id), announced as an AMENDMENT; it fills at once if it now crosses."""
        order = self.find_order(account, symbol, order_id, client_id)
        sym = self.contract(order.symbol)
        if not order.is_open:
            raise BinanceError(400, -2013, "Order does not exist.")
        if order.type != "LIMIT":
            raise BinanceError(400, -4028, "Only limit orders can be modified.")  # a tidier text than Binance's
        if side != order.side:
            raise BinanceError(400, -4000, "Side can not be modified.")
        if quantity <= 0 or not is_multiple(quantity, sym.step_size):
            raise BinanceError(400, -1111, "Precision is over the maximum defined for this asset.")
        if quantity <= order.executed_qty:
            raise BinanceError(400, -4004, "Quantity less than or equal to the executed quantity.")
        if price <= 0 or not is_multiple(price, sym.tick_size):
            raise BinanceError(400, -4014, "Price not increased by tick size.")
        if quantity == order.orig_qty and price == order.price:
            raise BinanceError(400, -5027, "No need to modify the order.")
        book = self.book(account)
        held, order.margin = order.margin, ZERO
        adds = ZERO if order.close_only else max(quantity - order.executed_qty -
                                                   self._reducible(book, sym.name, side, order.position_side), ZERO)
        margin = adds * price / self.leverage(book, sym.name)
        if margin > self.available(book):
            order.margin = held
            raise BinanceError(400, -2019, "Margin is insufficient.")
        order.orig_qty, order.price, order.margin, order.update_ms = quantity, price, margin, self.exchange.now_ms()
        self._emit(account, order, None, "AMENDMENT")
        if self.exchange._crosses(side, price, self.exchange.prices[sym.name]):
            self._fill(account, order, self.exchange.prices[sym.name], is_maker=False)
        return order

    def cancel_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> PerpOrder:
        order = self.find_order(account, symbol, order_id, client_id)
        if not order.is_open:
            raise BinanceError(400, -2011, "Unknown order sent.")
        self._close(account, order, "CANCELED")
        return order

    def find_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> PerpOrder:
        self.exchange.symbol(symbol)
        if order_id is None and not client_id:
            raise bad_param("Either orderId or origClientOrderId must be sent.")
        book = self.book(account)
        if order_id is None:
            order_id = book.by_client_id.get(client_id)
        order = book.orders.get(order_id) if order_id is not None else None
        if order is None or order.symbol != symbol or (client_id and order.client_order_id != client_id):
            raise BinanceError(400, -2013, "Order does not exist.")
        return order

    @staticmethod
    def open_orders_for(book: PerpAccount, symbol: str | None = None) -> list[PerpOrder]:
        return [o for o in book.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)]

    def open_orders(self, account: Account, symbol: str | None = None) -> list[PerpOrder]:
        return [o for o in self.book(account).orders.values()
                if o.is_open and (symbol is None or o.symbol == symbol)]

    # --- conditional (algo) orders --------------------------------------------------------
    def place_algo(self, account: Account, *, symbol: str, side: str, type: str, quantity: Decimal | None,
                   price: Decimal | None, trigger_price: Decimal | None, working_type: str | None,
                   time_in_force: str | None, client_algo_id: str | None, reduce_only: bool | None,
                   close_position: bool | None, price_protect: bool | None, position_side: str | None) -> AlgoOrder:
        sym = self.contract(symbol)
        book = self.book(account)
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'side'.")
        if type not in ALGO_TYPES:
            raise BinanceError(400, -1116, "Invalid orderType.")
        close_position = bool(close_position)
        if close_position and type not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise BinanceError(400, -4136, f"Target strategy invalid for orderType {type},closePosition true")
        if close_position and quantity is not None:
            raise BinanceError(400, -1106, "Parameter 'quantity' sent when not required.")
        if close_position and reduce_only is not None:
            raise BinanceError(400, -1106, "Parameter 'reduceOnly' sent when not required.")
        if not close_position:
            if quantity is None:
                raise mandatory("quantity")
            if quantity <= 0:
                raise BinanceError(400, -4003, "Quantity less than or equal to zero.")
            if not is_multiple(quantity, sym.step_size):
                raise BinanceError(400, -1111, "Precision is over the maximum defined for this asset.")
            if quantity < sym.min_qty or quantity > sym.max_qty:
                raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        if trigger_price is None:
            raise mandatory("triggerPrice")
        for value in (trigger_price, price):
            if value is not None and (value <= 0 or not is_multiple(value, sym.tick_size)):
                raise BinanceError(400, -4014, "Price not increased by tick size.")
        if type in ("STOP", "TAKE_PROFIT"):
            if price is None:
                raise mandatory("price")
            if time_in_force not in (None, "GTC", "IOC", "FOK", "GTX"):
                raise mandatory("timeInForce")
        elif price is not None:
            raise bad_param("Parameter 'price' sent when not required.")
        working_type = working_type or "CONTRACT_PRICE"
        if working_type not in WORKING_TYPES:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'workingType'.")
        position_side = position_side or "BOTH"
        if position_side not in ("BOTH", "LONG", "SHORT") or book.dual_side == (position_side == "BOTH"):
            raise BinanceError(400, -4061, "Order's position side does not match user's setting.")
        client_algo_id = client_algo_id or f"sim-{secrets.token_hex(8)}"
        if not CLIENT_ID_FORMAT.match(client_algo_id):
            raise BinanceError(400, -4015, "Client order id is not valid.")
        known = book.by_client_algo_id.get(client_algo_id)
        if (known is not None and (self.exchange.client_id_scope == "known" or book.algos[known].is_open)) or \
                client_algo_id in book.by_client_id:
            raise BinanceError(400, -4116, "ClientOrderId is duplicated.")
        if stop_triggers(type, side, trigger_price, self.mark(sym.name)):
            raise BinanceError(400, -2021, "Order would immediately trigger.")
        now = self.exchange.now_ms()
        algo = AlgoOrder(next(self._algo_ids), client_algo_id, sym.name, side, position_side, type,
                         quantity or ZERO, price or ZERO, trigger_price, working_type,
                         "GTE_GTC" if close_position else (time_in_force or "GTC"), close_position,
                         bool(reduce_only), bool(price_protect), now, now)
        book.algos[algo.algo_id] = algo
        book.by_client_algo_id[client_algo_id] = algo.algo_id
        self._emit_algo(account, algo)
        return algo

    def mark(self, symbol: str) -> Decimal:
        """The mark price (MARK_PRICE triggers): the last price, as the venue has no index of its own."""
        return self.exchange.prices[symbol]

    def find_algo(self, account: Account, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        if algo_id is None and not client_algo_id:
            raise bad_param("Either algoId or clientAlgoId must be sent.")
        book = self.book(account)
        if algo_id is None:
            algo_id = book.by_client_algo_id.get(client_algo_id)
        algo = book.algos.get(algo_id) if algo_id is not None else None
        if algo is None or (client_algo_id and algo.client_algo_id != client_algo_id):
            raise BinanceError(400, -2013, "Order does not exist.")
        return algo

    def cancel_algo(self, account: Account, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        algo = self.find_algo(account, algo_id, client_algo_id)
        if algo.status != "NEW":
            raise BinanceError(400, -2011, "Unknown order sent.")
        self._algo_status(account, algo, "CANCELED")
        return algo

    def open_algos(self, account: Account, symbol: str | None = None) -> list[AlgoOrder]:
        return [a for a in self.book(account).algos.values()
                if a.status == "NEW" and (symbol is None or a.symbol == symbol)]

    def _trigger_algos(self, symbol: str) -> None:
        for name, book in list(self.books.items()):
            account = self.exchange.accounts[name]
            for algo in list(book.algos.values()):
                if algo.status == "NEW" and algo.symbol == symbol and \
                        stop_triggers(algo.type, algo.side, algo.trigger_price, self.mark(symbol)):
                    self._trigger(account, book, algo)

    def _trigger(self, account: Account, book: PerpAccount, algo: AlgoOrder) -> None:
        """Place the conditional order's order in the matching engine: at market, or as a limit
        at its price; a close-position order closes what the position holds now."""
        algo.trigger_ms = self.exchange.now_ms()
        self._algo_status(account, algo, "TRIGGERING")
        quantity = algo.quantity
        reduce_only = algo.reduce_only or algo.close_position
        if algo.close_position:
            quantity = self._reducible(book, algo.symbol, algo.side, algo.position_side)
        if quantity <= 0:
            algo.reject_reason = "Reduce Only reject"
            self._algo_status(account, algo, "REJECTED")
            return
        algo.actual_order_id = next(self._order_ids)
        self._algo_status(account, algo, "TRIGGERED")  # its order id (ai) before that order's events
        limit = algo.type in ("STOP", "TAKE_PROFIT")
        try:
            self.place_order(account, symbol=algo.symbol, side=algo.side, type="LIMIT" if limit else "MARKET",
                             quantity=quantity, price=algo.price if limit else None,
                             time_in_force=(algo.time_in_force if algo.time_in_force != "GTE_GTC" else "GTC")
                             if limit else None, client_order_id=algo.client_algo_id,
                             reduce_only=reduce_only if not book.dual_side else None,
                             position_side=algo.position_side, algo=algo)
        except BinanceError as err:
            algo.actual_order_id, algo.reject_reason = None, err.msg
            self._algo_status(account, algo, "REJECTED")

    def _algo_status(self, account: Account, algo: AlgoOrder, status: str) -> None:
        algo.status, algo.update_ms = status, self.exchange.now_ms()
        self._emit_algo(account, algo)

    def _emit_algo(self, account: Account, algo: AlgoOrder) -> None:
        for listener in list(self.algo_listeners):
            listener(account, algo)

    def _after_order(self, account: Account, order: PerpOrder) -> None:
        """A triggered conditional order's order is done: the conditional order is FINISHED. A
        position closed expires the close-position orders still waiting on it."""
        book = self.book(account)
        if order.algo_id is not None and not order.is_open:
            algo = book.algos.get(order.algo_id)
            if algo is not None and algo.status == "TRIGGERED":
                algo.executed_qty, algo.avg_price = order.executed_qty, order.average_price
                self._algo_status(account, algo, "FINISHED")
        if self.position(book, order.symbol, order.position_side).quantity == 0:
            for algo in list(book.algos.values()):
                if algo.status == "NEW" and algo.close_position and algo.symbol == order.symbol and \
                        algo.position_side == order.position_side:
                    self._algo_status(account, algo, "EXPIRED")

    def match_resting(self, symbol: str) -> None:
        self._trigger_algos(symbol)
        self._trigger_waiting(symbol)
        market = self.exchange.prices[symbol]
        for name, book in list(self.books.items()):
            account = self.exchange.accounts[name]
            for order in list(book.orders.values()):
                if order.is_open and order.working and order.type == "LIMIT" and order.symbol == symbol and \
                        self.exchange._crosses(order.side, order.price, market):
                    self._fill(account, order, order.price, is_maker=True)

    # --- internals -------------------------------------------------------------------------
    def _close(self, account: Account, order: PerpOrder, status: str) -> None:
        order.margin = ZERO
        order.status, order.update_ms = status, self.exchange.now_ms()
        self._emit(account, order, None, status)
        self._after_order(account, order)

    def _fill(self, account: Account, order: PerpOrder, price: Decimal, *, is_maker: bool) -> Trade | None:
        book = self.book(account)
        qty = order.remaining
        if order.close_only:  # the position may have shrunk since the order was placed
            qty = min(qty, self._reducible(book, order.symbol, order.side, order.position_side))
            if qty <= 0:
                self._close(account, order, "EXPIRED")
                return None
        signed = qty if order.side == "BUY" else -qty
        position = self.position(book, order.symbol, order.position_side)
        realized = ZERO
        if position.quantity and (position.quantity > 0) != (signed > 0):  # closes (part of) it
            closed = min(abs(signed), abs(position.quantity))
            realized = (price - position.entry_price) * closed * (1 if position.quantity > 0 else -1)
        after = position.quantity + signed
        if after == 0:
            position.entry_price = ZERO
        elif position.quantity == 0 or (position.quantity > 0) != (after > 0):
            position.entry_price = price  # opened, or flipped through zero
        elif abs(after) > abs(position.quantity):  # added: the entry is the size-weighted average,
            # kept to 8 places as Binance shows it, so PnL and the wallet stay exact decimals
            position.entry_price = ((position.entry_price * abs(position.quantity) + price * qty)
                                    / abs(after)).quantize(ENTRY_PRICE_STEP)
        position.quantity = after
        fee = qty * price * (MAKER_FEE if is_maker else TAKER_FEE)
        book.wallet += realized - fee
        order.margin = order.margin * (order.remaining - qty) / order.remaining if order.remaining else ZERO
        order.executed_qty += qty
        order.cumulative_quote += qty * price
        order.average_price = order.cumulative_quote / order.executed_qty
        order.realized_pnl += realized
        order.status = "FILLED" if order.executed_qty >= order.orig_qty else "PARTIALLY_FILLED"
        order.update_ms = self.exchange.now_ms()
        trade = Trade(next(self._trade_ids), order.order_id, order.client_order_id, order.symbol, order.side, price,
                      qty, fee, "USDT", order.update_ms, is_maker, at=self.exchange.clock(), realized_pnl=realized,
                      position_side=order.position_side)
        book.trades.append(trade)
        self._emit(account, order, trade, "TRADE")
        if order.is_open and order.close_only:  # clipped to the position: the rest can never fill
            self._close(account, order, "EXPIRED")
        else:
            self._after_order(account, order)
        self._attach_tpsl(account, order)
        self._tpsl_done(account, order)
        return trade

    def _emit(self, account: Account, order: PerpOrder, trade: Trade | None, execution_type: str) -> None:
        for listener in list(self.listeners):
            listener(account, order, trade, execution_type)
