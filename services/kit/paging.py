"""AIP-158 pagination: page_size with a default and a cap, and opaque page tokens that carry
the sort key of the last item returned (keyset paging stays stable while rows are added)."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import and_, or_

from services.kit import errors

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_TOKEN_CHARS = 1024  # far more than any key this module encodes
MAX_KEY_CHARS = 256  # a text key: an id or a timestamp
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def page_size(requested: int) -> int:
    if requested < 0:
        raise errors.invalid_argument("INVALID_PAGE_SIZE", "page_size must not be negative", field="page_size")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_token(last_key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, shape: tuple[type, ...] | None = None) -> list | None:
    """The key a page token carries, or None for the first page. A token this service cannot
    have issued (too long, not base64 of a JSON list, nested, or not of `shape`: one str or int
    per element, text short and without NUL, numbers within int64) is INVALID_PAGE_TOKEN."""
    if not token:
        return None
    key = None
    if len(token) <= MAX_TOKEN_CHARS:
        try:
            key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, UnicodeDecodeError, RecursionError):
            key = None
    if not isinstance(key, list) or (shape is not None and not _fits(key, shape)):
        raise invalid_token()
    return key


def invalid_token() -> errors.DomainError:
    return errors.invalid_argument("INVALID_PAGE_TOKEN", "page_token is not one this service issued",
                                   field="page_token")


def _fits(key: list, shape: tuple[type, ...]) -> bool:
    if len(key) != len(shape):
        return False
    for value, kind in zip(key, shape):
        if kind is int and not (type(value) is int and INT64_MIN <= value <= INT64_MAX):
            return False
        if kind is str and not (type(value) is str and len(value) <= MAX_KEY_CHARS and "\x00" not in value):
            return False
    return True


async def keyset_page(session, query, key, requested_size: int, page_token: str, *,
                      descending: bool = False) -> tuple[list, str]:
    """One page of `query` ordered by the unique column `key`, and the token for the next."""
    size = page_size(requested_size)
    after = decode_token(page_token, (str,))
    if after:
        query = query.where(key < after[0] if descending else key > after[0])
    rows = (await session.execute(query.order_by(key.desc() if descending else key).limit(size + 1))).scalars().all()
    token = encode_token([getattr(rows[size - 1], key.key)]) if len(rows) > size else ""
    return list(rows[:size]), token


async def newest_first_page(session, query, time_column, id_column, requested_size: int,
                            page_token: str) -> tuple[list, str]:
    """One page of `query`, newest first by `time_column` (ties by the unique `id_column`), and
    the token for the next: keyset paging, stable while newer rows arrive."""
    size = page_size(requested_size)
    after = decode_token(page_token, (str, str))
    if after:
        try:
            moment = datetime.fromisoformat(after[0])
        except ValueError:
            raise invalid_token() from None
        query = query.where(or_(time_column < moment, and_(time_column == moment, id_column < after[1])))
    rows = (await session.execute(query.order_by(time_column.desc(), id_column.desc()).limit(size + 1))).scalars().all()
    token = ""
    if len(rows) > size:
        last = rows[size - 1]
        token = encode_token([getattr(last, time_column.key).isoformat(), getattr(last, id_column.key)])
    return list(rows[:size]), token
