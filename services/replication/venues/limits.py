"""Each venue's published request limits, in one place: what one client address (IP) may spend
in a window, how many orders one account may place, how often one account may call an endpoint,
and what each endpoint the adapter calls weighs. services/replication/budget.py makes buckets of
them.

Sources (and the simulator's venue_sim/binance_limits.py, bybit_limits.py, spot.py, futures.py,
which follow the same pages):
- Binance spot: https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits, and the
  "Weight" on each endpoint's page. ccxt's binance `api` costs for spot are these weights x 0.2
  (binance.py: "1 IP (api) => cost = 0.2"); tests/replication/test_budget.py checks the table
  against them.
- Binance USDⓈ-M: https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info
  ("Limits"), and each endpoint's page. ccxt's fapi costs are not these weights (an order costs 4
  there, but weighs 0 against the IP and counts 1 against the account's orders), so every
  endpoint the adapter calls is listed.
- Bybit: https://bybit-exchange.github.io/docs/v5/rate-limit: 600 HTTP requests per 5 s per IP
  (every request counts 1), and per UID a rolling second per endpoint (its "API Rate Limit
  Table", default level).
An endpoint not listed weighs what ccxt charges it, converted (`ccxt_cost_per_weight`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# A request's weight (or the orders it places): a number, or one computed from its parameters.
Weight = int | Callable[[Mapping[str, Any]], int]


def by_symbol(one: int, every: int) -> Weight:
    """`one` for a symbol, `every` without (all symbols)."""
    return lambda params: one if params.get("symbol") else every


def by_limit(steps: tuple[tuple[int, int], ...], default_limit: int) -> Weight:
    """By the `limit` asked: steps of (up to this limit, weight), the last for anything larger."""
    def weight(params: Mapping[str, Any]) -> int:
        try:
            limit = int(params.get("limit") or default_limit)
        except (TypeError, ValueError):
            limit = default_limit
        return next((w for upto, w in steps if limit <= upto), steps[-1][1])
    return weight


@dataclass(frozen=True)
class Window:
    limit: int  # weight, orders or requests per `seconds`
    seconds: float
    header: str = ""  # the response header in which the venue says how much of it is used


@dataclass(frozen=True)
class Limits:
    """One venue market's limits. Endpoints are "METHOD /path" as sent."""

    ip: Window  # request weight per client address, every API key on it together
    meter: str  # the IP meter this market's requests weigh on: Binance keeps spot's and USDⓈ-M's apart
    orders: tuple[Window, ...] = ()  # orders placed per account
    per_endpoint: Mapping[str, Window] = field(default_factory=dict)  # calls per account to one endpoint
    weights: Mapping[str, Weight] = field(default_factory=dict)
    placing: Mapping[str, Weight] = field(default_factory=dict)  # the endpoints that place orders: how many
    ccxt_cost_per_weight: float | None = None  # an unlisted endpoint's ccxt cost / this; None: it weighs 1

    def weight(self, endpoint: str, params: Mapping[str, Any], ccxt_cost: float | None = None) -> int:
        weight = self.weights.get(endpoint)
        if weight is None:
            if self.ccxt_cost_per_weight is None or ccxt_cost is None:
                return 1
            return math.ceil(ccxt_cost / self.ccxt_cost_per_weight - 1e-9)
        return weight(params) if callable(weight) else weight

    def orders_placed(self, endpoint: str, params: Mapping[str, Any]) -> int:
        placed = self.placing.get(endpoint, 0)
        return placed(params) if callable(placed) else placed


BINANCE_SPOT = Limits(
    ip=Window(6000, 60.0, "X-MBX-USED-WEIGHT-1M"), meter="api",
    orders=(Window(100, 10.0, "X-MBX-ORDER-COUNT-10S"), Window(200_000, 86_400.0, "X-MBX-ORDER-COUNT-1D")),
    weights={
        "GET /api/v3/ping": 1, "GET /api/v3/time": 1, "GET /api/v3/exchangeInfo": 20,
        "GET /api/v3/ticker/price": by_symbol(2, 4), "GET /api/v3/ticker/bookTicker": by_symbol(2, 4),
        "GET /api/v3/ticker/24hr": by_symbol(2, 80),  # a `symbols` list weighs up to 80 too
        "GET /api/v3/klines": 2, "GET /api/v3/avgPrice": 2,
        "GET /api/v3/depth": by_limit(((100, 5), (500, 25), (1000, 50), (5000, 250)), 100),
        "GET /api/v3/account": 20, "GET /api/v3/account/commission": 20,
        "POST /api/v3/order": 1, "GET /api/v3/order": 4, "DELETE /api/v3/order": 1,
        "GET /api/v3/openOrders": by_symbol(6, 80), "DELETE /api/v3/openOrders": 1,
        "GET /api/v3/allOrders": 20, "GET /api/v3/myTrades": lambda p: 5 if p.get("orderId") else 20,
        "POST /api/v3/orderList/oco": 1, "GET /api/v3/orderList": 4, "DELETE /api/v3/orderList": 1,
        "GET /api/v3/openOrderList": 6,
        "POST /api/v3/userDataStream": 2, "PUT /api/v3/userDataStream": 2, "DELETE /api/v3/userDataStream": 2,
    },
    placing={"POST /api/v3/order": 1, "POST /api/v3/orderList/oco": 2},  # an order list counts each order
    ccxt_cost_per_weight=0.2)

BINANCE_USDM = Limits(
    ip=Window(2400, 60.0, "X-MBX-USED-WEIGHT-1M"), meter="fapi",
    orders=(Window(300, 10.0, "X-MBX-ORDER-COUNT-10S"), Window(1200, 60.0, "X-MBX-ORDER-COUNT-1M")),
    weights={
        "GET /fapi/v1/ping": 1, "GET /fapi/v1/time": 1, "GET /fapi/v1/exchangeInfo": 1,
        "GET /fapi/v1/premiumIndex": by_symbol(1, 10),
        "GET /fapi/v1/ticker/price": by_symbol(1, 2), "GET /fapi/v2/ticker/price": by_symbol(1, 2),
        "GET /fapi/v1/ticker/24hr": by_symbol(1, 40),
        "GET /fapi/v1/klines": by_limit(((99, 1), (499, 2), (1000, 5), (1500, 10)), 500),
        "GET /fapi/v1/depth": by_limit(((50, 2), (100, 5), (500, 10), (1000, 20)), 500),
        **{f"GET /fapi/{v}/{name}": 5 for v in ("v2", "v3") for name in ("account", "balance", "positionRisk")},
        "GET /fapi/v1/positionSide/dual": 30, "GET /fapi/v1/order": 1,
        "GET /fapi/v1/openOrders": by_symbol(1, 40), "GET /fapi/v1/allOrders": 5, "GET /fapi/v1/userTrades": 5,
        "GET /fapi/v1/leverageBracket": 1, "GET /fapi/v1/income": 30, "GET /fapi/v1/commissionRate": 20,
        "GET /fapi/v1/algoOrder": 1, "GET /fapi/v1/openAlgoOrders": by_symbol(1, 40),
        "GET /fapi/v1/allAlgoOrders": 5,
        # An order weighs nothing against the IP, only against the account's order counts.
        "POST /fapi/v1/order": 0, "POST /fapi/v1/algoOrder": 0, "PUT /fapi/v1/order": 1,
        "DELETE /fapi/v1/order": 1, "DELETE /fapi/v1/allOpenOrders": 1, "DELETE /fapi/v1/algoOrder": 1,
        "DELETE /fapi/v1/algoOpenOrders": 1, "POST /fapi/v1/batchOrders": 5,
        "POST /fapi/v1/leverage": 1, "POST /fapi/v1/marginType": 1, "POST /fapi/v1/positionSide/dual": 1,
        "POST /fapi/v1/listenKey": 1, "PUT /fapi/v1/listenKey": 1, "DELETE /fapi/v1/listenKey": 1,
    },
    placing={"POST /fapi/v1/order": 1, "POST /fapi/v1/algoOrder": 1, "PUT /fapi/v1/order": 1,
             "POST /fapi/v1/batchOrders": 5},  # a batch holds up to 5: counted as full
    ccxt_cost_per_weight=1.0)


def _bybit(category: str) -> Limits:
    trading = 20 if category == "spot" else 10  # order create/cancel per UID: spot 20/s, linear 10/s
    per_second = {
        **{f"POST /v5/order/{name}": trading for name in ("create", "cancel", "cancel-all")},
        "POST /v5/order/amend": 10, "POST /v5/position/set-leverage": 10, "POST /v5/position/switch-mode": 10,
        **{f"GET /v5/{path}": 50 for path in ("order/realtime", "order/history", "execution/list",
                                              "position/list", "account/wallet-balance", "account/info")},
        "GET /v5/user/query-api": 10, "GET /v5/asset/coin/query-info": 10,
    }
    return Limits(ip=Window(600, 5.0), meter="api",  # spot and derivatives share the IP's 600
                  per_endpoint={e: Window(n, 1.0) for e, n in per_second.items()})


# venue id -> market type ("spot", "swap", "future") -> limits. A venue not here keeps ccxt's own limiter.
VENUE_LIMITS: dict[str, dict[str, Limits]] = {
    "binance": {"spot": BINANCE_SPOT, "swap": BINANCE_USDM, "future": BINANCE_USDM},
    "bybit": {"spot": _bybit("spot"), "swap": _bybit("linear"), "future": _bybit("linear")},
}
