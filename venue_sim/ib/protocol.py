"""The TWS API socket protocol, server side: framing and the field layouts of the messages the
simulator sends, at SERVER_VERSION.

Framing: the client opens with b"API\\0" and a 4-byte big-endian length-prefixed version range
("v157..178"); every message after that is a 4-byte big-endian length followed by fields, each
terminated by NUL. The first field is the message id; many messages then carry a message
version. Layouts follow what ib_async's decoder.py reads at SERVER_VERSION (178: no faProfile
in orders, executions end with pendingPriceRevision, errors carry advancedOrderRejectJson)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

SERVER_VERSION = 178
MIN_CLIENT_VERSION = 157  # the lowest ib_async (2.x) asks for; real TWS 10.30+ speaks up to 178+
UNSET_DOUBLE = "1.7976931348623157E308"  # IB's "no value" for doubles (Double.MAX_VALUE)


class In:
    """Incoming (client → TWS) message ids."""
    REQ_MKT_DATA, CANCEL_MKT_DATA, PLACE_ORDER, CANCEL_ORDER, REQ_OPEN_ORDERS = 1, 2, 3, 4, 5
    REQ_ACCOUNT_UPDATES, REQ_EXECUTIONS, REQ_IDS, REQ_CONTRACT_DATA = 6, 7, 8, 9
    REQ_AUTO_OPEN_ORDERS, REQ_ALL_OPEN_ORDERS, REQ_MANAGED_ACCTS = 15, 16, 17
    REQ_HISTORICAL_DATA, CANCEL_HISTORICAL_DATA, REQ_CURRENT_TIME = 20, 25, 49
    REQ_POSITIONS, REQ_ACCOUNT_SUMMARY, CANCEL_ACCOUNT_SUMMARY, CANCEL_POSITIONS = 61, 62, 63, 64
    START_API, REQ_ACCOUNT_UPDATES_MULTI, CANCEL_ACCOUNT_UPDATES_MULTI = 71, 76, 77
    REQ_COMPLETED_ORDERS = 99


class Out:
    """Outgoing (TWS → client) message ids."""
    TICK_PRICE, ORDER_STATUS, ERR_MSG, OPEN_ORDER, ACCT_VALUE, PORTFOLIO_VALUE = 1, 3, 4, 5, 6, 7
    ACCT_UPDATE_TIME, NEXT_VALID_ID, CONTRACT_DATA, EXECUTION_DATA, MANAGED_ACCTS = 8, 9, 10, 11, 15
    HISTORICAL_DATA, CURRENT_TIME, CONTRACT_DATA_END, OPEN_ORDER_END = 17, 49, 52, 53
    ACCT_DOWNLOAD_END, EXECUTION_DATA_END, TICK_SNAPSHOT_END, COMMISSION_REPORT = 54, 55, 57, 59
    POSITION_DATA, POSITION_END, ACCOUNT_SUMMARY, ACCOUNT_SUMMARY_END = 61, 62, 63, 64
    ACCOUNT_UPDATE_MULTI, ACCOUNT_UPDATE_MULTI_END = 73, 74
    COMPLETED_ORDER, COMPLETED_ORDERS_END = 101, 102


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    return str(value)


def encode(*fields) -> bytes:
    return frame("".join(f"{fmt(f)}\0" for f in fields).encode())


def decode(payload: bytes) -> list[str]:
    fields = payload.decode(errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def ib_time(at: float) -> str:
    """IB's "yyyymmdd hh:mm:ss tz" (executions, connection time), in UTC."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"


def parse_ib_time(text: str) -> float | None:
    """An execution filter's time: "yyyymmdd-hh:mm:ss" (UTC) or "yyyymmdd hh:mm:ss [UTC]"."""
    text = text.strip()
    if not text:
        return None
    for pattern, value in (("%Y%m%d-%H:%M:%S", text), ("%Y%m%d %H:%M:%S", text[:17])):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


# --- contracts ------------------------------------------------------------------------------
def contract_fields(c) -> list:
    """conId .. tradingClass, as openOrder / execDetails / position carry a contract (11 fields)."""
    return [c.con_id, c.symbol, "FUT", c.expiry, "0", "", c.multiplier, c.exchange, c.currency,
            c.local_symbol, c.symbol]


def contract_details(req_id: int, c) -> bytes:
    """CONTRACT_DATA (no version at >= 164)."""
    return encode(
        Out.CONTRACT_DATA, req_id, c.symbol, "FUT", c.expiry, "0", "", c.exchange, c.currency, c.local_symbol,
        c.symbol, c.symbol, c.con_id, c.tick, c.multiplier,
        "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,DAY,GTC,IOC,LIT,LMT,MIT,MKT,STP,STPLMT,TRAIL", c.exchange, 1,
        c.under_con_id, c.long_name, "", c.expiry[:6], "", "", "", "US/Central",
        c.trading_hours, c.trading_hours, "", "", 0,  # evRule, evMultiplier, numSecIds
        1, c.symbol, "IND", "67", c.expiry, "",  # aggGroup, underSymbol/SecType, marketRuleIds, expiry, stockType
        1, 1, 1)  # minSize, sizeIncrement, suggestedSizeIncrement


def contract_details_end(req_id: int) -> bytes:
    return encode(Out.CONTRACT_DATA_END, 1, req_id)


# --- orders ---------------------------------------------------------------------------------
def _order_type_fields(o) -> list:
    return [o.action, o.quantity, o.order_type, o.limit if o.limit is not None else "",
            o.aux if o.aux is not None else ""]


def ib_status(o) -> str:
    """What TWS reports: an order TWS still holds (transmit=False) is PreSubmitted to its client."""
    return "PreSubmitted" if o.status == "held" else o.status


def open_order(o, status: str) -> bytes:
    """OPEN_ORDER as decoder.openOrder reads it at SERVER_VERSION (no message version)."""
    c = o.contract
    fields: list = [Out.OPEN_ORDER, o.order_id, *contract_fields(c), *_order_type_fields(o),
                    o.tif, o.oca_group, o.account, "", 0, o.order_ref, o.client_id, o.perm_id, 0, 0, 0, "", "",
                    "", "", ""]  # outsideRth, hidden, discretionaryAmt, goodAfterTime, sharesAllocation, fa*
    fields += ["", "", "", "", "", 0, "", -1, 0, "", "", "", "", "",  # modelCode .. stockRangeUpper
               "", 0, 0, 0, "", o.oca_type, 0, 0, "", o.parent_id,  # displaySize .. parentId
               0, "", 0, "", ""]  # triggerMethod .. deltaNeutralAuxPrice
    fields += [0, 0, "", "", "", "", "",  # continuousUpdate .. comboLegsDescrip
               0, 0, 0,  # combo legs, order combo legs, smart combo routing params
               "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
               "",  # hedgeType
               0, "", "", 0, 0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dncPresent
               "",  # algoStrategy
               0, 0, status, "", "", "", "", "", "", "", "", "", "", "", "", "", "",  # solicited .. warningText
               0, 0,  # randomizeSize, randomizePrice
               0,  # conditions
               "", "", "", "", "", "", "", 0, "", "", "", "", 0, 0, "", 0,  # adjustedOrderType .. usePriceMgmtAlgo
               "", 0, 0,  # duration, postToAts, autoCancelParent
               "", "", "", "", ""]  # minTradeQty .. midOffsetAtHalf
    return encode(*fields)


def order_status(o, status: str, last_fill_price: Decimal | None = None) -> bytes:
    """ORDER_STATUS: orderId, status, filled, remaining, avgFillPrice, permId, parentId,
    lastFillPrice, clientId, whyHeld, mktCapPrice (no message version)."""
    return encode(Out.ORDER_STATUS, o.order_id, status, o.filled, o.quantity - o.filled,
                  o.avg_price if o.filled else 0, o.perm_id, o.parent_id, last_fill_price or 0, o.client_id, "", 0)


def open_order_end() -> bytes:
    return encode(Out.OPEN_ORDER_END, 1)


def completed_order(o, status: str, completed_time: str) -> bytes:
    """COMPLETED_ORDER as decoder.completedOrder reads it (no order id: IB gives only permId)."""
    c = o.contract
    fields: list = [Out.COMPLETED_ORDER, *contract_fields(c), *_order_type_fields(o),
                    o.tif, o.oca_group, o.account, "", 0, o.order_ref, o.perm_id, 0, 0, 0, "", "", "", ""]
    fields += ["", "", "", "", "", 0, "", -1, "", "", "", "", "", "", 0, 0, "", 0, 0, "", 0, "", ""]
    fields += [0, 0, "", "", "",  # continuousUpdate .. comboLegsDescrip
               0, 0, 0, "", "", "", "",  # legs, order legs, params, scale*, hedgeType
               "", "", 0, 0,  # clearingAccount, clearingIntent, notHeld, dncPresent
               "",  # algoStrategy
               0, status, 0, 0,  # solicited, status, randomizeSize, randomizePrice
               0,  # conditions
               "", "", "", 0, 0, "", o.filled, 0, 0, "", 0, 0, 0,  # trailStopPrice .. parentPermId
               completed_time, status,  # completedTime, completedStatus
               "", "", "", "", ""]
    return encode(*fields)


def completed_orders_end() -> bytes:
    return encode(Out.COMPLETED_ORDERS_END)


def exec_details(req_id: int, e) -> bytes:
    o = e.order
    return encode(Out.EXECUTION_DATA, req_id, o.order_id, *contract_fields(o.contract), e.exec_id,
                  ib_time(e.at), o.account, o.contract.exchange, "BOT" if o.action == "BUY" else "SLD",
                  e.shares, e.price, o.perm_id, o.client_id, 0, e.cum_qty, e.avg_price, o.order_ref,
                  "", "", "", 1 if o.order_type == "LMT" else 2, 0)  # evRule .. lastLiquidity, pendingPriceRevision


def exec_details_end(req_id: int) -> bytes:
    return encode(Out.EXECUTION_DATA_END, 1, req_id)


def commission_report(e) -> bytes:
    return encode(Out.COMMISSION_REPORT, 1, e.exec_id, e.commission, "USD",
                  e.realized_pnl if e.realized_pnl is not None else UNSET_DOUBLE, UNSET_DOUBLE, "")


# --- account --------------------------------------------------------------------------------
def position(account: str, c, quantity: Decimal, avg_cost: Decimal) -> bytes:
    return encode(Out.POSITION_DATA, 3, account, *contract_fields(c), quantity, avg_cost)


def position_end() -> bytes:
    return encode(Out.POSITION_END, 1)


def account_summary(req_id: int, account: str, tag: str, value, currency: str) -> bytes:
    return encode(Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency)


def account_summary_end(req_id: int) -> bytes:
    return encode(Out.ACCOUNT_SUMMARY_END, 1, req_id)


def account_value(key: str, value, currency: str, account: str) -> bytes:
    return encode(Out.ACCT_VALUE, 2, key, value, currency, account)


def portfolio_value(c, quantity, market_price, market_value, avg_cost, unrealized, realized, account) -> bytes:
    return encode(Out.PORTFOLIO_VALUE, 8, c.con_id, c.symbol, "FUT", c.expiry, "0", "", c.multiplier, "",
                  c.currency, c.local_symbol, c.symbol, quantity, market_price, market_value, avg_cost,
                  unrealized, realized, account)


def account_update_time(at: float) -> bytes:
    return encode(Out.ACCT_UPDATE_TIME, 1, datetime.fromtimestamp(at, UTC).strftime("%H:%M"))


def account_download_end(account: str) -> bytes:
    return encode(Out.ACCT_DOWNLOAD_END, 1, account)


def account_update_multi(req_id: int, account: str, key: str, value, currency: str) -> bytes:
    return encode(Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, "", key, value, currency)


def account_update_multi_end(req_id: int) -> bytes:
    return encode(Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id)


# --- session and misc -----------------------------------------------------------------------
def managed_accounts(accounts: Iterable[str]) -> bytes:
    return encode(Out.MANAGED_ACCTS, 1, ",".join(accounts))


def next_valid_id(order_id: int) -> bytes:
    return encode(Out.NEXT_VALID_ID, 1, order_id)


def error(req_id: int, code: int, message: str, advanced_reject_json: str = "") -> bytes:
    return encode(Out.ERR_MSG, 2, req_id, code, message, advanced_reject_json)


def current_time(at: float) -> bytes:
    return encode(Out.CURRENT_TIME, 1, int(at))


def tick_price(req_id: int, tick_type: int, price: Decimal) -> bytes:
    return encode(Out.TICK_PRICE, 6, req_id, tick_type, price, 0, 0)


def tick_snapshot_end(req_id: int) -> bytes:
    return encode(Out.TICK_SNAPSHOT_END, 1, req_id)


def historical_data(req_id: int, start: str, end: str, bars: list[tuple]) -> bytes:
    """bars: (date, open, high, low, close, volume, wap, count)."""
    return encode(Out.HISTORICAL_DATA, req_id, start, end, len(bars), *[f for bar in bars for f in bar])
