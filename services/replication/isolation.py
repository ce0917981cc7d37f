"""What no retry can mend, so that a copy fails alone and at once rather than holding its
master's fill, and that master's next fills behind it: a fill, a session's settings or a
follower's venue account stored before the edges validated them, and errors that say the input
is wrong (an INVALID_ARGUMENT from risk or from our own parsers, a non-finite number). And what
an event on a master-fill subject must be to be copied: a fill replication stored, with the
payload it stored. Pure: the copier records each answer as a refusal with its reason."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.type.v1 import trading_pb2
from services.kit import errors, validation
from services.replication import accounts
from services.replication.store import CopySessionRow, VenueAccountRow

DOMAIN = "replication.copytrade"
FILLS_PREFIX = "fills.master.filled."
# Codes that say the request itself is wrong: asking again gets the same answer.
PERMANENT_CODES = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE})
# Errors our own code raises on input it cannot use (decimal.InvalidOperation is an ArithmeticError).
INPUT_ERRORS = (ArithmeticError, ValueError, TypeError, KeyError)


def _refusal(reason: str, message: str, **metadata: object) -> trading_pb2.Refusal:
    return trading_pb2.Refusal(reason=reason, domain=DOMAIN, message=message,
                               metadata={k: str(v) for k, v in metadata.items()})


# --- the fill on the bus ------------------------------------------------------------------------

def unverified(subject: str, event: Message, stored: bytes | None) -> trading_pb2.Refusal | None:
    """Why an event on a master-fill subject is not a fill to copy, or None when it is the
    fill replication stored (`stored`: the payload stored under its fill id, None if none)."""
    if not isinstance(event, events.MasterFill):
        return _refusal("NOT_A_MASTER_FILL", f"a {event.DESCRIPTOR.full_name} on a master-fill subject",
                        type=event.DESCRIPTOR.full_name)
    if subject != FILLS_PREFIX + event.master_account_id:
        return _refusal("FILL_SUBJECT_MISMATCH", f"a fill of account {event.master_account_id!r} on {subject}",
                        fill_id=event.fill_id)
    if stored is None:
        return _refusal("FILL_NOT_STORED", f"fill {event.fill_id!r} was never recorded by replication",
                        fill_id=event.fill_id)
    if events.MasterFill.FromString(stored) != event:
        return _refusal("FILL_PAYLOAD_MISMATCH", f"fill {event.fill_id!r} differs from the fill recorded",
                        fill_id=event.fill_id)
    return None


def rejected_subject(subject: str) -> str:
    return "fills.master.rejected." + (subject.removeprefix(FILLS_PREFIX) or "unknown")


# --- before a copy ------------------------------------------------------------------------------

def _finite(raw: str) -> bool:
    try:
        return not raw or Decimal(raw).is_finite()
    except (InvalidOperation, ValueError):
        return False


def fill_problem(fill: events.MasterFill) -> trading_pb2.Refusal | None:
    """A stored fill the signal API would refuse today (its quantity or price not a finite
    decimal within bounds, no side), or whose numbers derived at recording are not finite."""
    try:
        for field, bound in (("quantity", validation.QUANTITY), ("price", validation.PRICE)):
            validation.parse_decimal(getattr(fill, field), f"the master's fill {field}", bound,
                                     reason="INVALID_FILL", domain=DOMAIN)
    except errors.DomainError as exc:
        return exc.to_refusal()
    if fill.side not in (trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL):
        return _refusal("INVALID_FILL", "the master's fill has no side", field="side")
    for field in ("position_before", "master_equity"):
        if not _finite(getattr(fill, field)):
            return _refusal("INVALID_FILL", f"the master's fill {field} is not a finite decimal", field=field)
    return None


def settings_problem(session: CopySessionRow, parsed) -> trading_pb2.Refusal | None:
    """Settings stored before they were validated as they are today. parsed(session): the
    settings validated (the catalog's, validated once per change)."""
    try:
        parsed(session)
    except errors.DomainError as exc:
        return exc.to_refusal()
    except json_format.ParseError as exc:
        return _refusal("INVALID_SETTINGS", f"the session's settings cannot be read: {exc}")
    return None


def account_problem(account: VenueAccountRow | None) -> trading_pb2.Refusal | None:
    """A follower account on a venue the platform does not trade on."""
    if account is None:
        return None  # the copier says so itself (ACCOUNT_NOT_FOUND)
    try:
        accounts.check_supported(account.venue_kind, account.venue_id)
    except errors.DomainError as exc:
        return exc.to_refusal()
    return None


def before_copy(fill_refusal: trading_pb2.Refusal | None, session: CopySessionRow, account: VenueAccountRow | None,
                parsed) -> trading_pb2.Refusal | None:
    """fill_refusal: fill_problem(fill), found once per fill (not per copy)."""
    return fill_refusal or settings_problem(session, parsed) or account_problem(account)


# --- during a copy ------------------------------------------------------------------------------

def non_transient(exc: BaseException) -> trading_pb2.Refusal | None:
    """The refusal for an error no retry mends; None for one that may pass (the database,
    risk or NATS away, a deadline), which is tried again."""
    if isinstance(exc, errors.DomainError):
        return exc.to_refusal() if exc.code in PERMANENT_CODES else None
    if isinstance(exc, grpc.aio.AioRpcError):
        return errors.passed_on(exc).to_refusal() if exc.code() in PERMANENT_CODES else None
    if isinstance(exc, INPUT_ERRORS):
        return _refusal("COPY_INVALID", f"the copy cannot be made: {type(exc).__name__}: {str(exc)[:300]}",
                        error=type(exc).__name__)
    return None
