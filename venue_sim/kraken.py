"""Kraken's spot REST API (/0/public, /0/private) on the simulated venue: time, assets, asset
pairs, tickers and OHLC; extended balances, orders (AddOrder, CancelOrder, QueryOrders,
OpenOrders, ClosedOrders), TradesHistory and GetWebSocketsToken.

Signing: a private call is a POST whose form (or JSON) body carries a `nonce`; headers API-Key
and API-Sign = base64(HMAC-SHA512(base64-decoded secret, URI path + SHA256(nonce + body))).
The nonce must grow with every call of a key ("EAPI:Invalid nonce" otherwise). A bad signature
or unknown key is "EAPI:Invalid key".

Every answer is {"error": [...], "result": ...}, HTTP 200 for Kraken's own refusals (errors are
"Severity Category:Message" strings such as "EOrder:Insufficient funds"); injected server
failures answer 5xx.

Client order ids: `cl_ord_id` (a UUID, long or short, or free text of at most 18 ASCII
characters) or `userref` (a signed 32-bit integer), not both. Kraken enforces cl_ord_id's
uniqueness among open orders only; OpenOrders, ClosedOrders and CancelOrder take cl_ord_id, so
an order can be found by it; QueryOrders needs Kraken's txid."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from aiohttp import web

from venue_sim import kraken_wire as kw
from venue_sim.book import ApiKey, BinanceError, Order, is_multiple

if TYPE_CHECKING:
    from venue_sim.server import Simulator

API_KEY = re.compile(r"^[A-Za-z0-9]{56}$")
CL_ORD_ID = re.compile(r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                       r"|[0-9a-fA-F]{32}|[\x21-\x7e]{1,18})$")
DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
INT32 = (-2**31, 2**31 - 1)
WS_TOKEN_TTL_S = 900


def new_credentials() -> tuple[str, str]:
    """A Kraken API key: 56 letters and digits, and a base64 secret of 64 random bytes."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(56)), base64.b64encode(secrets.token_bytes(64)).decode()


# What the book keeps for this venue: fees in the quote currency, Kraken's key format and
# cl_ord_id formats.
VENUE_RULES = {"fee_in_quote": True, "key_format": API_KEY, "new_credentials": new_credentials,
               "client_id_format": CL_ORD_ID}


class KrakenError(Exception):
    """A refusal: Kraken's error strings, HTTP 200 unless the server itself failed."""

    def __init__(self, *errors: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(", ".join(errors))
        self.errors, self.status, self.headers = list(errors), status, headers or {}


def invalid(argument: str = "") -> KrakenError:
    return KrakenError("EGeneral:Invalid arguments" + (f":{argument}" if argument else ""))


def sign(path: str, body: str, nonce: str, secret: str) -> str:
    """API-Sign: base64(HMAC-SHA512(base64-decoded secret, path + SHA256(nonce + body)))."""
    digest = hashlib.sha256((nonce + body).encode()).digest()
    return base64.b64encode(hmac.new(base64.b64decode(secret), path.encode() + digest, hashlib.sha512).digest()).decode()


# The book's refusals (Binance codes) as Kraken's error strings.
def _refusal(err: BinanceError) -> KrakenError:
    if err.code == -2010 and "insufficient" in err.msg:
        return KrakenError("EOrder:Insufficient funds")
    if "LOT_SIZE" in err.msg:
        return KrakenError("EOrder:Order minimum not met")
    if "NOTIONAL" in err.msg:
        return KrakenError("EOrder:Cost minimum not met")
    if "PRICE_FILTER" in err.msg:
        return KrakenError("EOrder:Invalid price")
    if err.code == -2010 and "Duplicate" in err.msg:
        return KrakenError("EOrder:Duplicate order")
    if err.code == -1121:
        return KrakenError("EQuery:Unknown asset pair")
    if err.code in (-2011, -2013):
        return KrakenError("EOrder:Unknown order")
    return KrakenError(f"EGeneral:Invalid arguments:{err.msg}")


@dataclass(frozen=True)
class Route:
    path: str
    handler: Callable[[ApiKey | None, dict], Awaitable[object]]
    private: bool = True
    trade: bool = False


class KrakenApi:
    def __init__(self, sim: Simulator) -> None:
        self.sim, self.exchange = sim, sim.exchange
        self.userdata = sim.userdata
        self.nonces: dict[str, int] = {}  # API key -> the last nonce it used

    def routes(self) -> list[web.RouteDef]:
        public = [("Time", self.time), ("Assets", self.assets), ("AssetPairs", self.asset_pairs),
                  ("Ticker", self.ticker), ("OHLC", self.ohlc), ("SystemStatus", self.system_status)]
        private = [("BalanceEx", self.balance_ex, False), ("Balance", self.balance, False),
                   ("AddOrder", self.add_order, True), ("CancelOrder", self.cancel_order, True),
                   ("QueryOrders", self.query_orders, False), ("OpenOrders", self.open_orders, False),
                   ("ClosedOrders", self.closed_orders, False), ("TradesHistory", self.trades_history, False),
                   ("GetWebSocketsToken", self.websockets_token, False)]
        routes = [Route(f"/0/public/{n}", h, private=False) for n, h in public]
        routes += [Route(f"/0/private/{n}", h, trade=t) for n, h, t in private]
        defs = [web.post(r.path, self._handler(r)) for r in routes if r.private]
        defs += [web.route(m, r.path, self._handler(r)) for r in routes if not r.private for m in ("GET", "POST")]
        return defs

    # --- the pipeline ----------------------------------------------------------------------
    def _handler(self, route: Route):
        name = f"POST {route.path}" if route.private else f"GET {route.path}"

        async def run(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.text()
                params = self._params(request, body)
                key = self.authenticate(request, body, params) if route.private else None
                if route.trade and not key.can_trade:
                    raise KrakenError("EGeneral:Permission denied")
                account = key.account.name if key else None
                self.sim.request_log.append((time.time(), name, account))
                plan = self.sim.faults.plan(name, account)
                if plan.latency_s:  # the network's delay: the nonce is checked on arrival, after it
                    await asyncio.sleep(plan.latency_s)
                if key is not None:
                    self._check_nonce(key, params)
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
                return web.json_response(kw.envelope(result))
            except BinanceError as err:
                return self._answer(_refusal(err))
            except KrakenError as err:
                return self._answer(err)

        return run

    @staticmethod
    def _answer(err: KrakenError) -> web.Response:
        return web.json_response({"error": err.errors}, status=err.status, headers=err.headers)

    @staticmethod
    def _fault(err: BinanceError) -> KrakenError:
        """An injected fault (faults.py speaks Binance) as Kraken shows it. Kraken's rate
        limits are counters that decay: a refusal says nothing of when to come back."""
        if err.status in (429, 418) or err.code == -1003:
            return KrakenError("EAPI:Rate limit exceeded")
        if err.code == -1007:  # the engine did not answer in time: placed or not, unknown
            return KrakenError("EService:Deadline elapsed")
        if err.status >= 500:
            return KrakenError("EGeneral:Internal error", status=err.status)
        return KrakenError(err.msg if err.msg.startswith("E") else "EOrder:Order minimum not met")

    @staticmethod
    def _params(request: web.Request, body: str) -> dict:
        if request.method == "GET":
            return dict(request.query)
        if request.content_type == "application/json":
            try:
                params = json.loads(body) if body else {}
            except ValueError:
                raise invalid() from None
            if not isinstance(params, dict):
                raise invalid()
            return {k: v if isinstance(v, (str, list, dict)) else json.dumps(v) for k, v in params.items()}
        return {**request.query, **dict(parse_qsl(body, keep_blank_values=True))}

    def authenticate(self, request: web.Request, body: str, params: dict) -> ApiKey:
        key = self.exchange.keys.get(request.headers.get("API-Key") or "")
        signature = request.headers.get("API-Sign") or ""
        nonce = str(params.get("nonce") or "")
        if key is None or not signature:
            raise KrakenError("EAPI:Invalid key")
        if not nonce.isdigit():
            raise KrakenError("EAPI:Invalid nonce")
        try:
            expected = sign(request.path, body, nonce, key.secret)
        except (binascii.Error, ValueError):
            raise KrakenError("EAPI:Invalid key") from None
        if not hmac.compare_digest(expected, signature):
            raise KrakenError("EAPI:Invalid key")
        return key

    def _check_nonce(self, key: ApiKey, params: dict) -> None:
        """The nonce must be above the last one this key used, in the order calls arrive."""
        nonce = int(params["nonce"])
        if nonce <= self.nonces.get(key.key, 0):
            raise KrakenError("EAPI:Invalid nonce")
        self.nonces[key.key] = nonce

    # --- helpers ---------------------------------------------------------------------------
    def _pair(self, raw: str | None):
        sym = next((s for s in self.exchange.symbols.values()
                    if raw in (kw.pair_id(s), kw.asset_pair(s)["wsname"], kw.ws_symbol(s))), None)
        if sym is None:
            raise KrakenError("EQuery:Unknown asset pair")
        return sym

    @staticmethod
    def _decimal(params: dict, name: str, *, required: bool = False) -> Decimal | None:
        raw = params.get(name)
        if raw is None or raw == "":
            if required:
                raise invalid(name)
            return None
        if not DECIMAL.match(str(raw)):
            raise invalid(name)
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            raise invalid(name) from None

    @staticmethod
    def _flag(params: dict, name: str) -> bool:
        return str(params.get(name, "")).lower() in ("true", "1")

    def _order_json(self, key: ApiKey, order: Order, with_trades: bool = False) -> dict:
        return kw.order_json(self.exchange, order, key.account.trades, userref=self.userdata.userrefs.get(order.order_id),
                             with_trades=with_trades, post_only=order.order_id in self.userdata.post_only)

    def _by_client_id(self, key: ApiKey, params: dict) -> list[Order]:
        """Orders named by cl_ord_id or userref (and the txid list, when given)."""
        cl_ord_id, userref = params.get("cl_ord_id") or None, params.get("userref")
        orders = key.account.orders.values()
        if cl_ord_id is not None:
            orders = [o for o in orders if o.client_order_id == cl_ord_id]
        if userref not in (None, ""):
            try:
                wanted = int(userref)
            except ValueError:
                raise invalid("userref") from None
            orders = [o for o in orders if self.userdata.userrefs.get(o.order_id) == wanted]
        return sorted(orders, key=lambda o: o.order_id)

    # --- market data -----------------------------------------------------------------------
    async def time(self, key, params) -> dict:
        now = self.exchange.clock()
        return {"unixtime": int(now), "rfc1123": time.strftime("%a, %d %b %y %H:%M:%S +0000", time.gmtime(now))}

    async def system_status(self, key, params) -> dict:
        return {"status": "online", "timestamp": kw.rfc3339(self.exchange.clock())}

    async def assets(self, key, params) -> dict:
        isos = sorted({a for s in self.exchange.symbols.values() for a in (s.base, s.quote)})
        wanted = set(str(params.get("asset") or "").split(",")) - {""}
        return {kw.asset_code(a): kw.asset_info(a) for a in isos
                if not wanted or kw.asset_code(a) in wanted or kw.asset_altname(a) in wanted}

    async def asset_pairs(self, key, params) -> dict:
        wanted = set(str(params.get("pair") or "").split(",")) - {""}
        syms = [self._pair(p) for p in wanted] if wanted else list(self.exchange.symbols.values())
        return {kw.pair_id(s): kw.asset_pair(s) for s in syms}

    async def ticker(self, key, params) -> dict:
        pairs = [self._pair(p) for p in str(params.get("pair") or "").split(",") if p] or \
            list(self.exchange.symbols.values())
        return {kw.pair_id(s): kw.ticker(self.exchange, s) for s in pairs}

    async def ohlc(self, key, params) -> dict:
        sym = self._pair(params.get("pair"))
        try:
            minutes = int(params.get("interval") or 1)
            since = int(params["since"]) if params.get("since") else None
        except ValueError:
            raise invalid("interval") from None
        if minutes not in kw.OHLC_MINUTES:
            raise invalid("interval")
        rows = kw.ohlc(self.exchange, sym.name, minutes, since)
        return {kw.pair_id(sym): rows, "last": rows[-1][0] if rows else 0}

    # --- account ---------------------------------------------------------------------------
    async def balance_ex(self, key: ApiKey, params) -> dict:
        return kw.balance_ex(key.account)

    async def balance(self, key: ApiKey, params) -> dict:
        return {code: row["balance"] for code, row in kw.balance_ex(key.account).items()}

    async def websockets_token(self, key: ApiKey, params) -> dict:
        token = base64.b64encode(secrets.token_bytes(32)).decode()
        self.userdata.tokens[token] = (key.key, self.exchange.clock() + WS_TOKEN_TTL_S)
        return {"token": token, "expires": WS_TOKEN_TTL_S}

    # --- orders ----------------------------------------------------------------------------
    async def add_order(self, key: ApiKey, params) -> dict:
        sym = self._pair(params.get("pair"))
        side = {"buy": "BUY", "sell": "SELL"}.get(params.get("type"))
        if side is None:
            raise invalid("type")
        order_type = {"market": "MARKET", "limit": "LIMIT"}.get(params.get("ordertype"))
        if order_type is None:
            raise invalid("ordertype")
        cl_ord_id, userref = params.get("cl_ord_id") or None, params.get("userref")
        if cl_ord_id is not None and userref not in (None, ""):
            raise invalid("cl_ord_id and userref are mutually exclusive")
        if cl_ord_id is not None and not CL_ORD_ID.match(cl_ord_id):
            raise KrakenError("EOrder:Invalid reference id")
        ref = None
        if userref not in (None, ""):
            try:
                ref = int(userref)
            except ValueError:
                raise KrakenError("EOrder:Invalid reference id") from None
            if not INT32[0] <= ref <= INT32[1]:
                raise KrakenError("EOrder:Invalid reference id")
        flags = set(str(params.get("oflags") or "").split(",")) - {""}
        if flags - {"post", "fcib", "fciq", "nompp", "viqc"}:
            raise invalid("oflags")
        volume = self._decimal(params, "volume", required=True)
        quote_qty = None
        if "viqc" in flags:  # volume in the quote currency (market buys)
            if order_type != "MARKET":
                raise invalid("viqc")
            quote_qty, volume = volume, None
        elif not is_multiple(volume, sym.step_size):
            raise invalid("volume")
        price = self._decimal(params, "price", required=order_type == "LIMIT") if order_type == "LIMIT" else None
        tif = str(params.get("timeinforce") or "GTC").upper()
        if tif not in ("GTC", "IOC", "FOK"):
            raise invalid("timeinforce")
        if price is not None and not is_multiple(price, sym.tick_size):
            raise KrakenError(f"EOrder:Invalid price:{kw.pair_id(sym)} price can only be specified up to "
                              f"{kw.decimals(sym.tick_size)} decimals.")
        post_only = "post" in flags
        if post_only and (order_type != "LIMIT" or self.exchange._crosses(side, price, self.exchange.prices[sym.name])):
            # Kraken takes a post-only order that would cross and cancels it at once; here it is refused.
            raise KrakenError("EOrder:Post only order")
        if self._flag(params, "validate"):
            return {"descr": {"order": f"{side.lower()} {params.get('volume')} {kw.pair_id(sym)} @ "
                                       f"{order_type.lower()}"}}
        if params.get("reduce_only") in ("true", True):
            raise invalid("reduce_only")  # margin only
        cid = cl_ord_id or f"sim-{secrets.token_hex(7)}"  # none given: the book wants one (18 characters)
        with self.userdata.tagging(ref, post_only):  # known before the order's first event is streamed
            order, _ = self.exchange.place_order(key.account, symbol=sym.name, side=side, type=order_type,
                                                 quantity=volume, quote_qty=quote_qty, price=price,
                                                 time_in_force=tif if order_type == "LIMIT" else None,
                                                 client_order_id=cid)
        return {"descr": {"order": kw.description(self.exchange, order)["order"]}, "txid": [kw.order_txid(order)]}

    async def cancel_order(self, key: ApiKey, params) -> dict:
        txid = params.get("txid")
        if params.get("cl_ord_id"):
            orders = [o for o in self._by_client_id(key, {"cl_ord_id": params["cl_ord_id"]}) if o.is_open]
        elif txid:
            number = kw.parse_id(str(txid), "O")
            if number is not None:
                orders = [o for o in [key.account.orders.get(number)] if o is not None and o.is_open]
            else:  # a userref names every open order carrying it
                orders = [o for o in self._by_client_id(key, {"userref": txid}) if o.is_open]
        else:
            raise invalid("txid")
        if not orders:
            raise KrakenError("EOrder:Unknown order")
        for order in orders:
            self.exchange.cancel_order(key.account, order.symbol, order.order_id, None)
        return {"count": len(orders)}

    async def query_orders(self, key: ApiKey, params) -> dict:
        txids = [t for t in str(params.get("txid") or "").split(",") if t]
        if not txids:
            raise invalid("txid")
        if len(txids) > 50:
            raise invalid("txid")
        with_trades = self._flag(params, "trades")
        result = {}
        for txid in txids:
            number = kw.parse_id(txid, "O")
            order = key.account.orders.get(number) if number is not None else None
            if order is None:
                raise KrakenError("EOrder:Invalid order")
            if params.get("userref") not in (None, "") and \
                    str(self.userdata.userrefs.get(order.order_id)) != str(params["userref"]):
                continue
            result[txid] = self._order_json(key, order, with_trades)
        return result

    async def open_orders(self, key: ApiKey, params) -> dict:
        orders = [o for o in self._by_client_id(key, params) if o.is_open]
        with_trades = self._flag(params, "trades")
        return {"open": {kw.order_txid(o): self._order_json(key, o, with_trades) for o in reversed(orders)}}

    async def closed_orders(self, key: ApiKey, params) -> dict:
        """The 50 most recent closed (filled, canceled) orders, newest first; start and end
        (UNIX seconds, start exclusive) bound their close time (or open time: closetime=open)."""
        use = params.get("closetime") or "both"
        start, end = self._seconds(params.get("start")), self._seconds(params.get("end"))
        rows = []
        for order in reversed(self._by_client_id(key, params)):
            if order.is_open:
                continue
            opened, closed = order.time_ms / 1000, order.update_ms / 1000
            at = opened if use == "open" else closed
            if (start is not None and at <= start) or (end is not None and at > end):
                continue
            rows.append(order)
        try:
            offset = int(params.get("ofs") or 0)
        except ValueError:
            raise invalid("ofs") from None
        page = rows[offset:offset + 50]
        with_trades = self._flag(params, "trades")
        return {"closed": {kw.order_txid(o): self._order_json(key, o, with_trades) for o in page}, "count": len(rows)}

    @staticmethod
    def _seconds(raw) -> float | None:
        if raw in (None, ""):
            return None
        try:
            return float(raw)
        except ValueError:
            raise invalid("start") from None

    async def trades_history(self, key: ApiKey, params) -> dict:
        """The 50 most recent trades, newest first; start (exclusive) and end bound their time."""
        start, end = self._seconds(params.get("start")), self._seconds(params.get("end"))
        orders = key.account.orders
        rows = [t for t in reversed(key.account.trades)
                if (start is None or t.at > start) and (end is None or t.at <= end)]
        try:
            offset = int(params.get("ofs") or 0)
        except ValueError:
            raise invalid("ofs") from None
        page = rows[offset:offset + 50]
        return {"trades": {kw.trade_txid(t): kw.trade_json(self.exchange, orders[t.order_id], t) for t in page},
                "count": len(rows)}
