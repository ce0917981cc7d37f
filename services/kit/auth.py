"""Who is calling. Tokens are JWTs (HS256, fixed audience and issuer, expiry) signed with
JWT_SECRET: compliance issues user tokens at login, every service mints a short-lived service
token for its calls across the mesh, and every service verifies both itself, so a caller that
reaches a service directly (grpcurl, a partner stub) is held to the same rules as the gateway.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field

import jwt

from services.kit import errors

ALGORITHM = "HS256"  # fixed: a token naming another algorithm (or "none") is refused
AUDIENCE = "copytrade"
ISSUER = "copytrade"
USER_TOKEN_TTL = 12 * 3600
SERVICE_TOKEN_TTL = 3600

ROLE_FOLLOWER = "follower"
ROLE_MASTER = "master"
ROLE_OPERATOR = "operator"
ROLE_SERVICE = "service"


@dataclass(frozen=True)
class Caller:
    """The verified identity behind a call."""

    subject: str  # a user id, or "service:<name>"
    roles: frozenset[str] = field(default_factory=frozenset)
    # Partner API key scopes; empty for a login token (which may do everything its user may).
    scopes: frozenset[str] = field(default_factory=frozenset)
    expires_at: float = 0.0  # unix seconds

    @property
    def is_service(self) -> bool:
        return ROLE_SERVICE in self.roles

    @property
    def is_operator(self) -> bool:
        return ROLE_OPERATOR in self.roles

    @property
    def user_id(self) -> str:
        return "" if self.is_service else self.subject

    def may_act_for(self, user_id: str) -> bool:
        return self.is_service or self.is_operator or (bool(user_id) and self.subject == user_id)


ANONYMOUS = Caller(subject="")
_current: contextvars.ContextVar[Caller] = contextvars.ContextVar("caller", default=ANONYMOUS)


def issue_token(secret: str, subject: str, roles: list[str] | tuple[str, ...], *, ttl: int = USER_TOKEN_TTL,
                scopes: tuple[str, ...] = (), now: float | None = None) -> tuple[str, int]:
    """A signed token and its expiry (unix seconds)."""
    now = int(now if now is not None else time.time())
    expires = now + ttl
    claims = {"sub": subject, "roles": sorted(roles), "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": expires}
    if scopes:
        claims["scopes"] = sorted(scopes)
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


def service_token(secret: str, service: str) -> str:
    return issue_token(secret, f"service:{service}", [ROLE_SERVICE], ttl=SERVICE_TOKEN_TTL)[0]


def verify_token(secret: str, token: str) -> Caller:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise errors.unauthenticated("TOKEN_EXPIRED", "the access token has expired; log in again", domain="auth.copytrade")
    except jwt.PyJWTError:
        raise errors.unauthenticated("TOKEN_INVALID", "the access token is not valid", domain="auth.copytrade")
    return Caller(subject=str(claims["sub"]), roles=frozenset(claims.get("roles", ())),
                  scopes=frozenset(claims.get("scopes", ())), expires_at=float(claims["exp"]))


def bearer(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value.lower().startswith("bearer "):
            return value[7:].strip()
    return None


def current() -> Caller:
    return _current.get()


def set_current(caller: Caller) -> contextvars.Token:
    return _current.set(caller)


def reset_current(token: contextvars.Token) -> None:
    _current.reset(token)


def require_caller() -> Caller:
    caller = _current.get()
    if not caller.subject:
        raise errors.unauthenticated("AUTH_REQUIRED", "this call needs an access token (authorization: Bearer ...)",
                                     domain="auth.copytrade")
    return caller


def require_user(user_id: str) -> Caller:
    """The caller, if it may act for `user_id` (itself, an operator, or a service)."""
    caller = require_caller()
    if not caller.may_act_for(user_id):
        raise errors.permission_denied("NOT_OWNER", "you may only act on your own resources",
                                       domain="auth.copytrade")
    return caller


def require_role(*roles: str) -> Caller:
    caller = require_caller()
    if caller.is_service or caller.roles.intersection(roles):
        return caller
    raise errors.permission_denied("ROLE_REQUIRED", f"this call needs one of the roles: {', '.join(roles)}",
                                   domain="auth.copytrade", roles=",".join(roles))


def require_service(*names: str) -> Caller:
    caller = require_caller()
    if caller.is_service and (not names or caller.subject.removeprefix("service:") in names):
        return caller
    raise errors.permission_denied("SERVICE_ONLY", "this call is internal to the copytrade mesh",
                                   domain="auth.copytrade")
