"""Binance's JSON shapes: exchangeInfo, orders, trades, balances, positions and the user-data
events, field for field as Binance documents them (ccxt parses these)."""

from __future__ import annotations

from decimal import Decimal

from venue_sim.book import SPOT_TYPES, STOP_TYPES, ZERO, Account, Exchange, Order, OrderList, Symbol, Trade
from venue_sim.perp_book import AlgoOrder, Income, PerpAccount, PerpOrder, Perpetuals
from venue_sim.usdm_rules import Bracket, Contract

E8 = Decimal("1e-8")


def d8(value: Decimal) -> str:
    """Spot style: always 8 decimals ("0.01000000")."""
    return f"{value.quantize(E8):f}"


def fx(value: Decimal) -> str:
    """Futures style: plain decimal, at most 8 places, never an exponent ("64000.5", "0.01")."""
    text = f"{value.quantize(E8).normalize():f}"
    return "0" if text in ("-0", "") else text


# --- spot ---------------------------------------------------------------------------------

def symbol_info(sym: Symbol) -> dict:
    return {
        "symbol": sym.name, "status": "TRADING", "baseAsset": sym.base, "baseAssetPrecision": 8,
        "quoteAsset": sym.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": list(SPOT_TYPES), "icebergAllowed": False, "ocoAllowed": True,
        "otoAllowed": False, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "amendAllowed": False, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": d8(sym.tick_size), "maxPrice": "1000000.00000000",
             "tickSize": d8(sym.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": d8(sym.min_qty), "maxQty": d8(sym.max_qty),
             "stepSize": d8(sym.step_size)},
            {"filterType": "NOTIONAL", "minNotional": d8(sym.min_notional), "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def order_ack(order: Order) -> dict:
    return {"symbol": order.symbol, "orderId": order.order_id, "orderListId": order.order_list_id,
            "clientOrderId": order.client_order_id, "transactTime": order.time_ms}


def order_list_json(order_list: OrderList, orders: list[Order], *, reports: bool = False) -> dict:
    """An order list (OCO) as POST/DELETE /api/v3/orderList* (reports) and GET show it."""
    body = {"orderListId": order_list.order_list_id, "contingencyType": "OCO",
            "listStatusType": order_list.list_status_type, "listOrderStatus": order_list.status,
            "listClientOrderId": order_list.list_client_order_id, "transactionTime": order_list.time_ms,
            "symbol": order_list.symbol,
            "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
                       for o in orders]}
    if reports:
        body["orderReports"] = [order_json(o, response=True) for o in orders]
    return body


def list_status(exchange: Exchange, order_list: OrderList, orders: list[Order]) -> dict:
    """The listStatus user-data event of an order list."""
    return {"e": "listStatus", "E": exchange.now_ms(), "s": order_list.symbol, "g": order_list.order_list_id,
            "c": "OCO", "l": order_list.list_status_type, "L": order_list.status, "r": "NONE",
            "C": order_list.list_client_order_id, "T": exchange.now_ms(),
            "O": [{"s": o.symbol, "i": o.order_id, "c": o.client_order_id} for o in orders]}


def order_json(order: Order, trades: list[Trade] | None = None, *, response: bool = False) -> dict:
    """An order as GET /api/v3/order shows it; `response` gives the POST shape (RESULT, or FULL
    when trades are passed)."""
    body = {
        "symbol": order.symbol, "orderId": order.order_id, "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id, "price": d8(order.price),
        "origQty": d8(order.orig_qty), "executedQty": d8(order.executed_qty),
        "cummulativeQuoteQty": d8(order.cumulative_quote), "origQuoteOrderQty": d8(order.orig_quote_qty),
        "status": order.status, "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
        "workingTime": order.working_ms if order.working else -1, "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if order.type in STOP_TYPES:
        body["stopPrice"] = d8(order.stop_price)
    if response:
        body["transactTime"] = order.time_ms
    else:
        body.update({"stopPrice": d8(order.stop_price), "icebergQty": "0.00000000", "time": order.time_ms,
                     "updateTime": order.update_ms, "isWorking": order.working})
    if trades is not None:
        body["fills"] = [{"price": d8(t.price), "qty": d8(t.qty), "commission": d8(t.commission),
                          "commissionAsset": t.commission_asset, "tradeId": t.trade_id} for t in trades]
    return body


def canceled_order_json(order: Order) -> dict:
    """DELETE /api/v3/order's answer: the cancel's own client id, and the order's as origClientOrderId."""
    return {**order_json(order, response=True), "clientOrderId": order.cancel_client_id,
            "origClientOrderId": order.client_order_id}


def public_trade_json(trade: Trade) -> dict:
    """A trade as the public lists show it (GET /api/v3/trades, historicalTrades)."""
    return {"id": trade.trade_id, "price": d8(trade.price), "qty": d8(trade.qty),
            "quoteQty": d8(trade.price * trade.qty), "time": trade.time_ms,
            "isBuyerMaker": (trade.side == "BUY") == trade.is_maker, "isBestMatch": True}


def agg_trade_json(trade: Trade) -> dict:
    return {"a": trade.trade_id, "p": d8(trade.price), "q": d8(trade.qty), "f": trade.trade_id,
            "l": trade.trade_id, "T": trade.time_ms, "m": (trade.side == "BUY") == trade.is_maker, "M": True}


def commission_rates(exchange: Exchange) -> dict:
    """GET /api/v3/account/commission (less the symbol): the venue's one rate for maker and taker."""
    rate = d8(exchange.fee_rate)
    none = {"maker": "0.00000000", "taker": "0.00000000", "buyer": "0.00000000", "seller": "0.00000000"}
    return {"standardCommission": {"maker": rate, "taker": rate, "buyer": "0.00000000", "seller": "0.00000000"},
            "specialCommission": dict(none), "taxCommission": dict(none),
            "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                         "discount": "0.00000000"}}


def trade_json(trade: Trade) -> dict:
    return {
        "symbol": trade.symbol, "id": trade.trade_id, "orderId": trade.order_id, "orderListId": -1,
        "price": d8(trade.price), "qty": d8(trade.qty), "quoteQty": d8(trade.price * trade.qty),
        "commission": d8(trade.commission), "commissionAsset": trade.commission_asset, "time": trade.time_ms,
        "isBuyer": trade.side == "BUY", "isMaker": trade.is_maker, "isBestMatch": True,
    }


def balances_json(account: Account) -> list[dict]:
    assets = sorted(set(account.balances) | set(account.locked))
    return [{"asset": a, "free": d8(account.balances.get(a, ZERO)), "locked": d8(account.locked.get(a, ZERO))}
            for a in assets]


def account_json(exchange: Exchange, account: Account) -> dict:
    return {
        "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000",
                            "seller": "0.00000000"},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": exchange.now_ms(),
        "accountType": "SPOT", "balances": balances_json(account), "permissions": ["SPOT"],
        "uid": sum(map(ord, account.name)) * 7919 % 10**9,
    }


def execution_report(exchange: Exchange, order: Order, trade: Trade | None, execution_type: str) -> dict:
    """The spot executionReport event with every field a real one carries."""
    return {
        # a cancel's report carries the cancel's own client id in c, the order's in C
        "e": "executionReport", "E": exchange.now_ms(), "s": order.symbol,
        "c": order.cancel_client_id if execution_type == "CANCELED" and order.cancel_client_id
        else order.client_order_id,
        "S": order.side, "o": order.type, "f": order.time_in_force, "q": d8(order.orig_qty), "p": d8(order.price),
        "P": d8(order.stop_price), "F": "0.00000000", "g": order.order_list_id,
        "C": order.client_order_id if execution_type == "CANCELED"
        else "", "x": execution_type, "X": order.status, "r": "NONE", "i": order.order_id,
        "l": d8(trade.qty if trade else ZERO), "z": d8(order.executed_qty),
        "L": d8(trade.price if trade else ZERO), "n": d8(trade.commission if trade else ZERO),
        "N": trade.commission_asset if trade else None, "T": trade.time_ms if trade else order.update_ms,
        "t": trade.trade_id if trade else -1, "I": order.order_id * 2 + (1 if trade else 0),
        "w": order.is_open and order.working,
        "m": trade.is_maker if trade else False, "M": trade is not None, "O": order.time_ms,
        "Z": d8(order.cumulative_quote), "Y": d8(trade.price * trade.qty if trade else ZERO),
        "Q": d8(order.orig_quote_qty), "W": order.working_ms if order.working else -1, "V": "EXPIRE_MAKER",
    }


def account_position(exchange: Exchange, account: Account, assets: set[str]) -> dict:
    """outboundAccountPosition: the balances an order event changed."""
    return {"e": "outboundAccountPosition", "E": exchange.now_ms(), "u": exchange.now_ms(),
            "B": [{"a": a, "f": d8(account.balances.get(a, ZERO)), "l": d8(account.locked.get(a, ZERO))}
                  for a in sorted(assets)]}


def klines(exchange: Exchange, symbol: str, interval_ms: int, limit: int, start: int | None,
           end: int | None) -> list[list]:
    """Candles built from the price history; intervals with no change repeat the last close."""
    now = exchange.now_ms()
    end = end if end is not None else now
    first = (start if start is not None else end - (limit - 1) * interval_ms) // interval_ms * interval_ms
    history = list(exchange.history[symbol])
    price = history[0][1]
    rows, i = [], 0
    open_time = first
    while open_time <= end and len(rows) < limit:
        close_time = open_time + interval_ms - 1
        while i < len(history) and history[i][0] < open_time:
            price = history[i][1]
            i += 1
        open_, high, low = price, price, price
        while i < len(history) and history[i][0] <= close_time:
            price = history[i][1]
            high, low = max(high, price), min(low, price)
            i += 1
        rows.append([open_time, d8(open_), d8(high), d8(low), d8(price), "0.00000000", close_time,
                     "0.00000000", 0, "0.00000000", "0.00000000", "0"])
        open_time += interval_ms
    return rows


# --- USDⓈ-M perpetuals (fapi) ---------------------------------------------------------------

def futures_symbol_info(sym: Symbol, contract: Contract | None = None) -> dict:
    """A perpetual's exchangeInfo row: its contract's rules where the venue has them, else the
    spot pair's."""
    rules = contract.rules if contract else sym
    market_max = contract.market_max_qty if contract else sym.max_qty
    min_price, max_price = (contract.min_price, contract.max_price) if contract else (sym.tick_size, Decimal(4529764))
    return {
        "symbol": sym.name, "pair": sym.name, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": sym.base, "quoteAsset": sym.quote, "marginAsset": "USDT",
        "pricePrecision": max(0, -rules.tick_size.normalize().as_tuple().exponent),
        "quantityPrecision": max(0, -rules.step_size.normalize().as_tuple().exponent),
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
        "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": f"{min_price:f}", "maxPrice": f"{max_price:f}",
             "tickSize": f"{rules.tick_size:f}"},
            {"filterType": "LOT_SIZE", "minQty": fx(rules.min_qty), "maxQty": fx(rules.max_qty),
             "stepSize": fx(rules.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": fx(rules.min_qty), "maxQty": fx(market_max),
             "stepSize": fx(rules.step_size)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": fx(rules.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


def leverage_brackets_json(symbol: str, brackets: tuple[Bracket, ...]) -> dict:
    """GET /fapi/v1/leverageBracket's row for one symbol (numbers as JSON numbers, as Binance sends)."""
    return {"symbol": symbol, "brackets": [
        {"bracket": b.bracket, "initialLeverage": b.initial_leverage, "notionalCap": int(b.notional_cap),
         "notionalFloor": int(b.notional_floor), "maintMarginRatio": float(b.maint_margin_ratio), "cum": float(b.cum)}
        for b in brackets]}


def income_json(row: Income) -> dict:
    return {"symbol": row.symbol, "incomeType": row.income_type, "income": fx(row.income), "asset": "USDT",
            "info": row.info, "time": row.time_ms, "tranId": row.tran_id, "tradeId": row.trade_id}


def futures_order_json(order: PerpOrder, *, as_accepted: bool = False) -> dict:
    """The order now, or (as_accepted) as it stood when accepted: what an ACK response shows."""
    executed, quote, average = (ZERO, ZERO, ZERO) if as_accepted else \
        (order.executed_qty, order.cumulative_quote, order.average_price)
    return {
        "orderId": order.order_id, "symbol": order.symbol, "status": "NEW" if as_accepted else order.status,
        "clientOrderId": order.client_order_id, "price": fx(order.price), "avgPrice": fx(average),
        "origQty": fx(order.orig_qty), "executedQty": fx(executed), "cumQty": fx(executed),
        "cumQuote": fx(quote), "timeInForce": order.time_in_force, "type": order.type,
        "reduceOnly": order.reduce_only, "closePosition": order.close_position, "side": order.side,
        "positionSide": order.position_side, "stopPrice": fx(order.stop_price), "workingType": "CONTRACT_PRICE",
        "priceProtect": False, "origType": order.orig_type or order.type, "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0, "time": order.time_ms, "updateTime": order.time_ms if as_accepted else order.update_ms,
    }


def futures_trade_json(trade: Trade) -> dict:
    return {
        "buyer": trade.side == "BUY", "commission": fx(trade.commission), "commissionAsset": trade.commission_asset,
        "id": trade.trade_id, "maker": trade.is_maker, "orderId": trade.order_id, "price": fx(trade.price),
        "qty": fx(trade.qty), "quoteQty": fx(trade.price * trade.qty), "realizedPnl": fx(trade.realized_pnl),
        "side": trade.side, "positionSide": trade.position_side, "symbol": trade.symbol, "time": trade.time_ms,
    }


def futures_positions_json(perps: Perpetuals, book: PerpAccount, *, every_symbol: bool = True) -> list[dict]:
    """positionRisk rows. v2 lists every symbol (one row per position side); v3 only those
    with a position or an open order."""
    sides = ("LONG", "SHORT") if book.dual_side else ("BOTH",)
    rows = []
    for symbol in perps.exchange.symbols:
        for side in sides:
            position = book.positions.get((symbol, side))
            quantity = position.quantity if position else ZERO
            if not every_symbol and not quantity and not perps.open_orders_for(book, symbol):
                continue
            entry = position.entry_price if position else ZERO
            mark = perps.exchange.prices[symbol]
            leverage = perps.leverage(book, symbol)
            unrealized = (mark - entry) * quantity
            rows.append({
                "symbol": symbol, "positionAmt": fx(quantity), "entryPrice": fx(entry), "breakEvenPrice": fx(entry),
                "markPrice": fx(mark), "unRealizedProfit": fx(unrealized), "liquidationPrice": "0",
                "leverage": str(leverage),
                "maxNotionalValue": fx(perps.max_notional_value(book, symbol) or Decimal(1_000_000)),
                "marginType": book.margin_type.get(symbol, "cross"), "isolatedMargin": "0",
                "isAutoAddMargin": "false", "positionSide": side, "notional": fx(quantity * mark),
                "isolatedWallet": "0", "initialMargin": fx(abs(quantity) * mark / leverage),
                "maintMargin": fx(abs(quantity) * mark * Decimal("0.004")),
                "updateTime": perps.exchange.now_ms(),
            })
    return rows


def futures_account_json(perps: Perpetuals, book: PerpAccount) -> dict:
    unrealized = perps.unrealized_total(book)
    available = perps.available(book)
    position_margin = perps.position_margin(book)
    order_margin = perps.order_margin(book)
    asset = {"asset": "USDT", "walletBalance": fx(book.wallet), "unrealizedProfit": fx(unrealized),
             "marginBalance": fx(book.wallet + unrealized), "maintMargin": "0",
             "initialMargin": fx(position_margin + order_margin), "positionInitialMargin": fx(position_margin),
             "openOrderInitialMargin": fx(order_margin), "crossWalletBalance": fx(book.wallet),
             "crossUnPnl": fx(unrealized), "availableBalance": fx(available), "maxWithdrawAmount": fx(available),
             "marginAvailable": True, "updateTime": perps.exchange.now_ms()}
    return {"totalInitialMargin": asset["initialMargin"], "totalMaintMargin": "0",
            "totalWalletBalance": asset["walletBalance"], "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"], "totalPositionInitialMargin": fx(position_margin),
            "totalOpenOrderInitialMargin": fx(order_margin), "totalCrossWalletBalance": asset["walletBalance"],
            "totalCrossUnPnl": asset["unrealizedProfit"], "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"], "assets": [asset],
            "positions": [p for p in futures_positions_json(perps, book) if p["positionAmt"] != "0"]}


def futures_balance_json(perps: Perpetuals, book: PerpAccount) -> list[dict]:
    asset = futures_account_json(perps, book)["assets"][0]
    return [{"accountAlias": "SgsR", "asset": "USDT", "balance": asset["walletBalance"],
             "crossWalletBalance": asset["crossWalletBalance"], "crossUnPnl": asset["crossUnPnl"],
             "availableBalance": asset["availableBalance"], "maxWithdrawAmount": asset["maxWithdrawAmount"],
             "marginAvailable": True, "updateTime": asset["updateTime"]}]


def order_trade_update(exchange: Exchange, order: PerpOrder, trade: Trade | None, execution_type: str) -> dict:
    return {"e": "ORDER_TRADE_UPDATE", "E": exchange.now_ms(), "T": order.update_ms, "o": {
        "s": order.symbol, "c": order.client_order_id, "S": order.side, "o": order.type, "f": order.time_in_force,
        "q": fx(order.orig_qty), "p": fx(order.price), "ap": fx(order.average_price), "sp": fx(order.stop_price),
        "x": execution_type, "X": order.status, "i": order.order_id, "l": fx(trade.qty if trade else ZERO),
        "z": fx(order.executed_qty), "L": fx(trade.price if trade else ZERO), "N": "USDT",
        "n": fx(trade.commission if trade else ZERO), "T": trade.time_ms if trade else order.update_ms,
        "t": trade.trade_id if trade else 0, "b": "0", "a": "0", "m": trade.is_maker if trade else False,
        "R": order.reduce_only, "wt": "CONTRACT_PRICE", "ot": order.orig_type or order.type,
        "ps": order.position_side, "cp": order.close_position, "rp": fx(trade.realized_pnl if trade else ZERO),
        "pP": False, "si": 0, "ss": 0,
        "V": "NONE", "pm": "NONE", "gtd": 0}}


def account_update(perps: Perpetuals, book: PerpAccount, symbol: str) -> dict:
    rows = [p for p in futures_positions_json(perps, book) if p["symbol"] == symbol]
    return {"e": "ACCOUNT_UPDATE", "E": perps.exchange.now_ms(), "T": perps.exchange.now_ms(), "a": {
        "m": "ORDER", "B": [{"a": "USDT", "wb": fx(book.wallet), "cw": fx(book.wallet), "bc": "0"}],
        "P": [{"s": p["symbol"], "pa": p["positionAmt"], "ep": p["entryPrice"], "bep": p["breakEvenPrice"],
               "cr": "0", "up": p["unRealizedProfit"], "mt": p["marginType"], "iw": "0", "ps": p["positionSide"]}
              for p in rows]}}


def algo_json(algo: AlgoOrder) -> dict:
    """A conditional order as POST/GET /fapi/v1/algoOrder show it (the actual order's id, fill
    and average once it triggered)."""
    body = {
        "algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "algoType": "CONDITIONAL",
        "orderType": algo.type, "symbol": algo.symbol, "side": algo.side, "positionSide": algo.position_side,
        "timeInForce": algo.time_in_force, "quantity": fx(algo.quantity), "algoStatus": algo.status,
        "triggerPrice": fx(algo.trigger_price), "price": fx(algo.price), "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": algo.working_type, "priceMatch": "NONE",
        "closePosition": algo.close_position, "priceProtect": algo.price_protect, "reduceOnly": algo.reduce_only,
        "createTime": algo.create_ms, "updateTime": algo.update_ms, "triggerTime": algo.trigger_ms,
        "goodTillDate": 0,
    }
    if algo.actual_order_id is not None:
        body.update({"actualOrderId": str(algo.actual_order_id), "executedQty": fx(algo.executed_qty),
                     "avgPrice": fx(algo.avg_price)})
    return body


def algo_update(exchange: Exchange, algo: AlgoOrder) -> dict:
    """The ALGO_UPDATE user-data event."""
    triggered = algo.actual_order_id is not None
    return {"e": "ALGO_UPDATE", "T": exchange.now_ms(), "E": exchange.now_ms(), "o": {
        "caid": algo.client_algo_id, "aid": algo.algo_id, "at": "CONDITIONAL", "o": algo.type, "s": algo.symbol,
        "S": algo.side, "ps": algo.position_side, "f": algo.time_in_force, "q": fx(algo.quantity),
        "X": algo.status, "ai": str(algo.actual_order_id) if triggered else "",
        "ap": fx(algo.avg_price) if triggered else "0.00000", "aq": fx(algo.executed_qty) if triggered else "0.00000",
        "act": ("LIMIT" if algo.type in ("STOP", "TAKE_PROFIT") else "MARKET") if triggered else "0",
        "tp": fx(algo.trigger_price), "p": fx(algo.price), "V": "EXPIRE_MAKER", "wt": algo.working_type,
        "pm": "NONE", "cp": algo.close_position, "pP": algo.price_protect, "R": algo.reduce_only,
        "tt": algo.trigger_ms, "gtd": 0, "rm": algo.reject_reason}}
