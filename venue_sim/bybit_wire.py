"""Bybit v5's JSON shapes: the {retCode, retMsg, result, retExtInfo, time} envelope, instruments,
tickers, klines, the unified wallet, positions, orders and executions, field for field as
Bybit documents them and ccxt's bybit parses them.

Ids: spot order ids are long numeric strings on Bybit, linear ones UUIDs; the simulator's
integer ids are shown that way (and read back with order_ref)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from venue_sim.book import ZERO, Account, Exchange, Order, Symbol, Trade
from venue_sim.perp_book import MAX_LEVERAGE, PerpAccount, PerpOrder, Perpetuals
from venue_sim.wire import fx

POSITION_IDX = {"BOTH": 0, "LONG": 1, "SHORT": 2}
STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled", "CANCELED": "Cancelled",
          "EXPIRED": "Cancelled", "REJECTED": "Rejected"}
MARKET_TYPES = ("MARKET", "STOP_LOSS", "TAKE_PROFIT")  # the spot book's stop types that fire at market
TIME_IN_FORCE = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "GTX": "PostOnly"}
LINEAR_ID_NAMESPACE = 0x6279_6269_7400_0000  # "bybit": linear order/exec UUIDs start with it


def envelope(result, now_ms: int, *, code: int = 0, msg: str = "OK") -> dict:
    return {"retCode": code, "retMsg": msg, "result": result if result is not None else {}, "retExtInfo": {},
            "time": now_ms}


def order_id(order: Order) -> str:
    return str(linear_uuid(order.order_id)) if isinstance(order, PerpOrder) else str(order.order_id)


def linear_uuid(number: int) -> uuid.UUID:
    return uuid.UUID(int=(LINEAR_ID_NAMESPACE << 64) | number)


def parse_order_id(raw: str | None, category: str) -> int | None:
    """The book's integer id behind a Bybit order id; None for an id this venue never issued."""
    if not raw:
        return None
    try:
        if category == "spot":
            return int(raw)
        value = uuid.UUID(raw).int
    except ValueError:
        return None
    return value & (2**64 - 1) if value >> 64 == LINEAR_ID_NAMESPACE else None


def side(book_side: str) -> str:
    return "Buy" if book_side == "BUY" else "Sell"


# --- market data --------------------------------------------------------------------------

def spot_instrument(sym: Symbol) -> dict:
    return {"symbol": sym.name, "baseCoin": sym.base, "quoteCoin": sym.quote, "innovation": "0",
            "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
            "lotSizeFilter": {"basePrecision": fx(sym.step_size), "quotePrecision": "0.00000001",
                              "minOrderQty": fx(sym.min_qty), "maxOrderQty": fx(sym.max_qty),
                              "minOrderAmt": fx(sym.min_notional), "maxOrderAmt": "2000000"},
            "priceFilter": {"tickSize": fx(sym.tick_size)},
            "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"}}


def linear_instrument(sym: Symbol) -> dict:
    scale = max(-sym.tick_size.normalize().as_tuple().exponent, 0)
    return {"symbol": sym.name, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": sym.base,
            "quoteCoin": sym.quote, "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
            "priceScale": str(scale),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{MAX_LEVERAGE}.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": fx(sym.tick_size), "maxPrice": "1999999.80", "tickSize": fx(sym.tick_size)},
            "lotSizeFilter": {"maxOrderQty": fx(sym.max_qty), "minOrderQty": fx(sym.min_qty),
                              "qtyStep": fx(sym.step_size), "postOnlyMaxOrderQty": fx(sym.max_qty),
                              "maxMktOrderQty": fx(sym.max_qty), "minNotionalValue": fx(sym.min_notional)},
            "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": sym.quote, "copyTrading": "both",
            "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False,
            "preListingInfo": None, "displayName": ""}


def ticker(exchange: Exchange, symbol: str, category: str) -> dict:
    now = exchange.now_ms()
    day = [p for t, p in exchange.history[symbol] if t >= now - 86_400_000] or [exchange.prices[symbol]]
    last, first, tick = day[-1], day[0], exchange.symbols[symbol].tick_size
    row = {"symbol": symbol, "bid1Price": fx(last - tick), "bid1Size": "10", "ask1Price": fx(last + tick),
           "ask1Size": "10", "lastPrice": fx(last), "prevPrice24h": fx(first),
           "price24hPcnt": fx(((last - first) / first).quantize(Decimal("1e-6"))), "highPrice24h": fx(max(day)),
           "lowPrice24h": fx(min(day)), "turnover24h": "0", "volume24h": "0"}
    if category == "spot":
        row["usdIndexPrice"] = fx(last)
    else:
        row.update(indexPrice=fx(last), markPrice=fx(last), prevPrice1h=fx(first), openInterest="0",
                   openInterestValue="0", fundingRate="0.0001",
                   nextFundingTime=str(now // 28_800_000 * 28_800_000 + 28_800_000), predictedDeliveryPrice="",
                   basisRate="", deliveryFeeRate="", deliveryTime="0", basis="")
    return row


# --- account ------------------------------------------------------------------------------

def wallet(exchange: Exchange, perps: Perpetuals, account: Account) -> dict:
    """The unified account: one UNIFIED wallet listing every coin. The simulator keeps the USDT
    that margins linear positions apart from spot USDT; here they are shown as one balance."""
    book = perps.book(account)
    unrealized = perps.unrealized_total(book)
    position_im, order_im = perps.position_margin(book), perps.order_margin(book)
    coins, total_equity, total_wallet = [], ZERO, ZERO
    for asset in sorted(set(account.balances) | set(account.locked) | {"USDT"}):
        free, locked = account.balances.get(asset, ZERO), account.locked.get(asset, ZERO)
        balance = free + locked + (book.wallet if asset == "USDT" else ZERO)
        if not balance and asset != "USDT":
            continue
        upl = unrealized if asset == "USDT" else ZERO
        price = Decimal(1) if asset == "USDT" else exchange.prices.get(f"{asset}USDT", ZERO)
        total_equity += (balance + upl) * price
        total_wallet += balance * price
        coins.append({"coin": asset, "equity": fx(balance + upl), "usdValue": fx((balance + upl) * price),
                      "walletBalance": fx(balance), "locked": fx(locked), "borrowAmount": "0",
                      "availableToWithdraw": "", "availableToBorrow": "", "bonus": "0", "accruedInterest": "0",
                      "totalOrderIM": fx(order_im if asset == "USDT" else ZERO),
                      "totalPositionIM": fx(position_im if asset == "USDT" else ZERO),
                      "totalPositionMM": "0", "unrealisedPnl": fx(upl), "cumRealisedPnl": "0",
                      "collateralSwitch": True, "marginCollateral": True, "spotHedgingQty": "0"})
    available = account.balances.get("USDT", ZERO) + perps.available(book)
    return {"list": [{"accountType": "UNIFIED", "totalEquity": fx(total_equity), "totalWalletBalance": fx(total_wallet),
                      "totalMarginBalance": fx(total_wallet + unrealized), "totalAvailableBalance": fx(available),
                      "totalPerpUPL": fx(unrealized), "totalInitialMargin": fx(position_im + order_im),
                      "totalMaintenanceMargin": "0", "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0",
                      "coin": coins}]}


def position(perps: Perpetuals, book: PerpAccount, symbol: str, pos_side: str) -> dict:
    held = book.positions.get((symbol, pos_side))
    quantity = held.quantity if held else ZERO
    entry = held.entry_price if held else ZERO
    mark = perps.exchange.prices[symbol]
    leverage = perps.leverage(book, symbol)
    now = str(perps.exchange.now_ms())
    return {"positionIdx": POSITION_IDX[pos_side], "riskId": 1, "riskLimitValue": "2000000", "symbol": symbol,
            "side": "" if not quantity else ("Buy" if quantity > 0 else "Sell"), "size": fx(abs(quantity)),
            "avgPrice": fx(entry), "positionValue": fx(abs(quantity) * entry), "tradeMode": 0, "autoAddMargin": 0,
            "positionStatus": "Normal", "leverage": str(leverage), "markPrice": fx(mark), "liqPrice": "",
            "bustPrice": "", "positionIM": fx(abs(quantity) * mark / leverage),
            "positionMM": fx(abs(quantity) * mark * Decimal("0.005")), "positionBalance": "0", "tpslMode": "Full",
            "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "sessionAvgPrice": "",
            "unrealisedPnl": fx((mark - entry) * quantity), "curRealisedPnl": "0", "cumRealisedPnl": "0",
            "adlRankIndicator": 2 if quantity else 0, "isReduceOnly": False, "mmrSysUpdatedTime": "",
            "leverageSysUpdatedTime": "", "createdTime": now, "updatedTime": now, "seq": -1}


def position_sides(book: PerpAccount) -> tuple[str, ...]:
    return ("LONG", "SHORT") if book.dual_side else ("BOTH",)


# --- orders and executions ----------------------------------------------------------------

def order_json(order: Order, trades: list[Trade], *, category: str, with_category: bool = False) -> dict:
    """An order as /v5/order/realtime, /v5/order/history and the `order` topic show it. A linear
    order carries tpslMode (ccxt tells contract orders from spot ones by that key)."""
    executed, value = order.executed_qty, order.cumulative_quote
    fills = [t for t in trades if t.order_id == order.order_id]
    fee = sum((t.commission for t in fills), ZERO)
    fee_detail: dict[str, Decimal] = {}  # per coin the fee was paid in (ccxt reads an order's fee here)
    for t in fills:
        fee_detail[t.commission_asset] = fee_detail.get(t.commission_asset, ZERO) + t.commission
    status = STATUS[order.status]
    if order.status in ("CANCELED", "EXPIRED") and executed:
        status = "PartiallyFilledCanceled"
    conditional = bool(order.stop_price)
    if conditional and order.status == "NEW":
        status = "Untriggered" if not order.working else "New"
    elif conditional and order.status in ("CANCELED", "EXPIRED") and not order.working:
        status = "Deactivated"
    market = order.type in MARKET_TYPES
    row = {"orderId": order_id(order), "orderLinkId": order.client_order_id, "blockTradeId": "",
           "symbol": order.symbol, "price": fx(order.price), "qty": fx(order.orig_qty), "side": side(order.side),
           "isLeverage": "", "positionIdx": POSITION_IDX[getattr(order, "position_side", "BOTH")],
           "orderStatus": status, "cancelType": "UNKNOWN" if order.is_open or status == "Filled" else "CancelByUser",
           "rejectReason": "EC_NoError", "avgPrice": fx(value / executed) if executed else "",
           "leavesQty": fx(order.remaining if order.is_open else ZERO),
           "leavesValue": fx(order.remaining * order.price if order.is_open else ZERO),
           "cumExecQty": fx(executed), "cumExecValue": fx(value), "cumExecFee": fx(fee),
           "cumFeeDetail": {coin: fx(amount) for coin, amount in fee_detail.items()},
           "timeInForce": "IOC" if market else TIME_IN_FORCE.get(order.time_in_force, "GTC"),
           "orderType": "Market" if market else "Limit",
           "stopOrderType": getattr(order, "stop_order_type", "") or ("Stop" if conditional else ""), "orderIv": "",
           "triggerPrice": fx(order.stop_price), "takeProfit": fx(getattr(order, "take_profit", ZERO)),
           "stopLoss": fx(getattr(order, "stop_loss", ZERO)), "tpTriggerBy": "", "slTriggerBy": "",
           "triggerDirection": trigger_direction(order), "triggerBy": "LastPrice" if conditional else "",
           "lastPriceOnCreated": "", "placeType": "",
           "reduceOnly": bool(getattr(order, "reduce_only", False)), "closeOnTrigger": False,
           "smpType": "None", "smpGroup": 0, "smpOrderId": "", "createdTime": str(order.time_ms),
           "updatedTime": str(order.update_ms)}
    if category == "spot":
        row["marketUnit"] = "quoteCoin" if order.orig_quote_qty else "baseCoin"
        row["isLeverage"] = "0"
    else:
        row.update(tpslMode="", tpLimitPrice="0", slLimitPrice="0", createType="CreateByUser")
    if with_category:
        row["category"] = category
    return row


def trigger_direction(order: Order) -> int:
    """1: fires when the price rises to the trigger, 2: when it falls (0: not conditional)."""
    if not order.stop_price:
        return 0
    if getattr(order, "trigger_direction", 0):
        return order.trigger_direction
    against = not order.type.startswith("TAKE_PROFIT")  # the spot book's types (Binance's rule)
    return 1 if (order.side == "BUY") == against else 2


def execution_json(order: Order, trade: Trade, *, category: str, mark: Decimal, with_category: bool = False) -> dict:
    linear = category == "linear"
    notional = trade.price * trade.qty
    fee_rate = trade.commission / (notional if linear or trade.side == "SELL" else trade.qty) if notional else ZERO
    row = {"symbol": trade.symbol, "orderType": "Market" if order.type in MARKET_TYPES else "Limit",
           "underlyingPrice": "", "orderLinkId": trade.client_order_id, "side": side(trade.side), "indexPrice": "",
           "orderId": order_id(order),
           "stopOrderType": getattr(order, "stop_order_type", "") or ("Stop" if order.stop_price else "UNKNOWN"),
           "leavesQty": fx(order.remaining),
           "execTime": str(trade.time_ms), "feeCurrency": trade.commission_asset, "isMaker": trade.is_maker,
           "execFee": fx(trade.commission), "feeRate": fx(fee_rate),
           "execId": str(linear_uuid(trade.trade_id)) if linear else str(trade.trade_id), "tradeIv": "",
           "blockTradeId": "", "markPrice": fx(mark), "execPrice": fx(trade.price), "markIv": "",
           "orderQty": fx(order.orig_qty), "orderPrice": fx(order.price), "execValue": fx(notional),
           "execType": "Trade", "execQty": fx(trade.qty), "closedSize": "", "seq": trade.trade_id}
    if linear:
        row["createType"] = "CreateByUser"
    if with_category:
        row["category"] = category
    return row
