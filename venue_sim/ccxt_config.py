"""Pointing ccxt at the simulator is configuration only: these URLs and options."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

MARKET_TYPES = {"spot": "spot", "swap": "linear", "linear": "linear", "perpetual": "linear", "future": "linear"}


@functools.lru_cache(maxsize=1)
def _binance_api_urls() -> dict:
    import ccxt.pro  # imported late: ccxt is heavy and the simulator itself does not need it

    return ccxt.pro.binance().urls["api"]


def _rebase(url: str, http: str, ws: str) -> str:
    """Same path, the simulator's host: https://fapi.binance.com/fapi/v1 -> http://127.0.0.1:P/fapi/v1."""
    parts = urlsplit(url)
    return (ws if parts.scheme in ("ws", "wss") else http) + parts.path


def ccxt_urls(base_url: str) -> dict:
    """Every one of ccxt's binance `urls['api']` entries (REST, `ws` and `ws-api`) moved onto the
    simulator, path kept. Nothing is left pointing at binance.com, so a call the simulator does
    not serve fails on loopback (404) instead of going out."""
    http = base_url.rstrip("/")
    ws = "ws://" + http.split("://", 1)[1]

    def move(value):
        return {k: move(v) for k, v in value.items()} if isinstance(value, dict) else _rebase(value, http, ws)

    return move(_binance_api_urls())


def ccxt_config(base_url: str, *, rate_limit: bool = True, market: str = "spot") -> dict:
    """Constructor config for ccxt.binance / ccxt.pro.binance against the simulator: the URLs
    and the options that keep load_markets to one request. market: "spot" or "swap"
    (USDⓈ-M perpetuals; "linear"/"perpetual" also accepted)."""
    if market not in MARKET_TYPES:
        raise ValueError(f"market is one of {', '.join(MARKET_TYPES)}")
    kind = MARKET_TYPES[market]
    return {
        "urls": {"api": ccxt_urls(base_url)},
        "enableRateLimit": rate_limit,
        "timeout_on_exit": 0,  # ccxt sleeps 250 ms in close() for TLS teardown; plain HTTP has none
        "options": {
            "fetchCurrencies": False,  # else GET sapi/v1/capital/config/getall
            "fetchMargins": False,  # else the margin pair lists
            "fetchMarkets": {"types": [kind]},  # only the exchangeInfo of the market traded
            "defaultType": "spot" if kind == "spot" else "swap",
            # ccxt would otherwise turn a market order given a price into quoteOrderQty.
            "createOrder": {"quoteOrderQty": False},
        },
    }
