"""KuCoin's REST APIs on the simulated venue: the spot API (api.kucoin.com: symbols, tickers,
candles, the high-frequency "trade_hf" account, HF orders and fills) and the futures API
(api-futures.kucoin.com: active contracts, ticker, klines, account overview, positions,
orders and fills). The simulator serves the futures host under FUTURES_PREFIX on the same
port; the signature covers the path without it, as the real host sees it.

Signing: KC-API-KEY, KC-API-TIMESTAMP (ms, within 5 s of the venue's clock), KC-API-SIGN =
base64 HMAC-SHA256(secret, timestamp + METHOD + path?query + body), KC-API-KEY-VERSION "2" and
KC-API-PASSPHRASE = base64 HMAC-SHA256(secret, passphrase) (key version 2 signs the
passphrase; the plain one is refused). Bodies are JSON.

Answers are {code, data} with code "200000" on success; a refusal carries KuCoin's code and
msg: authentication 4000xx with HTTP 401, parameter errors 400100 with HTTP 400, business
refusals (balance, duplicate clientOid, nothing to close, order not found) with HTTP 200,
429000 with HTTP 429 and KuCoin's gw-ratelimit-* headers. clientOid is required on every new
order (letters, digits, "-" and "_", 40 at most) and never reused on the account.

The books are the Binance dialect's; their refusals are translated into KuCoin's here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from venue_sim import kucoin_wire as kw
from venue_sim.book import ApiKey, BinanceError, Symbol, is_multiple
from venue_sim.endpoints import INTERVALS_MS
from venue_sim.faults import Injected
from venue_sim.wire import fx, klines

if TYPE_CHECKING:
    from venue_sim.server import Simulator

FUTURES_PREFIX = "/api-futures"  # api-futures.kucoin.com, served on the simulator's port
CLIENT_OID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
MAX_CLOCK_SKEW_MS = 5000
SPOT_CANDLES = {"1min": "1m", "3min": "3m", "5min": "5m", "15min": "15m", "30min": "30m", "1hour": "1h",
                "2hour": "2h", "4hour": "4h", "6hour": "6h", "8hour": "8h", "12hour": "12h", "1day": "1d",
                "1week": "1w", "1month": "1M"}
FUTURES_GRANULARITY = {1: "1m", 5: "5m", 15: "15m", 30: "30m", 60: "1h", 120: "2h", 240: "4h", 480: "8h",
                       720: "12h", 1440: "1d", 10080: "1w"}


class KucoinError(Exception):
    def __init__(self, code: str, msg: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status, self.headers = code, msg, status, headers or {}


def bad_param(msg: str) -> KucoinError:
    return KucoinError("400100", msg, 400)


# The books' refusals (Binance codes) as KuCoin's, spot and futures.
_SPOT: dict[int, KucoinError] = {
    -1121: bad_param("Unsupported trading pair."),
    -2010: KucoinError("200004", "Balance insufficient!"),
    -1013: bad_param("Order size below the minimum requirement."),
    -2011: bad_param("order_not_exist_or_not_allow_to_cancel"),
    -2013: bad_param("order not exist."),
}
_FUTURES: dict[int, KucoinError] = {
    -1121: KucoinError("100001", "Contract parameter invalid."),
    -2019: KucoinError("300003", "Balance not enough"),
    -4116: KucoinError("300000", "clientOid parameter repeated"),
    -2022: KucoinError("300009", "No open positions to close."),
    -1013: bad_param("The quantity is below the minimum requirement."),
    -4164: bad_param("The quantity is below the minimum requirement."),
    -5022: KucoinError("300000", "Post only order would take liquidity"),
    -2011: KucoinError("100004", "Order is in not cancelable state"),
    -2013: KucoinError("100001", "error.getOrder.orderNotExist"),
}


def kucoin_error(err: BinanceError, futures: bool) -> KucoinError:
    if err.code == -2010 and "Duplicate" in err.msg:
        return KucoinError("126044", "clientOid duplicate")
    return (_FUTURES if futures else _SPOT).get(err.code) or bad_param(err.msg)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[ApiKey | None, dict, web.Request], Awaitable[object]]  # (key, params, request)
    futures: bool = False
    private: bool = False
    trade: bool = False


class KucoinApi:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.exchange, self.perps = sim.exchange, sim.perps
        self.userdata = sim.userdata  # hands out the private stream's tokens (bullet-private)
        self.exchange.client_id_format = CLIENT_OID  # 40 characters, longer than the books' default
        self._listed_ms = self.exchange.now_ms() - 86_400_000 * 365

    def routes(self) -> list[web.RouteDef]:
        spot_public = [("GET", "/api/v1/timestamp", self.time), ("GET", "/api/v2/symbols", self.symbols),
                       ("GET", "/api/v3/currencies", self.currencies),
                       ("GET", "/api/v1/market/allTickers", self.all_tickers),
                       ("GET", "/api/v1/market/stats", self.stats), ("GET", "/api/v1/market/candles", self.candles),
                       ("GET", "/api/v1/market/orderbook/level1", self.level1)]
        spot_private = [("GET", "/api/v1/hf/accounts/opened", self.hf_opened, False),
                        ("GET", "/api/ua/v1/account/mode", self.account_mode, False),
                        ("GET", "/api/v3/margin/symbols", self.margin_symbols, False),
                        ("GET", "/api/v1/isolated/symbols", self.isolated_symbols, False),
                        ("GET", "/api/v1/accounts", self.accounts, False),
                        ("POST", "/api/v1/bullet-private", self.bullet, False),
                        ("POST", "/api/v1/hf/orders", self.spot_place, True),
                        ("GET", "/api/v1/hf/orders/active", self.spot_active, False),
                        ("GET", "/api/v1/hf/orders/done", self.spot_done, False),
                        ("GET", "/api/v1/hf/orders/client-order/{clientOid}", self.spot_get, False),
                        ("DELETE", "/api/v1/hf/orders/client-order/{clientOid}", self.spot_cancel, True),
                        ("GET", "/api/v1/hf/orders/{orderId}", self.spot_get, False),
                        ("DELETE", "/api/v1/hf/orders/{orderId}", self.spot_cancel, True),
                        ("GET", "/api/v1/hf/fills", self.spot_fills, False)]
        futures_public = [("GET", "/api/v1/timestamp", self.time), ("GET", "/api/v1/contracts/active", self.contracts),
                          ("GET", "/api/v1/ticker", self.futures_ticker),
                          ("GET", "/api/v1/kline/query", self.futures_klines)]
        futures_private = [("GET", "/api/v1/account-overview", self.overview, False),
                           ("GET", "/api/v1/positions", self.positions, False),
                           ("POST", "/api/v1/bullet-private", self.bullet, False),
                           ("POST", "/api/v1/orders", self.futures_place, True),
                           ("GET", "/api/v1/orders/byClientOid", self.futures_get, False),
                           ("GET", "/api/v1/orders/{orderId}", self.futures_get, False),
                           ("GET", "/api/v1/orders", self.futures_list, False),
                           ("DELETE", "/api/v1/orders/client-order/{clientOid}", self.futures_cancel, True),
                           ("DELETE", "/api/v1/orders/{orderId}", self.futures_cancel, True),
                           ("GET", "/api/v1/fills", self.futures_fills, False)]
        routes = ([Route(m, p, h) for m, p, h in spot_public] +
                  [Route(m, p, h, False, True, t) for m, p, h, t in spot_private] +
                  [Route(m, p, h, True) for m, p, h in futures_public] +
                  [Route(m, p, h, True, True, t) for m, p, h, t in futures_private])
        return [web.route(r.method, (FUTURES_PREFIX if r.futures else "") + r.path, self._handler(r)) for r in routes]

    # --- the pipeline ----------------------------------------------------------------------
    def _handler(self, route: Route):
        name = f"{route.method} {FUTURES_PREFIX if route.futures else ''}{route.path}"

        async def run(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.text()
                key = self.authenticate(request, body, route.futures) if route.private else None
                params = self._params(request, body)
                account = key.account.name if key else None
                if key is not None and route.trade and not key.can_trade:
                    raise KucoinError("400007", "Access denied, require more permission.", 401)
                self.sim.request_log.append((time.time(), name, account))
                result = await self.sim.faults.plan(name, account).run(lambda: route.handler(key, params, request))
                return web.json_response(kw.envelope(result))
            except Injected as fault:
                if fault.error is None:  # done, but the caller never hears: the connection just drops
                    request.transport.close()
                    return web.Response(status=500)
                return self._answer(self._fault(fault.error))
            except BinanceError as err:
                return self._answer(kucoin_error(err, route.futures))
            except KucoinError as err:
                return self._answer(err)

        return run

    @staticmethod
    def _answer(err: KucoinError) -> web.Response:
        return web.json_response({"code": err.code, "msg": err.msg}, status=err.status, headers=err.headers)

    @staticmethod
    def _fault(err: BinanceError) -> KucoinError:
        """An injected fault (faults.py speaks Binance) as KuCoin shows it."""
        if err.status in (429, 418) or err.code == -1003:
            wait_ms = int(float(err.headers.get("Retry-After", 1)) * 1000)
            return KucoinError("429000", "Too many requests. System-level rate limit exceeded.", 429,
                               {"gw-ratelimit-limit": "4000", "gw-ratelimit-remaining": "0",
                                "gw-ratelimit-reset": str(wait_ms)})
        if err.code == -1007:  # the gateway gave up waiting for the matching engine
            return KucoinError("504", "Gateway Timeout", 504)
        if err.status >= 500:
            return KucoinError("500000", "Internal Server Error", err.status)
        return KucoinError(str(err.code) if err.code > 0 else "400100", err.msg, err.status if err.status < 500 else 200)

    def authenticate(self, request: web.Request, body: str, futures: bool) -> ApiKey:
        headers = request.headers
        api_key, signature = headers.get("KC-API-KEY"), headers.get("KC-API-SIGN")
        timestamp, passphrase = headers.get("KC-API-TIMESTAMP"), headers.get("KC-API-PASSPHRASE")
        if not (api_key and signature and timestamp and passphrase):
            raise KucoinError("400001", "Please check the header of your request for KC-API-KEY, KC-API-SIGN, "
                                        "KC-API-TIMESTAMP, KC-API-PASSPHRASE", 401)
        try:
            stamp = int(timestamp)
        except ValueError:
            raise KucoinError("400002", "KC-API-TIMESTAMP Invalid", 401) from None
        if abs(stamp - self.exchange.now_ms()) > MAX_CLOCK_SKEW_MS:
            raise KucoinError("400002", "KC-API-TIMESTAMP Invalid -- Time differs from server time by more than 5 "
                                        "seconds", 401)
        key = self.exchange.keys.get(api_key)
        if key is None:
            raise KucoinError("400003", "KC-API-KEY not exists", 401)
        signed_passphrase = base64.b64encode(hmac.new(key.secret.encode(), key.passphrase.encode(),
                                                      hashlib.sha256).digest()).decode()
        if headers.get("KC-API-KEY-VERSION") != "2" or not hmac.compare_digest(passphrase, signed_passphrase):
            raise KucoinError("400004", "Invalid KC-API-PASSPHRASE", 401)
        path = request.raw_path[len(FUTURES_PREFIX):] if futures else request.raw_path
        expected = base64.b64encode(hmac.new(key.secret.encode(), (timestamp + request.method + path + body).encode(),
                                             hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, signature):
            raise KucoinError("400005", "Invalid KC-API-SIGN", 401)
        return key

    @staticmethod
    def _params(request: web.Request, body: str) -> dict:
        params = dict(request.query)
        if request.method == "POST" and body:
            try:
                posted = json.loads(body)
            except ValueError:
                raise bad_param("Invalid JSON") from None
            if not isinstance(posted, dict):
                raise bad_param("Invalid JSON")
            params.update({k: v for k, v in posted.items() if v is not None})
        return params

    # --- parameter helpers -----------------------------------------------------------------
    def _symbol(self, params: dict, futures: bool, *, required: bool = True) -> Symbol | None:
        raw = params.get("symbol")
        if not raw:
            if required:
                raise bad_param("symbol is required") if not futures else KucoinError("100001",
                                                                                      "Contract parameter invalid.")
            return None
        sym = kw.book_symbol(self.exchange, raw, futures)
        if sym is None:
            raise bad_param("Unsupported trading pair.") if not futures else \
                KucoinError("100001", "Contract parameter invalid.")
        return sym

    @staticmethod
    def _decimal(params: dict, name: str) -> Decimal | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        text = format(raw, "f") if isinstance(raw, Decimal) else str(raw)
        if isinstance(raw, bool) or not DECIMAL.match(text):
            raise bad_param(f"{name} invalid")
        return Decimal(text)

    @staticmethod
    def _int(params: dict, name: str, default: int | None = None) -> int | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise bad_param(f"{name} invalid") from None

    @staticmethod
    def _client_oid(params: dict) -> str:
        cid = params.get("clientOid")
        if not cid:
            raise bad_param("clientOid is required")  # KuCoin asks for one on every new order
        if not isinstance(cid, str) or not CLIENT_OID.match(cid):
            raise bad_param("clientOid invalid")
        return cid

    # --- public ----------------------------------------------------------------------------
    async def time(self, key, params, request) -> int:
        return self.exchange.now_ms()

    async def symbols(self, key, params, request) -> list:
        return [kw.spot_symbol(s) for s in self.exchange.symbols.values()]

    async def currencies(self, key, params, request) -> list:
        coins = sorted({s.base for s in self.exchange.symbols.values()} | {s.quote for s in self.exchange.symbols.values()})
        return [{"currency": c, "name": c, "fullName": c, "precision": 8, "confirms": None, "contractAddress": None,
                 "isMarginEnabled": False, "isDebitEnabled": False,
                 "chains": [{"chainName": c, "withdrawalMinSize": "0", "depositMinSize": "0", "withdrawFeeRate": "0",
                             "withdrawalMinFee": "0", "isWithdrawEnabled": True, "isDepositEnabled": True,
                             "confirms": 1, "preConfirms": 1, "contractAddress": "", "chainId": c.lower(),
                             "withdrawPrecision": 8, "maxWithdraw": None, "maxDeposit": None, "needTag": False}]}
                for c in coins]

    async def all_tickers(self, key, params, request) -> dict:
        return {"time": self.exchange.now_ms(), "ticker": [kw.spot_ticker(self.exchange, s)
                                                          for s in self.exchange.symbols.values()]}

    async def stats(self, key, params, request) -> dict:
        return kw.spot_ticker(self.exchange, self._symbol(params, False), stats=True)

    async def level1(self, key, params, request) -> dict:
        sym = self._symbol(params, False)
        price, tick = self.exchange.prices[sym.name], sym.tick_size
        return {"time": self.exchange.now_ms(), "sequence": str(self.exchange.now_ms()), "price": fx(price),
                "size": "0", "bestBid": fx(price - tick), "bestBidSize": "10", "bestAsk": fx(price + tick),
                "bestAskSize": "10"}

    async def candles(self, key, params, request) -> list:
        sym = self._symbol(params, False)
        kind = params.get("type")
        if kind not in SPOT_CANDLES:
            raise bad_param("type invalid")
        interval = INTERVALS_MS[SPOT_CANDLES[kind]]
        start, end = self._int(params, "startAt"), self._int(params, "endAt")  # seconds
        end_ms = end * 1000 if end else self.exchange.now_ms()
        start_ms = start * 1000 if start else end_ms - 100 * interval
        rows = klines(self.exchange, sym.name, interval, 1500, start_ms, end_ms)
        # KuCoin: [time (s), open, close, high, low, volume, turnover], newest first.
        return [[str(r[0] // 1000), fx(Decimal(r[1])), fx(Decimal(r[4])), fx(Decimal(r[2])), fx(Decimal(r[3])), "0",
                 "0"] for r in reversed(rows)]

    async def contracts(self, key, params, request) -> list:
        return [kw.futures_contract(self.exchange, s, self._listed_ms) for s in self.exchange.symbols.values()]

    async def futures_ticker(self, key, params, request) -> dict:
        return kw.futures_ticker(self.exchange, self._symbol(params, True))

    async def futures_klines(self, key, params, request) -> list:
        sym = self._symbol(params, True)
        granularity = self._int(params, "granularity")
        if granularity not in FUTURES_GRANULARITY:
            raise bad_param("granularity invalid")
        interval = INTERVALS_MS[FUTURES_GRANULARITY[granularity]]
        end = self._int(params, "to", self.exchange.now_ms())
        start = self._int(params, "from", end - 199 * interval)
        rows = klines(self.exchange, sym.name, interval, 200, start, end)
        # KuCoin futures: [time (ms), open, high, low, close, volume], oldest first, numbers.
        return [[r[0], *(kw.number(Decimal(v)) for v in r[1:5]), 0] for r in rows]

    # --- account ---------------------------------------------------------------------------
    async def hf_opened(self, key: ApiKey, params, request) -> bool:
        return True  # every account trades on the high-frequency engine

    async def account_mode(self, key: ApiKey, params, request) -> dict:
        return {"selfAccountMode": "CLASSIC", "tradeType": "", "accountMode": "CLASSIC"}

    async def margin_symbols(self, key: ApiKey, params, request) -> dict:
        return {"timestamp": self.exchange.now_ms(), "items": []}  # no margin trading here

    async def isolated_symbols(self, key: ApiKey, params, request) -> list:
        return []

    async def accounts(self, key: ApiKey, params, request) -> list:
        if params.get("type") not in (None, "", "trade_hf", "trade"):
            return []
        account = key.account
        coins = sorted(set(account.balances) | set(account.locked))
        return [kw.spot_account(account, c, i) for i, c in enumerate(coins)
                if params.get("currency") in (None, "", c)]

    async def bullet(self, key: ApiKey, params, request) -> dict:
        futures = request.path.startswith(FUTURES_PREFIX)
        token = self.userdata.issue(key, futures)
        host = request.host
        return {"token": token, "instanceServers": [
            {"endpoint": f"ws://{host}/{'ws-api-futures' if futures else 'ws-api-spot'}/", "encrypt": False,
             "protocol": "websocket", "pingInterval": 18000, "pingTimeout": 10000}]}

    async def overview(self, key: ApiKey, params, request) -> dict:
        currency = params.get("currency") or "XBT"
        if currency != "USDT":
            raise bad_param("currency not supported")
        return kw.account_overview(self.perps, self.perps.book(key.account), currency)

    async def positions(self, key: ApiKey, params, request) -> list:
        book = self.perps.book(key.account)
        return [kw.position(self.perps, book, self.exchange.symbols[name], f"{kw.FUTURES_ID_BASE + i:024x}")
                for i, ((name, side), held) in enumerate(sorted(book.positions.items()))
                if held.quantity and side == "BOTH"]

    # --- spot orders -----------------------------------------------------------------------
    async def spot_place(self, key: ApiKey, params, request) -> dict:
        cid = self._client_oid(params)
        sym = self._symbol(params, False)
        side = {"buy": "BUY", "sell": "SELL"}.get(params.get("side"))
        if side is None:
            raise bad_param("side invalid")
        order_type = {"market": "MARKET", "limit": "LIMIT"}.get(params.get("type") or "limit")
        if order_type is None:
            raise bad_param("type invalid")
        size, funds = self._decimal(params, "size"), self._decimal(params, "funds")
        price = self._decimal(params, "price") if order_type == "LIMIT" else None
        tif = params.get("timeInForce") or "GTC"
        if order_type == "LIMIT":
            if size is None or price is None or price <= 0:
                raise bad_param("price and size are required for a limit order")
            if not is_multiple(price, sym.tick_size):
                raise bad_param("Price increment invalid.")
            if tif not in ("GTC", "IOC", "FOK"):
                raise bad_param("timeInForce invalid")
        elif (size is None) == (funds is None):
            raise bad_param("size or funds is required for a market order, not both")
        if size is not None:
            if size <= 0 or not is_multiple(size, sym.step_size):
                raise bad_param("Order size increment invalid.")
            if size < sym.min_qty:
                raise bad_param("Order size below the minimum requirement.")
        if funds is not None and funds < sym.min_notional:
            raise KucoinError("600101", f"The order funds should more then {fx(sym.min_notional)} {sym.quote}.")
        if params.get("postOnly") in (True, "true") and order_type == "LIMIT" and \
                self.exchange._crosses(side, price, self.exchange.prices[sym.name]):
            raise bad_param("Post only order would take liquidity")
        order, _ = self.exchange.place_order(
            key.account, symbol=sym.name, side=side, type=order_type, quantity=size, quote_qty=funds, price=price,
            time_in_force=tif if order_type == "LIMIT" else None, client_order_id=cid)
        return {"orderId": kw.order_id(order), "clientOid": cid}

    def _spot_order(self, key: ApiKey, params: dict, match):
        sym = self._symbol(params, False)
        account = key.account
        if "clientOid" in match:
            number = account.by_client_id.get(match["clientOid"])
        else:
            number = kw.parse_id(match.get("orderId", ""), False)
        order = account.orders.get(number) if number is not None else None
        if order is None or order.symbol != sym.name or \
                ("clientOid" in match and order.client_order_id != match["clientOid"]):
            return None
        return order

    async def spot_get(self, key: ApiKey, params, request) -> dict:
        order = self._spot_order(key, params, request.match_info)
        if order is None:
            raise bad_param("order not exist.")
        return kw.spot_order(self.exchange, order, key.account.trades)

    async def spot_cancel(self, key: ApiKey, params, request) -> dict:
        match = request.match_info
        order = self._spot_order(key, params, match)
        if order is None or not order.is_open:
            raise bad_param("order_not_exist_or_not_allow_to_cancel")
        self.exchange.cancel_order(key.account, order.symbol, order.order_id, None)
        return {"clientOid": order.client_order_id} if "clientOid" in match else {"orderId": kw.order_id(order)}

    def _spot_orders(self, key: ApiKey, params: dict, open_: bool) -> list:
        sym = self._symbol(params, False)
        rows = sorted((o for o in key.account.orders.values() if o.symbol == sym.name and o.is_open == open_),
                      key=lambda o: o.order_id, reverse=True)
        return [kw.spot_order(self.exchange, o, key.account.trades) for o in rows]

    async def spot_active(self, key: ApiKey, params, request) -> list:
        return self._spot_orders(key, params, True)

    async def spot_done(self, key: ApiKey, params, request) -> dict:
        rows = self._spot_orders(key, params, False)[:max(1, min(self._int(params, "limit", 20), 100))]
        return {"lastId": int(rows[-1]["createdAt"]) if rows else 0, "items": rows}

    async def spot_fills(self, key: ApiKey, params, request) -> dict:
        """Fills of one symbol, newest first, createdAt within [startAt, endAt] (ms)."""
        sym = self._symbol(params, False)
        start, end = self._int(params, "startAt"), self._int(params, "endAt")
        number = kw.parse_id(params["orderId"], False) if params.get("orderId") else None
        rows = [t for t in key.account.trades if t.symbol == sym.name and (start is None or t.time_ms >= start)
                and (end is None or t.time_ms <= end) and number in (None, t.order_id)]
        rows.sort(key=lambda t: t.trade_id, reverse=True)
        rows = rows[:max(1, min(self._int(params, "limit", 20), 100))]
        return {"items": [kw.spot_fill(self.exchange, key.account.orders[t.order_id], t) for t in rows],
                "lastId": rows[-1].trade_id if rows else 0}

    # --- futures orders --------------------------------------------------------------------
    async def futures_place(self, key: ApiKey, params, request) -> dict:
        cid = self._client_oid(params)
        sym = self._symbol(params, True)
        spec = kw.contract(sym)
        side = {"buy": "BUY", "sell": "SELL"}.get(params.get("side"))
        if side is None:
            raise bad_param("side invalid")
        order_type = {"market": "MARKET", "limit": "LIMIT"}.get(params.get("type") or "limit")
        if order_type is None:
            raise bad_param("type invalid")
        size = self._decimal(params, "size")
        if size is None or size != size.to_integral_value():
            raise bad_param("Order size increment invalid.")
        if size < 1:
            raise bad_param("The quantity is below the minimum requirement.")
        price = self._decimal(params, "price") if order_type == "LIMIT" else None
        if order_type == "LIMIT" and (price is None or price <= 0 or not is_multiple(price, spec.tick)):
            raise bad_param("Price parameter invalid.")
        tif = params.get("timeInForce") or "GTC"
        if tif not in ("GTC", "IOC"):
            raise bad_param("timeInForce invalid")
        if params.get("postOnly") in (True, "true"):
            tif = "GTX"
        leverage = self._decimal(params, "leverage")
        if leverage is not None:
            if leverage != leverage.to_integral_value() or not 1 <= leverage <= spec.max_leverage:
                raise bad_param("leverage invalid")
            self.perps.set_leverage(key.account, sym.name, int(leverage))
        if params.get("marginMode") not in (None, "ISOLATED", "CROSS"):
            raise bad_param("marginMode invalid")
        if params.get("positionSide") not in (None, "BOTH"):
            raise KucoinError("330012", "Your order is in One-Way Mode, while your account is set to Hedge Mode. "
                                        "Update your settings so they match and try again.")
        order = self.perps.place_order(
            key.account, symbol=sym.name, side=side, type=order_type, quantity=size * spec.multiplier, price=price,
            time_in_force=tif if order_type == "LIMIT" else None, client_order_id=cid,
            reduce_only=params.get("reduceOnly") in (True, "true"), position_side="BOTH")
        return {"orderId": kw.order_id(order), "clientOid": cid}

    def _futures_order(self, key: ApiKey, params: dict, match):
        book = self.perps.book(key.account)
        cid = match.get("clientOid") or (params.get("clientOid") if "orderId" not in match else None)
        if cid:
            number = book.by_client_id.get(cid)
        else:
            number = kw.parse_id(match.get("orderId", ""), True)
        order = book.orders.get(number) if number is not None else None
        if order is None or (cid and order.client_order_id != cid):
            return None
        if params.get("symbol") and kw.book_symbol(self.exchange, params["symbol"], True) is not \
                self.exchange.symbols[order.symbol]:
            return None
        return order

    async def futures_get(self, key: ApiKey, params, request) -> dict:
        match = request.match_info
        if "orderId" not in match and not params.get("clientOid"):
            raise bad_param("clientOid is required")
        order = self._futures_order(key, params, match)
        if order is None:
            raise KucoinError("100001", "error.getOrder.orderNotExist")
        return kw.futures_order(self.exchange, self.perps, key.account, order)

    async def futures_cancel(self, key: ApiKey, params, request) -> dict:
        match = request.match_info
        if "clientOid" in match:
            self._symbol(params, True)  # cancelling by clientOid names the contract
        order = self._futures_order(key, params, match)
        if order is None:
            raise KucoinError("100001", "error.getOrder.orderNotExist")
        if not order.is_open:
            raise KucoinError("100004", "Order is in not cancelable state")
        self.perps.cancel_order(key.account, order.symbol, order.order_id, None)
        return {"clientOid": order.client_order_id} if "clientOid" in match else \
            {"cancelledOrderIds": [kw.order_id(order)]}

    async def futures_list(self, key: ApiKey, params, request) -> dict:
        status = params.get("status") or "active"
        sym = self._symbol(params, True, required=False)
        rows = sorted((o for o in self.perps.book(key.account).orders.values()
                       if o.is_open == (status == "active") and (sym is None or o.symbol == sym.name)),
                      key=lambda o: o.order_id, reverse=True)
        items = [kw.futures_order(self.exchange, self.perps, key.account, o) for o in rows[:50]]
        return {"currentPage": 1, "pageSize": 50, "totalNum": len(items), "totalPage": 1, "items": items}

    async def futures_fills(self, key: ApiKey, params, request) -> dict:
        """Fills, newest first: by symbol, orderId, and createdAt within [startAt, endAt] (ms)."""
        sym = self._symbol(params, True, required=False)
        start, end = self._int(params, "startAt"), self._int(params, "endAt")
        number = kw.parse_id(params["orderId"], True) if params.get("orderId") else None
        book = self.perps.book(key.account)
        rows = [t for t in book.trades if (sym is None or t.symbol == sym.name) and number in (None, t.order_id)
                and (start is None or t.time_ms >= start) and (end is None or t.time_ms <= end)]
        rows.sort(key=lambda t: t.trade_id, reverse=True)
        size = max(1, min(self._int(params, "pageSize", 50), 1000))
        items = [kw.futures_fill(self.exchange, book.orders[t.order_id], t) for t in rows[:size]]
        return {"currentPage": 1, "pageSize": size, "totalNum": len(rows), "totalPage": 1, "items": items}
