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
