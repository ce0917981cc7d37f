"""Users and passwords. The top half is pure rules (passwords are hashed with argon2id); the
bottom half keeps the users table: registration, log-in, roles and token versions, each change
recorded in the audit trail in its own transaction."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from zxcvbn import zxcvbn

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.compliance.audit import AuditedTransaction, AuditTrail, Entry
from services.compliance.store import UserRow
from services.kit import auth, errors
from services.kit.db import Database

DOMAIN = "compliance.copytrade"
# NIST 800-63B §5.1.1.2: a length range, any characters (spaces included), no composition rules,
# and a check against commonly used and breached passwords.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
# zxcvbn matches the password against its list of the 30,000 most common passwords from breach
# corpora (and English words, names, keyboard walks, repeats, sequences and dates, with l33t and
# reversed spellings, and the user's own email and name) and estimates how many guesses it would
# take; 10^8 is its "safely unguessable" line ("password1234" takes about 10^4).
MIN_GUESSES_LOG10 = 8
ZXCVBN_MAX_LENGTH = 72  # the estimator's own bound; the rest of a longer password only adds to it
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

ROLE_NAMES = {pb.ROLE_FOLLOWER: auth.ROLE_FOLLOWER, pb.ROLE_MASTER: auth.ROLE_MASTER,
              pb.ROLE_OPERATOR: auth.ROLE_OPERATOR}
ROLE_VALUES = {name: value for value, name in ROLE_NAMES.items()}


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise errors.invalid_argument("INVALID_EMAIL", "email is not a valid address", domain=DOMAIN, field="email")
    return email


def check_password_strength(password: str, user_inputs: tuple[str, ...] = ()) -> None:
    def weak(message: str, **metadata) -> errors.DomainError:
        return errors.invalid_argument("WEAK_PASSWORD", message, domain=DOMAIN, field="password",
                                       min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, **metadata)

    if len(password) < MIN_PASSWORD_LENGTH:
        raise weak(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise weak(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise weak("password must not be only spaces")
    found = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=[u for u in user_inputs if u])
    if found["guesses_log10"] < MIN_GUESSES_LOG10:
        hint = found["feedback"].get("warning") or "it is too easy to guess"
        raise weak(f"password is too common or predictable ({hint.rstrip('.')}); a few unrelated words make a "
                   "strong one", problem="COMMON_OR_PREDICTABLE")


def required_user_id(user_id: str) -> str:
    if not user_id:
        raise errors.invalid_argument("INVALID_USER", "user_id is required", domain=DOMAIN, field="user_id")
    return user_id


def roles_set(requested: list[int]) -> list[str]:
    """The roles an operator sets: at least one, each a known role."""
    if not requested or any(r not in ROLE_NAMES for r in requested):
        raise errors.invalid_argument("INVALID_ROLE", "roles must name at least one of ROLE_FOLLOWER, "
                                      "ROLE_MASTER, ROLE_OPERATOR", domain=DOMAIN, field="roles")
    return sorted({ROLE_NAMES[r] for r in requested})


def self_assigned_roles(requested: list[int]) -> list[str]:
    """Roles a user may give themselves at registration: follower and master, never operator."""
    if pb.ROLE_OPERATOR in requested:
        raise errors.permission_denied("ROLE_NOT_SELF_ASSIGNABLE", "the operator role is granted by an operator",
                                       domain=DOMAIN, field="roles")
    unknown = [r for r in requested if r not in ROLE_NAMES]
    if unknown:
        raise errors.invalid_argument("INVALID_ROLE", f"unknown role {unknown[0]}", domain=DOMAIN, field="roles")
    return sorted({ROLE_NAMES[r] for r in requested} or {auth.ROLE_FOLLOWER})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against this when the email is unknown keeps "no such user" and "wrong password"
# equally slow, so response times do not reveal which emails are registered.
DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


# --- the users table ------------------------------------------------------------------------------
def user_to_proto(row: UserRow) -> pb.User:
    user = pb.User(user_id=row.user_id, email=row.email, display_name=row.display_name,
                   roles=[ROLE_VALUES[r] for r in row.roles])
    user.create_time.FromDatetime(row.create_time)
    return user


def no_such_user(user_id: str) -> errors.DomainError:
    return errors.not_found("USER_NOT_FOUND", "no such user", domain=DOMAIN, user_id=user_id)


async def register(trail: AuditTrail, email: str, password: str, display_name: str, roles: list[str]) -> UserRow:
    """A new user (EMAIL_TAKEN if the email has an account), audited."""
    password_hash = await asyncio.to_thread(hash_password, password)  # ~50 ms of CPU
    row = UserRow(user_id=f"usr_{uuid.uuid4().hex[:20]}", email=email,
                  display_name=display_name.strip() or email.split("@")[0],
                  password_hash=password_hash, roles=roles, create_time=datetime.now(UTC), token_version=0)
    try:
        async with trail.transaction() as tx:
            tx.session.add(row)
            await tx.session.flush()  # a taken email fails here, before the audit lock is taken
            tx.record(Entry(row.user_id, "user.registered", f"user:{row.user_id}", row.user_id, {"roles": roles}))
    except IntegrityError:
        raise errors.already_exists("EMAIL_TAKEN", "an account with this email exists",
                                    domain=DOMAIN, field="email") from None
    return row


async def authenticate(db: Database, trail: AuditTrail, email: str, password: str) -> UserRow:
    """The user whose email and password these are; INVALID_CREDENTIALS (audited) otherwise."""
    async with db.session() as session:
        row = (await session.execute(select(UserRow).where(UserRow.email == email))).scalar_one_or_none()
    stored = row.password_hash if row else DUMMY_HASH
    matches = await asyncio.to_thread(password_matches, stored, password)
    if row is None or not matches:
        # Recorded for unknown emails too (without the email), so that the time taken still
        # does not tell whether an account exists.
        user_id = row.user_id if row else ""
        await trail.record(Entry("anonymous", "user.login_failed", f"user:{user_id}", user_id))
        raise errors.unauthenticated("INVALID_CREDENTIALS", "email or password is wrong", domain=DOMAIN)
    return row


async def logged_in(trail: AuditTrail, monitor, row: UserRow, address: str) -> None:
    """Audit a log-in, and have `monitor` (a monitor.Monitor) check the address it came from."""
    async with trail.transaction() as tx:
        await monitor.note_login(tx, row.user_id, address)
        tx.record(Entry(row.user_id, "user.logged_in", f"user:{row.user_id}", row.user_id))


async def get(db: Database, user_id: str) -> UserRow:
    async with db.session() as session:
        row = await session.get(UserRow, user_id)
    if row is None:
        raise no_such_user(user_id)
    return row


async def log_out(trail: AuditTrail, actor: str, user_id: str) -> events_pb.UserTokensRevoked:
    """Void every token of `user_id` (TOKEN_REVOKED if the user is gone), audited."""
    async with trail.transaction() as tx:
        row = await tx.session.get(UserRow, user_id, with_for_update=True)
        if row is None:
            raise auth.token_revoked()
        revoked = revoke_tokens(tx, row, "LOGOUT")
        tx.record(Entry(actor, "user.logged_out", f"user:{row.user_id}", row.user_id))
    return revoked


async def set_roles(trail: AuditTrail, actor: str, user_id: str,
                    roles: list[str]) -> tuple[UserRow, events_pb.UserTokensRevoked]:
    async with trail.transaction() as tx:
        row = await tx.session.get(UserRow, user_id, with_for_update=True)
        if row is None:
            raise no_such_user(user_id)
        previous, row.roles = list(row.roles), roles
        revoked = revoke_tokens(tx, row, "ROLES_CHANGED")  # tokens carry roles: old ones must go
        tx.record(Entry(actor, "user.roles_set", f"user:{row.user_id}", row.user_id,
                        {"previous": previous, "roles": roles}))
    return row, revoked


def revoke_tokens(tx: AuditedTransaction, row: UserRow, reason: str) -> events_pb.UserTokensRevoked:
    """Bump the user's token version (in `tx`) and announce it once `tx` commits."""
    row.token_version = (row.token_version or 0) + 1
    revoked = events_pb.UserTokensRevoked(user_id=row.user_id, token_version=row.token_version, reason=reason)
    tx.announce(auth.revocation_subject(row.user_id), revoked, f"tokens:{row.user_id}:{row.token_version}")
    return revoked


def revoke_deleted(tx: AuditedTransaction, user_id: str) -> events_pb.UserTokensRevoked:
    """Announce, once `tx` commits, that every token of the deleted `user_id` is void."""
    revoked = events_pb.UserTokensRevoked(user_id=user_id, deleted=True, reason="DELETED")
    tx.announce(auth.revocation_subject(user_id), revoked, f"tokens:{user_id}:deleted")
    return revoked


async def token_versions(db: Database, user_ids: list[str]) -> dict[str, int]:
    """{user id: token version} for the users that exist."""
    async with db.session() as session:
        rows = (await session.execute(select(UserRow.user_id, UserRow.token_version)
                                      .where(UserRow.user_id.in_(user_ids)))).all()
    return {user_id: version or 0 for user_id, version in rows}
