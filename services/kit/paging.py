"""AIP-158 pagination: page_size with a default and a cap, and opaque page tokens that carry
the sort key of the last item returned (keyset paging stays stable while rows are added)."""

from __future__ import annotations

import base64
import json

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
