"""<data-dir>/demo.json: what a demo run must find again on the next one.

The simulator keeps everything in memory, so each run opens its accounts afresh; their API keys
are derived from a seed kept here, so the keys already in the compliance vault keep working.
The demo password is generated once per data directory (not a well-known one: `up --host
0.0.0.0` would publish it). The file is 0600 and holds no real venue's secrets."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = "demo.json"


@dataclass
class DemoState:
    path: Path
    password: str
    key_seed: str
    # Per person: email, user_id, account_id, and config_id / trader_id where they apply.
    people: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> DemoState:
        path = data_dir / FILE_NAME
        if path.exists():
            stored = json.loads(path.read_text())
            return cls(path, stored["password"], stored["key_seed"], stored.get("people", {}))
        state = cls(path, password=f"demo-{secrets.token_urlsafe(12)}", key_seed=secrets.token_hex(32))
        state.save()  # before anything uses them: an interrupted first run must find the same ones
        return state

    def save(self) -> None:
        text = json.dumps({"password": self.password, "key_seed": self.key_seed, "people": self.people}, indent=2)
        # Created 0600, never readable by others even for a moment.
        with os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(text + "\n")

    def sim_keys(self, account: str) -> tuple[str, str]:
        """The simulator API key and secret of an account: the same on every run."""
        def derive(purpose: str) -> str:
            return hmac.new(bytes.fromhex(self.key_seed), f"{account}:{purpose}".encode(), hashlib.sha256).hexdigest()
        return derive("api-key"), derive("secret")
