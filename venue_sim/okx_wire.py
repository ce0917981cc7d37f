"""OKX v5's JSON shapes: the {code, msg, data} envelope, instruments, tickers, candles, the
trading account's balance, positions, orders and fills, field for field as OKX documents them
and ccxt's okx parses them.

Instruments: spot "BTC-USDT" and the USDT-margined perpetual "BTC-USDT-SWAP" for each of the
book's symbols. A perpetual trades in contracts of `ctVal` coins (BTC 0.01, ETH 0.1, SOL 1 on
OKX); the books keep coins, so sizes are divided by ctVal on the way out (contracts) and
multiplied on the way in. Fees are negative numbers when charged, as OKX shows them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from venue_sim.book import ZERO, Account, Exchange, Order, Symbol, Trade
from venue_sim.perp_book import PerpAccount, PerpOrder, Perpetuals
from venue_sim.wire import fx

# OKX's own spot rules (lot, minimum, tick; no minimum order value), the books' symbols when
# the simulator speaks OKX. Initial prices as the default symbols'.
SYMBOLS = (
    Symbol("BTCUSDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.00000001"), Decimal("0.00001"), ZERO,
           Decimal("64000"), max_qty=Decimal(9000)),
    Symbol("ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.000001"), Decimal("0.0001"), ZERO,
           Decimal("3200"), max_qty=Decimal(90000)),
    Symbol("SOLUSDT", "SOL", "USDT", Decimal("0.01"), Decimal("0.000001"), Decimal("0.001"), ZERO,
           Decimal("150"), max_qty=Decimal(900000)),
)


@dataclass(frozen=True)
class Swap:
    """A USDT-margined perpetual as OKX lists it: sizes in contracts of ct_val coins."""

    ct_val: Decimal
    lot: Decimal  # contracts
    min_size: Decimal  # contracts
    max_leverage: int


# OKX's published rules for the perpetuals of the default symbols; any other symbol gets one
# coin per contract and the spot lot.
SWAPS = {"BTCUSDT": Swap(Decimal("0.01"), Decimal("0.01"), Decimal("0.01"), 100),
         "ETHUSDT": Swap(Decimal("0.1"), Decimal("0.01"), Decimal("0.01"), 100),
         "SOLUSDT": Swap(Decimal("1"), Decimal("0.01"), Decimal("0.01"), 50)}
INST_TYPES = ("SPOT", "SWAP")
STATE = {"NEW": "live", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled", "CANCELED": "canceled",
         "EXPIRED": "canceled"}


def swap(sym: Symbol) -> Swap:
    return SWAPS.get(sym.name) or Swap(Decimal(1), sym.step_size, sym.min_qty, 50)


def uid(exchange: Exchange, account: Account) -> str:
    """The account's OKX user id (a long number, stable for the simulator's life)."""
    return str(400_000_000_000 + list(exchange.accounts).index(account.name))


def envelope(data: list, *, code: str = "0", msg: str = "") -> dict:
    return {"code": code, "msg": msg, "data": data}


def inst_id(sym: Symbol, inst_type: str) -> str:
    return f"{sym.base}-{sym.quote}" + ("-SWAP" if inst_type == "SWAP" else "")


def book_symbol(exchange: Exchange, instrument: str) -> tuple[str, str] | None:
    """The book's symbol and the instrument type behind an OKX instId, or None."""
    parts = instrument.split("-") if isinstance(instrument, str) else []
    if len(parts) == 3 and parts[2] == "SWAP":
        inst_type = "SWAP"
    elif len(parts) == 2:
        inst_type = "SPOT"
    else:
        return None
    name = parts[0] + parts[1]
    return (name, inst_type) if name in exchange.symbols else None


def contracts(sym: Symbol, coins: Decimal) -> Decimal:
    return coins / swap(sym).ct_val


def size(sym: Symbol, order: Order, coins: Decimal) -> str:
    """A size as OKX shows it: coins for spot, contracts for a perpetual."""
    return fx(contracts(sym, coins) if isinstance(order, PerpOrder) else coins)


# --- market data --------------------------------------------------------------------------

def instrument(sym: Symbol, inst_type: str, listed_ms: int) -> dict:
    common = {"alias": "", "auctionEndTime": "", "category": "1", "contTdSwTime": "", "expTime": "",
              "futureSettlement": False, "instFamily": "", "instId": inst_id(sym, inst_type), "instType": inst_type,
              "listTime": str(listed_ms), "maxIcebergSz": "9999999999", "maxTriggerSz": "9999999999",
              "maxTwapSz": "9999999999", "openType": "", "optType": "", "ruleType": "normal", "state": "live",
              "stk": "", "tickSz": fx(sym.tick_size), "tradeQuoteCcyList": []}
    if inst_type == "SPOT":
        return {**common, "baseCcy": sym.base, "quoteCcy": sym.quote, "settleCcy": "", "ctMult": "", "ctType": "",
                "ctVal": "", "ctValCcy": "", "lever": "10", "lotSz": fx(sym.step_size), "minSz": fx(sym.min_qty),
                "maxLmtSz": fx(sym.max_qty), "maxMktSz": "1000000", "maxLmtAmt": "20000000",
                "maxMktAmt": "1000000", "maxStopSz": "1000000", "uly": ""}
    spec = swap(sym)
    most = fx(contracts(sym, sym.max_qty))
    return {**common, "baseCcy": "", "quoteCcy": "", "settleCcy": sym.quote, "ctMult": "1", "ctType": "linear",
            "ctVal": fx(spec.ct_val), "ctValCcy": sym.base, "instFamily": f"{sym.base}-{sym.quote}",
            "lever": str(spec.max_leverage), "lotSz": fx(spec.lot), "minSz": fx(spec.min_size), "maxLmtSz": most,
            "maxMktSz": most, "maxLmtAmt": "20000000", "maxMktAmt": "", "maxStopSz": most,
            "uly": f"{sym.base}-{sym.quote}"}


def ticker(exchange: Exchange, sym: Symbol, inst_type: str) -> dict:
    now = exchange.now_ms()
    day = [p for t, p in exchange.history[sym.name] if t >= now - 86_400_000] or [exchange.prices[sym.name]]
    last, tick = day[-1], sym.tick_size
    return {"instType": inst_type, "instId": inst_id(sym, inst_type), "last": fx(last), "lastSz": "0",
            "askPx": fx(last + tick), "askSz": "10", "bidPx": fx(last - tick), "bidSz": "10", "open24h": fx(day[0]),
            "high24h": fx(max(day)), "low24h": fx(min(day)), "volCcy24h": "0", "vol24h": "0", "ts": str(now),
            "sodUtc0": fx(day[0]), "sodUtc8": fx(day[0])}


# --- account ------------------------------------------------------------------------------

def currency(ccy: str) -> dict:
    """A currency of GET /api/v5/asset/currencies, on one chain named after itself."""
    return {"burningFeeRate": "", "canDep": True, "canInternal": True, "canWd": True, "ccy": ccy,
            "chain": f"{ccy}-{ccy}", "ctAddr": "", "depEstOpenTime": "", "depQuotaFixed": "",
            "depQuoteDailyLayer2": "", "fee": "0", "logoLink": "", "mainNet": True, "maxFee": "0", "maxFeeForCtAddr": "",
            "maxWd": "1000000", "minDep": "0", "minDepArrivalConfirm": "1", "minFee": "0", "minFeeForCtAddr": "",
            "minInternal": "0", "minWd": "0", "minWdUnlockConfirm": "1", "name": ccy, "needTag": False,
            "usedDepQuotaFixed": "", "usedWdQuota": "0", "wdEstOpenTime": "", "wdQuota": "10000000",
            "wdTickSz": "8"}


def balance(exchange: Exchange, perps: Perpetuals, account: Account) -> dict:
    """The trading account (spot and futures mode): one balance per currency. The simulator
    keeps the USDT margining perpetuals apart from spot USDT; here they are shown as one."""
    book = perps.book(account)
    upl = perps.unrealized_total(book)
    held_margin = perps.position_margin(book) + perps.order_margin(book)
    now = str(exchange.now_ms())
    details, total_eq = [], ZERO
    for ccy in sorted(set(account.balances) | set(account.locked) | {"USDT"}):
        free, locked = account.balances.get(ccy, ZERO), account.locked.get(ccy, ZERO)
        cash = free + locked + (book.wallet if ccy == "USDT" else ZERO)
        if not cash and ccy != "USDT":
            continue
        ccy_upl = upl if ccy == "USDT" else ZERO
        available = free + (perps.available(book) if ccy == "USDT" else ZERO)
        frozen = locked + (held_margin if ccy == "USDT" else ZERO)
        price = Decimal(1) if ccy == "USDT" else exchange.prices.get(f"{ccy}USDT", ZERO)
        total_eq += (cash + ccy_upl) * price
        details.append({"accAvgPx": "", "availBal": fx(available), "availEq": "", "borrowFroz": "", "cashBal": fx(cash),
                        "ccy": ccy, "clSpotInUseAmt": "", "crossLiab": "", "disEq": fx((cash + ccy_upl) * price),
                        "eq": fx(cash + ccy_upl), "eqUsd": fx((cash + ccy_upl) * price), "fixedBal": "0",
                        "frozenBal": fx(frozen), "imr": "", "interest": "", "isoEq": "0", "isoLiab": "",
                        "isoUpl": "0", "liab": "", "maxLoan": "", "mgnRatio": "", "mmr": "", "notionalLever": "",
                        "ordFrozen": fx(locked), "rewardBal": "0", "smtSyncEq": "0", "spotBal": "",
                        "spotInUseAmt": "", "spotIsoBal": "0", "stgyEq": "0", "twap": "0", "uTime": now,
                        "upl": fx(ccy_upl), "uplLiab": ""})
    return {"adjEq": "", "availEq": "", "borrowFroz": "", "details": details, "imr": "", "isoEq": "0",
            "mgnRatio": "", "mmr": "", "notionalUsd": "", "ordFroz": "", "totalEq": fx(total_eq), "uTime": now,
            "upl": fx(upl)}


def position(perps: Perpetuals, book: PerpAccount, sym: Symbol, pos_side: str, pos_id: str) -> dict:
    held = book.positions[(sym.name, pos_side)]
    mark, lever = perps.exchange.prices[sym.name], perps.leverage(book, sym.name)
    notional = abs(held.quantity) * mark
    upl = perps.unrealized(sym.name, held)
    now = str(perps.exchange.now_ms())
    imr = notional / lever
    return {"adl": "1", "availPos": "", "avgPx": fx(held.entry_price), "baseBal": "", "baseBorrowed": "",
            "baseInterest": "", "bePx": fx(held.entry_price), "bizRefId": "", "bizRefType": "", "cTime": now,
            "ccy": sym.quote, "clSpotInUseAmt": "", "closeOrderAlgo": [], "deltaBS": "", "deltaPA": "",
            "fee": "0", "fundingFee": "0", "gammaBS": "", "gammaPA": "", "idxPx": fx(mark), "imr": fx(imr),
            "instId": inst_id(sym, "SWAP"), "instType": "SWAP", "interest": "", "last": fx(mark), "lever": str(lever),
            "liab": "", "liabCcy": "", "liqPenalty": "0", "liqPx": "", "margin": "", "markPx": fx(mark),
            "maxSpotInUseAmt": "", "mgnMode": "cross", "mgnRatio": "", "mmr": fx(notional * Decimal("0.004")),
            "notionalUsd": fx(notional), "optVal": "", "pendingCloseOrdLiabVal": "", "pnl": "0",
            "pos": fx(contracts(sym, held.quantity)), "posCcy": "", "posId": pos_id,
            "posSide": {"BOTH": "net", "LONG": "long", "SHORT": "short"}[pos_side], "quoteBal": "",
            "quoteBorrowed": "", "quoteInterest": "", "realizedPnl": "0", "spotInUseAmt": "", "spotInUseCcy": "",
            "thetaBS": "", "thetaPA": "", "tradeId": "", "uTime": now, "upl": fx(upl), "uplLastPx": fx(upl),
            "uplRatio": fx((upl / imr).quantize(Decimal("1e-8"))) if imr else "0",
            "uplRatioLastPx": fx((upl / imr).quantize(Decimal("1e-8"))) if imr else "0", "usdPx": "",
            "vegaBS": "", "vegaPA": ""}


# --- orders and fills ---------------------------------------------------------------------

def order_json(exchange: Exchange, order: Order, trades: list[Trade], last: Trade | None = None) -> dict:
    """An order as GET /api/v5/trade/order and the `orders` channel show it; `last` fills the
    fill* fields (the orders channel sends one message per fill)."""
    sym = exchange.symbols[order.symbol]
    perp = isinstance(order, PerpOrder)
    mine = [t for t in trades if t.order_id == order.order_id]
    latest = last or (mine[-1] if mine else None)
    fee = sum((t.commission for t in mine), ZERO)
    executed = order.executed_qty
    market = order.type == "MARKET"
    order_type = "market" if market else {"IOC": "ioc", "FOK": "fok", "GTX": "post_only"}.get(order.time_in_force,
                                                                                             "limit")
    return {
        "accFillSz": size(sym, order, executed), "algoClOrdId": "", "algoId": "", "attachAlgoClOrdId": "",
        "attachAlgoOrds": [], "avgPx": fx(order.cumulative_quote / executed) if executed else "",
        "cTime": str(order.time_ms), "cancelSource": "" if order.is_open or order.status == "FILLED" else "1",
        "cancelSourceReason": "", "category": "normal", "ccy": "", "clOrdId": order.client_order_id,
        "fee": fx(-fee), "feeCcy": latest.commission_asset if latest else (sym.quote if perp or order.side == "SELL"
                                                                          else sym.base),
        "fillPx": fx(latest.price) if latest else "", "fillSz": size(sym, order, latest.qty) if latest else "0",
        "fillTime": str(latest.time_ms) if latest else "", "instId": inst_id(sym, "SWAP" if perp else "SPOT"),
        "instType": "SWAP" if perp else "SPOT", "isTpLimit": "false", "lever": "", "linkedAlgoOrd": {"algoId": ""},
        "ordId": str(order.order_id), "ordType": order_type, "pnl": fx(getattr(order, "realized_pnl", ZERO)),
        "posSide": {"BOTH": "net", "LONG": "long", "SHORT": "short"}[getattr(order, "position_side", "BOTH")]
        if perp else "", "px": "" if market else fx(order.price), "pxType": "", "pxUsd": "", "pxVol": "",
        "quickMgnType": "", "rebate": "0", "rebateCcy": sym.quote,
        "reduceOnly": "true" if getattr(order, "reduce_only", False) else "false", "side": order.side.lower(),
        "slOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "", "source": "", "state": STATE[order.status],
        "stpId": "", "stpMode": "cancel_maker", "sz": size(sym, order, order.orig_qty), "tag": "",
        "tdMode": "cross" if perp else "cash", "tgtCcy": "" if perp else "base_ccy", "tpOrdPx": "",
        "tpTriggerPx": "", "tpTriggerPxType": "", "tradeId": str(latest.trade_id) if latest else "",
        "uTime": str(order.update_ms)}


def ws_order(exchange: Exchange, order: Order, trades: list[Trade], trade: Trade | None) -> dict:
    """The `orders` channel's row: the REST order plus the fill just made (fill* fields, its
    fee in fillFee) and the cumulative figures."""
    row = order_json(exchange, order, trades, trade)
    row.update(amendResult="", code="0", msg="", reqId="", amendSource="", execType="" if trade is None else
               ("M" if trade.is_maker else "T"), fillFee=fx(-trade.commission) if trade else "0",
               fillFeeCcy=trade.commission_asset if trade else "", fillNotionalUsd="", fillPnl="0",
               notionalUsd="", lastPx=fx(exchange.prices[order.symbol]))
    if trade is None:  # no fill in this update: the fill* fields stay empty
        row.update(fillPx="", fillSz="0", fillTime="", tradeId="")
    return row


def fill_json(exchange: Exchange, order: Order, trade: Trade) -> dict:
    """A row of GET /api/v5/trade/fills(-history)."""
    sym = exchange.symbols[trade.symbol]
    perp = isinstance(order, PerpOrder)
    notional = trade.price * trade.qty
    rate = trade.commission / (notional if perp or trade.side == "SELL" else trade.qty) if notional else ZERO
    return {"billId": str(trade.trade_id), "clOrdId": trade.client_order_id,
            "execType": "M" if trade.is_maker else "T", "fee": fx(-trade.commission), "feeCcy": trade.commission_asset,
            "feeRate": fx(-rate), "fillIdxPx": "", "fillMarkPx": "", "fillMarkVol": "", "fillPnl": fx(trade.realized_pnl),
            "fillPx": fx(trade.price), "fillPxUsd": "", "fillPxVol": "", "fillFwdPx": "",
            "fillSz": size(sym, order, trade.qty), "fillTime": str(trade.time_ms),
            "instId": inst_id(sym, "SWAP" if perp else "SPOT"), "instType": "SWAP" if perp else "SPOT",
            "ordId": str(trade.order_id), "posSide": "net" if perp else "", "side": trade.side.lower(), "subType": "",
            "tag": "", "tradeId": str(trade.trade_id), "ts": str(trade.time_ms)}
