"""Coinbase Advanced Trade's REST API (api/v3/brokerage) on the simulated venue: public
products, tickers and candles; accounts, the fee tier, orders (create, get, list, batch
cancel) and fills; spot.

Signing: every private request carries `Authorization: Bearer <JWT>`, a short-lived ES256
token signed with the API key's EC private key: header {alg: ES256, kid: key name, nonce},
claims {sub: key name, iss: "cdp" (or the older "coinbase-cloud"), nbf, exp (at most two
minutes later), uri: "METHOD host/path"}. The key name is organizations/{org}/apiKeys/{id}
and the secret a PEM EC key, as the CDP portal issues them. A token that does not verify is
HTTP 401 "Unauthorized". (ccxt strips "https://" only from the URL it puts in `uri`, so over
plain HTTP the claim reads "METHOD http://host/path"; the simulator takes both.)

Errors, as Coinbase answers them: a create-order refusal is HTTP 200 with `success: false`
and an `error_response` (error, message, preview_failure_reason); a malformed request is HTTP
400 {"error": "INVALID_ARGUMENT", ...}; an unknown order 404 {"error": "NOT_FOUND", ...};
too many requests 429; the gateway's own failures plain-text 5xx.

client_order_id is required, and idempotent: "If the ID provided is not unique, the order will
not be created and the order corresponding with that ID will be returned instead." There is
no lookup by client_order_id (Get Order's parameter is deprecated, List Orders has none)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from venue_sim import coinbase_wire as cw
from venue_sim.book import ZERO, ApiKey, BinanceError, Order, is_multiple

if TYPE_CHECKING:
    from venue_sim.server import Simulator

KEY_NAME = re.compile(r"^organizations/[0-9a-f-]{36}/apiKeys/[0-9a-f-]{36}$")
JWT_ISSUERS = ("cdp", "coinbase-cloud")
JWT_MAX_LIFETIME_S = 120
CLOCK_SKEW_S = 30
MAX_CLIENT_ORDER_ID = 128  # Coinbase publishes no charset or length; this bounds what is stored
DECIMAL = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")


def new_credentials() -> tuple[str, str]:
    """A CDP API key: its name and a PEM EC (P-256) private key."""
    name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return name, pem


# What the book keeps for this venue: fees in the quote currency, CDP keys, any client order id
# of printable characters (its length is checked here).
VENUE_RULES = {"fee_in_quote": True, "key_format": KEY_NAME, "new_credentials": new_credentials,
               "client_id_format": re.compile(r"^[\x20-\x7e]+$")}


@functools.lru_cache(maxsize=1024)
def _public_key(pem: str):
    return serialization.load_pem_private_key(pem.encode(), password=None).public_key()


class Unauthorized(Exception):
    pass


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jwt(keys: dict[str, ApiKey], token: str, *, uri: str | None, now: float) -> ApiKey:
    """The key a Coinbase JWT was signed with, checked: ES256 (r || s) by that key, kid = sub = a
    known key name, the issuer, nbf/exp (a lifetime of two minutes at most) and, for REST, the
    uri claim."""
    try:
        head, body, signature = token.split(".")
        header, claims, raw = json.loads(_b64url(head)), json.loads(_b64url(body)), _b64url(signature)
        key = keys.get(header.get("kid") or "")
        if key is None or header.get("alg") != "ES256" or len(raw) != 64:
            raise Unauthorized("unknown key or algorithm")
        der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        _public_key(key.secret).verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError, AttributeError, binascii.Error) as exc:
        raise Unauthorized(str(exc)) from None
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if claims.get("sub") != key.key or claims.get("iss") not in JWT_ISSUERS:
        raise Unauthorized("wrong subject or issuer")
    if not isinstance(nbf, int) or not isinstance(exp, int) or exp - nbf > JWT_MAX_LIFETIME_S:
        raise Unauthorized("bad lifetime")
    if now + CLOCK_SKEW_S < nbf or now > exp:
        raise Unauthorized("expired")
    if uri is not None:
        claimed = claims.get("uri")
        if not isinstance(claimed, str):
            raise Unauthorized("no uri claim")
        method, _, target = claimed.partition(" ")
        if f"{method} {target.removeprefix('http://')}" != uri:
            raise Unauthorized("uri claim does not match the request")
    return key


class CoinbaseError(Exception):
    """An answer other than success: an HTTP status and a JSON body (or plain text)."""

    def __init__(self, status: int, body: dict | None = None, *, text: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(text or json.dumps(body))
        self.status, self.body, self.text, self.headers = status, body, text, headers or {}


def invalid(message: str) -> CoinbaseError:
    return CoinbaseError(400, {"error": "INVALID_ARGUMENT", "error_details": message, "message": message})


def not_found(message: str = "order with this orderID was not found") -> CoinbaseError:
    return CoinbaseError(404, {"error": "NOT_FOUND", "error_details": message, "message": message})


UNAUTHORIZED = CoinbaseError(401, text="Unauthorized\n")


class OrderRefused(Exception):
    """A create-order refusal: HTTP 200, success false (NewOrderFailureReason, PreviewFailureReason)."""

    def __init__(self, error: str, message: str, preview: str = "") -> None:
        super().__init__(message)
        self.error, self.message, self.preview = error, message, preview


def _refusal(err: BinanceError) -> OrderRefused:
    """The book's refusals as Coinbase words them."""
    if err.code == -2010 and "insufficient" in err.msg:
        return OrderRefused("INSUFFICIENT_FUND", "Insufficient balance in source account", "PREVIEW_INSUFFICIENT_FUND")
    if "LOT_SIZE" in err.msg:
        return OrderRefused("INVALID_SIZE_PRECISION", "Invalid order size", "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL")
    if "NOTIONAL" in err.msg:
        return OrderRefused("INVALID_SIZE_PRECISION", "Order size is too small",
                            "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL")
    if "PRICE_FILTER" in err.msg:
        return OrderRefused("INVALID_PRICE_PRECISION", "Invalid price precision", "PREVIEW_INVALID_PRICE_PRECISION")
    if err.code == -1121:
        return OrderRefused("INVALID_PRODUCT_ID", "Invalid product_id", "PREVIEW_INVALID_PRODUCT_ID")
    return OrderRefused("UNKNOWN_FAILURE_REASON", err.msg)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[ApiKey | None, web.Request, dict], Awaitable[object]]
    private: bool = True
    trade: bool = False


class CoinbaseApi:
    def __init__(self, sim: Simulator) -> None:
        self.sim, self.exchange = sim, sim.exchange
        self.post_only: set[int] = sim.userdata.post_only  # book ids of orders placed post-only

    def routes(self) -> list[web.RouteDef]:
        v3 = "/api/v3/brokerage"
        routes = [
            Route("GET", f"{v3}/time", self.time, private=False), Route("GET", "/v2/time", self.time_v2, private=False),
            Route("GET", "/v2/currencies", self.fiat_currencies, private=False),
            Route("GET", "/v2/currencies/crypto", self.crypto_currencies, private=False),
            Route("GET", "/v2/exchange-rates", self.exchange_rates, private=False),
            Route("GET", f"{v3}/market/products", self.products, private=False),
            Route("GET", f"{v3}/market/products/{{product_id}}", self.product, private=False),
            Route("GET", f"{v3}/market/products/{{product_id}}/ticker", self.ticker, private=False),
            Route("GET", f"{v3}/market/products/{{product_id}}/candles", self.candles, private=False),
            Route("GET", f"{v3}/products", self.products), Route("GET", f"{v3}/products/{{product_id}}", self.product),
            Route("GET", f"{v3}/products/{{product_id}}/ticker", self.ticker),
            Route("GET", f"{v3}/products/{{product_id}}/candles", self.candles),
            Route("GET", f"{v3}/transaction_summary", self.transaction_summary),
            Route("GET", f"{v3}/accounts", self.accounts), Route("GET", f"{v3}/key_permissions", self.key_permissions),
            Route("POST", f"{v3}/orders", self.create_order, trade=True),
            Route("POST", f"{v3}/orders/batch_cancel", self.batch_cancel, trade=True),
            # registered before historical/{order_id}, which would match them too
            Route("GET", f"{v3}/orders/historical/batch", self.list_orders),
            Route("GET", f"{v3}/orders/historical/fills", self.list_fills),
            Route("GET", f"{v3}/orders/historical/{{order_id}}", self.get_order),
        ]
        return [web.route(r.method, r.path, self._handler(r)) for r in routes]

    # --- the pipeline ----------------------------------------------------------------------
    def _handler(self, route: Route):
        name = f"{route.method} {route.path}"

        async def run(request: web.Request) -> web.StreamResponse:
            params: dict = {}
            try:
                body = await request.text()
                key = self.authenticate(request) if route.private else None
                if route.trade and not key.can_trade:
                    raise CoinbaseError(403, {"error": "PERMISSION_DENIED", "error_details": "Missing required scopes",
                                              "message": "Missing required scopes"})
                params = self._body(body) if request.method == "POST" else {}
                account = key.account.name if key else None
                self.sim.request_log.append((time.time(), name, account))
                plan = self.sim.faults.plan(name, account)
                if plan.latency_s:
                    await asyncio.sleep(plan.latency_s)
                if plan.refuse:
                    raise self._fault(plan.refuse, route)
                result = await route.handler(key, request, params)
                if plan.latency_after_s:
                    await asyncio.sleep(plan.latency_after_s)
                if plan.disconnect:
                    request.transport.close()
                    return web.Response(status=500)
                if plan.after:
                    raise self._fault(plan.after, route)
                return web.json_response(result)
            except OrderRefused as refused:
                return web.json_response(self._refused(refused, params))
            except BinanceError as err:  # the book refused something other than an order
                return self._answer(invalid(err.msg) if err.code != -2013 else not_found())
            except CoinbaseError as err:
                return self._answer(err)

        return run

    @staticmethod
    def _answer(err: CoinbaseError) -> web.Response:
        if err.text is not None:
            return web.Response(status=err.status, text=err.text, headers=err.headers)
        return web.json_response(err.body, status=err.status, headers=err.headers)

    @staticmethod
    def _refused(refused: OrderRefused, params: dict) -> dict:
        return {"success": False, "failure_reason": "UNKNOWN_FAILURE_REASON", "order_id": "",
                "error_response": {"error": refused.error, "message": refused.message, "error_details": "",
                                   "preview_failure_reason": refused.preview,
                                   "new_order_failure_reason": refused.error},
                "order_configuration": params.get("order_configuration")}

    @staticmethod
    def _fault(err: BinanceError, route: Route) -> Exception:
        """An injected fault (faults.py speaks Binance) as Coinbase shows it."""
        if err.status in (429, 418) or err.code == -1003:  # Coinbase documents no Retry-After
            return CoinbaseError(429, {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]})
        if err.code == -1007:  # the gateway gave up waiting for the engine
            return CoinbaseError(504, text="upstream request timeout")
        if err.status >= 500:
            return CoinbaseError(err.status, text="Service Unavailable")
        if route.path.endswith("/orders") and route.method == "POST":
            return OrderRefused("UNKNOWN_FAILURE_REASON", err.msg)
        return invalid(err.msg)

    def authenticate(self, request: web.Request) -> ApiKey:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise UNAUTHORIZED
        try:
            return verify_jwt(self.exchange.keys, header[len("Bearer "):],
                              uri=f"{request.method} {request.host}{request.path}", now=time.time())
        except Unauthorized:
            raise UNAUTHORIZED from None

    @staticmethod
    def _body(body: str) -> dict:
        if not body:
            return {}
        try:
            params = json.loads(body)
        except ValueError:
            raise invalid("request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise invalid("request body must be a JSON object")
        return params

    # --- helpers ---------------------------------------------------------------------------
    def _symbol(self, product_id: str | None):
        sym = next((s for s in self.exchange.symbols.values() if cw.product_id(s) == product_id), None)
        if sym is None:
            raise not_found(f"product {product_id} not found")
        return sym

    @staticmethod
    def _decimal(config: dict, name: str, *, required: bool = False) -> Decimal | None:
        raw = config.get(name)
        if raw is None or raw == "":
            if required:
                raise invalid(f"{name} is required")
            return None
        if not isinstance(raw, str) or not DECIMAL.match(raw):
            raise invalid(f"{name} must be a decimal string")
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise invalid(f"{name} must be a decimal string") from None

    @staticmethod
    def _since(raw: str | None) -> int | None:
        if not raw:
            return None
        try:
            return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            raise invalid("invalid time") from None

    @staticmethod
    def _page(rows: list, request: web.Request, default: int, most: int) -> tuple[list, str, bool]:
        try:
            start = int(request.query.get("cursor") or 0)
            limit = max(1, min(int(request.query.get("limit") or default), most))
        except ValueError:
            raise invalid("invalid cursor or limit") from None
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return page, str(start + limit) if more else "", more

    def _order_json(self, key: ApiKey, order: Order) -> dict:
        return cw.order_json(self.exchange, key.account, order, key.account.trades,
                             post_only=order.order_id in self.post_only)

    # --- market data -----------------------------------------------------------------------
    async def time(self, key, request, params) -> dict:
        now = self.exchange.clock()
        return {"iso": cw.iso(now, seconds=True), "epochSeconds": str(int(now)), "epochMillis": str(int(now * 1000))}

    async def time_v2(self, key, request, params) -> dict:
        now = self.exchange.clock()
        return {"data": {"iso": cw.iso(now, seconds=True)[:19] + "Z", "epoch": int(now)}}

    def _currencies(self) -> list[str]:
        return sorted({a for s in self.exchange.symbols.values() for a in (s.base, s.quote)})

    async def fiat_currencies(self, key, request, params) -> dict:
        return {"data": [{"id": "USD", "name": "US Dollar", "min_size": "0.01"}]}

    async def crypto_currencies(self, key, request, params) -> dict:
        return {"data": [{"asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, c)), "code": c, "name": c, "color": "#000000",
                          "sort_index": i, "exponent": 8, "type": "crypto", "address_regex": ".+"}
                         for i, c in enumerate(self._currencies())]}

    async def exchange_rates(self, key, request, params) -> dict:
        """Units of each currency a US dollar buys (USDT taken at par)."""
        rates = {"USD": "1", "USDT": "1"}
        for sym in self.exchange.symbols.values():
            if sym.quote == "USDT":
                rates[sym.base] = f"{(1 / self.exchange.prices[sym.name]).quantize(Decimal('1e-12')):f}"
        return {"data": {"currency": request.query.get("currency", "USD"), "rates": rates}}

    async def products(self, key, request, params) -> dict:
        kind = request.query.get("product_type", "SPOT")
        wanted = set(request.query.getall("product_ids", []))
        rows = [cw.product(self.exchange, s) for s in self.exchange.symbols.values()
                if kind == "SPOT" and (not wanted or cw.product_id(s) in wanted)]
        return {"products": rows, "num_products": len(rows)}

    async def product(self, key, request, params) -> dict:
        return cw.product(self.exchange, self._symbol(request.match_info["product_id"]))

    async def ticker(self, key, request, params) -> dict:
        return cw.ticker(self.exchange, self._symbol(request.match_info["product_id"]))

    async def candles(self, key, request, params) -> dict:
        sym = self._symbol(request.match_info["product_id"])
        granularity = request.query.get("granularity")
        if granularity not in cw.GRANULARITY_S:
            raise invalid("granularity is required and must be one of " + ", ".join(cw.GRANULARITY_S))
        try:
            start, end = int(request.query["start"]), int(request.query["end"])
        except (KeyError, ValueError):
            raise invalid("start and end (UNIX seconds) are required") from None
        if (end - start) // cw.GRANULARITY_S[granularity] > 350:
            raise invalid("number of candles requested should be less than 350")
        return {"candles": cw.candles(self.exchange, sym.name, granularity, start, end)}

    # --- account ---------------------------------------------------------------------------
    async def transaction_summary(self, key: ApiKey, request, params) -> dict:
        rate = f"{self.exchange.fee_rate:f}"
        fees = sum((t.commission * (t.price if t.commission_asset != self.exchange.symbols[t.symbol].quote else 1)
                    for t in key.account.trades), ZERO)
        volume = sum((t.price * t.qty for t in key.account.trades), ZERO)
        return {"total_volume": float(volume), "total_fees": float(fees),
                "fee_tier": {"pricing_tier": "Advanced 1", "usd_from": "0", "usd_to": "10000",
                             "taker_fee_rate": rate, "maker_fee_rate": rate, "aop_from": "", "aop_to": ""},
                "margin_rate": None, "goods_and_services_tax": None, "advanced_trade_only_volume": float(volume),
                "advanced_trade_only_fees": float(fees), "coinbase_pro_volume": 0, "coinbase_pro_fees": 0,
                "total_balance": "", "has_promo_fee": False}

    async def accounts(self, key: ApiKey, request, params) -> dict:
        rows, cursor, more = self._page(cw.accounts(self.exchange, key.account), request, 49, 250)
        return {"accounts": rows, "has_next": more, "cursor": cursor, "size": len(rows)}

    async def key_permissions(self, key: ApiKey, request, params) -> dict:
        return {"can_view": True, "can_trade": key.can_trade, "can_transfer": False,
                "portfolio_uuid": cw.user_id(self.exchange, key.account), "portfolio_type": "DEFAULT"}

    # --- orders ----------------------------------------------------------------------------
    async def create_order(self, key: ApiKey, request, params) -> dict:
        cid = params.get("client_order_id")
        if not isinstance(cid, str) or not cid:
            raise invalid("client_order_id is required")
        if len(cid) > MAX_CLIENT_ORDER_ID:
            raise invalid("client_order_id is too long")
        account = key.account
        known = account.by_client_id.get(cid)
        if known is not None:  # idempotent: the order that id names, and nothing new
            return self._accepted(account.orders[known], params)
        sym = self._symbol(params.get("product_id"))
        side = params.get("side")
        if side not in ("BUY", "SELL"):
            raise OrderRefused("INVALID_SIDE", "side must be BUY or SELL", "PREVIEW_INVALID_SIDE")
        configs = params.get("order_configuration")
        if not isinstance(configs, dict) or len(configs) != 1:
            raise OrderRefused("UNSUPPORTED_ORDER_CONFIGURATION", "exactly one order configuration is required")
        (kind, config), = configs.items()
        if not isinstance(config, dict):
            raise OrderRefused("UNSUPPORTED_ORDER_CONFIGURATION", "order configuration must be an object")
        post_only = False
        if kind == "market_market_ioc":
            base, quote = self._decimal(config, "base_size"), self._decimal(config, "quote_size")
            if (base is None) == (quote is None):
                raise OrderRefused("UNSUPPORTED_ORDER_CONFIGURATION", "one of base_size or quote_size is required")
            if quote is not None and not is_multiple(quote, sym.tick_size):
                raise OrderRefused("INVALID_PRICE_PRECISION", "quote_size has too many decimals",
                                   "PREVIEW_INVALID_QUOTE_SIZE_PRECISION")
            order_type, tif, price = "MARKET", None, None
        elif kind in ("limit_limit_gtc", "sor_limit_ioc", "limit_limit_fok"):
            base = self._decimal(config, "base_size", required=True)
            price, quote = self._decimal(config, "limit_price", required=True), None
            order_type, tif = "LIMIT", {"limit_limit_gtc": "GTC", "sor_limit_ioc": "IOC", "limit_limit_fok": "FOK"}[kind]
            post_only = config.get("post_only") is True
            if post_only and self.exchange._crosses(side, price, self.exchange.prices[sym.name]):
                raise OrderRefused("INVALID_LIMIT_PRICE_POST_ONLY", "Post-only order would cross the book",
                                   "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY")
        else:
            raise OrderRefused("UNSUPPORTED_ORDER_CONFIGURATION", f"{kind} is not supported here")
        if base is not None and not is_multiple(base, sym.step_size):
            raise OrderRefused("INVALID_SIZE_PRECISION", "base_size has too many decimals",
                               "PREVIEW_INVALID_BASE_SIZE_PRECISION")
        try:
            order, _ = self.exchange.place_order(account, symbol=sym.name, side=side, type=order_type, quantity=base,
                                                 quote_qty=quote, price=price, time_in_force=tif, client_order_id=cid)
        except BinanceError as err:
            raise _refusal(err) from None
        if post_only:
            self.post_only.add(order.order_id)
        return self._accepted(order, params)

    def _accepted(self, order: Order, params: dict) -> dict:
        sym = self.exchange.symbols[order.symbol]
        return {"success": True, "failure_reason": "UNKNOWN_FAILURE_REASON", "order_id": cw.order_id(order),
                "success_response": {"order_id": cw.order_id(order), "product_id": cw.product_id(sym),
                                     "side": order.side, "client_order_id": order.client_order_id},
                "order_configuration": cw.configuration(order, order.order_id in self.post_only)}

    def _find(self, key: ApiKey, order_id: str | None) -> Order | None:
        number = cw.parse_uuid(order_id, cw.ORDER_NAMESPACE)
        return key.account.orders.get(number) if number is not None else None

    async def get_order(self, key: ApiKey, request, params) -> dict:
        order = self._find(key, request.match_info["order_id"])
        if order is None:
            raise not_found()
        return {"order": self._order_json(key, order)}

    async def batch_cancel(self, key: ApiKey, request, params) -> dict:
        ids = params.get("order_ids")
        if not isinstance(ids, list) or not ids or len(ids) > 100:
            raise invalid("order_ids: between 1 and 100 order ids are required")
        results = []
        for raw in ids:
            order = self._find(key, raw)
            if order is None or not order.is_open:
                reason = "ORDER_IS_FULLY_FILLED" if order is not None and order.status == "FILLED" else \
                    "UNKNOWN_CANCEL_ORDER"
                results.append({"success": False, "failure_reason": reason, "order_id": raw})
                continue
            self.exchange.cancel_order(key.account, order.symbol, order.order_id, None)
            results.append({"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": raw})
        return {"results": results}

    async def list_orders(self, key: ApiKey, request, params) -> dict:
        """Newest first; filters: order_ids, product_ids (or the older product_id), order_status,
        order_side, start_date/end_date (RFC 3339). No filter by client_order_id exists."""
        query = request.query
        ids = set(query.getall("order_ids", []))
        products = set(query.getall("product_ids", [])) | set(query.getall("product_id", []))
        statuses = set(query.getall("order_status", []))
        if "OPEN" in statuses and len(statuses) > 1:
            raise invalid("OPEN is not allowed in combination with other statuses")
        start, end = self._since(query.get("start_date")), self._since(query.get("end_date"))
        side = query.get("order_side")
        rows = []
        for order in sorted(key.account.orders.values(), key=lambda o: o.order_id, reverse=True):
            row = self._order_json(key, order)
            if ((ids and row["order_id"] not in ids) or (products and row["product_id"] not in products)
                    or (statuses and row["status"] not in statuses) or (side and order.side != side)
                    or (start is not None and order.time_ms < start) or (end is not None and order.time_ms > end)):
                continue
            rows.append(row)
        page, cursor, more = self._page(rows, request, 100, 1000)
        return {"orders": page, "sequence": "0", "has_next": more, "cursor": cursor}

    async def list_fills(self, key: ApiKey, request, params) -> dict:
        """Newest first; filters: order_ids (or order_id), trade_ids, product_ids (or product_id),
        start_sequence_timestamp / end_sequence_timestamp."""
        query = request.query
        orders = set(query.getall("order_ids", [])) | set(query.getall("order_id", []))
        trades = set(query.getall("trade_ids", []))
        products = set(query.getall("product_ids", [])) | set(query.getall("product_id", []))
        start = self._since(query.get("start_sequence_timestamp"))
        end = self._since(query.get("end_sequence_timestamp"))
        rows = []
        for trade in sorted(key.account.trades, key=lambda t: t.trade_id, reverse=True):
            row = cw.fill_json(self.exchange, key.account, trade)
            at = int(trade.at * 1000)
            if ((orders and row["order_id"] not in orders) or (trades and row["trade_id"] not in trades)
                    or (products and row["product_id"] not in products)
                    or (start is not None and at < start) or (end is not None and at > end)):
                continue
            rows.append(row)
        page, cursor, _ = self._page(rows, request, 100, 1000)
        return {"fills": page, "cursor": cursor}
