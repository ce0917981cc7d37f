"""Pointing ccxt at the simulator is configuration only: these URLs and options.

ccxt_urls(url, exchange) is the URL map production's VENUE_URLS takes for a ccxt venue
(services.kit.config.venue_urls_from_json), venue_urls(url, *exchanges) that whole setting, and
`python -m venue_sim.ccxt_config URL [EXCHANGE ...]` prints it as JSON for the environment.
ccxt_config adds the options that keep a bare ccxt client's load_markets to the market traded,
for tests and tools that open ccxt themselves."""

from __future__ import annotations

import functools
import json
import sys
from urllib.parse import urlsplit

# Options per spot-only dialect, beside its URLs.
SPOT_OPTIONS = {
    # Advanced Trade's brokerage accounts (api/v3), not the Coinbase app's v2 wallets.
    "coinbase": {"fetchBalance": "v3PrivateGetBrokerageAccounts"},
    "kraken": {},
}
MARKET_TYPES = {"spot": "spot", "swap": "linear", "linear": "linear", "perpetual": "linear", "future": "linear"}
# The ccxt options of a dialect with a module of its own, by market ("spot" or "swap"): the
# market type traded, and load_markets kept to that market's instruments.
DIALECT_OPTIONS = {
    "okx": lambda market: {"fetchMarkets": {"types": [market]}, "defaultType": market},
    "kucoin": lambda market: {"fetchMarkets": {"types": [market], "fetchTickersFees": False}, "defaultType": market},
}
# A venue's second API host, served by the simulator under this path on the same port.
HOST_PATHS = {"api-futures.kucoin.com": "/api-futures"}


@functools.lru_cache(maxsize=16)  # one per exchange dialect
def _api_urls(exchange: str) -> dict:
    import ccxt.pro  # imported late: ccxt is heavy and the simulator itself does not need it

    return getattr(ccxt.pro, exchange)().urls["api"]


def _rebase(url: str, http: str, ws: str) -> str:
    """Same path, the simulator's host: https://fapi.binance.com/fapi/v1 -> http://127.0.0.1:P/fapi/v1."""
    parts = urlsplit(url)
    return (ws if parts.scheme in ("ws", "wss") else http) + HOST_PATHS.get(parts.hostname or "", "") + parts.path


def ccxt_urls(base_url: str, exchange: str = "binance") -> dict:
    """Every one of ccxt's `urls['api']` entries for that exchange (REST, `ws`, `ws-api`) moved
    onto the simulator, path kept ("https://api.{hostname}" becomes the simulator's root).
    Nothing is left pointing at the real venue, so a call the simulator does not serve fails
    on loopback (404) instead of going out."""
    http = base_url.rstrip("/")
    ws = "ws://" + http.split("://", 1)[1]

    def move(value):
        return {k: move(v) for k, v in value.items()} if isinstance(value, dict) else _rebase(value, http, ws)

    return move(_api_urls(exchange))


def venue_urls(base_url: str, *exchanges: str) -> dict[str, dict]:
    """VENUE_URLS for services trading on the simulator at base_url under these ccxt venue
    ids (default binance), each venue's URLs in its own dialect's places."""
    return {exchange: ccxt_urls(base_url, exchange) for exchange in exchanges or ("binance",)}


def ccxt_config(base_url: str, *, rate_limit: bool = True, market: str = "spot", exchange: str = "binance") -> dict:
    """Constructor config for ccxt (and ccxt.pro) `exchange` against the simulator speaking its
    dialect: the URLs and the options that keep load_markets small. market: "spot" or "swap"
    (USDⓈ-M / linear perpetuals; "linear"/"perpetual" also accepted). exchange: "binance",
    "bybit", one of DIALECT_OPTIONS (okx, kucoin) or of SPOT_OPTIONS (coinbase, kraken: spot only)."""
    if market not in MARKET_TYPES:
        raise ValueError(f"market is one of {', '.join(MARKET_TYPES)}")
    kind = MARKET_TYPES[market]
    if exchange in DIALECT_OPTIONS:
        return {"urls": {"api": ccxt_urls(base_url, exchange)}, "enableRateLimit": rate_limit, "timeout_on_exit": 0,
                "options": DIALECT_OPTIONS[exchange]("spot" if kind == "spot" else "swap")}
    if exchange == "bybit":
        return {
            "urls": {"api": ccxt_urls(base_url, "bybit")},
            "enableRateLimit": rate_limit,
            "timeout_on_exit": 0,
            "options": {
                "fetchMarkets": {"types": [kind]},  # instruments-info of the market traded only
                "defaultType": "spot" if kind == "spot" else "swap",
                "defaultSubType": "linear",
                # ccxt refuses fetchOrder on a unified account unless told it knows the limits
                # (Bybit keeps the last 500 orders of any state queryable there).
                "fetchOrder": {"acknowledged": True},
            },
        }
    if exchange in SPOT_OPTIONS:
        if kind != "spot":
            raise ValueError(f"the simulator's {exchange} dialect is spot only")
        return {"urls": {"api": ccxt_urls(base_url, exchange)}, "enableRateLimit": rate_limit, "timeout_on_exit": 0,
                "options": {"defaultType": "spot", **SPOT_OPTIONS[exchange]}}
    if exchange != "binance":
        raise ValueError(f"the simulator speaks binance, bybit, {', '.join(DIALECT_OPTIONS)} and "
                         f"{', '.join(SPOT_OPTIONS)}")
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


if __name__ == "__main__":  # VENUE_URLS="$(python -m venue_sim.ccxt_config http://127.0.0.1:9000 binance)"
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m venue_sim.ccxt_config SIMULATOR_URL [EXCHANGE ...]")
    print(json.dumps(venue_urls(sys.argv[1], *sys.argv[2:])))
