"""Master profiles: what a master may publish about themselves. Pure; no I/O."""

from __future__ import annotations

from google.protobuf import json_format

from copytrade.discovery.v1 import discovery_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.kit import errors

DOMAIN = "discovery.copytrade"
MAX_BIO = 2000
MAX_ACCOUNTS = 20  # master accounts one profile may show


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
    if len(profile.master_account_ids) > MAX_ACCOUNTS:
        raise bad("master_account_ids", f"a profile shows at most {MAX_ACCOUNTS} master accounts")


def not_your_account(account_id: str) -> errors.DomainError:
    """One answer for someone else's account, a follower account and none at all: which of them
    it is tells nothing the caller may know."""
    return errors.permission_denied("NOT_YOUR_MASTER_ACCOUNT", "a profile shows only its own master's master "
                                    "accounts", domain=DOMAIN, field="master_account_ids", account_id=account_id)


def check_accounts_owned(user_id: str, accounts: dict[str, tuple[str, bool] | None]) -> None:
    """`accounts`: each listed account id → (its owner, whether it is a master account), or None
    when replication has no such account."""
    for account_id, found in accounts.items():
        if found is None or found[0] != user_id or not found[1]:
            raise not_your_account(account_id)


def venues_to_json(venues) -> list[dict]:
    return [json_format.MessageToDict(v, preserving_proto_field_name=True) for v in venues]


def venues_from_json(rows: list[dict]) -> list[trading_pb2.Venue]:
    return [json_format.ParseDict(v, trading_pb2.Venue()) for v in rows]
