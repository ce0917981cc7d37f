"""Signed master fills: replication signs each MasterFill it publishes with an Ed25519 key of
its own (FILL_SIGNING_KEY, in replication's environment alone); discovery and compliance, which
act on fills, check the signature with the public half (FILL_VERIFY_KEY) and refuse a fill
without a good one. NATS permissions already let only replication publish fills.>; this is the
consumers' own check, so a leaked or misconfigured NATS user cannot feed them invented trades.

The signature (in the Ct-Signature header, base64) covers the subject and the payload bytes, so a
fill can be neither altered nor moved to another master's subject. A fill is signed once, where
it is published (services/replication/fills.py), never per copy.

Keys are 32 raw bytes, base64: `python -m services.kit.fillsign` prints a new pair for .env;
`copytrade up` makes one per data directory. Without keys a service falls back to a development
pair derived from the public DEV_SECRET, which `copytrade serve` refuses (kit/server.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Awaitable, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, PublicFormat, NoEncryption

from services.kit import metrics
from services.kit.config import DEV_SECRET

log = logging.getLogger("copytrade.fillsign")

HEADER = "Ct-Signature"
SIGNING_VARIABLE, VERIFY_VARIABLE = "FILL_SIGNING_KEY", "FILL_VERIFY_KEY"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _private(key: str) -> Ed25519PrivateKey:
    try:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(key, validate=True))
    except (ValueError, binascii.Error):
        raise ValueError(f"{SIGNING_VARIABLE} is not a base64 Ed25519 private key (32 bytes)") from None


def _public(key: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(key, validate=True))
    except (ValueError, binascii.Error):
        raise ValueError(f"{VERIFY_VARIABLE} is not a base64 Ed25519 public key (32 bytes)") from None


def _public_of(private: Ed25519PrivateKey) -> str:
    return _b64(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def generate() -> dict[str, str]:
    """A new pair: {FILL_SIGNING_KEY: private, FILL_VERIFY_KEY: public}."""
    private = Ed25519PrivateKey.generate()
    return {SIGNING_VARIABLE: _b64(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())),
            VERIFY_VARIABLE: _public_of(private)}


# The development pair: from the public DEV_SECRET, so anyone can sign with it (serve refuses it).
DEV_SIGNING_KEY = _b64(hashlib.sha256(f"fill-signing:{DEV_SECRET}".encode()).digest())
DEV_VERIFY_KEY = _public_of(_private(DEV_SIGNING_KEY))


def _message(subject: str, payload: bytes) -> bytes:
    return subject.encode() + b"\n" + payload


class Signer:
    def __init__(self, private_key: str) -> None:
        self._key = _private(private_key)

    @classmethod
    def for_settings(cls, settings) -> "Signer":
        return cls(settings.fill_signing_key or DEV_SIGNING_KEY)

    def headers(self, subject: str, payload: bytes) -> dict[str, str]:
        return {HEADER: _b64(self._key.sign(_message(subject, payload)))}


class Verifier:
    def __init__(self, public_key: str) -> None:
        self._key = _public(public_key)

    @classmethod
    def for_settings(cls, settings) -> "Verifier":
        return cls(settings.fill_verify_key or DEV_VERIFY_KEY)

    def refusal(self, subject: str, payload: bytes, headers: dict | None) -> str | None:
        """None when the fill carries replication's signature of it; else why not."""
        signature = (headers or {}).get(HEADER)
        if not signature:
            return "FILL_UNSIGNED"
        try:
            self._key.verify(base64.b64decode(signature, validate=True), _message(subject, payload))
        except (InvalidSignature, ValueError, binascii.Error):
            return "FILL_BAD_SIGNATURE"
        return None

    def verified(self, handler: Callable[..., Awaitable[None]], consumer: str) -> Callable[..., Awaitable[None]]:
        """`handler`, given only the deliveries whose signature holds; the others are logged,
        counted (copytrade_fills_unverified_total) and acked: neither stored nor counted."""

        async def handle(delivery) -> None:
            if self._holds(delivery, consumer):
                return await handler(delivery)

        return handle

    def verified_batches(self, handler: Callable[..., Awaitable[None]], consumer: str) -> Callable[..., Awaitable[None]]:
        """`verified` for a batch handler (Bus.consume_batches): it gets the batch's signed fills."""

        async def handle(deliveries) -> None:
            signed = [d for d in deliveries if self._holds(d, consumer)]
            if signed:
                await handler(signed)

        return handle

    def _holds(self, delivery, consumer: str) -> bool:
        refusal = self.refusal(delivery.subject, delivery.data, delivery.headers)
        if refusal is None:
            return True
        metrics.FILLS_UNVERIFIED.labels(refusal).inc()
        log.warning("%s: fill on %s (%s) refused: %s", consumer, delivery.subject, delivery.msg_id, refusal)
        return False


if __name__ == "__main__":
    for name, value in generate().items():
        print(f"{name}={value}")
