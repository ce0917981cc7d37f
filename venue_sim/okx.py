"""OKX's v5 REST API on the simulated venue: public data and market data, the trading
account, positions, orders and fills, for spot (instType SPOT) and USDT-margined perpetuals
(SWAP, sized in contracts of ctVal coins).

Signing: OK-ACCESS-KEY, OK-ACCESS-PASSPHRASE (chosen with the key), OK-ACCESS-TIMESTAMP (ISO
8601 UTC with milliseconds, within 30 s of the venue's clock) and OK-ACCESS-SIGN = base64
HMAC-SHA256(secret, timestamp + METHOD + request path with its query + body). A POST body
is JSON (Content-Type application/json).

Answers are {code, msg, data}. A request-level refusal has its own code and HTTP status
(authentication 401, malformed 400, too many requests 429, the venue failing 5xx); order
operations answer HTTP 200 with code "1" ("All operations failed") or "2" (some did) and each
order's own sCode / sMsg. clOrdId: letters and digits, at most 32, never used twice on the
account.

The books are the Binance dialect's (book.Exchange, perp_book.Perpetuals); their refusals
(BinanceError) are translated into OKX's codes here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from venue_sim import okx_wire as ow
from venue_sim.book import ApiKey, BinanceError, Symbol, is_multiple
from venue_sim.endpoints import INTERVALS_MS
from venue_sim.faults import Injected
from venue_sim.wire import fx, klines

if TYPE_CHECKING:
    from venue_sim.server import Simulator

CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")  # OKX: case-sensitive letters and digits, 32 at most
DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$")
MAX_CLOCK_SKEW_S = 30.0
MAX_BATCH = 20
ORDER_TYPES = {"market": ("MARKET", None), "limit": ("LIMIT", "GTC"), "post_only": ("LIMIT", "GTX"),
               "ioc": ("LIMIT", "IOC"), "fok": ("LIMIT", "FOK"), "optimal_limit_ioc": ("MARKET", None)}
BARS = {"1m": "1m", "3m": "3m", "5m": "5m", "15m": "15m", "30m": "30m", "1H": "1h", "2H": "2h", "4H": "4h",
        "6H": "6h", "12H": "12h", "1D": "1d", "1W": "1w", "1M": "1M", "6Hutc": "6h", "12Hutc": "12h",
        "1Dutc": "1d", "1Wutc": "1w", "1Mutc": "1M"}


class OkxError(Exception):
    """A request-level refusal as OKX answers it: a code, a message, an HTTP status."""

    def __init__(self, code: str, msg: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status, self.headers = code, msg, status, headers or {}


class OrderRefused(Exception):
    """One order's refusal: its sCode and sMsg (the request itself was answered)."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def param_error(name: str) -> OrderRefused:
    return OrderRefused("51000", f"Parameter {name} error")


# The book's refusals (Binance codes) as OKX's order sCodes, messages OKX's own.
_TRANSLATE: dict[int, tuple[str, str]] = {
    -1121: ("51001", "Instrument ID does not exist."),
    -2010: ("51008", "Order failed. Insufficient account balance."),
    -2019: ("51008", "Order failed. Insufficient USDT margin in account"),
    -4116: ("51016", "Duplicated client order ID"),
    -2022: ("51169", "Order failed because you don't have any positions in this direction for this contract to "
                     "reduce or close."),
    -1013: ("51020", "Your order should meet or exceed the minimum order amount."),
    -4164: ("51020", "Your order should meet or exceed the minimum order amount."),
    -5022: ("51019", "Post only order would take liquidity."),
    -2011: ("51400", "Order cancellation failed as the order has been filled, canceled or does not exist."),
    -2013: ("51603", "Order does not exist"),
}


def order_refusal(err: BinanceError) -> OrderRefused:
    if err.code == -2010 and "Duplicate" in err.msg:
        return OrderRefused("51016", "Duplicated client order ID")
    code, msg = _TRANSLATE.get(err.code, ("51000", err.msg))
    return OrderRefused(code, msg)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[ApiKey | None, object], Awaitable[object]]
    private: bool = False
    trade: bool = False


class OkxApi:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.exchange, self.perps = sim.exchange, sim.perps
        self._listed_ms = self.exchange.now_ms() - 86_400_000 * 365

    def routes(self) -> list[web.RouteDef]:
        v5 = "/api/v5"
        public = [("/public/time", self.time), ("/public/instruments", self.instruments),
                  ("/market/ticker", self.ticker), ("/market/tickers", self.tickers),
                  ("/market/candles", self.candles), ("/market/history-candles", self.candles),
                  ("/market/books", self.books)]
        private = [("GET", "/asset/currencies", self.currencies, False),
                   ("GET", "/account/balance", self.balance, False),
                   ("GET", "/account/positions", self.positions, False),
                   ("GET", "/account/config", self.config, False),
                   ("POST", "/account/set-leverage", self.set_leverage, True),
                   ("POST", "/trade/order", self.place_one, True),
                   ("POST", "/trade/batch-orders", self.place_batch, True),
                   ("POST", "/trade/cancel-order", self.cancel_order, True),
                   ("GET", "/trade/order", self.get_order, False),
                   ("GET", "/trade/orders-pending", self.orders_pending, False),
                   ("GET", "/trade/orders-history", self.orders_history, False),
                   ("GET", "/trade/fills", self.fills, False),
                   ("GET", "/trade/fills-history", self.fills, False)]
        routes = [Route("GET", v5 + p, h) for p, h in public] + [Route(m, v5 + p, h, True, t)
                                                                  for m, p, h, t in private]
        return [web.route(r.method, r.path, self._handler(r)) for r in routes]

    # --- the pipeline ----------------------------------------------------------------------
    def _handler(self, route: Route):
        name = f"{route.method} {route.path}"

        async def run(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.text()
                key = self.authenticate(request, body) if route.private else None
                params = self._params(request, body)
                account = key.account.name if key else None
                if key is not None and route.trade and not key.can_trade:
                    raise OkxError("50120", "API key doesn't have permission to trade.", 401)
                self.sim.request_log.append((time.time(), name, account))
                result = await self.sim.faults.plan(name, account).run(lambda: route.handler(key, params))
                if isinstance(result, web.StreamResponse):
                    return result
                return web.json_response(ow.envelope(result))
            except Injected as fault:
                if fault.error is None:  # done, but the caller never hears: the connection just drops
                    request.transport.close()
                    return web.Response(status=500)
                return self._fault(fault.error, route)
            except OrderRefused as err:  # a single-order endpoint (cancel) refused
                return web.json_response(self._operations([{"clOrdId": "", "ordId": "", "sCode": err.code,
                                                            "sMsg": err.msg, "ts": str(self.exchange.now_ms())}]))
            except BinanceError as err:
                refused = order_refusal(err)
                return web.json_response({"code": refused.code, "msg": refused.msg, "data": []})
            except OkxError as err:
                return web.json_response({"code": err.code, "msg": err.msg, "data": []}, status=err.status,
                                         headers=err.headers)

        return run

    def _fault(self, err: BinanceError, route: Route) -> web.Response:
        """An injected fault (faults.py speaks Binance) as OKX shows it."""
        if err.status in (429, 418) or err.code == -1003:
            return web.json_response({"msg": "Too Many Requests", "code": "50011"}, status=429)
        if err.code == -1007:
            return web.json_response({"code": "50004", "msg": "API endpoint request timeout (does not mean that the "
                                      "request was successful or failed, please check the request result).",
                                      "data": []}, status=400)
        if err.status >= 500:
            return web.json_response({"code": "50026", "msg": "System error. Try again later", "data": []},
                                     status=err.status)
        code = str(err.code) if err.code > 0 else "51008"
        if route.trade:  # an order operation refused: code "1" and the order's own sCode
            return web.json_response(self._operations([{"clOrdId": "", "ordId": "", "sCode": code, "sMsg": err.msg,
                                                        "tag": "", "ts": str(self.exchange.now_ms())}]))
        return web.json_response({"code": code, "msg": err.msg, "data": []})

    def _operations(self, rows: list[dict], *, single: bool = True) -> dict:
        failed = sum(1 for r in rows if r["sCode"] != "0")
        now_us = str(int(time.time() * 1_000_000))
        if not failed:
            code, msg = "0", ""
        elif failed == len(rows):
            code, msg = "1", "Operation failed." if single and len(rows) == 1 else "All operations failed"
        else:
            code, msg = "2", "Bulk operation partially succeeded."
        return {"code": code, "msg": msg, "data": rows, "inTime": now_us, "outTime": now_us}

    def authenticate(self, request: web.Request, body: str) -> ApiKey:
        api_key = request.headers.get("OK-ACCESS-KEY")
        signature = request.headers.get("OK-ACCESS-SIGN")
        timestamp = request.headers.get("OK-ACCESS-TIMESTAMP")
        passphrase = request.headers.get("OK-ACCESS-PASSPHRASE")
        if not api_key:
            raise OkxError("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401)
        if not passphrase:
            raise OkxError("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.', 401)
        if not signature:
            raise OkxError("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.', 401)
        if not timestamp:
            raise OkxError("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.', 401)
        key = self.exchange.keys.get(api_key)
        if key is None:
            raise OkxError("50111", "Invalid OK-ACCESS-KEY.", 401)
        if not TIMESTAMP.match(timestamp):
            raise OkxError("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401)
        sent = datetime.strptime(timestamp.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        if abs(sent.timestamp() - self.exchange.clock()) > MAX_CLOCK_SKEW_S:
            raise OkxError("50102", "Timestamp request expired.", 401)
        if not hmac.compare_digest(passphrase, key.passphrase):
            raise OkxError("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        prehash = timestamp + request.method + request.raw_path + body
        expected = base64.b64encode(hmac.new(key.secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, signature):
            raise OkxError("50113", "Invalid Sign.", 401)
        if request.method == "POST" and body and not request.content_type.startswith("application/json"):
            raise OkxError("50006", 'Invalid Content-Type, please use "application/json" format.', 400)
        return key

    @staticmethod
    def _params(request: web.Request, body: str) -> object:
        if request.method == "GET":
            return dict(request.query)
        if not body:
            raise OkxError("50000", "Body for POST request cannot be empty.", 400)
        try:
            return json.loads(body)
        except ValueError:
            raise OkxError("50002", "JSON syntax error.", 400) from None

    # --- parameter helpers -----------------------------------------------------------------
    def _instrument(self, params: dict, *, required: bool = True, inst_type: str | None = None
                    ) -> tuple[Symbol, str] | None:
        raw = params.get("instId")
        if not raw:
            if required:
                raise OkxError("50014", "Parameter instId can not be empty.", 400)
            return None
        found = ow.book_symbol(self.exchange, raw)
        if found is None or (inst_type and found[1] != inst_type):
            raise OkxError("51001", "Instrument ID does not exist.")
        return self.exchange.symbols[found[0]], found[1]

    @staticmethod
    def _inst_type(params: dict, *, required: bool = False) -> str | None:
        inst_type = params.get("instType")
        if not inst_type:
            if required:
                raise OkxError("50014", "Parameter instType can not be empty.", 400)
            return None
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "ANY"):
            raise OkxError("51000", "Parameter instType error", 400)
        return inst_type

    @staticmethod
    def _int(params: dict, name: str, default: int | None = None) -> int | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise OkxError("51000", f"Parameter {name} error", 400) from None

    @staticmethod
    def _decimal(params: dict, name: str) -> Decimal | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str) or not DECIMAL.match(raw):
            raise param_error(name)
        return Decimal(raw)

    # --- public data -----------------------------------------------------------------------
    async def time(self, key, params) -> list:
        return [{"ts": str(self.exchange.now_ms())}]

    async def instruments(self, key, params) -> list:
        inst_type = self._inst_type(params, required=True)
        wanted = self._instrument(params, required=False, inst_type=inst_type)
        if inst_type not in ow.INST_TYPES:
            return []
        return [ow.instrument(s, inst_type, self._listed_ms) for s in self.exchange.symbols.values()
                if wanted is None or wanted[0] is s]

    async def ticker(self, key, params) -> list:
        sym, inst_type = self._instrument(params)
        return [ow.ticker(self.exchange, sym, inst_type)]

    async def tickers(self, key, params) -> list:
        inst_type = self._inst_type(params, required=True)
        if inst_type not in ow.INST_TYPES:
            return []
        return [ow.ticker(self.exchange, s, inst_type) for s in self.exchange.symbols.values()]

    async def candles(self, key, params) -> list:
        sym, _ = self._instrument(params)
        bar = params.get("bar") or "1m"
        if bar not in BARS:
            raise OkxError("51000", "Parameter bar error", 400)
        interval = INTERVALS_MS[BARS[bar]]
        limit = max(1, min(self._int(params, "limit", 100), 300))
        after, before = self._int(params, "after"), self._int(params, "before")  # older than / newer than, ms
        end = (after - 1) if after is not None else None
        rows = klines(self.exchange, sym.name, interval, limit, before + 1 if before is not None else None, end)
        rows = [r for r in rows if before is None or r[0] > before][-limit:]
        # OKX: [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm], newest first.
        now = self.exchange.now_ms()
        return [[str(r[0]), *(fx(Decimal(v)) for v in r[1:5]), "0", "0", "0", "1" if r[6] < now else "0"]
                for r in reversed(rows)]

    async def books(self, key, params) -> list:
        sym, _ = self._instrument(params)
        price, tick = self.exchange.prices[sym.name], sym.tick_size
        depth = max(1, min(self._int(params, "sz", 1), 400))
        return [{"asks": [[fx(price + tick * (i + 1)), "10", "0", "1"] for i in range(depth)],
                 "bids": [[fx(price - tick * (i + 1)), "10", "0", "1"] for i in range(depth)],
                 "ts": str(self.exchange.now_ms())}]

    # --- account ---------------------------------------------------------------------------
    def uid(self, key: ApiKey) -> str:
        return ow.uid(self.exchange, key.account)

    async def currencies(self, key: ApiKey, params) -> list:
        coins = sorted({s.base for s in self.exchange.symbols.values()} | {s.quote for s in self.exchange.symbols.values()})
        wanted = set(params.get("ccy").split(",")) if params.get("ccy") else None
        return [ow.currency(c) for c in coins if wanted is None or c in wanted]

    async def balance(self, key: ApiKey, params) -> list:
        row = ow.balance(self.exchange, self.perps, key.account)
        wanted = set(params.get("ccy").split(",")) if params.get("ccy") else None
        if wanted is not None:
            row["details"] = [d for d in row["details"] if d["ccy"] in wanted]
        return [row]

    async def config(self, key: ApiKey, params) -> list:
        book = self.perps.book(key.account)
        return [{"acctLv": "2", "acctStpMode": "cancel_maker", "autoLoan": False, "ctIsoMode": "automatic",
                 "enableSpotBorrow": False, "greeksType": "PA", "ip": "", "kycLv": "2", "label": "venue simulator",
                 "level": "Lv1", "levelTmp": "", "liquidationGear": "-1", "mainUid": self.uid(key),
                 "mgnIsoMode": "automatic", "opAuth": "0", "perm": "read_only,trade" if key.can_trade else "read_only",
                 "posMode": "long_short_mode" if book.dual_side else "net_mode", "roleType": "0",
                 "spotBorrowAutoRepay": False, "spotOffsetType": "", "spotRoleType": "0", "spotTraderInsts": [],
                 "traderInsts": [], "type": "0", "uid": self.uid(key)}]

    async def positions(self, key: ApiKey, params) -> list:
        inst_type = self._inst_type(params)
        if inst_type not in (None, "SWAP"):
            return []
        wanted = {i for i in (params.get("instId") or "").split(",") if i}
        book = self.perps.book(key.account)
        rows = []
        for (name, pos_side), held in sorted(book.positions.items()):
            sym = self.exchange.symbols[name]
            if held.quantity and (not wanted or ow.inst_id(sym, "SWAP") in wanted):
                rows.append(ow.position(self.perps, book, sym, pos_side, f"{self.uid(key)}{sym.name}{pos_side}"))
        return rows

    async def set_leverage(self, key: ApiKey, params) -> list:
        if not isinstance(params, dict):
            raise OkxError("50002", "JSON syntax error.", 400)
        sym, _ = self._instrument(params, inst_type="SWAP")
        lever = self._int(params, "lever")
        if lever is None or not 1 <= lever <= ow.swap(sym).max_leverage:
            raise OkxError("51000", "Parameter lever error", 400)
        if params.get("mgnMode") not in ("cross", "isolated"):
            raise OkxError("51000", "Parameter mgnMode error", 400)
        self.perps.set_leverage(key.account, sym.name, lever)
        return [{"instId": ow.inst_id(sym, "SWAP"), "lever": str(lever), "mgnMode": params["mgnMode"],
                 "posSide": params.get("posSide") or "net"}]

    # --- orders ----------------------------------------------------------------------------
    async def place_one(self, key: ApiKey, params) -> web.Response:
        if not isinstance(params, dict):
            raise OkxError("50002", "JSON syntax error.", 400)
        return web.json_response(self._operations([self._place(key, params)]))

    async def place_batch(self, key: ApiKey, params) -> web.Response:
        if not isinstance(params, list) or not params:
            raise OkxError("50002", "JSON syntax error.", 400)
        if len(params) > MAX_BATCH:
            raise OkxError("51111", f"Maximum {MAX_BATCH} orders can be placed in bulk.")
        return web.json_response(self._operations([self._place(key, p) for p in params], single=False))

    def _place(self, key: ApiKey, params) -> dict:
        now = str(self.exchange.now_ms())
        cid = params.get("clOrdId", "") if isinstance(params, dict) else ""
        try:
            if not isinstance(params, dict):
                raise param_error("request")
            order = self._new_order(key, params)
            return {"clOrdId": order.client_order_id if cid else "", "ordId": str(order.order_id),
                    "tag": params.get("tag") or "", "ts": now, "sCode": "0", "sMsg": "Order placed"}
        except BinanceError as err:
            refused = order_refusal(err)
        except OrderRefused as err:
            refused = err
        except OkxError as err:
            refused = OrderRefused(err.code, err.msg)
        return {"clOrdId": cid if isinstance(cid, str) else "", "ordId": "", "tag": "", "ts": now,
                "sCode": refused.code, "sMsg": refused.msg}

    def _new_order(self, key: ApiKey, params: dict):
        if not params.get("instId"):
            raise OrderRefused("50014", "Parameter instId can not be empty.")
        found = ow.book_symbol(self.exchange, params["instId"])
        if found is None:
            raise OrderRefused("51001", "Instrument ID does not exist.")
        sym, inst_type = self.exchange.symbols[found[0]], found[1]
        side = {"buy": "BUY", "sell": "SELL"}.get(params.get("side"))
        if side is None:
            raise param_error("side")
        if params.get("ordType") not in ORDER_TYPES:
            raise param_error("ordType")
        order_type, tif = ORDER_TYPES[params["ordType"]]
        cid = params.get("clOrdId") or None
        if cid is not None and (not isinstance(cid, str) or not CLIENT_ORDER_ID.match(cid)):
            raise param_error("clOrdId")
        sz = self._decimal(params, "sz")
        if sz is None or sz <= 0:
            raise param_error("sz")
        price = self._decimal(params, "px") if order_type == "LIMIT" else None
        if order_type == "LIMIT" and (price is None or price <= 0):
            raise OrderRefused("51000", "Parameter px error") if params.get("px") else \
                OrderRefused("51204", "The price for the limit order can not be empty.")
        if price is not None and not is_multiple(price, sym.tick_size):
            raise param_error("px")
        reduce_only = params.get("reduceOnly") in (True, "true")
        if inst_type == "SPOT":
            return self._spot_order(key, sym, side, order_type, tif, sz, price, cid, reduce_only, params)
        return self._swap_order(key, sym, side, order_type, tif, sz, price, cid, reduce_only, params)

    def _spot_order(self, key, sym, side, order_type, tif, sz, price, cid, reduce_only, params):
        if params.get("tdMode") != "cash":
            raise param_error("tdMode")  # a spot account without margin trades in cash mode only
        if reduce_only:
            raise OrderRefused("51139", "Reduce-only feature is unavailable for spot transactions by simple "
                                        "account.")
        quote_qty = None
        if order_type == "MARKET":
            tgt = params.get("tgtCcy") or ("quote_ccy" if side == "BUY" else "base_ccy")
            if tgt not in ("base_ccy", "quote_ccy"):
                raise param_error("tgtCcy")
            if tgt == "quote_ccy":
                quote_qty, sz = sz, None
        if sz is not None:
            if not is_multiple(sz, sym.step_size):
                raise OrderRefused("51121", "Order quantity must be a multiple of the lot size.")
            if sz < sym.min_qty:
                raise OrderRefused("51020", "Your order should meet or exceed the minimum order amount.")
        if tif == "GTX":
            if self.exchange._crosses(side, price, self.exchange.prices[sym.name]):
                raise OrderRefused("51019", "Post only order would take liquidity.")
            tif = "GTC"
        order, _ = self.exchange.place_order(
            key.account, symbol=sym.name, side=side, type=order_type, quantity=sz, quote_qty=quote_qty, price=price,
            time_in_force=tif if order_type == "LIMIT" else None, client_order_id=cid)
        return order

    def _swap_order(self, key, sym, side, order_type, tif, sz, price, cid, reduce_only, params):
        if params.get("tdMode") not in ("cross", "isolated"):
            raise param_error("tdMode")
        spec = ow.swap(sym)
        if not is_multiple(sz, spec.lot):
            raise OrderRefused("51121", "Order quantity must be a multiple of the lot size.")
        if sz < spec.min_size:
            raise OrderRefused("51020", "Your order should meet or exceed the minimum order amount.")
        book = self.perps.book(key.account)
        pos_side = params.get("posSide") or "net"
        if book.dual_side != (pos_side in ("long", "short")) or pos_side not in ("net", "long", "short"):
            raise OrderRefused("51000", "Parameter posSide error")
        return self.perps.place_order(
            key.account, symbol=sym.name, side=side, type=order_type, quantity=sz * spec.ct_val, price=price,
            time_in_force=tif if order_type == "LIMIT" else None, client_order_id=cid,
            reduce_only=None if book.dual_side else reduce_only,
            position_side={"net": "BOTH", "long": "LONG", "short": "SHORT"}[pos_side])

    def _find(self, key: ApiKey, sym: Symbol, inst_type: str, params: dict):
        """The order named by ordId or clOrdId (ordId wins), or None."""
        orders = key.account.orders if inst_type == "SPOT" else self.perps.book(key.account).orders
        by_cid = key.account.by_client_id if inst_type == "SPOT" else self.perps.book(key.account).by_client_id
        raw_id, cid = params.get("ordId") or None, params.get("clOrdId") or None
        if raw_id is None and cid is None:
            raise OrderRefused("51003", "Either client order ID or order ID is required.")
        try:
            number = int(raw_id) if raw_id is not None else by_cid.get(cid)
        except (TypeError, ValueError):
            return None
        order = orders.get(number) if number is not None else None
        if order is None or order.symbol != sym.name or (raw_id is None and order.client_order_id != cid):
            return None
        return order

    async def cancel_order(self, key: ApiKey, params) -> web.Response:
        if not isinstance(params, dict):
            raise OkxError("50002", "JSON syntax error.", 400)
        sym, inst_type = self._instrument(params)
        order = self._find(key, sym, inst_type, params)
        now = str(self.exchange.now_ms())
        if order is None:
            raise OrderRefused("51400", "Order cancellation failed as the order has been filled, canceled or does "
                                        "not exist.")
        if not order.is_open:
            raise (OrderRefused("51402", "Order has been completed.") if order.status == "FILLED" else
                   OrderRefused("51401", "Order has been canceled."))
        (self.exchange if inst_type == "SPOT" else self.perps).cancel_order(key.account, sym.name, order.order_id,
                                                                             None)
        return web.json_response(self._operations([{"clOrdId": order.client_order_id, "ordId": str(order.order_id),
                                                    "ts": now, "sCode": "0", "sMsg": ""}]))

    def _trades(self, key: ApiKey, inst_type: str) -> list:
        return key.account.trades if inst_type == "SPOT" else self.perps.book(key.account).trades

    async def get_order(self, key: ApiKey, params) -> list:
        sym, inst_type = self._instrument(params)
        try:
            order = self._find(key, sym, inst_type, params)
        except OrderRefused as err:
            raise OkxError(err.code, err.msg) from None
        if order is None:
            raise OkxError("51603", "Order does not exist")
        return [ow.order_json(self.exchange, order, self._trades(key, inst_type))]

    def _orders_of(self, key: ApiKey, params: dict, *, open_: bool, required_type: bool) -> list:
        inst_type = self._inst_type(params, required=required_type)
        wanted = self._instrument(params, required=False)
        types = [t for t in ow.INST_TYPES if inst_type in (None, t)]
        rows = []
        for t in types:
            orders = key.account.orders if t == "SPOT" else self.perps.book(key.account).orders
            for o in orders.values():
                if o.is_open == open_ and (wanted is None or (wanted[0].name == o.symbol and wanted[1] == t)):
                    rows.append((o, t))
        rows.sort(key=lambda r: r[0].order_id, reverse=True)
        limit = max(1, min(self._int(params, "limit", 100), 100))
        return [ow.order_json(self.exchange, o, self._trades(key, t)) for o, t in rows[:limit]]

    async def orders_pending(self, key: ApiKey, params) -> list:
        return self._orders_of(key, params, open_=True, required_type=False)

    async def orders_history(self, key: ApiKey, params) -> list:
        return self._orders_of(key, params, open_=False, required_type=True)

    async def fills(self, key: ApiKey, params) -> list:
        """Fills, newest first: by instType (required for the history), instId, ordId, and ts
        within (begin, end]."""
        inst_type = self._inst_type(params, required=True)
        wanted = self._instrument(params, required=False)
        begin, end = self._int(params, "begin"), self._int(params, "end")
        order_id = params.get("ordId") or None
        rows = []
        for t in (x for x in ow.INST_TYPES if inst_type in ("ANY", x)):
            orders = key.account.orders if t == "SPOT" else self.perps.book(key.account).orders
            for trade in self._trades(key, t):
                if wanted is not None and (wanted[0].name != trade.symbol or wanted[1] != t):
                    continue
                if (begin is not None and trade.time_ms < begin) or (end is not None and trade.time_ms > end):
                    continue
                if order_id is not None and str(trade.order_id) != order_id:
                    continue
                rows.append(ow.fill_json(self.exchange, orders[trade.order_id], trade))
        rows.sort(key=lambda r: int(r["billId"]), reverse=True)
        return rows[:max(1, min(self._int(params, "limit", 100), 100))]
