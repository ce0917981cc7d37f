"""Pointing ccxt at the simulator is configuration only: these URLs and options."""

from __future__ import annotations


def ccxt_urls(base_url: str) -> dict:
    """ccxt's binance `urls['api']` entries that spot trading and user data use, on loopback."""
    http = base_url.rstrip("/")
    ws = http.replace("http://", "ws://", 1)
    return {
        "public": f"{http}/api/v3",
        "private": f"{http}/api/v3",
        "v1": f"{http}/api/v1",
        "sapi": f"{http}/sapi/v1",
        "fapiPublic": f"{http}/fapi/v1",
        "fapiPublicV2": f"{http}/fapi/v2",
        "fapiPublicV3": f"{http}/fapi/v3",
        "fapiPrivate": f"{http}/fapi/v1",
        "fapiPrivateV2": f"{http}/fapi/v2",
        "fapiPrivateV3": f"{http}/fapi/v3",
        "ws": {
            "spot": f"{ws}/ws",
            "margin": f"{ws}/ws",
            "linear": f"{ws}/ws",
            "ws-api": {"spot": f"{ws}/ws-api/v3", "linear": f"{ws}/ws-fapi/v1"},
        },
    }


def ccxt_config(base_url: str, *, rate_limit: bool = True, market: str = "spot") -> dict:
    """Constructor config for ccxt.binance / ccxt.pro.binance against the simulator: only URLs
    and the options that keep load_markets to the one request the simulator answers.
    market: "spot" or "swap" (USDⓈ-M perpetuals)."""
    return {
        "urls": {"api": ccxt_urls(base_url)},
        "enableRateLimit": rate_limit,
        "options": {
            "fetchCurrencies": False,
            "fetchMargins": False,
            "fetchMarkets": {"types": ["spot" if market == "spot" else "linear"]},
            "defaultType": market,
            # ccxt would otherwise turn a market order given a price into quoteOrderQty.
            "createOrder": {"quoteOrderQty": False},
        },
    }
