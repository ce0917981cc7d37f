"""Coinbase Advanced Trade's JSON shapes (api/v3/brokerage): products, tickers, candles,
accounts, orders, fills and the `user` channel's order events, field for field as Coinbase
documents them and ccxt's coinbase parses them (ccxt's own fixtures: test/static/response/
coinbase.json).

Ids: Coinbase names orders, fills, accounts and users by UUIDs. The book's integer ids are
shown as UUIDs in a namespace of their own (read back with parse_uuid); a product is BASE-QUOTE."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from venue_sim.book import ZERO, Account, Exchange, Order, Symbol, Trade
from venue_sim.wire import fx, klines

ORDER_NAMESPACE = 0x636F_696E_6261_7365  # "coinbase": order UUIDs start with it
FILL_NAMESPACE = 0x636F_696E_6669_6C6C  # "coinfill"
ACCOUNT_NAMESPACE = 0x636F_696E_6163_6374  # "coinacct"
STATUS = {"NEW": "OPEN", "PARTIALLY_FILLED": "OPEN", "FILLED": "FILLED", "CANCELED": "CANCELLED",
          "EXPIRED": "EXPIRED"}
TIME_IN_FORCE = {"GTC": "GOOD_UNTIL_CANCELLED", "IOC": "IMMEDIATE_OR_CANCEL", "FOK": "FILL_OR_KILL"}
GRANULARITY_S = {"ONE_MINUTE": 60, "FIVE_MINUTE": 300, "FIFTEEN_MINUTE": 900, "THIRTY_MINUTE": 1800,
                 "ONE_HOUR": 3600, "TWO_HOUR": 7200, "SIX_HOUR": 21600, "ONE_DAY": 86400}


def as_uuid(namespace: int, number: int) -> str:
    return str(uuid.UUID(int=(namespace << 64) | number))


def parse_uuid(raw: str | None, namespace: int) -> int | None:
    """The book's integer id behind one of this venue's UUIDs; None for one it never issued."""
    try:
        value = uuid.UUID(str(raw)).int
    except ValueError:
        return None
    return value & (2**64 - 1) if value >> 64 == namespace else None


def order_id(order: Order) -> str:
    return as_uuid(ORDER_NAMESPACE, order.order_id)


def user_id(exchange: Exchange, account: Account) -> str:
    return as_uuid(ACCOUNT_NAMESPACE, 1 + list(exchange.accounts).index(account.name))


def product_id(sym: Symbol) -> str:
    return f"{sym.base}-{sym.quote}"


def iso(ms_or_s: float, *, seconds: bool = False) -> str:
    """RFC 3339 with microseconds, as Coinbase writes times: 2023-11-26T10:19:47.423220Z."""
    at = datetime.fromtimestamp(ms_or_s if seconds else ms_or_s / 1000, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- market data --------------------------------------------------------------------------

def product(exchange: Exchange, sym: Symbol) -> dict:
    price, day = exchange.prices[sym.name], _day(exchange, sym.name)
    change = (price - day[0]) / day[0] * 100 if day[0] else ZERO
    return {
        "product_id": product_id(sym), "price": fx(price),
        "price_percentage_change_24h": fx(change.quantize(Decimal("1e-8"))), "volume_24h": "0",
        "volume_percentage_change_24h": "0", "base_increment": fx(sym.step_size),
        "quote_increment": fx(sym.tick_size), "quote_min_size": fx(sym.min_notional), "quote_max_size": "10000000",
        "base_min_size": fx(sym.min_qty), "base_max_size": fx(sym.max_qty), "base_name": sym.base,
        "quote_name": sym.quote, "watched": False, "is_disabled": False, "new": False, "status": "online",
        "cancel_only": False, "limit_only": False, "post_only": False, "trading_disabled": False,
        "auction_mode": False, "product_type": "SPOT", "quote_currency_id": sym.quote,
        "base_currency_id": sym.base, "fcm_trading_session_details": None, "mid_market_price": "",
        "alias": "", "alias_to": [], "base_display_symbol": sym.base, "quote_display_symbol": sym.quote,
        "view_only": False, "price_increment": fx(sym.tick_size), "display_name": product_id(sym),
        "product_venue": "CBE", "approximate_quote_24h_volume": "0",
    }


def _day(exchange: Exchange, symbol: str) -> list[Decimal]:
    now = exchange.now_ms()
    return [p for t, p in exchange.history[symbol] if t >= now - 86_400_000] or [exchange.prices[symbol]]


def ticker(exchange: Exchange, sym: Symbol) -> dict:
    """The last trade (the venue's current price, as of now) and the best bid and ask."""
    price, now = exchange.prices[sym.name], exchange.now_ms()
    return {"trades": [{"trade_id": str(now), "product_id": product_id(sym), "price": fx(price), "size": "0",
                        "time": iso(now), "side": "BUY", "bid": "", "ask": "", "exchange": "coinbase"}],
            "best_bid": fx(price - sym.tick_size), "best_ask": fx(price + sym.tick_size)}


def candles(exchange: Exchange, symbol: str, granularity: str, start_s: int, end_s: int) -> list[dict]:
    """Newest first, as Coinbase lists them; at most 350 (Coinbase's cap)."""
    interval = GRANULARITY_S[granularity]
    count = max(0, min(350, (end_s - start_s) // interval + 1))
    rows = klines(exchange, symbol, interval * 1000, count, start_s * 1000, end_s * 1000) if count else []
    return [{"start": str(r[0] // 1000), "low": fx(Decimal(r[3])), "high": fx(Decimal(r[2])),
             "open": fx(Decimal(r[1])), "close": fx(Decimal(r[4])), "volume": "0"} for r in reversed(rows)]


# --- accounts -----------------------------------------------------------------------------

def accounts(exchange: Exchange, account: Account) -> list[dict]:
    """One brokerage account (wallet) per currency held, or that a product quotes."""
    currencies = sorted(set(account.balances) | set(account.locked)
                        | {s.quote for s in exchange.symbols.values()})
    created = iso(0)
    return [{"uuid": as_uuid(ACCOUNT_NAMESPACE, (i + 1) << 16 | list(exchange.accounts).index(account.name)),
             "name": f"{c} Wallet", "currency": c,
             "available_balance": {"value": fx(account.balances.get(c, ZERO)), "currency": c},
             "default": True, "active": True, "created_at": created, "updated_at": created, "deleted_at": None,
             "type": "ACCOUNT_TYPE_CRYPTO", "ready": True,
             "hold": {"value": fx(account.locked.get(c, ZERO)), "currency": c},
             "retail_portfolio_id": user_id(exchange, account), "platform": "ACCOUNT_PLATFORM_CONSUMER"}
            for i, c in enumerate(currencies)]


# --- orders and fills ---------------------------------------------------------------------

def configuration(order: Order, post_only: bool) -> dict:
    """The order_configuration the order was placed with."""
    if order.type == "MARKET":
        size = {"quote_size": fx(order.orig_quote_qty)} if order.orig_quote_qty else {"base_size": fx(order.orig_qty)}
        return {"market_market_ioc": size}
    base = {"base_size": fx(order.orig_qty), "limit_price": fx(order.price)}
    if order.time_in_force == "IOC":
        return {"sor_limit_ioc": base}
    if order.time_in_force == "FOK":
        return {"limit_limit_fok": base}
    return {"limit_limit_gtc": {**base, "post_only": post_only}}


def order_json(exchange: Exchange, account: Account, order: Order, trades: list[Trade], *,
               post_only: bool = False) -> dict:
    """An order as GET orders/historical/{order_id} and orders/historical/batch show it."""
    sym = exchange.symbols[order.symbol]
    executed, value = order.executed_qty, order.cumulative_quote
    fills = [t for t in trades if t.order_id == order.order_id]
    fees = sum((t.commission * (t.price if t.commission_asset == sym.base else 1) for t in fills), ZERO)
    average = value / executed if executed else ZERO
    status = STATUS[order.status]
    held = order.reserved if order.is_open else ZERO
    return {
        "order_id": order_id(order), "product_id": product_id(sym), "user_id": user_id(exchange, account),
        "order_configuration": configuration(order, post_only), "side": order.side,
        "client_order_id": order.client_order_id, "status": status,
        "time_in_force": "IMMEDIATE_OR_CANCEL" if order.type == "MARKET" else TIME_IN_FORCE[order.time_in_force],
        "created_time": iso(order.time_ms),
        "completion_percentage": fx((executed / order.orig_qty * 100).quantize(Decimal("0.01"))) if order.orig_qty
        else "0",
        "filled_size": fx(executed), "average_filled_price": fx(average), "fee": "",
        "number_of_fills": str(len(fills)), "filled_value": fx(value), "pending_cancel": False,
        "size_in_quote": bool(order.orig_quote_qty), "total_fees": fx(fees), "size_inclusive_of_fees": False,
        "total_value_after_fees": fx(value + fees if order.side == "BUY" else value - fees),
        "trigger_status": "INVALID_ORDER_TYPE", "order_type": order.type,
        "reject_reason": "REJECT_REASON_UNSPECIFIED", "settled": not order.is_open, "product_type": "SPOT",
        "reject_message": "", "cancel_message": "User requested cancel" if order.status == "CANCELED" else "",
        "order_placement_source": "RETAIL_ADVANCED", "outstanding_hold_amount": fx(held),
        "is_liquidation": False, "last_fill_time": iso(fills[-1].time_ms) if fills else None,
        "edit_history": [], "leverage": "", "margin_type": "UNKNOWN_MARGIN_TYPE",
        "retail_portfolio_id": user_id(exchange, account),
    }


def fill_json(exchange: Exchange, account: Account, trade: Trade) -> dict:
    """A fill as GET orders/historical/fills lists it; the commission is in the quote currency."""
    sym = exchange.symbols[trade.symbol]
    commission = trade.commission * (trade.price if trade.commission_asset == sym.base else 1)
    return {
        "entry_id": f"{trade.trade_id:064x}", "trade_id": as_uuid(FILL_NAMESPACE, trade.trade_id),
        "order_id": as_uuid(ORDER_NAMESPACE, trade.order_id), "trade_time": iso(trade.time_ms),
        "trade_type": "FILL", "price": fx(trade.price), "size": fx(trade.qty), "commission": fx(commission),
        "product_id": product_id(sym), "sequence_timestamp": iso(trade.at, seconds=True),
        "liquidity_indicator": "MAKER" if trade.is_maker else "TAKER", "size_in_quote": False,
        "user_id": user_id(exchange, account), "side": trade.side,
        "retail_portfolio_id": user_id(exchange, account),
    }


def user_order(exchange: Exchange, account: Account, order: Order, trades: list[Trade], *,
               post_only: bool = False) -> dict:
    """An order as the `user` channel streams it (snapshot and update events)."""
    full = order_json(exchange, account, order, trades, post_only=post_only)
    remaining = order.remaining if order.is_open else ZERO
    return {
        "order_id": full["order_id"], "client_order_id": order.client_order_id,
        "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE", "cumulative_quantity": fx(order.executed_qty),
        "leaves_quantity": fx(remaining), "avg_price": full["average_filled_price"],
        "total_fees": full["total_fees"], "status": full["status"], "product_id": full["product_id"],
        "product_type": "SPOT", "creation_time": full["created_time"], "order_side": order.side,
        "order_type": "Market" if order.type == "MARKET" else "Limit", "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
        "time_in_force": full["time_in_force"], "trigger_status": "INVALID_ORDER_TYPE", "cancel_reason": "",
        "reject_Reason": "", "total_value_after_fees": full["total_value_after_fees"],
        "filled_value": full["filled_value"], "number_of_fills": full["number_of_fills"],
        "limit_price": fx(order.price) if order.type == "LIMIT" else "0", "stop_price": "0",
        "outstanding_hold_amount": full["outstanding_hold_amount"], "post_only": post_only,
        "retail_portfolio_id": full["retail_portfolio_id"],
    }
