"""Venue accounts: validation of what a user registers. Pure; no I/O."""

from __future__ import annotations

import re

from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.kit import errors

DOMAIN = "replication.copytrade"
_VENUE_ID = re.compile(r"^[a-z0-9_]{2,32}$")

# The venues the platform trades on, by kind: each has an adapter and passes the venue contract
# against its simulator (tests/venues). A ccxt venue is named by its ccxt id. IB, Rithmic and
# NinjaTrader connect through a gateway; "<id>_<n>" names another gateway of that venue (its own
# VENUE_URLS entry).
SUPPORTED_VENUES: dict[int, tuple[str, ...]] = {
    trading_pb2.VENUE_KIND_CCXT: ("binance", "bybit", "coinbase", "kraken", "kucoin", "okx"),
    trading_pb2.VENUE_KIND_IB: ("ib",),
    trading_pb2.VENUE_KIND_RITHMIC: ("rithmic",),
    trading_pb2.VENUE_KIND_NINJATRADER: ("ninjatrader",),
}
_GATEWAY_SUFFIX = re.compile(r"_\d{1,3}$")


def check_supported(kind: int, venue_id: str) -> None:
    """INVALID_ARGUMENT UNSUPPORTED_VENUE unless the platform trades on that venue of that kind."""
    supported = SUPPORTED_VENUES.get(kind, ())
    named = _GATEWAY_SUFFIX.sub("", venue_id) if kind != trading_pb2.VENUE_KIND_CCXT else venue_id
    if named not in supported:
        name = trading_pb2.VenueKind.Name(kind) if kind in trading_pb2.VenueKind.values() else str(kind)
        raise errors.invalid_argument(
            "UNSUPPORTED_VENUE", f"venue.id {venue_id!r} is not a venue of kind {name} the platform supports: "
            f"{', '.join(supported) or 'none'}", domain=DOMAIN, field="venue.id", supported=",".join(supported))


def validate_new_account(request: pb.CreateVenueAccountRequest) -> None:
    def bad(field: str, message: str) -> errors.DomainError:
        return errors.invalid_argument("INVALID_ACCOUNT", message, domain=DOMAIN, field=field)

    if request.role not in (pb.ACCOUNT_ROLE_MASTER, pb.ACCOUNT_ROLE_FOLLOWER):
        raise bad("role", "role must be ACCOUNT_ROLE_MASTER or ACCOUNT_ROLE_FOLLOWER")
    venue = request.venue
    if venue.kind == trading_pb2.VENUE_KIND_UNSPECIFIED or venue.kind not in trading_pb2.VenueKind.values():
        raise bad("venue.kind", "venue.kind is required")
    if not _VENUE_ID.match(venue.id):
        raise bad("venue.id", "venue.id must be a venue id such as 'binance' (lower case letters, digits, _)")
    check_supported(venue.kind, venue.id)
    if venue.market_type == trading_pb2.MARKET_TYPE_UNSPECIFIED or venue.market_type not in trading_pb2.MarketType.values():
        raise bad("venue.market_type", "venue.market_type is required")
    if not request.credential_id:
        raise bad("credential_id", "credential_id (a credential stored in the compliance vault) is required")
    if request.watch_fills and request.role != pb.ACCOUNT_ROLE_MASTER:
        raise bad("watch_fills", "only master accounts have their fills watched")
