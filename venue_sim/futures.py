"""USDⓈ-M perpetuals on the simulated venue: a USDT wallet per account, one-way or hedge
positions with leverage and entry price, reduce-only orders, and the listenKey user-data
events (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE). Shares prices and accounts with the spot venue."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from venue_sim.exchange import ZERO, Account, Exchange, Order, Trade, VenueError, bad_param

FEE_RATE = Decimal("0.0004")
DEFAULT_LEVERAGE = 20


@dataclass
class FuturesPosition:
    quantity: Decimal = ZERO  # signed in one-way mode
    entry_price: Decimal = ZERO


@dataclass
class FuturesOrder(Order):
    reduce_only: bool = False
    position_side: str = "BOTH"
    average_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO


@dataclass
class FuturesAccount:
    wallet: Decimal = ZERO  # USDT
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, str] = field(default_factory=dict)
    dual_side: bool = False
    positions: dict[tuple[str, str], FuturesPosition] = field(default_factory=dict)  # (symbol, side)
    orders: dict[int, FuturesOrder] = field(default_factory=dict)
    by_client_id: dict[str, int] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)


Listener = Callable[[Account, FuturesOrder, Trade | None, str], None]


class Futures:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.books: dict[str, FuturesAccount] = {}  # by api key
        self.listeners: list[Listener] = []
        self._order_ids = itertools.count(800_000)
        self._trade_ids = itertools.count(900_000)

    def book(self, account: Account) -> FuturesAccount:
        return self.books.setdefault(account.api_key, FuturesAccount())

    def position(self, book: FuturesAccount, symbol: str, side: str = "BOTH") -> FuturesPosition:
        return book.positions.setdefault((symbol, side), FuturesPosition())

    def unrealized(self, symbol: str, position: FuturesPosition) -> Decimal:
        return (self.exchange.prices[symbol] - position.entry_price) * position.quantity

    def used_margin(self, book: FuturesAccount) -> Decimal:
        return sum((abs(p.quantity) * self.exchange.prices[s] / book.leverage.get(s, DEFAULT_LEVERAGE)
                    for (s, _), p in book.positions.items()), ZERO)

    def available(self, book: FuturesAccount) -> Decimal:
        pnl = sum((self.unrealized(s, p) for (s, _), p in book.positions.items()), ZERO)
        return book.wallet + pnl - self.used_margin(book)

    def place_order(self, account: Account, *, symbol: str, side: str, type: str, quantity: Decimal | None,
                    price: Decimal | None, time_in_force: str | None, client_order_id: str | None,
                    reduce_only: bool, position_side: str) -> FuturesOrder:
        sym = self.exchange.symbol(symbol)
        book = self.book(account)
        if side not in ("BUY", "SELL") or type not in ("MARKET", "LIMIT"):
            raise VenueError(400, -1116, "Invalid orderType.") if type not in ("MARKET", "LIMIT") else \
                VenueError(400, -1100, "Illegal characters found in parameter 'side'.")
        if quantity is None:
            raise bad_param("Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        if quantity < sym.min_qty or quantity % sym.step_size != 0:
            raise VenueError(400, -1111, "Precision is over the maximum defined for this asset.")
        position_side = position_side or "BOTH"
        if book.dual_side == (position_side == "BOTH"):
            raise VenueError(400, -4061, "Order's position side does not match user's setting.")
        client_order_id = client_order_id or f"sim-{secrets.token_hex(8)}"
        if client_order_id in book.by_client_id:
            raise VenueError(400, -4015, "Client order id is not valid.")  # Binance futures: duplicate id
        market = self.exchange.prices[sym.name]
        if type == "LIMIT":
            if price is None or time_in_force not in ("GTC", "IOC", "FOK", "GTX"):
                raise bad_param("Mandatory parameter 'price'/'timeInForce' was not sent for a LIMIT order.")
            if price % sym.tick_size != 0:
                raise VenueError(400, -4014, "Price not increased by tick size.")
        signed = quantity if side == "BUY" else -quantity
        held = self.position(book, sym.name, position_side).quantity
        if reduce_only and (held == 0 or (held > 0) == (signed > 0) or abs(signed) > abs(held)):
            raise VenueError(400, -2022, "ReduceOnly Order is rejected.")
        reference = price if type == "LIMIT" else market
        if not reduce_only and quantity * reference / book.leverage.get(sym.name, DEFAULT_LEVERAGE) > self.available(book):
            raise VenueError(400, -2019, "Margin is insufficient.")
        now = self.exchange.now_ms()
        order = FuturesOrder(next(self._order_ids), client_order_id, sym.name, side, type,
                             time_in_force or "GTC", price or ZERO, quantity, time_ms=now, update_ms=now,
                             created_at=self.exchange.clock(), reduce_only=reduce_only, position_side=position_side)
        book.orders[order.order_id] = order
        book.by_client_id[client_order_id] = order.order_id
        self._emit(account, order, None, "NEW")
        if type == "MARKET":
            slip = market * self.exchange.slippage
            self._fill(account, order, (market + slip if side == "BUY" else market - slip).quantize(sym.tick_size))
        elif self.exchange._crosses(order, market):
            self._fill(account, order, market)
        elif order.time_in_force in ("IOC", "FOK"):
            order.status = "EXPIRED"
            self._emit(account, order, None, "EXPIRED")
        return order

    def cancel_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> FuturesOrder:
        order = self.find_order(account, symbol, order_id, client_id)
        if not order.is_open:
            raise VenueError(400, -2011, "Unknown order sent.")
        order.status, order.update_ms = "CANCELED", self.exchange.now_ms()
        self._emit(account, order, None, "CANCELED")
        return order

    def find_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> FuturesOrder:
        book = self.book(account)
        if order_id is None and client_id:
            order_id = book.by_client_id.get(client_id)
        order = book.orders.get(order_id) if order_id is not None else None
        if order is None or order.symbol != symbol:
            raise VenueError(400, -2013, "Order does not exist.")
        return order

    def match_resting(self) -> None:
        for api_key, book in self.books.items():
            account = self.exchange.accounts[api_key]
            for order in list(book.orders.values()):
                if order.is_open and order.type == "LIMIT" and \
                        self.exchange._crosses(order, self.exchange.prices[order.symbol]):
                    self._fill(account, order, order.price, is_maker=True)

    def _fill(self, account: Account, order: FuturesOrder, price: Decimal, *, is_maker: bool = False) -> Trade:
        book = self.book(account)
        qty = order.orig_qty - order.executed_qty
        signed = qty if order.side == "BUY" else -qty
        position = self.position(book, order.symbol, order.position_side)
        realized = ZERO
        if position.quantity and (position.quantity > 0) != (signed > 0):  # closing (part of) it
            closed = min(abs(signed), abs(position.quantity))
            realized = (price - position.entry_price) * closed * (1 if position.quantity > 0 else -1)
        after = position.quantity + signed
        if after == 0:
            position.entry_price = ZERO
        elif position.quantity == 0 or (position.quantity > 0) != (after > 0):
            position.entry_price = price  # opened, or flipped through zero
        elif abs(after) > abs(position.quantity):  # added: average the entry
            position.entry_price = (position.entry_price * abs(position.quantity) + price * qty) / abs(after)
        position.quantity = after
        fee = qty * price * FEE_RATE
        book.wallet += realized - fee
        order.executed_qty += qty
        order.cumulative_quote += qty * price
        order.average_price = order.cumulative_quote / order.executed_qty
        order.realized_pnl += realized
        order.status, order.update_ms = "FILLED", self.exchange.now_ms()
        trade = Trade(next(self._trade_ids), order.order_id, order.client_order_id, order.symbol, order.side, price,
                      qty, fee, "USDT", order.update_ms, is_maker, at=self.exchange.clock())
        book.trades.append(trade)
        self._emit(account, order, trade, "TRADE")
        return trade

    def _emit(self, account: Account, order: FuturesOrder, trade: Trade | None, execution_type: str) -> None:
        for listener in self.listeners:
            listener(account, order, trade, execution_type)
