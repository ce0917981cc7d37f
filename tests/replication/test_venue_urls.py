"""VENUE_URLS points a venue somewhere other than its public address by configuration alone: a
ccxt venue at its own testnet (ccxt's sandbox mode) or at API URLs given by ccxt's names for
them (a testnet's, or the simulator's, which venue_sim supplies), a gateway venue at an address.
What production reaches through it on the simulator is in tests/test_boundaries.py."""

import ccxt
import ccxt.pro
import pytest

from services.kit.config import Settings, venue_urls_from_json
from services.replication.venue_pool import ccxt_location
from services.replication.venues.base import ErrorKind, VenueError
from services.replication.venues.ccxt_venue import CcxtVenue


def opened(venue_id: str, override, market_type: str = "spot") -> CcxtVenue:
    return CcxtVenue(venue_id, api_key="k", secret="s", market_type=market_type,
                     config=ccxt_location(venue_id, override))


async def test_sandbox_trades_on_the_venues_testnet_as_ccxt_knows_it():
    for venue_id, market_type in (("binance", "spot"), ("binance", "swap"), ("bybit", "swap"), ("okx", "spot")):
        venue = opened(venue_id, "sandbox", market_type)
        try:
            assert venue.exchange.isSandboxModeEnabled
            assert venue.exchange.urls["api"] == getattr(ccxt.pro, venue_id)().urls["test"], venue_id
        finally:
            await venue.close()
    assert venue_urls_from_json('{"binance": "sandbox"}') == {"binance": "sandbox"}


async def test_given_api_urls_replace_ccxts_and_the_rest_stay_the_venues():
    testnet = "https://testnet.binance.vision/api/v3"
    venue = opened("binance", {"public": testnet, "private": testnet})
    try:
        urls, public = venue.exchange.urls["api"], ccxt.binance().urls["api"]
        assert (urls["public"], urls["private"]) == (testnet, testnet)
        assert urls["fapiPublic"] == public["fapiPublic"] and urls["sapi"] == public["sapi"]
        assert not venue.exchange.isSandboxModeEnabled
    finally:
        await venue.close()
    assert ccxt_location("binance", None) == {}  # no entry: the public address


def test_a_ccxt_venue_given_a_bare_address_is_refused_with_what_it_takes():
    with pytest.raises(VenueError) as refused:
        ccxt_location("binance", "http://127.0.0.1:9000")
    assert refused.value.kind == ErrorKind.PLATFORM
    assert "sandbox" in refused.value.message and "API URLs" in refused.value.message


@pytest.mark.parametrize("text", ['["binance"]', '{"binance": 9000}', '{"binance": ""}', '{"binance": {}}',
                                  '{"binance": {"public": 1}}', '{"binance": {"rest": {"v1": null}}}', "{binance"])
def test_a_malformed_venue_urls_is_refused_at_start_up(text):
    with pytest.raises(ValueError, match="VENUE_URLS"):
        Settings.from_env("replication", {"VENUE_URLS": text})


def test_venue_urls_reads_every_form_from_the_environment():
    text = ('{"binance": "sandbox", "bybit": {"public": "https://api-testnet.bybit.com"}, '
            '"kucoin": {"futuresPrivate": {"v1": "http://127.0.0.1:9000/api-futures/api/v1"}}, '
            '"ib": "127.0.0.1:7497"}')
    settings = Settings.from_env("replication", {"VENUE_URLS": text})
    assert settings.venue_urls == {"binance": "sandbox", "bybit": {"public": "https://api-testnet.bybit.com"},
                                   "kucoin": {"futuresPrivate": {"v1": "http://127.0.0.1:9000/api-futures/api/v1"}},
                                   "ib": "127.0.0.1:7497"}
    assert Settings.from_env("replication", {}).venue_urls == {}
