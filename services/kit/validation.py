"""What the edges accept: bounded decimals, text a database can hold, events NATS can carry.

Every edge (the signal API, copy settings, snapshots, risk limits, order checks, previews)
parses decimals with `parse_decimal` and one of the bounds below, so a value that is accepted
anywhere is finite, fits its column (DecimalText holds 64 characters) and stays exact under
every computation downstream. The bounds are documented in the .proto comments of the fields
that use them.

Text is checked against the columns it lands in (`check_row`, run before every flush by
kit.db) and against NUL, which PostgreSQL text cannot hold (`find_nul`, run on every request a
user sends, by kit.server), so over-long or NUL text is INVALID_ARGUMENT on SQLite and on
PostgreSQL alike, before any statement is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation, localcontext

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from sqlalchemy import String, TypeDecorator, inspect

from services.kit import errors

MAX_DECIMAL_TEXT = 64  # DecimalText's column width
MAX_PLACES = 18  # digits after the point: a wei, a satoshi's fraction
# Wide enough that no bounded value rounds while it is checked.
_EXACT = Context(prec=MAX_DECIMAL_TEXT + MAX_PLACES)


@dataclass(frozen=True)
class Bound:
    """A closed (or, at the bottom, open) interval of decimals, with at most `places` digits
    after the point."""

    low: Decimal
    high: Decimal
    low_open: bool = False  # True: the value must be greater than `low`
    places: int = MAX_PLACES

    def describe(self) -> str:
        return f"{'>' if self.low_open else '>='} {self.low} and <= {self.high}"


# The documented bounds (each .proto field that takes one says which).
QUANTITY = Bound(Decimal(0), Decimal("1e12"), low_open=True)  # units or contracts of an order or fill
PRICE = Bound(Decimal(0), Decimal("1e12"), low_open=True)  # a unit's price
LOT = Bound(Decimal(0), Decimal("1e12"))  # a lot or contract size, 0 = none given
MONEY = Bound(Decimal(0), Decimal("1e15"))  # equity, capital, notional, money limits
POSITIVE_MONEY = Bound(Decimal(0), Decimal("1e15"), low_open=True)  # an equity that must be known
SIGNED_MONEY = Bound(Decimal("-1e15"), Decimal("1e15"))  # PnL
MULTIPLIER = Bound(Decimal(0), Decimal(1000))  # a copy's size as a multiple of the master's
FRACTION = Bound(Decimal(0), Decimal(1))  # drawdowns, slippage, correlations, risk percent
RATIO = Bound(Decimal(0), Decimal(1_000_000), low_open=True)  # contract ratios between instruments
LEVERAGE = Bound(Decimal(0), Decimal(1000))
VOLATILITY = Bound(Decimal(0), Decimal(100))  # annualised, as a fraction (3 = 300%)


def parse_decimal(raw: str, field: str, bound: Bound, *, reason: str, domain: str = "copytrade",
                  default: Decimal | None = None) -> Decimal:
    """`raw` as a Decimal within `bound`, or INVALID_ARGUMENT naming `field` with the bound.
    Empty is `default` when one is given, else an error."""
    def bad(why: str) -> errors.DomainError:
        return errors.invalid_argument(reason, f"{field} {why}", domain=domain, field=field,
                                       minimum=str(bound.low), maximum=str(bound.high))

    text = raw.strip() if isinstance(raw, str) else str(raw)
    if not text:
        if default is not None:
            return default
        raise bad("is required")
    if len(text) > MAX_DECIMAL_TEXT:
        raise bad(f"is longer than {MAX_DECIMAL_TEXT} characters")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise bad("must be a decimal number") from None
    if not value.is_finite():
        raise bad("must be a finite decimal")
    with localcontext(_EXACT):
        if value > bound.high or value < bound.low or (bound.low_open and value == bound.low):
            raise bad(f"must be {bound.describe()}")
        if value != value.quantize(Decimal(1).scaleb(-bound.places)):
            raise bad(f"has more than {bound.places} digits after the point")
    return value


# --- text ---------------------------------------------------------------------------------------
def find_nul(message: Message, prefix: str = "") -> str | None:
    """The path of the first string field (at any depth, repeated or in a map) of `message`
    holding a NUL character, or None."""
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.type == FieldDescriptor.TYPE_STRING:
            values = value if field.is_repeated else (value,)
            if any("\x00" in v for v in values):
                return path
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                for key, item in value.items():
                    if "\x00" in str(key) or (isinstance(item, str) and "\x00" in item):
                        return f"{path}[{key!r}]"
                    if isinstance(item, Message) and (found := find_nul(item, f"{path}[{key!r}].")):
                        return found
                continue
            for i, item in enumerate(value if field.is_repeated else (value,)):
                found = find_nul(item, f"{path}[{i}]." if field.is_repeated else f"{path}.")
                if found:
                    return found
    return None


def reject_nul(message: Message) -> None:
    found = find_nul(message)
    if found:
        raise errors.invalid_argument("INVALID_TEXT", f"{found} must not contain NUL characters", field=found)


def _text_width(column) -> int | None:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl if isinstance(kind.impl, String) else kind.impl_instance
    return kind.length if isinstance(kind, String) else None


def check_row(table, values: dict) -> None:
    """INVALID_ARGUMENT for a value of `values` (column name → value) longer than its column of
    `table` holds, or a text value with NUL; the column definitions are the only list."""
    for column in table.columns:
        value = values.get(column.key)
        if value is None or not isinstance(column.type, (String, TypeDecorator)):
            continue
        text = value if isinstance(value, str) else str(value)
        width = _text_width(column)
        if width is not None and len(text) > width:
            raise errors.invalid_argument("TEXT_TOO_LONG", f"{column.key} is longer than {width} characters",
                                          field=column.key, max_length=width)
        if "\x00" in text:
            raise errors.invalid_argument("INVALID_TEXT", f"{column.key} must not contain NUL characters",
                                          field=column.key)


def check_flush(session, _flush_context, _instances) -> None:
    """before_flush: every row about to be written fits its columns (see check_row): a new row
    whole, a changed row in what changed (what it held before is not this write's to refuse)."""
    for rows, changed_only in ((session.new, False), (session.dirty, True)):
        for row in rows:
            state = inspect(row, raiseerr=False)
            if state is None:
                continue
            loaded = state.dict  # what is set, without loading anything
            keys = state.committed_state.keys() if changed_only else (a.key for a in state.mapper.column_attrs)
            check_row(state.mapper.local_table, {key: loaded.get(key) for key in keys})


# --- events -------------------------------------------------------------------------------------
def check_event_size(event: Message, limit: int, *, field: str = "", domain: str = "copytrade") -> None:
    """An event about to be published after a commit must fit NATS's payload limit: refuse the
    request before anything commits, rather than commit something no other replica hears of."""
    size = event.ByteSize()
    if size > limit:
        raise errors.invalid_argument("REQUEST_TOO_LARGE", f"the change is {size} bytes as an event; at most "
                                      f"{limit} fit", domain=domain, field=field, size=size, limit=limit)
