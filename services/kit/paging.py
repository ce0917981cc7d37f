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


def page_size(requested: int) -> int:
    if requested < 0:
        raise errors.invalid_argument("INVALID_PAGE_SIZE", "page_size must not be negative", field="page_size")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_token(last_key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> list | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list):
        raise errors.invalid_argument("INVALID_PAGE_TOKEN", "page_token is not one this service issued",
                                      field="page_token")
    return key


async def keyset_page(session, query, key, requested_size: int, page_token: str, *,
                      descending: bool = False) -> tuple[list, str]:
    """One page of `query` ordered by the unique column `key`, and the token for the next."""
    size = page_size(requested_size)
    after = decode_token(page_token)
    if after:
        query = query.where(key < str(after[0]) if descending else key > str(after[0]))
    rows = (await session.execute(query.order_by(key.desc() if descending else key).limit(size + 1))).scalars().all()
    token = encode_token([getattr(rows[size - 1], key.key)]) if len(rows) > size else ""
    return list(rows[:size]), token


async def newest_first_page(session, query, time_column, id_column, requested_size: int,
                            page_token: str) -> tuple[list, str]:
    """One page of `query`, newest first by `time_column` (ties by the unique `id_column`), and
    the token for the next: keyset paging, stable while newer rows arrive."""
    size = page_size(requested_size)
    after = decode_token(page_token)
    if after:
        if len(after) != 2:
            raise errors.invalid_argument("INVALID_PAGE_TOKEN", "page_token is not one this service issued",
                                          field="page_token")
        try:
            moment = datetime.fromisoformat(after[0])
        except (TypeError, ValueError):
            raise errors.invalid_argument("INVALID_PAGE_TOKEN", "page_token is not one this service issued",
                                          field="page_token") from None
        query = query.where(or_(time_column < moment, and_(time_column == moment, id_column < str(after[1]))))
    rows = (await session.execute(query.order_by(time_column.desc(), id_column.desc()).limit(size + 1))).scalars().all()
    token = ""
    if len(rows) > size:
        last = rows[size - 1]
        token = encode_token([getattr(last, time_column.key).isoformat(), getattr(last, id_column.key)])
    return list(rows[:size]), token
