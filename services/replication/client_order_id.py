"""The follower order's client order id, derived from (master fill, follower account): the same
copy always carries the same id, so the venue itself refuses a second order."""

from __future__ import annotations

import base64
import hashlib


def client_order_id(master_fill_id: str, follower_account_id: str) -> str:
    """"ct" + 26 base32 characters (130 bits): within Binance's ^[.A-Z:/a-z0-9_-]{1,36}$ and
    the shorter limits of other venues (32 characters)."""
    digest = hashlib.sha256(f"{master_fill_id}|{follower_account_id}".encode()).digest()
    return "ct" + base64.b32encode(digest).decode().rstrip("=").lower()[:26]
