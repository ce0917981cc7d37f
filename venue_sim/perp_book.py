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
    ZERO, Account, BinanceError, Exchange, Order, Trade, bad_param, is_multiple, mandatory,
)

TAKER_FEE = Decimal("0.0004")
MAKER_FEE = Decimal("0.0002")
DEFAULT_LEVERAGE = 20
MAX_LEVERAGE = 125
ENTRY_PRICE_STEP = Decimal("1e-8")


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


Listener = Callable[[Account, PerpOrder, "Trade | None", str], None]


class Perpetuals:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.books: dict[str, PerpAccount] = {}  # by account name
        self.listeners: list[Listener] = []
        self._order_ids = itertools.count(exchange.id_base + 800_000)
        self._trade_ids = itertools.count(exchange.id_base + 900_000)
        exchange.price_hooks.append(self.match_resting)

    def book(self, account: Account) -> PerpAccount:
        return self.books.setdefault(account.name, PerpAccount())

    def fund(self, account: Account, amount: Decimal) -> None:
        book = self.book(account)
        if book.wallet + amount < 0:
            raise ValueError(f"{account.name} would hold {book.wallet + amount} USDT in futures")
        book.wallet += amount

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
        if not 1 <= leverage <= MAX_LEVERAGE:
            raise BinanceError(400, -4028, f"Leverage {leverage} is not valid")
        self.book(account).leverage[sym.name] = leverage
        return leverage

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
                    reduce_only: bool | None, position_side: str | None) -> PerpOrder:
        sym = self.exchange.symbol(symbol)
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
        reference = price if type == "LIMIT" else market
        reducible = self._reducible(book, sym.name, side, position_side)
        # In hedge mode SELL LONG / BUY SHORT can only close: they act as reduce-only.
        close_only = reduce_only or (position_side, side) in (("LONG", "SELL"), ("SHORT", "BUY"))
        if close_only and quantity > reducible:
            raise BinanceError(400, -2022, "ReduceOnly Order is rejected.")
        if not close_only and quantity * reference < sym.min_notional:
            raise BinanceError(400, -4164, f"Order's notional must be no smaller than {sym.min_notional} "
                                           f"(unless you choose reduce only).")
        adds = max(quantity - reducible, ZERO)
        margin = adds * reference / self.leverage(book, sym.name)
        if margin > self.available(book):
            raise BinanceError(400, -2019, "Margin is insufficient.")
        now = self.exchange.now_ms()
        order = PerpOrder(next(self._order_ids), client_order_id, sym.name, side, type, time_in_force or "GTC",
                          price or ZERO, quantity, time_ms=now, update_ms=now, created_at=self.exchange.clock(),
                          reduce_only=reduce_only, position_side=position_side, margin=margin,
                          close_only=close_only)
        book.orders[order.order_id] = order
        book.by_client_id[client_order_id] = order.order_id
        self._emit(account, order, None, "NEW")
        if type == "MARKET":
            slip = market * self.exchange.slippage
            fill_price = (market + slip if side == "BUY" else market - slip).quantize(sym.tick_size)
            self._fill(account, order, fill_price, is_maker=False)
        elif self.exchange._crosses(side, order.price, market):
            self._fill(account, order, market, is_maker=False)
        elif order.time_in_force in ("IOC", "FOK"):
            self._close(account, order, "EXPIRED")
        return order

    def amend_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None, *,
                    side: str, quantity: Decimal, price: Decimal) -> PerpOrder:
        """Binance's Modify Order: a resting LIMIT order takes a new price and quantity in place
        (same order id), announced as an AMENDMENT; it fills at once if it now crosses."""
        order = self.find_order(account, symbol, order_id, client_id)
        sym = self.exchange.symbol(order.symbol)
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

    def match_resting(self, symbol: str) -> None:
        market = self.exchange.prices[symbol]
        for name, book in list(self.books.items()):
            account = self.exchange.accounts[name]
            for order in list(book.orders.values()):
                if order.is_open and order.type == "LIMIT" and order.symbol == symbol and \
                        self.exchange._crosses(order.side, order.price, market):
                    self._fill(account, order, order.price, is_maker=True)

    # --- internals -------------------------------------------------------------------------
    def _close(self, account: Account, order: PerpOrder, status: str) -> None:
        order.margin = ZERO
        order.status, order.update_ms = status, self.exchange.now_ms()
        self._emit(account, order, None, status)

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
        return trade

    def _emit(self, account: Account, order: PerpOrder, trade: Trade | None, execution_type: str) -> None:
        for listener in list(self.listeners):
            listener(account, order, trade, execution_type)
