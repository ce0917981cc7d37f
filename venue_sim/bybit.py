"""Bybit's v5 REST API on the simulated venue: market data, the unified account, positions,
orders and executions, for spot and linear perpetuals (`category` spot | linear).

Signing: X-BAPI-API-KEY, X-BAPI-TIMESTAMP, X-BAPI-RECV-WINDOW (default 5000) and X-BAPI-SIGN =
hex HMAC-SHA256(secret, timestamp + key + recvWindow + payload), the payload being the query
string of a GET and the JSON body of a POST. Every answer is HTTP 200 with
{retCode, retMsg, result, retExtInfo, time}; retCode 0 is success. The exceptions: an IP past
its limit gets HTTP 403 (banned), and injected faults may answer 5xx.

The books are the Binance dialect's (book.Exchange, perp_book.Perpetuals); their refusals
(BinanceError) are translated into Bybit's retCodes here (bybit_error)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from venue_sim import bybit_wire as bw
from venue_sim.book import ZERO, ApiKey, BinanceError, is_multiple
from venue_sim.endpoints import INTERVALS_MS
from venue_sim.perp_book import MAX_LEVERAGE
from venue_sim.wire import klines

if TYPE_CHECKING:
    from venue_sim.server import Simulator

ORDER_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")  # Bybit: letters, digits, dash, underscore; 36 at most
DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
DEFAULT_RECV_WINDOW_MS = 5000
KLINE_INTERVALS = {"1": "1m", "3": "3m", "5": "5m", "15": "15m", "30": "30m", "60": "1h", "120": "2h", "240": "4h",
                   "360": "6h", "720": "12h", "D": "1d", "W": "1w", "M": "1M"}
CATEGORIES = ("spot", "linear")


class BybitError(Exception):
    """A refusal as Bybit answers it: HTTP 200 and a retCode (or another HTTP status)."""

    def __init__(self, code: int, msg: str, *, status: int = 200, headers: dict[str, str] | None = None,
                 text: str | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status, self.headers, self.text = code, msg, status, headers or {}, text


def params_error(msg: str) -> BybitError:
    return BybitError(10001, msg)


# The book's refusals (Binance codes) as Bybit's: (code, category) -> (retCode, retMsg); a None
# category matches both. Messages are Bybit's own.
_TRANSLATE: dict[tuple[int, str | None], tuple[int, str]] = {
    (-1121, None): (10001, "params error: symbol invalid"),
    (-2010, "spot"): (170131, "Insufficient balance."),
    (-2011, "spot"): (170213, "Order does not exist."),
    (-2013, "spot"): (170213, "Order does not exist."),
    (-2011, "linear"): (110001, "order not exists or too late to cancel"),
    (-2013, "linear"): (110001, "order not exists or too late to cancel"),
    (-2019, "linear"): (110007, "ab not enough for new order"),
    (-2022, "linear"): (110017, "current position is zero, cannot fix reduce-only order qty"),
    (-4116, "linear"): (110072, "OrderLinkedID is duplicate"),
    (-4164, "linear"): (110094, "Order does not meet minimum order value 5USDT"),
    (-4061, "linear"): (10001, "position idx not match position mode"),
    (-4028, "linear"): (10001, "leverage invalid"),
    (-4059, "linear"): (110025, "Position mode is not modified"),
    (-4067, "linear"): (110028, "You have unclosed orders, so position mode cannot be switched"),
    (-4068, "linear"): (110024, "You have an existing position, so position mode cannot be switched"),
    (-5022, "linear"): (110094, "PostOnly order would take liquidity"),
}


def bybit_error(err: BinanceError, category: str | None) -> BybitError:
    if err.code == -2010 and "Duplicate" in err.msg:
        return BybitError(170141, "Duplicate clientOrderId.")
    code, msg = _TRANSLATE.get((err.code, category)) or _TRANSLATE.get((err.code, None)) or (10001, err.msg)
    return BybitError(code, msg)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[ApiKey | None, dict], Awaitable[object]]
    private: bool = False
    trade: bool = False


class BybitApi:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.exchange, self.perps = sim.exchange, sim.perps
        self.limits = sim.rate_limits

    def routes(self) -> list[web.RouteDef]:
        public = [("/v5/market/time", self.time), ("/v5/market/instruments-info", self.instruments),
                  ("/v5/market/tickers", self.tickers), ("/v5/market/kline", self.kline),
                  ("/v5/market/orderbook", self.orderbook)]
        private = [("GET", "/v5/account/wallet-balance", self.wallet_balance, False),
                   ("GET", "/v5/account/info", self.account_info, False),
                   ("GET", "/v5/user/query-api", self.query_api, False),
                   ("GET", "/v5/asset/coin/query-info", self.coin_info, False),
                   ("GET", "/v5/position/list", self.positions, False),
                   ("GET", "/v5/order/realtime", self.open_orders, False),
                   ("GET", "/v5/order/history", self.order_history, False),
                   ("GET", "/v5/execution/list", self.executions, False),
                   ("POST", "/v5/order/create", self.create_order, True),
                   ("POST", "/v5/order/cancel", self.cancel_order, True),
                   ("POST", "/v5/order/cancel-all", self.cancel_all, True),
                   ("POST", "/v5/position/set-leverage", self.set_leverage, True),
                   ("POST", "/v5/position/switch-mode", self.switch_mode, True)]
        routes = [Route("GET", p, h) for p, h in public] + [Route(m, p, h, True, t) for m, p, h, t in private]
        return [web.route(r.method, r.path, self._handler(r)) for r in routes]

    # --- the pipeline ----------------------------------------------------------------------
    def _handler(self, route: Route):
        name = f"{route.method} {route.path}"

        async def run(request: web.Request) -> web.StreamResponse:
            headers: dict[str, str] = {}
            category = None
            try:
                banned_until = self.limits.ip(request.remote or "", time.time())
                if banned_until is not None:
                    raise BybitError(403, "access too frequent", status=403,
                                     text=f"403 Forbidden: access too frequent; banned until {int(banned_until)}")
                key = None
                if route.private:
                    body = await request.text()
                    key = self.authenticate(request, body)
                    params = self._params(request, body)
                else:
                    params = dict(request.query)
                category = params.get("category") if isinstance(params.get("category"), str) else None
                account = key.account.name if key else None
                if key is not None:
                    verdict = self.limits.uid(account, route.path, category, time.time())
                    headers = verdict.headers
                    if verdict.too_many:
                        raise BybitError(10006, "Too many visits. Exceeded the API Rate Limit.")
                    if route.trade and not key.can_trade:
                        raise BybitError(10005, "Permission denied, please check your API key permissions.")
                self.sim.request_log.append((time.time(), name, account))
                plan = self.sim.faults.plan(name, account)
                if plan.latency_s:
                    await asyncio.sleep(plan.latency_s)
                if plan.refuse:
                    raise self._fault(plan.refuse)
                result = await route.handler(key, params)
                if plan.latency_after_s:
                    await asyncio.sleep(plan.latency_after_s)
                if plan.disconnect:
                    request.transport.close()
                    return web.Response(status=500)
                if plan.after:
                    raise self._fault(plan.after)
                return web.json_response(bw.envelope(result, self.exchange.now_ms()), headers=headers)
            except BinanceError as err:  # the book refused
                return self._answer(bybit_error(err, category), headers)
            except BybitError as err:
                return self._answer(err, headers)

        return run

    def _answer(self, err: BybitError, headers: dict[str, str]) -> web.Response:
        headers = {**headers, **err.headers}
        if err.text is not None:
            return web.Response(status=err.status, text=err.text, headers=headers)
        return web.json_response(bw.envelope({}, self.exchange.now_ms(), code=err.code, msg=err.msg),
                                 status=err.status, headers=headers)

    def _fault(self, err: BinanceError) -> BybitError:
        """An injected fault (faults.py speaks Binance) as Bybit shows it."""
        if err.status in (429, 418) or err.code == -1003:
            reset = int((time.time() + float(err.headers.get("Retry-After", 1))) * 1000)
            return BybitError(10006, "Too many visits. Exceeded the API Rate Limit.",
                              headers={"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "0",
                                       "X-Bapi-Limit-Reset-Timestamp": str(reset)})
        if err.status == 403:
            return BybitError(403, "access too frequent", status=403, text="403 Forbidden: access too frequent")
        if err.code == -1007:
            return BybitError(10016, "Request timeout, please try again later")
        if err.status >= 500:
            return BybitError(err.status, "Service Unavailable", status=err.status,
                              text=f"{err.status} Service Unavailable")
        return BybitError(err.code if err.code > 0 else 10001, err.msg)

    def authenticate(self, request: web.Request, body: str) -> ApiKey:
        api_key = request.headers.get("X-BAPI-API-KEY")
        timestamp = request.headers.get("X-BAPI-TIMESTAMP")
        signature = request.headers.get("X-BAPI-SIGN")
        if not api_key or not timestamp or not signature:
            raise BybitError(10003 if not api_key else 10004,
                             f"empty value: apiTimestamp[{timestamp or ''}] apiKey[{api_key or ''}] "
                             f"apiSignature[{signature or ''}]: openapi sign params error!")
        key = self.exchange.keys.get(api_key)
        if key is None:
            raise BybitError(10003, "API key is invalid.")
        recv_window = request.headers.get("X-BAPI-RECV-WINDOW") or str(DEFAULT_RECV_WINDOW_MS)
        # Signed as sent: the raw query (a cursor such as "5004%3A3" stays encoded).
        payload = request.rel_url.raw_query_string if request.method == "GET" else body
        origin = timestamp + api_key + recv_window + payload
        expected = hmac.new(key.secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BybitError(10004, f"error sign! origin_string[{origin}]")
        try:
            stamp, window = int(timestamp), int(recv_window)
        except ValueError:
            raise params_error("invalid timestamp or recv_window") from None
        now = self.exchange.now_ms()
        if stamp > now + 1000 or now - stamp > window:
            raise BybitError(10002, f"invalid request, please check your server timestamp or recv_window param. "
                                    f"req_timestamp[{stamp}],server_timestamp[{now}],recv_window[{window}]")
        return key

    @staticmethod
    def _params(request: web.Request, body: str) -> dict:
        if request.method == "GET":
            return dict(request.query)
        if not body:
            return {}
        try:
            params = json.loads(body)
        except ValueError:
            raise params_error("request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise params_error("request body must be a JSON object")
        # JSON null is an absent parameter (ccxt sends "orderId": null when asked by orderLinkId).
        return {k: v for k, v in params.items() if v is not None}

    # --- parameter helpers -----------------------------------------------------------------
    @staticmethod
    def _category(params: dict, allowed: tuple[str, ...] = CATEGORIES) -> str:
        category = params.get("category")
        if not category:
            raise params_error("Illegal category")
        if category not in allowed:
            raise params_error(f"category only support {', '.join(allowed)}")
        return category

    def _symbol(self, params: dict, *, required: bool = True) -> str | None:
        name = params.get("symbol")
        if not name:
            if required:
                raise params_error("params error: symbol invalid")
            return None
        if name not in self.exchange.symbols:
            raise params_error("params error: symbol invalid")
        return name

    @staticmethod
    def _decimal(params: dict, name: str) -> Decimal | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str) or not DECIMAL.match(raw):
            raise params_error(f"params error: {name} invalid")
        return Decimal(raw)

    @staticmethod
    def _int(params: dict, name: str, default: int | None = None) -> int | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise params_error(f"params error: {name} invalid") from None

    def _limit(self, params: dict, default: int, most: int) -> int:
        return max(1, min(self._int(params, "limit", default), most))

    # --- market data -----------------------------------------------------------------------
    async def time(self, key, params) -> dict:
        now = int(self.exchange.clock() * 1_000_000) * 1000  # the venue's clock, in ns
        return {"timeSecond": str(now // 1_000_000_000), "timeNano": str(now)}

    async def instruments(self, key, params) -> dict:
        category = self._category(params)
        symbol = self._symbol(params, required=False)
        rows = [] if params.get("status") not in (None, "", "Trading") else [
            (bw.spot_instrument if category == "spot" else bw.linear_instrument)(s)
            for s in self.exchange.symbols.values() if symbol in (None, s.name)]
        return {"category": category, "list": rows, "nextPageCursor": ""}

    async def tickers(self, key, params) -> dict:
        category = self._category(params)
        symbol = self._symbol(params, required=False)
        return {"category": category, "list": [bw.ticker(self.exchange, s, category) for s in self.exchange.symbols
                                               if symbol in (None, s)]}

    async def kline(self, key, params) -> dict:
        category = self._category(params)
        symbol = self._symbol(params)
        interval = params.get("interval")
        if interval not in KLINE_INTERVALS:
            raise params_error("Invalid period!")
        rows = klines(self.exchange, symbol, INTERVALS_MS[KLINE_INTERVALS[interval]], self._limit(params, 200, 1000),
                      self._int(params, "start"), self._int(params, "end"))
        # Bybit: [start, open, high, low, close, volume, turnover], newest first.
        return {"category": category, "symbol": symbol,
                "list": [[str(r[0]), *(bw.fx(Decimal(v)) for v in r[1:5]), "0", "0"] for r in reversed(rows)]}

    async def orderbook(self, key, params) -> dict:
        self._category(params)
        symbol = self._symbol(params)
        price, tick = self.exchange.prices[symbol], self.exchange.symbols[symbol].tick_size
        depth = min(self._limit(params, 25, 200), 20)
        return {"s": symbol, "b": [[bw.fx(price - tick * (i + 1)), "10"] for i in range(depth)],
                "a": [[bw.fx(price + tick * (i + 1)), "10"] for i in range(depth)],
                "ts": self.exchange.now_ms(), "u": self.exchange.now_ms(), "seq": 1, "cts": self.exchange.now_ms()}

    # --- account ---------------------------------------------------------------------------
    def uid(self, key: ApiKey) -> int:
        return 10_000_000 + list(self.exchange.accounts).index(key.account.name)

    async def wallet_balance(self, key: ApiKey, params) -> dict:
        if params.get("accountType") != "UNIFIED":
            raise params_error("accountType only support UNIFIED.")
        return bw.wallet(self.exchange, self.perps, key.account)

    async def account_info(self, key: ApiKey, params) -> dict:
        return {"marginMode": "REGULAR_MARGIN", "updatedTime": str(self.exchange.now_ms()), "unifiedMarginStatus": 5,
                "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0, "isMasterTrader": False,
                "spotHedgingStatus": "OFF"}

    async def query_api(self, key: ApiKey, params) -> dict:
        trade = ["Order", "Position"] if key.can_trade else []
        return {"id": str(self.uid(key)), "note": "venue simulator", "apiKey": key.key,
                "readOnly": 0 if key.can_trade else 1, "secret": "",
                "permissions": {"ContractTrade": trade, "Spot": ["SpotTrade"] if key.can_trade else [],
                                "Wallet": ["AccountTransfer"], "Options": [], "Derivatives": [], "CopyTrading": [],
                                "BlockTrade": [], "Exchange": [], "NFT": [], "Affiliate": [], "Earn": []},
                "ips": ["*"], "type": 1, "deadlineDay": -1, "expiredAt": "", "createdAt": "2026-01-01T00:00:00Z",
                "unified": 0, "uta": 1, "userID": self.uid(key), "inviterID": 0, "vipLevel": "No VIP",
                "mktMakerLevel": "0", "affiliateID": 0, "rsaPublicKey": "", "isMaster": True, "parentUid": "0",
                "kycLevel": "LEVEL_DEFAULT", "kycRegion": ""}

    async def coin_info(self, key: ApiKey, params) -> dict:
        coins = sorted({s.base for s in self.exchange.symbols.values()} | {s.quote for s in self.exchange.symbols.values()})
        return {"rows": [{"name": c, "coin": c, "remainAmount": "1000000",
                          "chains": [{"chainType": c, "confirmation": "10", "withdrawFee": "0", "depositMin": "0",
                                      "withdrawMin": "0", "chain": c, "chainDeposit": "1", "chainWithdraw": "1",
                                      "minAccuracy": "8", "withdrawPercentageFee": "0"}]}
                         for c in coins if params.get("coin") in (None, "", c)]}

    async def positions(self, key: ApiKey, params) -> dict:
        category = self._category(params, ("linear",))
        symbol = self._symbol(params, required=False)
        if symbol is None and params.get("settleCoin") != "USDT" and not params.get("baseCoin"):
            raise params_error("Missing some parameters that must be filled in, symbol or settleCoin")
        book = self.perps.book(key.account)
        rows = [bw.position(self.perps, book, s, side) for s in self.exchange.symbols if symbol in (None, s)
                for side in bw.position_sides(book)]
        if symbol is None:  # by settle coin: the positions held
            rows = [r for r in rows if r["size"] != "0"]
        return {"category": category, "list": rows, "nextPageCursor": ""}

    async def set_leverage(self, key: ApiKey, params) -> dict:
        self._category(params, ("linear",))
        symbol = self._symbol(params)
        buy, sell = self._decimal(params, "buyLeverage"), self._decimal(params, "sellLeverage")
        if buy is None or buy != sell or buy != buy.to_integral_value() or not 1 <= buy <= MAX_LEVERAGE:
            raise params_error("leverage invalid")
        book = self.perps.book(key.account)
        if self.perps.leverage(book, symbol) == int(buy):
            raise BybitError(110043, "Set leverage not modified")
        self.perps.set_leverage(key.account, symbol, int(buy))
        return {}

    async def switch_mode(self, key: ApiKey, params) -> dict:
        self._category(params, ("linear",))
        mode = self._int(params, "mode")
        if mode not in (0, 3):
            raise params_error("params error: mode invalid")
        self.perps.set_dual_side(key.account, mode == 3)
        return {}

    # --- orders ----------------------------------------------------------------------------
    def _orders(self, key: ApiKey, category: str) -> dict:
        account = key.account
        return account.orders if category == "spot" else self.perps.book(account).orders

    def _trades(self, key: ApiKey, category: str) -> list:
        return key.account.trades if category == "spot" else self.perps.book(key.account).trades

    def _order_json(self, key: ApiKey, order, category: str) -> dict:
        return bw.order_json(order, self._trades(key, category), category=category)

    async def create_order(self, key: ApiKey, params) -> dict:
        category = self._category(params)
        symbol = self._symbol(params)
        sym = self.exchange.symbols[symbol]
        side = {"Buy": "BUY", "Sell": "SELL"}.get(params.get("side"))
        if side is None:
            raise params_error("params error: side invalid")
        order_type = {"Market": "MARKET", "Limit": "LIMIT"}.get(params.get("orderType"))
        if order_type is None:
            raise params_error("params error: orderType invalid")
        qty = self._decimal(params, "qty")
        if qty is None or qty <= 0:
            raise params_error("params error: qty invalid")
        price = self._decimal(params, "price") if order_type == "LIMIT" else None  # ignored on a market order
        if order_type == "LIMIT" and (price is None or price <= 0):
            raise params_error("params error: price invalid")
        tif = params.get("timeInForce") or ("IOC" if order_type == "MARKET" else "GTC")
        if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
            raise params_error("params error: timeInForce invalid")
        link_id = params.get("orderLinkId") or None
        if link_id is not None and (not isinstance(link_id, str) or not ORDER_LINK_ID.match(link_id)):
            raise params_error("params error: orderLinkId invalid")
        if price is not None and not is_multiple(price, sym.tick_size):
            raise BybitError(170134, "Order price has too many decimals.") if category == "spot" else \
                params_error("params error: price invalid")
        trigger = self._decimal(params, "triggerPrice")
        if trigger is not None and (trigger <= 0 or not is_multiple(trigger, sym.tick_size)):
            raise params_error("params error: triggerPrice invalid")
        if category == "spot":
            order = self._spot_order(key, sym, side, order_type, qty, price, tif, link_id, params, trigger)
        else:
            order = self._linear_order(key, sym, side, order_type, qty, price, tif, link_id, params, trigger)
        return {"orderId": bw.order_id(order), "orderLinkId": order.client_order_id}

    def _spot_order(self, key, sym, side, order_type, qty, price, tif, link_id, params, trigger):
        if params.get("reduceOnly") in (True, "true"):
            raise params_error("params error: reduceOnly is not supported for spot")
        order_filter = params.get("orderFilter") or "Order"
        if order_filter not in ("Order", "StopOrder", "tpslOrder"):
            raise BybitError(170202, "Invalid orderFilter parameter.")
        if (trigger is None) != (order_filter == "Order"):
            raise params_error("params error: triggerPrice goes with orderFilter StopOrder or tpslOrder")
        stop_type = None
        if trigger is not None:
            # Bybit spot finds the direction from the price now: a trigger above fires on a rise.
            rises = trigger > self.exchange.prices[sym.name]
            stop_type = ("STOP_LOSS" if rises == (side == "BUY") else "TAKE_PROFIT") + (
                "_LIMIT" if order_type == "LIMIT" else "")
        quote_qty = None
        if order_type == "MARKET":
            unit = params.get("marketUnit") or ("quoteCoin" if side == "BUY" else "baseCoin")
            if unit not in ("baseCoin", "quoteCoin"):
                raise params_error("params error: marketUnit invalid")
            if unit == "quoteCoin":
                quote_qty, qty = qty, None
        if qty is not None:
            if not is_multiple(qty, sym.step_size):
                raise BybitError(170137, "Order quantity has too many decimals.")
            if qty < sym.min_qty:
                raise BybitError(170136, f"Order quantity below the lower limit {bw.fx(sym.min_qty)}.")
            if qty > sym.max_qty:
                raise BybitError(170135, "Order quantity exceeded upper limit.")
            if qty * (price or self.exchange.prices[sym.name]) < sym.min_notional:
                raise BybitError(170140, f"Order value exceeded lower limit {bw.fx(sym.min_notional)}.")
        elif quote_qty < sym.min_notional:
            raise BybitError(170140, f"Order value exceeded lower limit {bw.fx(sym.min_notional)}.")
        if tif == "PostOnly":
            if self.exchange._crosses(side, price, self.exchange.prices[sym.name]):
                raise BybitError(170218, "The LIMIT-MAKER order is rejected due to it would take liquidity.")
            tif = "GTC"
        if stop_type is not None and quote_qty is not None:
            qty, quote_qty = (quote_qty / trigger).quantize(sym.step_size, rounding=ROUND_DOWN), None
        order, _ = self.exchange.place_order(
            key.account, symbol=sym.name, side=side, type=stop_type or order_type, quantity=qty, quote_qty=quote_qty,
            price=price, time_in_force=tif if order_type == "LIMIT" else None, client_order_id=link_id,
            stop_price=trigger)
        return order

    def _linear_order(self, key, sym, side, order_type, qty, price, tif, link_id, params, trigger):
        if not is_multiple(qty, sym.step_size):
            raise params_error("params error: qty invalid, the qty step is " + bw.fx(sym.step_size))
        if qty < sym.min_qty:
            raise params_error("The number of contracts exceeds minimum limit allowed")
        if qty > sym.max_qty:
            raise params_error("The number of contracts exceeds maximum limit allowed")
        idx = self._int(params, "positionIdx", 0)
        if idx not in bw.POSITION_IDX.values():
            raise params_error("params error: positionIdx invalid")
        position_side = {v: k for k, v in bw.POSITION_IDX.items()}[idx]
        reduce_only = params.get("reduceOnly") in (True, "true")
        book = self.perps.book(key.account)
        direction = self._int(params, "triggerDirection", 0)
        if trigger is not None and direction not in (1, 2):
            raise params_error("params error: triggerDirection invalid")
        take_profit, stop_loss = self._decimal(params, "takeProfit"), self._decimal(params, "stopLoss")
        for value in (take_profit, stop_loss):
            if value is not None and (value <= 0 or not is_multiple(value, sym.tick_size)):
                raise params_error("params error: takeProfit / stopLoss invalid")
        market = self.exchange.prices[sym.name]
        long = side == "BUY"
        if take_profit is not None and (take_profit <= market) == long:
            raise BybitError(10001, "TakeProfit:%s set for Buy position should be higher than base_price" % bw.fx(
                take_profit) if long else "TakeProfit set for Sell position should be lower than base_price")
        if stop_loss is not None and (stop_loss >= market) == long:
            raise BybitError(10001, "StopLoss set for Buy position should be lower than base_price" if long
                             else "StopLoss set for Sell position should be higher than base_price")
        try:
            return self.perps.place_order(
                key.account, symbol=sym.name, side=side, type=order_type, quantity=qty, price=price,
                time_in_force=("GTX" if tif == "PostOnly" else tif) if order_type == "LIMIT" else None,
                client_order_id=link_id, reduce_only=reduce_only if not book.dual_side else None,
                position_side=position_side, trigger_price=trigger, trigger_direction=direction,
                take_profit=take_profit, stop_loss=stop_loss)
        except BinanceError as err:
            if err.code == -2021:  # Bybit: the trigger must lie the way its direction says
                raise BybitError(110093, "TriggerPrice for the direction is invalid: expect it to be "
                                 + ("higher" if direction == 1 else "lower") + " than the last price") from None
            raise

    def _find(self, key: ApiKey, category: str, params: dict):
        """The order named by orderId or orderLinkId, or None."""
        orders = self._orders(key, category)
        link_id = params.get("orderLinkId") or None
        number = bw.parse_order_id(params.get("orderId"), category)
        if params.get("orderId") and number is None:
            return None
        if number is None and link_id:
            by_link = key.account.by_client_id if category == "spot" else self.perps.book(key.account).by_client_id
            number = by_link.get(link_id)
        order = orders.get(number) if number is not None else None
        if order is None or (link_id and order.client_order_id != link_id):
            return None
        if params.get("symbol") and order.symbol != params["symbol"]:
            return None
        return order

    async def cancel_order(self, key: ApiKey, params) -> dict:
        category = self._category(params)
        symbol = self._symbol(params)
        if not params.get("orderId") and not params.get("orderLinkId"):
            raise params_error("orderId or orderLinkId is required")
        order = self._find(key, category, params)
        if order is None or not order.is_open:
            raise bybit_error(BinanceError(400, -2011, "Unknown order sent."), category)
        book = self.exchange if category == "spot" else self.perps
        book.cancel_order(key.account, symbol, order.order_id, None)
        return {"orderId": bw.order_id(order), "orderLinkId": order.client_order_id}

    async def cancel_all(self, key: ApiKey, params) -> dict:
        category = self._category(params)
        symbol = self._symbol(params, required=False)
        book = self.exchange if category == "spot" else self.perps
        cancelled = []
        for order in [o for o in self._orders(key, category).values() if o.is_open and symbol in (None, o.symbol)]:
            book.cancel_order(key.account, order.symbol, order.order_id, None)
            cancelled.append({"orderId": bw.order_id(order), "orderLinkId": order.client_order_id})
        return {"list": cancelled, "success": "1"}

    async def open_orders(self, key: ApiKey, params) -> dict:
        """By orderId / orderLinkId: that order whatever its state (the unified account keeps the
        last 500 of any state here). Otherwise the open orders (openOnly=0) or the recent closed
        ones (openOnly=1), newest first."""
        category = self._category(params)
        symbol = self._symbol(params, required=False)
        if params.get("orderId") or params.get("orderLinkId"):
            order = self._find(key, category, params)
            rows = [order] if order is not None else []
        else:
            closed = self._int(params, "openOnly", 0) == 1
            rows = [o for o in self._orders(key, category).values()
                    if o.is_open != closed and symbol in (None, o.symbol)]
            rows = sorted(rows, key=lambda o: o.order_id, reverse=True)[:500 if closed else None]
        limit = self._limit(params, 20, 50)
        return {"category": category, "list": [self._order_json(key, o, category) for o in rows[:limit]],
                "nextPageCursor": ""}

    async def order_history(self, key: ApiKey, params) -> dict:
        category = self._category(params)
        symbol = self._symbol(params, required=False)
        if params.get("orderId") or params.get("orderLinkId"):
            order = self._find(key, category, params)
            rows = [order] if order is not None else []
        else:
            end = self._int(params, "endTime", self.exchange.now_ms())
            start = self._int(params, "startTime", end - 7 * 86_400_000)
            rows = [o for o in self._orders(key, category).values()
                    if symbol in (None, o.symbol) and start <= o.time_ms <= end]
        rows = sorted(rows, key=lambda o: o.order_id, reverse=True)[:self._limit(params, 20, 50)]
        return {"category": category, "list": [self._order_json(key, o, category) for o in rows],
                "nextPageCursor": ""}

    async def executions(self, key: ApiKey, params) -> dict:
        """Trades, newest first. Without times: the last 7 days; with startTime only: the 7 days
        from it."""
        category = self._category(params)
        symbol = self._symbol(params, required=False)
        start, end = self._int(params, "startTime"), self._int(params, "endTime")
        if start is None and end is None:
            end = self.exchange.now_ms()
        if start is None:
            start = end - 7 * 86_400_000
        if end is None:
            end = start + 7 * 86_400_000
        orders = self._orders(key, category)
        order_number = bw.parse_order_id(params.get("orderId"), category) if params.get("orderId") else None
        link_id = params.get("orderLinkId") or None
        rows = [t for t in self._trades(key, category) if symbol in (None, t.symbol) and start <= t.time_ms <= end
                and order_number in (None, t.order_id) and link_id in (None, t.client_order_id)]
        if params.get("execType") not in (None, "", "Trade"):
            rows = []
        if end - start > 7 * 86_400_000:
            raise BybitError(10001, "The time range between startTime and endTime cannot exceed 7 days.")
        # Pages of `limit`, newest first; nextPageCursor (opaque, as Bybit's) names where the next begins.
        limit, offset = self._limit(params, 50, 100), self._page_offset(params.get("cursor"))
        rows = sorted(rows, key=lambda t: t.trade_id, reverse=True)
        page = rows[offset:offset + limit]
        more = offset + limit < len(rows)
        return {"category": category, "nextPageCursor": f"{page[-1].trade_id}%3A{offset + limit}" if more else "",
                "list": [bw.execution_json(orders[t.order_id], t, category=category,
                                           mark=self.exchange.prices.get(t.symbol, ZERO)) for t in page]}

    @staticmethod
    def _page_offset(cursor: str | None) -> int:
        if not cursor:
            return 0
        try:
            return max(0, int(cursor.replace("%3A", ":").rsplit(":", 1)[1]))
        except (IndexError, ValueError):
            raise BybitError(10001, "Invalid cursor.") from None
