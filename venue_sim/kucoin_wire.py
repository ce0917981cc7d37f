"""KuCoin's JSON shapes: the {code, data} envelope ("200000" is success), spot symbols and
tickers, the high-frequency (HF) spot account, its orders and fills; and on the futures API
the active contracts, the account overview, positions, orders and fills — field for field as
KuCoin documents them and ccxt's kucoin parses them.

Spot sizes are coins; a futures contract (XBTUSDTM for BTC) is `multiplier` coins (BTC 0.001,
ETH 0.01, SOL 0.1) and orders are whole contracts. The futures API answers numbers where the
spot API answers strings, as KuCoin does. Order and trade ids are 24 hex digits."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from venue_sim.book import ZERO, Account, Exchange, Order, Symbol, Trade
from venue_sim.perp_book import PerpAccount, PerpOrder, Perpetuals
from venue_sim.wire import fx

# KuCoin's own spot rules (baseIncrement, baseMinSize, priceIncrement, minFunds).
SYMBOLS = (
    Symbol("BTCUSDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.00000001"), Decimal("0.00001"), Decimal("0.1"),
           Decimal("64000"), max_qty=Decimal(10_000_000_000)),
    Symbol("ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.0000001"), Decimal("0.0001"), Decimal("0.1"),
           Decimal("3200"), max_qty=Decimal(10_000_000_000)),
    Symbol("SOLUSDT", "SOL", "USDT", Decimal("0.01"), Decimal("0.0001"), Decimal("0.01"), Decimal("0.1"),
           Decimal("150"), max_qty=Decimal(10_000_000_000)),
)
ID_BASE = 0x6556_0880_34D1_1100_0000_0000  # spot ids read like KuCoin's ("6556088034d1110007...")
FUTURES_ID_BASE = 0x5CDF_E5F1_D1E4_8B00_0000_0000
CODE_OK = "200000"
BASE_ALIASES = {"BTC": "XBT"}  # KuCoin futures name bitcoin XBT (XBTUSDTM)


@dataclass(frozen=True)
class Contract:
    """A USDT-margined perpetual as KuCoin lists it: whole contracts of `multiplier` coins."""

    multiplier: Decimal
    tick: Decimal
    max_leverage: int


# KuCoin's published rules for the default symbols' perpetuals (SOLUSDTM ticks 0.001 there; the
# books tick SOL at 0.01, so it does here); any other symbol: one coin per contract.
CONTRACTS = {"BTCUSDT": Contract(Decimal("0.001"), Decimal("0.1"), 125),
             "ETHUSDT": Contract(Decimal("0.01"), Decimal("0.01"), 100),
             "SOLUSDT": Contract(Decimal("0.1"), Decimal("0.01"), 75)}


def contract(sym: Symbol) -> Contract:
    return CONTRACTS.get(sym.name) or Contract(Decimal(1), sym.tick_size, 50)


def envelope(data) -> dict:
    return {"code": CODE_OK, "data": data}


def spot_id(sym: Symbol) -> str:
    return f"{sym.base}-{sym.quote}"


def futures_id(sym: Symbol) -> str:
    return f"{BASE_ALIASES.get(sym.base, sym.base)}{sym.quote}M"


def book_symbol(exchange: Exchange, raw: str, futures: bool) -> Symbol | None:
    if not isinstance(raw, str):
        return None
    for sym in exchange.symbols.values():
        if raw == (futures_id(sym) if futures else spot_id(sym)):
            return sym
    return None


def order_id(order: Order) -> str:
    return f"{(FUTURES_ID_BASE if isinstance(order, PerpOrder) else ID_BASE) + order.order_id:024x}"


def trade_id(trade: Trade, futures: bool) -> str:
    """Spot (HF) trade ids are numbers, futures ones 24 hex digits, on REST and the stream alike."""
    return f"{FUTURES_ID_BASE + trade.trade_id:024x}" if futures else str(trade.trade_id)


def parse_id(raw: str, futures: bool) -> int | None:
    """The book's number behind a KuCoin id; None for an id this venue never issued."""
    try:
        number = int(raw, 16) - (FUTURES_ID_BASE if futures else ID_BASE)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**48 else None


def contracts(sym: Symbol, coins: Decimal) -> Decimal:
    return coins / contract(sym).multiplier


def number(value: Decimal) -> int | float:
    """A JSON number as the futures API writes it (an integer when whole)."""
    return int(value) if value == value.to_integral_value() else float(value)


# --- spot ---------------------------------------------------------------------------------

def spot_symbol(sym: Symbol) -> dict:
    return {"symbol": spot_id(sym), "name": spot_id(sym), "baseCurrency": sym.base, "quoteCurrency": sym.quote,
            "feeCurrency": sym.quote, "market": "USDS", "baseMinSize": fx(sym.min_qty), "quoteMinSize": fx(sym.min_notional),
            "baseMaxSize": fx(sym.max_qty), "quoteMaxSize": "99999999", "baseIncrement": fx(sym.step_size),
            "quoteIncrement": "0.000001", "priceIncrement": fx(sym.tick_size), "priceLimitRate": "0.1",
            "minFunds": fx(sym.min_notional), "isMarginEnabled": False, "enableTrading": True, "feeCategory": 1,
            "makerFeeCoefficient": "1.00", "takerFeeCoefficient": "1.00", "st": False, "callauctionIsEnabled": False,
            "callauctionPriceFloor": None, "callauctionPriceCeiling": None, "callauctionFirstStageStartTime": None,
            "callauctionSecondStageStartTime": None, "callauctionThirdStageStartTime": None, "tradingStartTime": None}


def day(exchange: Exchange, sym: Symbol) -> list[Decimal]:
    now = exchange.now_ms()
    return [p for t, p in exchange.history[sym.name] if t >= now - 86_400_000] or [exchange.prices[sym.name]]


def spot_ticker(exchange: Exchange, sym: Symbol, *, stats: bool = False) -> dict:
    prices = day(exchange, sym)
    last, first, tick = prices[-1], prices[0], sym.tick_size
    row = {"symbol": spot_id(sym), "symbolName": spot_id(sym), "buy": fx(last - tick), "bestBidSize": "10",
           "sell": fx(last + tick), "bestAskSize": "10", "changeRate": fx(((last - first) / first).quantize(Decimal("1e-4"))),
           "changePrice": fx(last - first), "high": fx(max(prices)), "low": fx(min(prices)), "vol": "0", "volValue": "0",
           "last": fx(last), "averagePrice": fx(last), "takerFeeRate": fx(exchange.fee_rate),
           "makerFeeRate": fx(exchange.fee_rate), "takerCoefficient": "1", "makerCoefficient": "1"}
    if stats:
        row["time"] = exchange.now_ms()
    return row


def spot_account(account: Account, currency: str, number_: int) -> dict:
    free, locked = account.balances.get(currency, ZERO), account.locked.get(currency, ZERO)
    return {"id": f"{ID_BASE + number_:024x}", "currency": currency, "type": "trade_hf",
            "balance": fx(free + locked), "available": fx(free), "holds": fx(locked)}


def spot_order(exchange: Exchange, order: Order, trades: list[Trade]) -> dict:
    """An HF order as GET /api/v1/hf/orders/... shows it. Fees as the books charge them, in
    the asset received (KuCoin charges the quote currency)."""
    sym = exchange.symbols[order.symbol]
    fee = sum((t.commission for t in trades if t.order_id == order.order_id), ZERO)
    market = order.type == "MARKET"
    done = not order.is_open
    canceled = order.status in ("CANCELED", "EXPIRED")
    return {"id": order_id(order), "clientOid": order.client_order_id, "symbol": spot_id(sym), "opType": "DEAL",
            "type": order.type.lower(), "side": order.side.lower(), "price": "0" if market else fx(order.price),
            "size": fx(order.orig_qty), "funds": fx(order.orig_quote_qty), "dealSize": fx(order.executed_qty),
            "dealFunds": fx(order.cumulative_quote), "fee": fx(fee),
            "feeCurrency": sym.base if order.side == "BUY" else sym.quote, "stp": "",
            "timeInForce": "GTC" if market else order.time_in_force, "postOnly": False, "hidden": False,
            "iceberg": False, "visibleSize": "0", "cancelAfter": 0, "channel": "API", "remark": None, "tags": None,
            "cancelExist": canceled, "tradeType": "TRADE", "inOrderBook": not done and not market,
            "cancelledSize": fx(order.remaining) if canceled else "0",
            "cancelledFunds": fx(order.remaining * order.price) if canceled else "0",
            "remainSize": "0" if done else fx(order.remaining), "remainFunds": "0", "tax": "0", "active": not done,
            "createdAt": order.time_ms, "lastUpdatedAt": order.update_ms}


def spot_fill(exchange: Exchange, order: Order, trade: Trade) -> dict:
    """A row of GET /api/v1/hf/fills (the fee as the books charge it)."""
    sym = exchange.symbols[trade.symbol]
    notional = trade.price * trade.qty
    return {"id": trade.trade_id, "orderId": order_id(order), "counterOrderId": f"{trade.trade_id:024x}",
            "tradeId": trade.trade_id, "symbol": spot_id(sym), "side": trade.side.lower(),
            "liquidity": "maker" if trade.is_maker else "taker", "type": order.type.lower(), "forceTaker": False,
            "price": fx(trade.price), "size": fx(trade.qty), "funds": fx(notional), "fee": fx(trade.commission),
            "feeRate": fx(exchange.fee_rate), "feeCurrency": trade.commission_asset, "stop": "", "tradeType": "TRADE",
            "taxRate": "0", "tax": "0", "createdAt": trade.time_ms}


# --- futures ------------------------------------------------------------------------------

def futures_contract(exchange: Exchange, sym: Symbol, listed_ms: int) -> dict:
    spec = contract(sym)
    price = exchange.prices[sym.name]
    prices = day(exchange, sym)
    now = exchange.now_ms()
    base = BASE_ALIASES.get(sym.base, sym.base)
    return {"symbol": futures_id(sym), "rootSymbol": sym.quote, "type": "FFWCSX", "firstOpenDate": listed_ms,
            "expireDate": None, "settleDate": None, "baseCurrency": base, "quoteCurrency": sym.quote,
            "settleCurrency": sym.quote, "maxOrderQty": 1_000_000, "maxPrice": 1_000_000.0, "lotSize": 1,
            "tickSize": number(spec.tick), "indexPriceTickSize": 0.01, "multiplier": number(spec.multiplier),
            "initialMargin": float(1 / Decimal(spec.max_leverage)), "maintainMargin": 0.004, "maxRiskLimit": 100000,
            "minRiskLimit": 100000, "riskStep": 50000, "makerFeeRate": 0.0002, "takerFeeRate": 0.0006,
            "takerFixFee": 0.0, "makerFixFee": 0.0, "settlementFee": None, "isDeleverage": True, "isQuanto": True,
            "isInverse": False, "markMethod": "FairPrice", "fairMethod": "FundingRate",
            "fundingBaseSymbol": f".{base}INT8H", "fundingQuoteSymbol": f".{sym.quote}INT8H",
            "fundingRateSymbol": f".{futures_id(sym)}FPI8H", "indexSymbol": f".K{base}{sym.quote}",
            "settlementSymbol": "", "status": "Open", "fundingFeeRate": 0.0001, "predictedFundingFeeRate": 0.0001,
            "fundingRateGranularity": 28_800_000, "openInterest": "0", "turnoverOf24h": 0.0, "volumeOf24h": 0.0,
            "markPrice": number(price), "indexPrice": number(price), "lastTradePrice": number(price),
            "nextFundingRateTime": 28_800_000 - now % 28_800_000, "maxLeverage": spec.max_leverage,
            "sourceExchanges": ["okex", "binance", "kucoin"], "lowPrice": number(min(prices)),
            "highPrice": number(max(prices)), "priceChgPct": float(((prices[-1] - prices[0]) / prices[0])
                                                                   .quantize(Decimal("1e-4"))),
            "priceChg": number(prices[-1] - prices[0]), "supportCross": True, "buyLimit": number(price * 2),
            "sellLimit": number(price / 2)}


def futures_ticker(exchange: Exchange, sym: Symbol) -> dict:
    price, tick = exchange.prices[sym.name], contract(sym).tick
    return {"sequence": exchange.now_ms(), "symbol": futures_id(sym), "side": "buy", "size": 1, "tradeId": "0",
            "price": fx(price), "bestBidPrice": fx(price - tick), "bestBidSize": 10, "bestAskPrice": fx(price + tick),
            "bestAskSize": 10, "ts": exchange.now_ms() * 1_000_000}


def account_overview(perps: Perpetuals, book: PerpAccount, currency: str) -> dict:
    upl = perps.unrealized_total(book)
    return {"accountEquity": number(book.wallet + upl), "unrealisedPNL": number(upl),
            "marginBalance": number(book.wallet + upl), "positionMargin": number(perps.position_margin(book)),
            "orderMargin": number(perps.order_margin(book)), "frozenFunds": 0,
            "availableBalance": number(perps.available(book)), "currency": currency, "riskRatio": 0,
            "maxWithdrawAmount": number(perps.available(book))}


def position(perps: Perpetuals, book: PerpAccount, sym: Symbol, pos_id: str) -> dict:
    held = book.positions[(sym.name, "BOTH")]
    mark, lever = perps.exchange.prices[sym.name], perps.leverage(book, sym.name)
    qty = contracts(sym, held.quantity)
    cost = held.quantity * held.entry_price
    upl = perps.unrealized(sym.name, held)
    now = perps.exchange.now_ms()
    return {"id": pos_id, "symbol": futures_id(sym), "autoDeposit": False, "crossMode": True, "marginMode": "CROSS",
            "positionSide": "BOTH", "maintMarginReq": 0.004, "riskLimit": 100000, "realLeverage": lever,
            "leverage": lever, "delevPercentage": 0.1, "openingTimestamp": now, "currentTimestamp": now,
            "currentQty": number(qty), "currentCost": number(cost), "currentComm": 0, "unrealisedCost": number(cost),
            "realisedGrossCost": 0, "realisedCost": 0, "isOpen": True, "markPrice": number(mark),
            "markValue": number(held.quantity * mark), "posCost": number(cost), "posCross": 0, "posCrossMargin": 0,
            "posInit": number(abs(cost) / lever), "posComm": 0, "posCommCommon": 0, "posLoss": 0,
            "posMargin": number(abs(cost) / lever), "posFunding": 0, "posMaint": number(abs(cost) * Decimal("0.004")),
            "maintMargin": number(abs(cost) / lever + upl), "realisedGrossPnl": 0, "realisedPnl": 0,
            "unrealisedPnl": number(upl), "unrealisedPnlPcnt": 0, "unrealisedRoePcnt": 0,
            "avgEntryPrice": number(held.entry_price), "liquidationPrice": 0, "bankruptPrice": 0,
            "settleCurrency": sym.quote, "isInverse": False, "maintainMargin": 0.004}


def futures_order(exchange: Exchange, perps: Perpetuals, account: Account, order: PerpOrder) -> dict:
    sym = exchange.symbols[order.symbol]
    trades = [t for t in perps.book(account).trades if t.order_id == order.order_id]
    fee = sum((t.commission for t in trades), ZERO)
    executed = order.executed_qty
    done = not order.is_open
    market = order.type == "MARKET"
    return {"id": order_id(order), "symbol": futures_id(sym), "type": order.type.lower(), "side": order.side.lower(),
            "price": None if market else fx(order.price), "size": number(contracts(sym, order.orig_qty)),
            "value": fx(order.orig_qty * (order.price or exchange.prices[sym.name])),
            "dealValue": fx(order.cumulative_quote), "dealSize": number(contracts(sym, executed)), "stp": "",
            "stop": "", "stopPriceType": "", "stopTriggered": False, "stopPrice": None,
            "timeInForce": "GTC" if market or order.time_in_force == "GTX" else order.time_in_force,
            "postOnly": order.time_in_force == "GTX", "hidden": False, "iceberg": False,
            "leverage": str(perps.leverage(perps.book(account), sym.name)), "forceHold": False,
            "closeOrder": False, "visibleSize": None, "clientOid": order.client_order_id, "remark": None, "tags": "",
            "isActive": not done, "cancelExist": order.status in ("CANCELED", "EXPIRED"),
            "createdAt": order.time_ms, "updatedAt": order.update_ms, "endAt": order.update_ms if done else None,
            "orderTime": order.time_ms * 1_000_000, "settleCurrency": sym.quote, "marginMode": "CROSS",
            "positionSide": "BOTH", "avgDealPrice": fx(order.cumulative_quote / executed) if executed else "0",
            "filledSize": number(contracts(sym, executed)), "filledValue": fx(order.cumulative_quote),
            "status": "done" if done else "open", "reduceOnly": order.reduce_only, "fee": fx(fee),
            "feeCurrency": sym.quote}


def futures_fill(exchange: Exchange, order: PerpOrder, trade: Trade) -> dict:
    sym = exchange.symbols[trade.symbol]
    notional = trade.price * trade.qty
    return {"symbol": futures_id(sym), "tradeId": trade_id(trade, True), "orderId": order_id(order),
            "side": trade.side.lower(), "liquidity": "maker" if trade.is_maker else "taker", "forceTaker": False,
            "price": fx(trade.price), "size": number(contracts(sym, trade.qty)), "value": fx(notional),
            "openFeePay": fx(trade.commission), "closeFeePay": "0", "stop": "",
            "feeRate": fx(trade.commission / notional) if notional else "0", "fixFee": "0",
            "feeCurrency": sym.quote, "tradeTime": trade.time_ms * 1_000_000, "subTradeType": None,
            "marginMode": "CROSS", "settleCurrency": sym.quote, "displayType": order.type.lower(),
            "fee": fx(trade.commission), "orderType": order.type.lower(), "tradeType": "trade",
            "createdAt": trade.time_ms}


# --- the private stream ------------------------------------------------------------------

def order_change(exchange: Exchange, order: Order, trade: Trade | None, kind: str) -> tuple[str, dict]:
    """The (type, data) of a trade-orders topic message: "received"/"open" when the order is
    taken, "match" per fill (with tradeId, matchPrice, matchSize), "filled" when done,
    "canceled"."""
    sym = exchange.symbols[order.symbol]
    futures = isinstance(order, PerpOrder)

    def size(coins: Decimal):
        return number(contracts(sym, coins)) if futures else fx(coins)

    if trade is not None:
        change = "match"
    elif kind in ("CANCELED", "EXPIRED"):
        change = "canceled"
    elif kind == "AMENDMENT":
        change = "update"
    else:
        change = "received" if order.type == "MARKET" else "open"
    now_ns = exchange.now_ms() * 1_000_000
    data = {"symbol": futures_id(sym) if futures else spot_id(sym), "orderType": order.type.lower(),
            "side": order.side.lower(), "orderId": order_id(order), "type": change,
            "orderTime": order.time_ms * 1_000_000 if futures else order.time_ms, "size": size(order.orig_qty),
            "filledSize": size(order.executed_qty), "price": "" if order.type == "MARKET" else fx(order.price),
            "clientOid": order.client_order_id, "remainSize": size(order.remaining if order.is_open else ZERO),
            "status": {"match": "match", "canceled": "done", "received": "new"}.get(change, "open"), "ts": now_ns}
    if futures:
        data.update(marginMode="CROSS", positionSide="BOTH", canceledSize=size(ZERO if order.is_open or
                                                                             trade is not None else order.remaining))
    if trade is not None:
        data.update(liquidity="maker" if trade.is_maker else "taker", matchPrice=fx(trade.price),
                    matchSize=size(trade.qty), tradeId=trade_id(trade, futures),
                    feeType="makerFee" if trade.is_maker else "takerFee")
    return change, data
