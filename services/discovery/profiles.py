"""Master profiles: what a master may publish about themselves. Pure; no I/O."""

from __future__ import annotations

from google.protobuf import json_format

from copytrade.discovery.v1 import discovery_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.kit import errors

DOMAIN = "discovery.copytrade"
MAX_BIO = 2000


def validate_profile(profile: pb.MasterProfile) -> None:
    def bad(field: str, message: str) -> errors.DomainError:
        return errors.invalid_argument("INVALID_PROFILE", message, domain=DOMAIN, field=field)

    if not profile.display_name.strip() or len(profile.display_name) > 100:
        raise bad("display_name", "display_name is required (at most 100 characters)")
    if profile.strategy_type not in pb.StrategyType.values() or profile.strategy_type == pb.STRATEGY_TYPE_UNSPECIFIED:
        raise bad("strategy_type", "strategy_type is required")
    if profile.risk_level not in pb.RiskLevel.values() or profile.risk_level == pb.RISK_LEVEL_UNSPECIFIED:
        raise bad("risk_level", "risk_level is required")
    if len(profile.bio) > MAX_BIO:
        raise bad("bio", f"bio has at most {MAX_BIO} characters")


def venues_to_json(venues) -> list[dict]:
    return [json_format.MessageToDict(v, preserving_proto_field_name=True) for v in venues]


def venues_from_json(rows: list[dict]) -> list[trading_pb2.Venue]:
    return [json_format.ParseDict(v, trading_pb2.Venue()) for v in rows]
