"""Who is calling. Tokens are JWTs (HS256, fixed audience and issuer, expiry) signed with
JWT_SECRET: compliance issues user tokens at login, every service mints a short-lived service
token for its calls across the mesh, and every service verifies both itself, so a caller that
reaches a service directly (grpcurl, a partner stub) is held to the same rules as the gateway.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
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
# Tokens issued at login carry their user's token version ("ver"); compliance bumps the version on
# logout, a role change and erasure, and every service refuses a token older than its user's.
VERSION_CLAIM = "ver"
log = logging.getLogger("copytrade.auth")


@dataclass(frozen=True)
class Caller:
    """The verified identity behind a call."""

    subject: str  # a user id, or "service:<name>"
    roles: frozenset[str] = field(default_factory=frozenset)
    # Partner API key scopes; empty for a login token (which may do everything its user may).
    scopes: frozenset[str] = field(default_factory=frozenset)
    expires_at: float = 0.0  # unix seconds
    # The user's token version when issued; None: a token that is not a login session's (a
    # service token, or the short-lived token the gateway trades a live API key for).
    token_version: int | None = None

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
                scopes: tuple[str, ...] = (), now: float | None = None,
                version: int | None = None) -> tuple[str, int]:
    """A signed token and its expiry (unix seconds); `version` makes it a revocable login token."""
    now = int(now if now is not None else time.time())
    expires = now + ttl
    claims = {"sub": subject, "roles": sorted(roles), "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": expires}
    if scopes:
        claims["scopes"] = sorted(scopes)
    if version is not None:
        claims[VERSION_CLAIM] = int(version)
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
    version = claims.get(VERSION_CLAIM)
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise errors.unauthenticated("TOKEN_INVALID", "the access token is not valid", domain="auth.copytrade")
    return Caller(subject=str(claims["sub"]), roles=frozenset(claims.get("roles", ())),
                  scopes=frozenset(claims.get("scopes", ())), expires_at=float(claims["exp"]),
                  token_version=version)


def token_revoked() -> errors.DomainError:
    return errors.unauthenticated("TOKEN_REVOKED", "this access token was revoked (logout, a role change or the "
                                  "account's deletion); log in again", domain="auth.copytrade")


VersionSource = Callable[[list[str]], Awaitable[dict[str, int]]]


class TokenVersions:
    """Each user's current token version, as compliance holds it: cached per process, replaced at
    once by compliance's UserTokensRevoked event on the bus, and re-read after `ttl_s` in case an
    event was missed. `source` answers {user id: version}, leaving out users that no longer exist.
    """

    def __init__(self, source: VersionSource, *, ttl_s: float = 30.0, max_users: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.ttl_s, self.max_users, self.clock = source, ttl_s, max_users, clock
        self._known: dict[str, tuple[int | None, float]] = {}  # user → (version or None: gone, read at)
        self._reading: dict[str, asyncio.Future] = {}

    def heard(self, user_id: str, version: int, deleted: bool = False) -> None:
        """What the bus said: from now on tokens below `version` (every one, if deleted) are void."""
        known = self._known.get(user_id, (0, 0.0))[0]
        self._known[user_id] = (None if deleted else max(version, known or 0), self.clock())

    async def check(self, caller: Caller) -> None:
        """Raise TOKEN_REVOKED when `caller` holds a login token its user's version has left behind."""
        if caller.token_version is None or caller.is_service:
            return
        current = await self.current(caller.subject)
        if current is None or caller.token_version < current:
            raise token_revoked()

    async def current(self, user_id: str) -> int | None:
        """The user's token version; None when the user does not exist."""
        cached = self._known.get(user_id)
        if cached is not None and self.clock() - cached[1] < self.ttl_s:
            return cached[0]
        pending = self._reading.get(user_id)
        if pending is None:  # one read per user at a time, however many calls wait on it
            pending = asyncio.ensure_future(self._read(user_id, cached))
            self._reading[user_id] = pending
            pending.add_done_callback(lambda _: self._reading.pop(user_id, None))
        return await asyncio.shield(pending)

    async def _read(self, user_id: str, stale: tuple[int | None, float] | None) -> int | None:
        try:
            versions = await self.source([user_id])
        except Exception as exc:  # noqa: BLE001 - compliance away: the last word heard, else refuse
            if stale is not None:
                return stale[0]
            log.warning("cannot check token versions (%s); refusing login tokens until it answers", exc)
            raise errors.unavailable("TOKEN_CHECK_UNAVAILABLE", "the sign-in service cannot be reached to "
                                     "check this token; try again", domain="auth.copytrade") from None
        if len(self._known) >= self.max_users:
            self._known.clear()
        version = versions.get(user_id)
        self._known[user_id] = (version, self.clock())
        return version


def revocations_heard(versions: TokenVersions) -> Callable[[str, object], Awaitable[None]]:
    """A bus callback (tokens.user.revoked.>) that feeds `versions`."""

    async def on_event(_subject: str, event) -> None:
        versions.heard(event.user_id, int(event.token_version), bool(event.deleted))

    return on_event


REVOCATION_SUBJECT = "tokens.user.revoked"


def revocation_subject(user_id: str) -> str:
    return f"{REVOCATION_SUBJECT}.{user_id}"


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
