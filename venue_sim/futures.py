"""Binance USDⓈ-M futures REST API (/fapi): market data, account and balance, positions,
leverage, margin type, position mode, orders and trades. (The listenKey lives in userdata.)"""

from __future__ import annotations

import json

from venue_sim import wire
from venue_sim.book import ApiKey, BinanceError, Exchange, parse_decimal
from venue_sim.binance_limits import rate_limits_json
from venue_sim.endpoints import Endpoint, bool_param, by_limit, by_symbol, int_param, interval_ms, order_ref, required
from venue_sim.perp_book import MAKER_FEE, TAKER_FEE, Perpetuals
from venue_sim.usdm_rules import DEFAULT_BRACKETS

MAX_BATCH = 5  # POST /fapi/v1/batchOrders takes at most five orders


def _batch(params: dict[str, str]) -> list[dict[str, str]]:
    """The batchOrders parameter: a JSON list of orders, each with the parameters of one
    POST /fapi/v1/order (values as strings)."""
    try:
        orders = json.loads(params.get("batchOrders") or "")
    except ValueError:
        raise BinanceError(400, -1100, "Illegal characters found in parameter 'batchOrders'.") from None
    if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders) or not orders:
        raise BinanceError(400, -1100, "Illegal characters found in parameter 'batchOrders'.")
    if len(orders) > MAX_BATCH:
        raise BinanceError(400, -4079, f"Invalid batch order size: at most {MAX_BATCH} orders.")
    return [{k: v if isinstance(v, str) else json.dumps(v) for k, v in o.items()} for o in orders]


def batch_size(params: dict[str, str]) -> int:
    try:
        return len(_batch(params))
    except BinanceError:
        return 0


class FuturesApi:
    def __init__(self, exchange: Exchange, perps: Perpetuals) -> None:
        self.exchange, self.perps = exchange, perps

    def endpoints(self) -> list[Endpoint]:
        """Every USDⓈ-M endpoint with its request weight as Binance publishes it (an order weighs 0
        against the IP and 1 against the account's order count)."""
        klines_weight = by_limit(((99, 1), (499, 2), (1000, 5), (1500, 10)), 500)
        public = [("/fapi/v1/ping", self.ping, 1), ("/fapi/v1/time", self.time, 1),
                  ("/fapi/v1/exchangeInfo", self.exchange_info, 1),
                  ("/fapi/v1/premiumIndex", self.premium_index, 1),
                  ("/fapi/v1/ticker/price", self.ticker_price, by_symbol(1, 2)),
                  ("/fapi/v2/ticker/price", self.ticker_price, by_symbol(1, 2)),
                  ("/fapi/v1/ticker/24hr", self.ticker_24hr, by_symbol(1, 40)),
                  ("/fapi/v1/klines", self.klines, klines_weight)]
        signed = [("GET", f"/fapi/{v}/{name}", handler, 5) for v in ("v2", "v3")
                  for name, handler in (("account", self.account), ("balance", self.balance),
                                        ("positionRisk", self.position_risk_v2 if v == "v2" else
                                         self.position_risk_v3))]
        signed += [("GET", "/fapi/v1/positionSide/dual", self.get_dual, 30),
                   ("GET", "/fapi/v1/order", self.query_order, 1),
                   ("GET", "/fapi/v1/openOrders", self.open_orders, by_symbol(1, 40)),
                   ("GET", "/fapi/v1/allOrders", self.all_orders, 5),
                   ("GET", "/fapi/v1/userTrades", self.user_trades, 5),
                   ("GET", "/fapi/v1/leverageBracket", self.leverage_brackets, 1),
                   ("GET", "/fapi/v1/income", self.income, 30),
                   ("GET", "/fapi/v1/algoOrder", self.query_algo, 1),
                   ("GET", "/fapi/v1/openAlgoOrders", self.open_algos, 1),
                   ("GET", "/fapi/v1/allAlgoOrders", self.all_algos, 5),
                   ("GET", "/fapi/v1/commissionRate", self.commission_rate, 20)]
        trading = [("POST", "/fapi/v1/leverage", self.set_leverage, 1, 0),
                   ("POST", "/fapi/v1/marginType", self.margin_type, 1, 0),
                   ("POST", "/fapi/v1/positionSide/dual", self.set_dual, 1, 0),
                   ("POST", "/fapi/v1/order", self.new_order, 0, 1),
                   ("POST", "/fapi/v1/batchOrders", self.batch_orders, 5, batch_size),
                   ("PUT", "/fapi/v1/order", self.amend_order, 1, 1),
                   ("DELETE", "/fapi/v1/order", self.cancel_order, 1, 0),
                   ("DELETE", "/fapi/v1/allOpenOrders", self.cancel_all, 1, 0),
                   ("POST", "/fapi/v1/algoOrder", self.new_algo, 0, 1),
                   ("DELETE", "/fapi/v1/algoOrder", self.cancel_algo, 1, 0),
                   ("DELETE", "/fapi/v1/algoOpenOrders", self.cancel_all_algos, 1, 0)]
        return [*(Endpoint("GET", p, h, weight=w) for p, h, w in public),
                *(Endpoint(m, p, h, signed=True, weight=w) for m, p, h, w in signed),
                *(Endpoint(m, p, h, signed=True, trade=True, weight=w, orders=o) for m, p, h, w, o in trading)]

    # --- market data -----------------------------------------------------------------------
    async def ping(self, key, params) -> dict:
        return {}

    async def time(self, key, params) -> dict:
        return {"serverTime": self.exchange.now_ms()}

    async def exchange_info(self, key, params) -> dict:
        return {"timezone": "UTC", "serverTime": self.exchange.now_ms(), "futuresType": "U_MARGINED",
                "rateLimits": rate_limits_json("fapi"), "exchangeFilters": [],
                "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
                "symbols": [wire.futures_symbol_info(s, self.perps.contracts.get(s.name))
                            for s in self.exchange.symbols.values()]}

    def _rows(self, params, row):
        if params.get("symbol"):
            return row(self.exchange.symbol(params["symbol"]).name)
        return [row(s) for s in self.exchange.symbols]

    async def premium_index(self, key, params):
        now = self.exchange.now_ms()
        return self._rows(params, lambda s: {
            "symbol": s, "markPrice": wire.fx(self.exchange.prices[s]), "indexPrice": wire.fx(self.exchange.prices[s]),
            "estimatedSettlePrice": wire.fx(self.exchange.prices[s]), "lastFundingRate": "0.00010000",
            "interestRate": "0.00010000", "nextFundingTime": now // 28_800_000 * 28_800_000 + 28_800_000,
            "time": now})

    async def ticker_price(self, key, params):
        return self._rows(params, lambda s: {"symbol": s, "price": wire.fx(self.exchange.prices[s]),
                                             "time": self.exchange.now_ms()})

    async def ticker_24hr(self, key, params):
        now = self.exchange.now_ms()

        def row(s: str) -> dict:
            day = [p for t, p in self.exchange.history[s] if t >= now - 86_400_000] or [self.exchange.prices[s]]
            return {"symbol": s, "priceChange": wire.fx(day[-1] - day[0]),
                    "priceChangePercent": f"{(day[-1] - day[0]) / day[0] * 100:.3f}",
                    "weightedAvgPrice": wire.fx(sum(day) / len(day)), "lastPrice": wire.fx(day[-1]),
                    "lastQty": "0", "openPrice": wire.fx(day[0]), "highPrice": wire.fx(max(day)),
                    "lowPrice": wire.fx(min(day)), "volume": "0", "quoteVolume": "0", "openTime": now - 86_400_000,
                    "closeTime": now, "firstId": 0, "lastId": 0, "count": 0}
        return self._rows(params, row)

    async def klines(self, key, params) -> list:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        limit = max(1, min(int_param(params, "limit", 500), 1500))
        return wire.klines(self.exchange, symbol, interval_ms(params), limit, int_param(params, "startTime"),
                           int_param(params, "endTime"))

    # --- account ---------------------------------------------------------------------------
    async def account(self, key: ApiKey, params) -> dict:
        return wire.futures_account_json(self.perps, self.perps.book(key.account))

    async def balance(self, key: ApiKey, params) -> list:
        return wire.futures_balance_json(self.perps, self.perps.book(key.account))

    async def position_risk_v2(self, key: ApiKey, params) -> list:
        rows = wire.futures_positions_json(self.perps, self.perps.book(key.account))
        return [r for r in rows if params.get("symbol") in (None, "", r["symbol"])]

    async def position_risk_v3(self, key: ApiKey, params) -> list:
        rows = wire.futures_positions_json(self.perps, self.perps.book(key.account), every_symbol=False)
        return [r for r in rows if params.get("symbol") in (None, "", r["symbol"])]

    async def set_leverage(self, key: ApiKey, params) -> dict:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        leverage = self.perps.set_leverage(key.account, symbol, int_param(params, "leverage") or 0)
        cap = self.perps.max_notional_value(self.perps.book(key.account), symbol)
        return {"symbol": symbol, "leverage": leverage, "maxNotionalValue": wire.fx(cap) if cap else "1000000"}

    async def margin_type(self, key: ApiKey, params) -> dict:
        self.perps.set_margin_type(key.account, required(params, "symbol"), required(params, "marginType").upper())
        return {"code": 200, "msg": "success"}

    async def get_dual(self, key: ApiKey, params) -> dict:
        return {"dualSidePosition": self.perps.book(key.account).dual_side}

    async def set_dual(self, key: ApiKey, params) -> dict:
        dual = bool_param(params, "dualSidePosition")
        if dual is None:
            raise BinanceError(400, -1102, "Mandatory parameter 'dualSidePosition' was not sent, was empty/null, "
                                           "or malformed.")
        self.perps.set_dual_side(key.account, dual)
        return {"code": 200, "msg": "success"}

    async def leverage_brackets(self, key: ApiKey, params):
        """Per symbol, Binance's brackets (one symbol asked: one object, as Binance answers)."""
        symbol = self.exchange.symbol(params["symbol"]).name if params.get("symbol") else None
        rows = [wire.leverage_brackets_json(s, self.perps.brackets.get(s) or DEFAULT_BRACKETS)
                for s in self.exchange.symbols if symbol in (None, s)]
        return rows[0] if symbol else rows

    async def income(self, key: ApiKey, params) -> list:
        """GET /fapi/v1/income: oldest first within the window (the last 7 days unless told),
        at most `limit` (100 by default, 1000 at most)."""
        now = self.exchange.now_ms()
        end = int_param(params, "endTime", now)
        start = int_param(params, "startTime", end - 7 * 86_400_000)
        limit = max(1, min(int_param(params, "limit", 100), 1000))
        symbol = self.exchange.symbol(params["symbol"]).name if params.get("symbol") else None
        kind = params.get("incomeType") or None
        rows = [r for r in self.perps.income(self.perps.book(key.account)) if start <= r.time_ms <= end
                and symbol in (None, r.symbol) and kind in (None, r.income_type)]
        return [wire.income_json(r) for r in rows[:limit]]

    async def commission_rate(self, key: ApiKey, params) -> dict:
        return {"symbol": self.exchange.symbol(required(params, "symbol")).name,
                "makerCommissionRate": wire.fx(MAKER_FEE), "takerCommissionRate": wire.fx(TAKER_FEE)}

    # --- orders ----------------------------------------------------------------------------
    async def batch_orders(self, key: ApiKey, params) -> list:
        """Each order placed as POST /fapi/v1/order would place it; the answers in request order,
        a refused one as its {code, msg}."""
        answers = []
        for order in _batch(params):
            try:
                answers.append(await self.new_order(key, order))
            except BinanceError as err:
                answers.append({"code": err.code, "msg": err.msg})
        return answers

    async def new_order(self, key: ApiKey, params) -> dict:
        respond = params.get("newOrderRespType") or "ACK"
        if respond not in ("ACK", "RESULT"):
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'newOrderRespType'.")
        order = self.perps.place_order(
            key.account, symbol=required(params, "symbol"), side=required(params, "side"),
            type=required(params, "type"), quantity=parse_decimal("quantity", params.get("quantity"), required=False),
            price=parse_decimal("price", params.get("price"), required=False),
            time_in_force=params.get("timeInForce"), client_order_id=params.get("newClientOrderId"),
            reduce_only=bool_param(params, "reduceOnly"), position_side=params.get("positionSide"))
        # ACK (the default) shows the order as accepted, before it matched, as Binance does.
        return wire.futures_order_json(order, as_accepted=respond == "ACK")

    async def query_order(self, key: ApiKey, params) -> dict:
        return wire.futures_order_json(self.perps.find_order(key.account, required(params, "symbol"),
                                                             *order_ref(params)))

    async def amend_order(self, key: ApiKey, params) -> dict:
        return wire.futures_order_json(self.perps.amend_order(
            key.account, required(params, "symbol"), *order_ref(params), side=required(params, "side"),
            quantity=parse_decimal("quantity", params.get("quantity")), price=parse_decimal("price", params.get("price"))))

    async def cancel_order(self, key: ApiKey, params) -> dict:
        return wire.futures_order_json(self.perps.cancel_order(key.account, required(params, "symbol"),
                                                               *order_ref(params)))

    async def cancel_all(self, key: ApiKey, params) -> dict:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        for order in self.perps.open_orders(key.account, symbol):
            self.perps.cancel_order(key.account, symbol, order.order_id, None)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    async def open_orders(self, key: ApiKey, params) -> list:
        symbol = self.exchange.symbol(params["symbol"]).name if params.get("symbol") else None
        return [wire.futures_order_json(o) for o in self.perps.open_orders(key.account, symbol)]

    async def all_orders(self, key: ApiKey, params) -> list:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        limit = max(1, min(int_param(params, "limit", 500), 1000))
        rows = [o for o in sorted(self.perps.book(key.account).orders.values(), key=lambda o: o.order_id)
                if o.symbol == symbol and o.order_id >= int_param(params, "orderId", 0)]
        return [wire.futures_order_json(o) for o in rows[:limit]]

    async def user_trades(self, key: ApiKey, params) -> list:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        start, end = int_param(params, "startTime", 0), int_param(params, "endTime", 2**62)
        from_id, order_id = int_param(params, "fromId", 0), int_param(params, "orderId")
        limit = max(1, min(int_param(params, "limit", 500), 1000))
        rows = [t for t in self.perps.book(key.account).trades if t.symbol == symbol and t.trade_id >= from_id
                and start <= t.time_ms <= end and order_id in (None, t.order_id)]
        rows = rows[:limit] if (params.get("fromId") or params.get("startTime")) else rows[-limit:]
        return [wire.futures_trade_json(t) for t in rows]

    # --- conditional orders (the Algo Service) ---------------------------------------------
    async def new_algo(self, key: ApiKey, params) -> dict:
        if required(params, "algoType") != "CONDITIONAL":
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'algoType'.")
        algo = self.perps.place_algo(
            key.account, symbol=required(params, "symbol"), side=required(params, "side"),
            type=required(params, "type"),
            quantity=parse_decimal("quantity", params.get("quantity"), required=False),
            price=parse_decimal("price", params.get("price"), required=False),
            trigger_price=parse_decimal("triggerPrice", params.get("triggerPrice"), required=False),
            working_type=params.get("workingType"), time_in_force=params.get("timeInForce"),
            client_algo_id=params.get("clientAlgoId"), reduce_only=bool_param(params, "reduceOnly"),
            close_position=bool_param(params, "closePosition"), price_protect=bool_param(params, "priceProtect"),
            position_side=params.get("positionSide"))
        return wire.algo_json(algo)

    def _algo(self, key: ApiKey, params):
        return self.perps.find_algo(key.account, int_param(params, "algoId"), params.get("clientAlgoId") or None)

    async def query_algo(self, key: ApiKey, params) -> dict:
        return wire.algo_json(self._algo(key, params))

    async def cancel_algo(self, key: ApiKey, params) -> dict:
        algo = self._algo(key, params)
        self.perps.cancel_algo(key.account, algo.algo_id, None)
        return {"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "code": "200", "msg": "success"}

    async def cancel_all_algos(self, key: ApiKey, params) -> dict:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        for algo in self.perps.open_algos(key.account, symbol):
            self.perps.cancel_algo(key.account, algo.algo_id, None)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    async def open_algos(self, key: ApiKey, params) -> list:
        symbol = self.exchange.symbol(params["symbol"]).name if params.get("symbol") else None
        return [wire.algo_json(a) for a in self.perps.open_algos(key.account, symbol)]

    async def all_algos(self, key: ApiKey, params) -> list:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        limit = max(1, min(int_param(params, "limit", 500), 1000))
        rows = [a for a in sorted(self.perps.book(key.account).algos.values(), key=lambda a: a.algo_id)
                if a.symbol == symbol]
        return [wire.algo_json(a) for a in rows[:limit]]
