"""What the gateway decides before a call goes into the mesh: who the caller is (a login token,
or a partner API key traded for a short-lived token of the key's user and scopes), whether the
route is open to them (the contracts say so with the copytrade.type.v1.access option), and
whether they are over their request rate."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from copytrade.type.v1 import access_pb2
from services.gateway import api_keys
from services.gateway.routes import Route
from services.gateway.store import ApiKeyRow
from services.kit import auth, errors
from services.kit.db import Database, aware

API_KEY_TOKEN_TTL_S = 60  # the token a key is traded for lives for one call's worth of time
LAST_USE_RESOLUTION = timedelta(minutes=1)  # a key's last use is written at most this often

# Browser sessions: a login that asks for a cookie gets the token in an httpOnly cookie (never in
# the body), so no script on the page can read it; the edge takes that cookie as the bearer token.
LOGIN_RPC = "/copytrade.compliance.v1.ComplianceService/Login"
LOGOUT_RPC = "/copytrade.compliance.v1.ComplianceService/Logout"
LOGOUT_PATH = "/v1/auth:logout"
SESSION_HEADER = "X-Copytrade-Session"  # "cookie": the web app logging in
SESSION_COOKIE = "copytrade_session"
CSRF_HEADER = "X-Copytrade-Csrf"  # "1" on every state-changing cookie-authenticated request
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def access(route: Route) -> access_pb2.Access:
    options = route.method.GetOptions()
    return options.Extensions[access_pb2.access] if options.HasExtension(access_pb2.access) else access_pb2.Access()


def key_may_call(route: Route, scopes: set[int]) -> bool:
    if route.verb == "GET" and access_pb2.API_KEY_SCOPE_READ in scopes:
        return True
    return bool(scopes.intersection(access(route).api_key_scopes))


@dataclass(frozen=True)
class Identity:
    """Who is calling, as far as the edge is concerned."""

    subject: str  # a user id, or "ip:<address>" for an anonymous caller
    authorization: str | None  # what to pass on to the services


class EdgeError(Exception):
    def __init__(self, error: errors.DomainError) -> None:
        super().__init__(error.message)
        self.error = error


async def find_api_key(db: Database, full_key: str) -> ApiKeyRow | None:
    """The live key behind `ctk_<id>_<secret>`, or None (unknown, wrong secret, revoked, expired)."""
    parts = api_keys.split_key(full_key)
    if parts is None:
        return None
    now = datetime.now(UTC)
    async with db.session() as session:
        row = await session.get(ApiKeyRow, parts[0])
        if row is None or not api_keys.secret_matches(parts[1], row.secret_hash) or row.revoke_time is not None \
                or (row.expire_time is not None and aware(row.expire_time) <= now):
            return None
        if row.last_use_time is None or now - aware(row.last_use_time) >= LAST_USE_RESOLUTION:
            row.last_use_time = now
        return row


class Authenticator:
    def __init__(self, jwt_secret: str, find_key: Callable[[str], Awaitable[ApiKeyRow | None]],
                 versions: auth.TokenVersions | None = None) -> None:
        self.jwt_secret, self.find_key = jwt_secret, find_key
        self.versions = versions  # a key's token carries its user's current version (None: user gone)

    async def identify(self, route: Route, authorization: str | None, api_key: str | None,
                       remote: str) -> Identity:
        credential = api_key or (authorization[7:].strip() if authorization and
                                 authorization[:7].lower() == "bearer " else None)
        if credential and credential.startswith(api_keys.PREFIX):
            return await self._by_key(route, credential)
        if credential:
            try:
                caller = auth.verify_token(self.jwt_secret, credential)
            except errors.DomainError as err:
                raise EdgeError(err) from None
            if caller.is_service:  # the mesh's own tokens are for calls inside it, never from outside
                raise EdgeError(errors.unauthenticated(
                    "SERVICE_TOKEN_AT_EDGE", "service tokens are not accepted here; log in or use an API key",
                    domain=api_keys.DOMAIN))
            return Identity(caller.subject, f"Bearer {credential}")
        if authorization:
            raise EdgeError(errors.unauthenticated("AUTH_MALFORMED", "authorization must be 'Bearer <token>'",
                                                   domain=api_keys.DOMAIN))
        if not access(route).public:
            raise EdgeError(errors.unauthenticated(
                "AUTH_REQUIRED", "this route needs a login token or an API key (authorization: Bearer ...)",
                domain=api_keys.DOMAIN))
        return Identity(f"ip:{remote}", None)

    async def _by_key(self, route: Route, full_key: str) -> Identity:
        row = await self.find_key(full_key)
        if row is None:
            raise EdgeError(errors.unauthenticated("API_KEY_INVALID", "the API key is unknown, revoked or expired",
                                                   domain=api_keys.DOMAIN))
        scopes = set(row.scopes)
        if not key_may_call(route, scopes):
            raise EdgeError(errors.permission_denied(
                "API_KEY_SCOPE", f"this API key's scopes ({', '.join(_scope_names(scopes))}) do not allow "
                                 f"{route.verb} {route.template}", domain=api_keys.DOMAIN))
        version = None
        if self.versions is not None:
            try:
                version = await self.versions.current(row.user_id)
            except errors.DomainError as err:
                raise EdgeError(err) from None
            if version is None:  # the key's user was deleted
                raise EdgeError(errors.unauthenticated("API_KEY_INVALID", "the API key is unknown, revoked or "
                                                       "expired", domain=api_keys.DOMAIN))
        token, _ = auth.issue_token(self.jwt_secret, row.user_id, [auth.ROLE_FOLLOWER], ttl=API_KEY_TOKEN_TTL_S,
                                    scopes=tuple(_scope_names(scopes)), version=version)
        return Identity(row.user_id, f"Bearer {token}")


def _scope_names(scopes: set[int]) -> list[str]:
    return sorted(access_pb2.ApiKeyScope.Name(s).removeprefix("API_KEY_SCOPE_") for s in scopes)


class RateLimiter:
    """A token bucket per caller: `rate` requests a second on average, bursts up to `burst`.
    Per gateway replica (each replica holds its own buckets)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_callers: int = 100_000) -> None:
        self.rate, self.burst, self.clock, self.max_callers = rate, burst, clock, max_callers
        self._buckets: dict[str, tuple[float, float]] = {}  # caller → (tokens, as of)

    def retry_after(self, caller: str) -> int:
        """0 when the request may go; otherwise whole seconds until it could."""
        if self.rate <= 0:
            return 0
        now = self.clock()
        tokens, at = self._buckets.get(caller, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1:
            if len(self._buckets) >= self.max_callers and caller not in self._buckets:
                self._buckets.clear()  # a flood of one-off callers: start over rather than grow
            self._buckets[caller] = (tokens - 1, now)
            return 0
        self._buckets[caller] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate))


def _is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def session_login_response(request: web.Request, login: dict) -> web.Response:
    """The login reply without its token, and the token as an httpOnly, SameSite=Strict cookie
    (Secure when the browser came over https), expiring with the token."""
    token = login.pop("accessToken", "")
    max_age = None
    if login.get("expireTime"):
        expires = datetime.fromisoformat(login["expireTime"].replace("Z", "+00:00"))
        max_age = max(0, int((expires - datetime.now(UTC)).total_seconds()))
    response = web.json_response(login)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="Strict",
                        secure=_is_https(request))
    return response


def session_logout_response(request: web.Request) -> web.Response:
    response = web.json_response({})
    response.set_cookie(SESSION_COOKIE, "", max_age=0, path="/", httponly=True, samesite="Strict",
                        secure=_is_https(request))
    return response
