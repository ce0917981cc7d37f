"""Kraken spot's JSON shapes: the {"error": [...], "result": ...} envelope, assets and asset
pairs, tickers, OHLC, extended balances, orders (QueryOrders, OpenOrders, ClosedOrders),
trades (TradesHistory) and the WebSocket v2 `executions` events, field for field as Kraken
documents them and ccxt's kraken parses them.

Names: Kraken's asset codes keep their legacy X/Z prefixes (XXBT, XETH, ZUSD) and its pair ids
their altnames (XBTUSDT); WebSocket v2 speaks ISO symbols (BTC/USDT). Ids: orders are
OXXXXX-XXXXX-XXXXXX and trades TXXXXX-XXXXX-XXXXXX; the book's integer ids are encoded in them
(read back with parse_id)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal

from venue_sim.book import ZERO, Account, Exchange, Order, Symbol, Trade
from venue_sim.wire import fx, klines

# ISO code -> Kraken's (legacy prefixed) asset code and its altname; others are themselves.
ASSETS = {"BTC": ("XXBT", "XBT"), "ETH": ("XETH", "ETH"), "USD": ("ZUSD", "USD"), "EUR": ("ZEUR", "EUR"),
          "DOGE": ("XXDG", "XDG"), "LTC": ("XLTC", "LTC"), "XRP": ("XXRP", "XRP")}
ID_MARKER = 0x4B52  # "KR": the top 16 of the 80 bits behind an order or trade id
ID_SCRAMBLE = 0x9E37_79B9_7F4A_7C15  # odd: a bijection of 64-bit numbers, so ids look like Kraken's
STATUS = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "closed", "CANCELED": "canceled",
          "EXPIRED": "canceled"}
OHLC_MINUTES = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)


def envelope(result) -> dict:
    return {"error": [], "result": result}


def asset_code(iso: str) -> str:
    return ASSETS.get(iso, (iso, iso))[0]


def asset_altname(iso: str) -> str:
    return ASSETS.get(iso, (iso, iso))[1]


def pair_id(sym: Symbol) -> str:
    """XBTUSDT; the legacy pairs of two prefixed assets are named by both codes (XXBTZUSD)."""
    base, quote = asset_code(sym.base), asset_code(sym.quote)
    if base != sym.base and quote != sym.quote and len(base) == 4 and len(quote) == 4:
        return base + quote
    return asset_altname(sym.base) + asset_altname(sym.quote)


def ws_symbol(sym: Symbol) -> str:
    return f"{sym.base}/{sym.quote}"


def encode_id(prefix: str, number: int) -> str:
    scrambled = number * ID_SCRAMBLE % 2**64
    text = base64.b32encode(((ID_MARKER << 64) | scrambled).to_bytes(10, "big")).decode()
    return f"{prefix}{text[:5]}-{text[5:10]}-{text[10:16]}"


def parse_id(raw: str | None, prefix: str) -> int | None:
    """The book's integer id behind one of this venue's ids; None for one it never issued."""
    if not raw or not raw.startswith(prefix) or len(raw) != 19:
        return None
    try:
        value = int.from_bytes(base64.b32decode(raw[1:].replace("-", "")), "big")
    except (ValueError, TypeError):
        return None
    if value >> 64 != ID_MARKER:
        return None
    return (value & (2**64 - 1)) * pow(ID_SCRAMBLE, -1, 2**64) % 2**64


def order_txid(order: Order) -> str:
    return encode_id("O", order.order_id)


def trade_txid(trade: Trade) -> str:
    return encode_id("T", trade.trade_id)


def decimals(step: Decimal) -> int:
    return max(-step.normalize().as_tuple().exponent, 0)


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- market data --------------------------------------------------------------------------

def asset_info(iso: str) -> dict:
    return {"aclass": "currency", "altname": asset_altname(iso), "decimals": 10, "display_decimals": 5,
            "collateral_value": 1.0, "status": "enabled"}


def asset_pair(sym: Symbol) -> dict:
    fees = [[0, 0.26], [50000, 0.24], [100000, 0.22], [250000, 0.2], [500000, 0.18], [1000000, 0.16]]
    return {"altname": pair_id(sym), "wsname": f"{asset_altname(sym.base)}/{asset_altname(sym.quote)}",
            "aclass_base": "currency", "base": asset_code(sym.base), "aclass_quote": "currency",
            "quote": asset_code(sym.quote), "lot": "unit", "cost_decimals": decimals(sym.tick_size) + 3,
            "pair_decimals": decimals(sym.tick_size), "lot_decimals": decimals(sym.step_size), "lot_multiplier": 1,
            "leverage_buy": [], "leverage_sell": [], "fees": fees, "fees_maker": [[0, 0.16], [50000, 0.14]],
            "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40, "ordermin": fx(sym.min_qty),
            "costmin": fx(sym.min_notional), "tick_size": fx(sym.tick_size), "status": "online"}


def ticker(exchange: Exchange, sym: Symbol) -> dict:
    price, now = exchange.prices[sym.name], exchange.now_ms()
    day = [p for t, p in exchange.history[sym.name] if t >= now - 86_400_000] or [price]
    return {"a": [fx(price + sym.tick_size), "1", "1.000"], "b": [fx(price - sym.tick_size), "1", "1.000"],
            "c": [fx(price), "0.00000000"], "v": ["0", "0"], "p": [fx(price), fx(price)], "t": [0, 0],
            "l": [fx(min(day)), fx(min(day))], "h": [fx(max(day)), fx(max(day))], "o": fx(day[0])}


def ohlc(exchange: Exchange, symbol: str, minutes: int, since_s: int | None) -> list[list]:
    """At most the 720 most recent candles; [time, open, high, low, close, vwap, volume, count]."""
    interval = minutes * 60_000
    start = since_s * 1000 if since_s is not None else None
    rows = klines(exchange, symbol, interval, 720, start, None)
    return [[r[0] // 1000, fx(Decimal(r[1])), fx(Decimal(r[2])), fx(Decimal(r[3])), fx(Decimal(r[4])),
             fx(Decimal(r[4])), "0.00000000", 0] for r in rows[-720:]]


# --- account ------------------------------------------------------------------------------

def balance_ex(account: Account) -> dict:
    assets = sorted(set(account.balances) | set(account.locked))
    return {asset_code(a): {"balance": fx(account.balances.get(a, ZERO) + account.locked.get(a, ZERO)),
                            "hold_trade": fx(account.locked.get(a, ZERO))} for a in assets}


# --- orders and trades --------------------------------------------------------------------

def description(exchange: Exchange, order: Order) -> dict:
    sym = exchange.symbols[order.symbol]
    side, kind = order.side.lower(), order.type.lower()
    text = f"{side} {order.orig_qty.quantize(Decimal('1e-8')):f} {pair_id(sym)} @ {kind}"
    if order.type == "LIMIT":
        text += f" {fx(order.price)}"
    return {"pair": pair_id(sym), "type": side, "ordertype": kind, "price": fx(order.price) if order.type == "LIMIT"
            else "0", "price2": "0", "leverage": "none", "order": text, "close": ""}


def order_json(exchange: Exchange, order: Order, trades: list[Trade], *, userref: int | None = None,
               with_trades: bool = False, post_only: bool = False) -> dict:
    """An order as QueryOrders, OpenOrders and ClosedOrders show it."""
    fills = [t for t in trades if t.order_id == order.order_id]
    fee = sum((t.commission * (t.price if t.commission_asset != exchange.symbols[order.symbol].quote else 1)
               for t in fills), ZERO)
    executed = order.executed_qty
    flags = ["fciq"] + (["post"] if post_only else [])
    row = {"refid": None, "userref": userref, "status": STATUS[order.status],
           "reason": None if order.status not in ("CANCELED", "EXPIRED") else
           ("User requested" if order.status == "CANCELED" else "Immediate or cancel"),
           "opentm": order.time_ms / 1000, "starttm": 0, "expiretm": 0, "descr": description(exchange, order),
           "vol": f"{order.orig_qty.quantize(Decimal('1e-8')):f}",
           "vol_exec": f"{executed.quantize(Decimal('1e-8')):f}", "cost": fx(order.cumulative_quote), "fee": fx(fee),
           "price": fx(order.cumulative_quote / executed) if executed else "0", "stopprice": "0",
           "limitprice": "0", "misc": "", "oflags": ",".join(flags)}
    if not order.client_order_id.startswith("sim-"):
        row["cl_ord_id"] = order.client_order_id
    if not order.is_open:
        row["closetm"] = order.update_ms / 1000
    if with_trades and fills:
        row["trades"] = [trade_txid(t) for t in fills]
    return row


def trade_json(exchange: Exchange, order: Order, trade: Trade) -> dict:
    """A trade as TradesHistory lists it; the fee is in the quote currency."""
    sym = exchange.symbols[trade.symbol]
    fee = trade.commission * (trade.price if trade.commission_asset != sym.quote else 1)
    return {"ordertxid": order_txid(order), "postxid": encode_id("P", trade.trade_id), "pair": pair_id(sym),
            "aclass": "currency", "time": trade.at, "type": trade.side.lower(), "ordertype": order.type.lower(),
            "price": fx(trade.price), "cost": fx(trade.price * trade.qty), "fee": fx(fee),
            "vol": f"{trade.qty.quantize(Decimal('1e-8')):f}", "margin": "0", "leverage": "0", "misc": "",
            "trade_id": trade.trade_id, "maker": trade.is_maker}


# --- WebSocket v2: executions -------------------------------------------------------------

def execution(exchange: Exchange, order: Order, trade: Trade | None, kind: str, *,
              userref: int | None = None) -> list[dict]:
    """The executions a book event makes, as Kraken streams them: a new order is pending_new
    (its details) then new; a fill is a trade (order_status partially_filled, even when it
    completes the order) then, when the order is done, a separate filled; a cancel is canceled."""
    sym = exchange.symbols[order.symbol]
    now = rfc3339(exchange.clock())
    ids = {"order_id": order_txid(order), "order_userref": userref or 0}
    if not order.client_order_id.startswith("sim-"):
        ids["cl_ord_id"] = order.client_order_id
    totals = {"cum_qty": float(order.executed_qty), "cum_cost": float(order.cumulative_quote),
              "avg_price": float(order.cumulative_quote / order.executed_qty) if order.executed_qty else 0.0}
    if kind == "NEW":
        details = {**ids, "symbol": ws_symbol(sym), "order_qty": float(order.orig_qty), "cum_cost": 0.0,
                   "time_in_force": "IOC" if order.type == "MARKET" else order.time_in_force, "side": order.side.lower(),
                   "order_type": order.type.lower(), "limit_price_type": "static", "stop_price": 0.0,
                   "fee_usd_equiv": 0.0, "fee_ccy_pref": "fciq", "timestamp": now}
        if order.type == "LIMIT":
            details["limit_price"] = float(order.price)
        return [{**details, "exec_type": "pending_new", "order_status": "pending_new"},
                {**ids, "exec_type": "new", "order_status": "new", "timestamp": now}]
    if kind == "TRADE" and trade is not None:
        fee = trade.commission * (trade.price if trade.commission_asset != sym.quote else 1)
        rows = [{**ids, **totals, "exec_id": trade_txid(trade), "exec_type": "trade", "trade_id": trade.trade_id,
                 "symbol": ws_symbol(sym), "side": trade.side.lower(), "last_qty": float(trade.qty),
                 "last_price": float(trade.price), "liquidity_ind": "m" if trade.is_maker else "t",
                 "cost": float(trade.price * trade.qty), "order_status": "partially_filled",
                 "order_type": order.type.lower(), "timestamp": rfc3339(trade.at), "fee_usd_equiv": float(fee),
                 "fees": [{"asset": sym.quote, "qty": float(fee)}]}]
        if not order.is_open:
            rows.append({**ids, **totals, "exec_type": "filled", "order_status": "filled", "timestamp": now,
                         "fee_usd_equiv": float(fee)})
        return rows
    if kind in ("CANCELED", "EXPIRED"):
        reason = "User requested" if kind == "CANCELED" else "Immediate or cancel"
        return [{**ids, **totals, "exec_type": "canceled" if kind == "CANCELED" else "expired",
                 "order_status": "canceled" if kind == "CANCELED" else "expired", "timestamp": now,
                 "fee_usd_equiv": 0.0, "cancel_reason": reason, "reason": reason}]
    return []


def snapshot_trade(exchange: Exchange, order: Order, trade: Trade, *, userref: int | None = None) -> dict:
    return execution(exchange, order, trade, "TRADE", userref=userref)[0]


def snapshot_order(exchange: Exchange, order: Order, *, userref: int | None = None) -> dict:
    row = execution(exchange, order, None, "NEW", userref=userref)[0]
    return {**row, "exec_type": "new", "order_status": "new" if not order.executed_qty else "partially_filled",
            "cum_qty": float(order.executed_qty)}
