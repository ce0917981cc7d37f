"""Users and passwords: pure rules, no I/O. Passwords are hashed with argon2id."""

from __future__ import annotations

import os
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.kit import auth, errors

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


def self_assigned_roles(requested: list[int]) -> list[str]:
    """Roles a user may give themselves at registration: follower and master, never operator."""
    if pb.ROLE_OPERATOR in requested:
        raise errors.permission_denied("ROLE_NOT_SELF_ASSIGNABLE", "the operator role is granted by an operator",
                                       domain=DOMAIN, field="roles")
    unknown = [r for r in requested if r not in ROLE_NAMES]
    if unknown:
        raise errors.invalid_argument("INVALID_ROLE", f"unknown role {unknown[0]}", domain=DOMAIN, field="roles")
    return sorted({ROLE_NAMES[r] for r in requested} or {auth.ROLE_FOLLOWER})


def bootstrap_operators() -> set[str]:
    """Emails that get the operator role when they register: COPYTRADE_OPERATOR_EMAILS=a@x,b@y."""
    return {e.strip().lower() for e in os.environ.get("COPYTRADE_OPERATOR_EMAILS", "").split(",") if e.strip()}


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
