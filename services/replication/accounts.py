"""Venue accounts: validation of what a user registers. Pure; no I/O."""

from __future__ import annotations

import re

from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.kit import errors

DOMAIN = "replication.copytrade"
_VENUE_ID = re.compile(r"^[a-z0-9_]{2,32}$")


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
    if venue.market_type == trading_pb2.MARKET_TYPE_UNSPECIFIED or venue.market_type not in trading_pb2.MarketType.values():
        raise bad("venue.market_type", "venue.market_type is required")
    if not request.credential_id:
        raise bad("credential_id", "credential_id (a credential stored in the compliance vault) is required")
    if request.watch_fills and request.role != pb.ACCOUNT_ROLE_MASTER:
        raise bad("watch_fills", "only master accounts have their fills watched")
