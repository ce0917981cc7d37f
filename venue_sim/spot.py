"""Binance spot REST API (/api/v3): market data, account, orders and trades."""

from __future__ import annotations

import json

from venue_sim import wire
from venue_sim.binance_limits import rate_limits_json
from venue_sim.book import ApiKey, BinanceError, Exchange, parse_decimal
from venue_sim.endpoints import Endpoint, by_limit, by_symbol, int_param, interval_ms, order_ref, required

# WebSocket API method -> the REST endpoint it answers as (same parameters, same result).
WS_METHODS = {
    "ping": "GET /api/v3/ping", "time": "GET /api/v3/time", "exchangeInfo": "GET /api/v3/exchangeInfo",
    "depth": "GET /api/v3/depth", "trades.recent": "GET /api/v3/trades",
    "trades.historical": "GET /api/v3/historicalTrades", "trades.aggregate": "GET /api/v3/aggTrades",
    "klines": "GET /api/v3/klines", "uiKlines": "GET /api/v3/uiKlines", "avgPrice": "GET /api/v3/avgPrice",
    "ticker.24hr": "GET /api/v3/ticker/24hr", "ticker.price": "GET /api/v3/ticker/price",
    "ticker.book": "GET /api/v3/ticker/bookTicker",
    "account.status": "GET /api/v3/account", "account.commission": "GET /api/v3/account/commission",
    "order.place": "POST /api/v3/order", "order.test": "POST /api/v3/order/test",
    "order.status": "GET /api/v3/order", "order.cancel": "DELETE /api/v3/order",
    "openOrders.status": "GET /api/v3/openOrders", "openOrders.cancelAll": "DELETE /api/v3/openOrders",
    "allOrders": "GET /api/v3/allOrders", "myTrades": "GET /api/v3/myTrades",
    "orderList.place.oco": "POST /api/v3/orderList/oco", "orderList.status": "GET /api/v3/orderList",
    "orderList.cancel": "DELETE /api/v3/orderList", "openOrderLists.status": "GET /api/v3/openOrderList",
}


class SpotApi:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def endpoints(self) -> list[Endpoint]:
        """Every spot endpoint with its request weight as Binance publishes it."""
        public = [("/api/v3/ping", self.ping, 1), ("/api/v3/time", self.time, 1),
                  ("/api/v3/exchangeInfo", self.exchange_info, 20),
                  ("/api/v3/ticker/price", self.ticker_price, by_symbol(2, 4)),
                  ("/api/v3/ticker/bookTicker", self.book_ticker, by_symbol(2, 4)),
                  ("/api/v3/ticker/24hr", self.ticker_24hr, by_symbol(2, 80)),
                  ("/api/v3/klines", self.klines, 2), ("/api/v3/uiKlines", self.klines, 2),
                  ("/api/v3/depth", self.depth, by_limit(((100, 5), (500, 25), (1000, 50), (5000, 250)), 100)),
                  ("/api/v3/avgPrice", self.avg_price, 2), ("/api/v3/trades", self.recent_trades, 25),
                  ("/api/v3/historicalTrades", self.historical_trades, 25),
                  ("/api/v3/aggTrades", self.agg_trades, 4)]
        return [
            *(Endpoint("GET", path, handler, weight=weight) for path, handler, weight in public),
            Endpoint("GET", "/api/v3/account", self.account, signed=True, weight=20),
            Endpoint("GET", "/api/v3/account/commission", self.commission, signed=True, weight=20),
            Endpoint("POST", "/api/v3/order", self.new_order, signed=True, trade=True, orders=1),
            Endpoint("POST", "/api/v3/order/test", self.test_order, signed=True, trade=True,
                     weight=lambda p: 20 if p.get("computeCommissionRates") == "true" else 1),
            Endpoint("GET", "/api/v3/order", self.query_order, signed=True, weight=4),
            Endpoint("DELETE", "/api/v3/order", self.cancel_order, signed=True, trade=True),
            Endpoint("GET", "/api/v3/openOrders", self.open_orders, signed=True, weight=by_symbol(6, 80)),
            Endpoint("DELETE", "/api/v3/openOrders", self.cancel_open_orders, signed=True, trade=True),
            Endpoint("GET", "/api/v3/allOrders", self.all_orders, signed=True, weight=20),
            Endpoint("POST", "/api/v3/orderList/oco", self.new_oco, signed=True, trade=True, orders=2),
            Endpoint("GET", "/api/v3/orderList", self.query_order_list, signed=True, weight=4),
            Endpoint("DELETE", "/api/v3/orderList", self.cancel_order_list, signed=True, trade=True),
            Endpoint("GET", "/api/v3/openOrderList", self.open_order_lists, signed=True, weight=6),
            Endpoint("GET", "/api/v3/myTrades", self.my_trades, signed=True,
                     weight=lambda p: 5 if p.get("orderId") else 20),
        ]

    def ws_methods(self) -> dict[str, Endpoint]:
        """The WebSocket API's methods (/ws-api/v3) and the REST endpoint each one is."""
        rest = {e.name: e for e in self.endpoints()}
        return {method: rest[name] for method, name in WS_METHODS.items()}

    def _symbols(self, params: dict[str, str]) -> list[str]:
        """`symbol=X`, `symbols=["X","Y"]`, or every symbol."""
        if params.get("symbol"):
            return [self.exchange.symbol(params["symbol"]).name]
        if params.get("symbols"):
            try:
                names = json.loads(params["symbols"])
            except ValueError:
                raise BinanceError(400, -1100, "Illegal characters found in parameter 'symbols'.") from None
            return [self.exchange.symbol(n).name for n in names]
        return list(self.exchange.symbols)

    # --- market data -----------------------------------------------------------------------
    async def ping(self, key, params) -> dict:
        return {}

    async def time(self, key, params) -> dict:
        return {"serverTime": self.exchange.now_ms()}

    async def exchange_info(self, key, params) -> dict:
        return {"timezone": "UTC", "serverTime": self.exchange.now_ms(),
                "rateLimits": rate_limits_json("api"), "exchangeFilters": [],
                "symbols": [wire.symbol_info(self.exchange.symbols[s]) for s in self._symbols(params)]}

    async def ticker_price(self, key, params):
        rows = [{"symbol": s, "price": wire.d8(self.exchange.prices[s])} for s in self._symbols(params)]
        return rows[0] if params.get("symbol") else rows

    async def book_ticker(self, key, params):
        rows = []
        for s in self._symbols(params):
            price, tick = self.exchange.prices[s], self.exchange.symbols[s].tick_size
            rows.append({"symbol": s, "bidPrice": wire.d8(price - tick), "bidQty": "10.00000000",
                         "askPrice": wire.d8(price + tick), "askQty": "10.00000000"})
        return rows[0] if params.get("symbol") else rows

    async def ticker_24hr(self, key, params):
        now = self.exchange.now_ms()
        rows = []
        for s in self._symbols(params):
            day = [p for t, p in self.exchange.history[s] if t >= now - 86_400_000] or [self.exchange.prices[s]]
            last, first, tick = day[-1], day[0], self.exchange.symbols[s].tick_size
            rows.append({"symbol": s, "priceChange": wire.d8(last - first),
                         "priceChangePercent": f"{(last - first) / first * 100:.3f}",
                         "weightedAvgPrice": wire.d8(sum(day) / len(day)), "prevClosePrice": wire.d8(first),
                         "lastPrice": wire.d8(last), "lastQty": "0.00000000", "bidPrice": wire.d8(last - tick),
                         "bidQty": "10.00000000", "askPrice": wire.d8(last + tick), "askQty": "10.00000000",
                         "openPrice": wire.d8(first), "highPrice": wire.d8(max(day)), "lowPrice": wire.d8(min(day)),
                         "volume": "0.00000000", "quoteVolume": "0.00000000", "openTime": now - 86_400_000,
                         "closeTime": now, "firstId": -1, "lastId": -1, "count": 0})
        return rows[0] if params.get("symbol") else rows

    async def klines(self, key, params) -> list:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        limit = max(1, min(int_param(params, "limit", 500), 1000))
        return wire.klines(self.exchange, symbol, interval_ms(params), limit, int_param(params, "startTime"),
                           int_param(params, "endTime"))

    async def depth(self, key, params) -> dict:
        """A synthetic book around the last price (the venue has no other traders)."""
        symbol = self.exchange.symbol(required(params, "symbol"))
        limit = max(1, min(int_param(params, "limit", 100), 5000))
        price, tick = self.exchange.prices[symbol.name], symbol.tick_size
        return {"lastUpdateId": self.exchange.now_ms(),
                "bids": [[wire.d8(price - tick * (i + 1)), "10.00000000"] for i in range(min(limit, 20))],
                "asks": [[wire.d8(price + tick * (i + 1)), "10.00000000"] for i in range(min(limit, 20))]}

    async def avg_price(self, key, params) -> dict:
        """The mean of the last five minutes' prices (the venue records prices, not volumes)."""
        symbol = self.exchange.symbol(required(params, "symbol")).name
        now = self.exchange.now_ms()
        window = [p for t, p in self.exchange.history[symbol] if t >= now - 300_000] or [self.exchange.prices[symbol]]
        return {"mins": 5, "price": wire.d8(sum(window) / len(window)), "closeTime": now}

    def _market_trades(self, params, limit_max: int = 1000) -> list:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        limit = max(1, min(int_param(params, "limit", 500), limit_max))
        return self.exchange.market_trades(symbol), limit

    async def recent_trades(self, key, params) -> list:
        trades, limit = self._market_trades(params)
        return [wire.public_trade_json(t) for t in trades[-limit:]]

    async def historical_trades(self, key, params) -> list:
        trades, limit = self._market_trades(params)
        from_id = int_param(params, "fromId")
        rows = trades[-limit:] if from_id is None else [t for t in trades if t.trade_id >= from_id][:limit]
        return [wire.public_trade_json(t) for t in rows]

    async def agg_trades(self, key, params) -> list:
        """One aggregate per trade: every trade here is one taker order against the venue."""
        trades, limit = self._market_trades(params)
        from_id, start, end = int_param(params, "fromId"), int_param(params, "startTime"), int_param(params, "endTime")
        if from_id is not None:
            rows = [t for t in trades if t.trade_id >= from_id][:limit]
        elif start is not None or end is not None:
            rows = [t for t in trades if (start or 0) <= t.time_ms <= (end or 2**62)][:limit]
        else:
            rows = trades[-limit:]
        return [wire.agg_trade_json(t) for t in rows]

    # --- account and orders ----------------------------------------------------------------
    async def account(self, key: ApiKey, params) -> dict:
        return wire.account_json(self.exchange, key.account)

    async def commission(self, key: ApiKey, params) -> dict:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        return {"symbol": symbol, **wire.commission_rates(self.exchange)}

    async def test_order(self, key: ApiKey, params) -> dict:
        """POST /api/v3/order/test: validated as a new order would be, then neither booked nor matched."""
        self.exchange.check_order(key.account, **self._order_args(params))
        if params.get("computeCommissionRates") == "true":
            rates = wire.commission_rates(self.exchange)
            return {"standardCommissionForOrder": {k: rates["standardCommission"][k] for k in ("maker", "taker")},
                    "taxCommissionForOrder": {k: rates["taxCommission"][k] for k in ("maker", "taker")},
                    "discount": rates["discount"]}
        return {}

    @staticmethod
    def _order_args(params) -> dict:
        return dict(symbol=required(params, "symbol"), side=required(params, "side"), type=required(params, "type"),
                    quantity=parse_decimal("quantity", params.get("quantity"), required=False),
                    quote_qty=parse_decimal("quoteOrderQty", params.get("quoteOrderQty"), required=False),
                    price=parse_decimal("price", params.get("price"), required=False),
                    time_in_force=params.get("timeInForce"), client_order_id=params.get("newClientOrderId"),
                    stop_price=parse_decimal("stopPrice", params.get("stopPrice"), required=False))

    async def new_order(self, key: ApiKey, params) -> dict:
        respond = params.get("newOrderRespType") or "FULL"
        if respond not in ("ACK", "RESULT", "FULL"):
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'newOrderRespType'.")
        order, trades = self.exchange.place_order(key.account, **self._order_args(params))
        if respond == "ACK":
            return wire.order_ack(order)
        return wire.order_json(order, trades if respond == "FULL" else None, response=True)

    async def new_oco(self, key: ApiKey, params) -> dict:
        """POST /api/v3/orderList/oco: an above and a below leg on one quantity."""
        legs = {}
        for leg in ("above", "below"):
            legs[leg] = {"type": params.get(f"{leg}Type"),
                         "price": parse_decimal(f"{leg}Price", params.get(f"{leg}Price"), required=False),
                         "stop_price": parse_decimal(f"{leg}StopPrice", params.get(f"{leg}StopPrice"), required=False),
                         "time_in_force": params.get(f"{leg}TimeInForce"),
                         "client_order_id": params.get(f"{leg}ClientOrderId")}
        order_list, orders = self.exchange.place_oco(
            key.account, symbol=required(params, "symbol"), side=required(params, "side"),
            quantity=parse_decimal("quantity", params.get("quantity")), legs=legs,
            list_client_order_id=params.get("listClientOrderId"))
        return wire.order_list_json(order_list, orders, reports=True)

    def _order_list(self, key: ApiKey, params):
        return self.exchange.find_order_list(key.account, int_param(params, "orderListId"),
                                             params.get("listClientOrderId") or params.get("origClientOrderId"))

    async def query_order_list(self, key: ApiKey, params) -> dict:
        order_list = self._order_list(key, params)
        return wire.order_list_json(order_list, [key.account.orders[i] for i in order_list.order_ids])

    async def cancel_order_list(self, key: ApiKey, params) -> dict:
        self.exchange.symbol(required(params, "symbol"))
        order_list = self._order_list(key, params)
        orders = self.exchange.cancel_order_list(key.account, order_list)
        return wire.order_list_json(order_list, orders, reports=True)

    async def open_order_lists(self, key: ApiKey, params) -> list:
        return [wire.order_list_json(ol, [key.account.orders[i] for i in ol.order_ids])
                for ol in key.account.order_lists.values() if ol.status == "EXECUTING"]

    async def query_order(self, key: ApiKey, params) -> dict:
        return wire.order_json(self.exchange.find_order(key.account, required(params, "symbol"), *order_ref(params)))

    async def cancel_order(self, key: ApiKey, params) -> dict:
        """The cancel has a client id of its own (newClientOrderId, else one made up), as on
        Binance; the answer shows it as clientOrderId and the order's as origClientOrderId."""
        order = self.exchange.cancel_order(key.account, required(params, "symbol"), *order_ref(params),
                                           cancel_client_id=params.get("newClientOrderId"))
        return wire.canceled_order_json(order)

    async def open_orders(self, key: ApiKey, params) -> list:
        symbol = self.exchange.symbol(params["symbol"]).name if params.get("symbol") else None
        return [wire.order_json(o) for o in self.exchange.open_orders(key.account, symbol)]

    async def cancel_open_orders(self, key: ApiKey, params) -> list:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        return [wire.canceled_order_json(self.exchange.cancel_order(key.account, symbol, o.order_id, None))
                for o in self.exchange.open_orders(key.account, symbol)]

    async def all_orders(self, key: ApiKey, params) -> list:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        start, end = int_param(params, "startTime", 0), int_param(params, "endTime", 2**62)
        from_id = int_param(params, "orderId", 0)
        limit = max(1, min(int_param(params, "limit", 500), 1000))
        rows = [o for o in sorted(key.account.orders.values(), key=lambda o: o.order_id)
                if o.symbol == symbol and o.order_id >= from_id and start <= o.time_ms <= end]
        return [wire.order_json(o) for o in rows[:limit]]

    async def my_trades(self, key: ApiKey, params) -> list:
        symbol = self.exchange.symbol(required(params, "symbol")).name
        start, end = int_param(params, "startTime", 0), int_param(params, "endTime", 2**62)
        from_id, order_id = int_param(params, "fromId", 0), int_param(params, "orderId")
        limit = max(1, min(int_param(params, "limit", 500), 1000))
        rows = [t for t in key.account.trades if t.symbol == symbol and t.trade_id >= from_id
                and start <= t.time_ms <= end and order_id in (None, t.order_id)]
        # Binance returns the most recent `limit` trades unless fromId/startTime says where to begin.
        rows = rows[:limit] if (params.get("fromId") or params.get("startTime")) else rows[-limit:]
        return [wire.trade_json(t) for t in rows]
