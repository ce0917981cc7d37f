"""Partner API keys: `ctk_<key id>_<secret>`. Only a hash of the secret is kept; checking a
key compares hashes in constant time. Pure; no I/O."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from copytrade.type.v1 import access_pb2
from services.kit import errors

DOMAIN = "gateway.copytrade"
PREFIX = "ctk_"


@dataclass(frozen=True)
class NewKey:
    key_id: str
    full_key: str  # shown to the user once
    secret_hash: str


def new_key() -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{PREFIX}{key_id}_{secret}", hash_secret(secret))


def hash_secret(secret: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(full_key: str) -> tuple[str, str] | None:
    if not full_key.startswith(PREFIX):
        return None
    key_id, _, secret = full_key[len(PREFIX):].partition("_")
    return (key_id, secret) if key_id and secret else None


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def validate_scopes(scopes: list[int]) -> list[int]:
    valid = set(access_pb2.ApiKeyScope.values()) - {access_pb2.API_KEY_SCOPE_UNSPECIFIED}
    if not scopes or any(s not in valid for s in scopes):
        raise errors.invalid_argument("INVALID_SCOPES", "scopes must name at least one of READ, TRADE, SIGNAL",
                                      domain=DOMAIN, field="scopes")
    return sorted(set(scopes))
