"""Binance request authentication: the X-MBX-APIKEY header, a signature over the query string
and/or the form body (HMAC-SHA256 in hex, or for an Ed25519 key an Ed25519 signature in base64),
and the timestamp/recvWindow check."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from urllib.parse import parse_qsl, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from venue_sim.book import KEY_FORMAT, ApiKey, BinanceError, Exchange, mandatory

MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5_000


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=1024)
def _ed25519(public_pem: str) -> Ed25519PublicKey:
    key = load_pem_public_key(public_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify(key: ApiKey, payload: str, signature: str) -> bool:
    """Whether the signature is the key's over the payload: HMAC-SHA256 (hex) with the secret,
    or, for an Ed25519 key, an Ed25519 signature (base64, URL-encoded in a query or body)."""
    if not key.public_key:
        return hmac.compare_digest(sign(key.secret, payload), signature.lower())
    try:
        _ed25519(key.public_key).verify(base64.b64decode(unquote(signature), validate=True), payload.encode())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _split_signature(part: str) -> tuple[str, str | None]:
    """Take `signature=...` (Binance wants it last) out of a query string or body."""
    if part.startswith("signature="):
        head, sep, tail = "", "signature=", part[len("signature="):]
    else:
        head, sep, tail = part.rpartition("&signature=")
    if not sep or "&" in tail:
        return part, None
    return head, tail


class Authenticator:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def key(self, api_key: str | None) -> ApiKey:
        if not api_key or not KEY_FORMAT.match(api_key):
            raise BinanceError(401, -2014, "API-key format invalid.")
        key = self.exchange.keys.get(api_key)
        if key is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        return key

    def rest(self, api_key: str | None, query: str, body: str) -> tuple[ApiKey, dict[str, str]]:
        """Authenticate a signed REST request. Binance signs `query + body` (concatenated as
        sent); the signature may travel in either. Returns the key and the parameters (the
        query string wins over the body for a parameter sent in both)."""
        key = self.key(api_key)
        query_rest, query_sig = _split_signature(query)
        body_rest, body_sig = _split_signature(body)
        signature = query_sig or body_sig
        if not signature:
            raise mandatory("signature")
        payload = (query_rest if query_sig else query) + (body_rest if body_sig else body)
        if not verify(key, payload, signature):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(body_rest if body_sig else body, keep_blank_values=True))
        params.update(parse_qsl(query_rest if query_sig else query, keep_blank_values=True))
        self.check_timestamp(params)
        return key, params

    def ws_api(self, params: dict) -> ApiKey:
        """A WebSocket API request signed the Binance way: key-sorted `k=v&...` of every
        parameter but the signature."""
        key = self.key(str(params.get("apiKey", "")))
        payload = "&".join(f"{k}={auth_value(v)}" for k, v in sorted(params.items()) if k != "signature")
        if not verify(key, payload, str(params.get("signature", ""))):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        self.check_timestamp({k: auth_value(v) for k, v in params.items()})
        return key

    def check_timestamp(self, params: dict[str, str]) -> None:
        try:
            timestamp = int(params["timestamp"])
        except (KeyError, ValueError):
            raise mandatory("timestamp") from None
        try:
            recv_window = int(params.get("recvWindow") or DEFAULT_RECV_WINDOW_MS)
        except ValueError:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'recvWindow'.") from None
        if recv_window > MAX_RECV_WINDOW_MS or recv_window <= 0:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        now = self.exchange.now_ms()
        if timestamp >= now + 1000:
            raise BinanceError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - timestamp > recv_window:
            raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def auth_value(value) -> str:
    """A WebSocket API parameter as text, the way it is signed (JSON true/false, numbers as written)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
