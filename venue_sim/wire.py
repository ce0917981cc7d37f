"""Binance's JSON shapes for orders, trades, balances and user-data events."""

from __future__ import annotations

from decimal import Decimal

from venue_sim.exchange import Account, Exchange, Order, Symbol, Trade


def d8(value: Decimal) -> str:
    return f"{value:.8f}"


def symbol_info(sym: Symbol) -> dict:
    return {
        "symbol": sym.name, "status": "TRADING", "baseAsset": sym.base, "baseAssetPrecision": 8,
        "quoteAsset": sym.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"], "icebergAllowed": False, "ocoAllowed": False,
        "otoAllowed": False, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": d8(sym.tick_size), "maxPrice": "1000000.00000000",
             "tickSize": d8(sym.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": d8(sym.min_qty), "maxQty": "9000.00000000",
             "stepSize": d8(sym.step_size)},
            {"filterType": "NOTIONAL", "minNotional": d8(sym.min_notional), "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def order_json(order: Order, trades: list[Trade] | None = None) -> dict:
    body = {
        "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
        "clientOrderId": order.client_order_id, "transactTime": order.update_ms, "price": d8(order.price),
        "origQty": d8(order.orig_qty), "executedQty": d8(order.executed_qty),
        "cummulativeQuoteQty": d8(order.cumulative_quote), "origQuoteOrderQty": "0.00000000",
        "status": order.status, "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
        "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": order.time_ms, "updateTime": order.update_ms,
        "isWorking": order.is_open, "workingTime": order.time_ms, "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if trades is not None:
        body["fills"] = [{"price": d8(t.price), "qty": d8(t.qty), "commission": d8(t.commission),
                          "commissionAsset": t.commission_asset, "tradeId": t.trade_id} for t in trades]
    return body


def trade_json(trade: Trade) -> dict:
    return {
        "symbol": trade.symbol, "id": trade.trade_id, "orderId": trade.order_id, "orderListId": -1,
        "price": d8(trade.price), "qty": d8(trade.qty), "quoteQty": d8(trade.price * trade.qty),
        "commission": d8(trade.commission), "commissionAsset": trade.commission_asset, "time": trade.time_ms,
        "isBuyer": trade.side == "BUY", "isMaker": trade.is_maker, "isBestMatch": True,
    }


def account_json(exchange: Exchange, account: Account) -> dict:
    assets = sorted(set(account.balances) | set(account.locked))
    return {
        "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000",
                            "seller": "0.00000000"},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": exchange.now_ms(),
        "accountType": "SPOT",
        "balances": [{"asset": a, "free": d8(account.balances.get(a, Decimal(0))),
                      "locked": d8(account.locked.get(a, Decimal(0)))} for a in assets],
        "permissions": ["SPOT"], "uid": abs(hash(account.name)) % 10**9,
    }


def execution_report(exchange: Exchange, order: Order, trade: Trade | None, execution_type: str) -> dict:
    """The executionReport event, every field of a real one (ccxt.pro parses them)."""
    return {
        "e": "executionReport", "E": exchange.now_ms(), "s": order.symbol, "c": order.client_order_id,
        "S": order.side, "o": order.type, "f": order.time_in_force, "q": d8(order.orig_qty), "p": d8(order.price),
        "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "", "x": execution_type, "X": order.status,
        "r": "NONE", "i": order.order_id, "l": d8(trade.qty if trade else Decimal(0)),
        "z": d8(order.executed_qty), "L": d8(trade.price if trade else Decimal(0)),
        "n": d8(trade.commission if trade else Decimal(0)), "N": trade.commission_asset if trade else None,
        "T": trade.time_ms if trade else order.update_ms, "t": trade.trade_id if trade else -1,
        "I": order.order_id * 2, "w": order.is_open, "m": trade.is_maker if trade else False, "M": False,
        "O": order.time_ms, "Z": d8(order.cumulative_quote),
        "Y": d8(trade.price * trade.qty if trade else Decimal(0)), "Q": "0.00000000", "W": order.time_ms,
        "V": "EXPIRE_MAKER",
    }


# --- USDⓈ-M perpetuals (fapi) -------------------------------------------------------------

def futures_symbol_info(sym: Symbol) -> dict:
    return {
        "symbol": sym.name, "pair": sym.name, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": sym.base, "quoteAsset": sym.quote, "marginAsset": "USDT",
        "pricePrecision": 2, "quantityPrecision": 5, "baseAssetPrecision": 8, "quotePrecision": 8,
        "underlyingType": "COIN", "underlyingSubType": [], "triggerProtect": "0.0500", "liquidationFee": "0.012500",
        "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": str(sym.tick_size), "maxPrice": "4529764",
             "tickSize": str(sym.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": str(sym.min_qty), "maxQty": "1000", "stepSize": str(sym.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": str(sym.min_qty), "maxQty": "120",
             "stepSize": str(sym.step_size)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": str(sym.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


def futures_order_json(order) -> dict:
    return {
        "orderId": order.order_id, "symbol": order.symbol, "status": order.status,
        "clientOrderId": order.client_order_id, "price": str(order.price), "avgPrice": str(order.average_price),
        "origQty": str(order.orig_qty), "executedQty": str(order.executed_qty), "cumQty": str(order.executed_qty),
        "cumQuote": str(order.cumulative_quote), "timeInForce": order.time_in_force, "type": order.type,
        "reduceOnly": order.reduce_only, "closePosition": False, "side": order.side,
        "positionSide": order.position_side, "stopPrice": "0", "workingType": "CONTRACT_PRICE",
        "priceProtect": False, "origType": order.type, "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
        "goodTillDate": 0, "time": order.time_ms, "updateTime": order.update_ms,
    }


def futures_trade_json(trade: Trade, realized: Decimal = Decimal(0)) -> dict:
    return {
        "buyer": trade.side == "BUY", "commission": str(trade.commission), "commissionAsset": trade.commission_asset,
        "id": trade.trade_id, "maker": trade.is_maker, "orderId": trade.order_id, "price": str(trade.price),
        "qty": str(trade.qty), "quoteQty": str(trade.price * trade.qty), "realizedPnl": str(realized),
        "side": trade.side, "positionSide": "BOTH", "symbol": trade.symbol, "time": trade.time_ms,
    }


def futures_positions_json(futures, book) -> list[dict]:
    rows = []
    for (symbol, side), position in book.positions.items():
        mark = futures.exchange.prices[symbol]
        rows.append({
            "symbol": symbol, "positionAmt": str(position.quantity), "entryPrice": str(position.entry_price),
            "breakEvenPrice": str(position.entry_price), "markPrice": str(mark),
            "unRealizedProfit": str(futures.unrealized(symbol, position)), "liquidationPrice": "0",
            "leverage": str(book.leverage.get(symbol, 20)), "maxNotionalValue": "1000000",
            "marginType": book.margin_type.get(symbol, "cross"), "isolatedMargin": "0", "isAutoAddMargin": "false",
            "positionSide": side, "notional": str(position.quantity * mark), "isolatedWallet": "0",
            "initialMargin": str(abs(position.quantity) * mark / book.leverage.get(symbol, 20)),
            "updateTime": futures.exchange.now_ms(),
        })
    return rows


def futures_account_json(futures, book) -> dict:
    unrealized = sum((futures.unrealized(s, p) for (s, _), p in book.positions.items()), Decimal(0))
    available = futures.available(book)
    asset = {"asset": "USDT", "walletBalance": str(book.wallet), "unrealizedProfit": str(unrealized),
             "marginBalance": str(book.wallet + unrealized), "maintMargin": "0",
             "initialMargin": str(futures.used_margin(book)), "positionInitialMargin": str(futures.used_margin(book)),
             "openOrderInitialMargin": "0", "crossWalletBalance": str(book.wallet), "crossUnPnl": str(unrealized),
             "availableBalance": str(available), "maxWithdrawAmount": str(available), "marginAvailable": True,
             "updateTime": futures.exchange.now_ms()}
    return {"totalInitialMargin": asset["initialMargin"], "totalMaintMargin": "0",
            "totalWalletBalance": asset["walletBalance"], "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"], "totalPositionInitialMargin": asset["initialMargin"],
            "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": asset["walletBalance"],
            "totalCrossUnPnl": asset["unrealizedProfit"], "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"], "assets": [asset],
            "positions": futures_positions_json(futures, book)}


def futures_balance_json(futures, book) -> list[dict]:
    account = futures_account_json(futures, book)["assets"][0]
    return [{"accountAlias": "sim", "asset": "USDT", "balance": account["walletBalance"],
             "crossWalletBalance": account["crossWalletBalance"], "crossUnPnl": account["crossUnPnl"],
             "availableBalance": account["availableBalance"], "maxWithdrawAmount": account["maxWithdrawAmount"],
             "marginAvailable": True, "updateTime": account["updateTime"]}]


def order_trade_update(exchange: Exchange, order, trade: Trade | None, execution_type: str) -> dict:
    return {"e": "ORDER_TRADE_UPDATE", "E": exchange.now_ms(), "T": order.update_ms, "o": {
        "s": order.symbol, "c": order.client_order_id, "S": order.side, "o": order.type, "f": order.time_in_force,
        "q": str(order.orig_qty), "p": str(order.price), "ap": str(order.average_price), "sp": "0",
        "x": execution_type, "X": order.status, "i": order.order_id, "l": str(trade.qty if trade else 0),
        "z": str(order.executed_qty), "L": str(trade.price if trade else 0), "N": "USDT",
        "n": str(trade.commission if trade else 0), "T": trade.time_ms if trade else order.update_ms,
        "t": trade.trade_id if trade else 0, "b": "0", "a": "0", "m": trade.is_maker if trade else False,
        "R": order.reduce_only, "wt": "CONTRACT_PRICE", "ot": order.type, "ps": order.position_side,
        "cp": False, "rp": str(order.realized_pnl), "pP": False, "si": 0, "ss": 0, "V": "NONE", "pm": "NONE",
        "gtd": 0}}


def account_update(futures, book, symbol: str) -> dict:
    positions = [p for p in futures_positions_json(futures, book) if p["symbol"] == symbol]
    return {"e": "ACCOUNT_UPDATE", "E": futures.exchange.now_ms(), "T": futures.exchange.now_ms(), "a": {
        "m": "ORDER", "B": [{"a": "USDT", "wb": str(book.wallet), "cw": str(book.wallet), "bc": "0"}],
        "P": [{"s": p["symbol"], "pa": p["positionAmt"], "ep": p["entryPrice"], "bep": p["breakEvenPrice"],
               "cr": "0", "up": p["unRealizedProfit"], "mt": p["marginType"], "iw": "0", "ps": p["positionSide"]}
              for p in positions]}}
