"""The credential vault's cryptography: Fernet keys derived from MASTER_KEY with
PBKDF2-HMAC-SHA256 (600,000 iterations, a random 16-byte salt stored beside the data).
Pure apart from the CPU: derivation is slow on purpose, so callers derive once at start-up
(in a thread) and keep the result."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

ITERATIONS = 600_000
SALT_BYTES = 16


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


@lru_cache(maxsize=16)
def derive_key(master_key: str, salt: bytes, iterations: int = ITERATIONS) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations)
    return base64.urlsafe_b64encode(kdf.derive(master_key.encode()))


@dataclass(frozen=True)
class Secret:
    api_key: str
    api_secret: str
    passphrase: str = ""

    def __repr__(self) -> str:  # never print the material, even by accident
        return f"Secret(api_key={mask(self.api_key)!r}, api_secret='***')"


def mask(api_key: str) -> str:
    return ("*" * max(len(api_key) - 4, 4)) + api_key[-4:] if api_key else ""


class Vault:
    """Encrypts with the newest key; decrypts with any key still held (for rotation)."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("the vault needs at least one key")
        self.keys = list(keys)  # newest first
        self.key_ids = [key_id for key_id, _ in keys]
        self._fernet = MultiFernet([Fernet(key) for _, key in keys])

    @property
    def current_key_id(self) -> str:
        return self.key_ids[0]

    def encrypt(self, secret: Secret) -> bytes:
        return self._fernet.encrypt(_pack(secret))

    def decrypt(self, token: bytes) -> Secret:
        return _unpack(self._fernet.decrypt(token))

    def seal(self, data: bytes) -> bytes:
        """Other key material (the audit chain's key), encrypted and authenticated like a secret."""
        return self._fernet.encrypt(data)

    def unseal(self, token: bytes) -> bytes:
        return self._fernet.decrypt(token)

    def reencrypt(self, token: bytes) -> bytes:
        """`token` under the newest key (MultiFernet.rotate); InvalidToken if no key opens it."""
        return self._fernet.rotate(token)

    def __repr__(self) -> str:
        return f"Vault(key_ids={self.key_ids!r})"


USER_KEYED = b"uk1:"  # a token under a user's own data key, not the vault's


class UserVault:
    """One user's data key: what their secrets are encrypted under. Tokens carry USER_KEYED in
    front, so a reader knows to open the user's key rather than the vault's."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @staticmethod
    def new_key() -> bytes:
        return Fernet.generate_key()

    def encrypt(self, secret: Secret) -> bytes:
        return USER_KEYED + self._fernet.encrypt(_pack(secret))

    def decrypt(self, token: bytes) -> Secret:
        return _unpack(self._fernet.decrypt(token[len(USER_KEYED):]))

    def __repr__(self) -> str:
        return "UserVault(***)"


def is_user_keyed(token: bytes) -> bool:
    return bytes(token).startswith(USER_KEYED)


def _pack(secret: Secret) -> bytes:
    return json.dumps({"k": secret.api_key, "s": secret.api_secret, "p": secret.passphrase}).encode()


def _unpack(plaintext: bytes) -> Secret:
    data = json.loads(plaintext)
    return Secret(data["k"], data["s"], data.get("p", ""))


__all__ = ["Vault", "UserVault", "is_user_keyed", "Secret", "InvalidToken", "derive_key", "new_salt", "mask"]
