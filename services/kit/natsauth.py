"""Who may say what on the bus: one NATS user per service, each with publish and subscribe
allow-lists, so an event can come only from the context that owns its subjects (only
replication publishes fills.>; a connection without credentials is refused outright).

`users_for(passwords)` is the server's side (nats-server's `authorization` block, written by
NatsServer); a service connects as its own user with NATS_USER / NATS_PASSWORD. The `admin`
user has no limits: operators' tools and the tests' observers.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

ADMIN = "admin"
# What every service needs of JetStream: its API (streams, consumers, pulls, direct gets) and
# acks; replies (API answers, pulled messages) come to the connection's own inboxes.
COMMON_PUBLISH = ("$JS.API.>", "$JS.ACK.>")
# Every service hears token revocations live (kit/revocations.py); only compliance says them.
COMMON_SUBSCRIBE = ("_INBOX.>", "tokens.user.revoked.>")
# Each context's own subjects (services/kit/bus.py STREAMS), and the live feeds it listens to.
PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # fills, copies, and its job leases (a KV bucket: writes are publishes to $KV.<bucket>.>)
    "replication": {"publish": ("fills.>", "copies.>", "$KV.replication-jobs.>"),
                    "subscribe": ("copies.>",)},
    "risk": {"publish": ("risk.>",), "subscribe": ("risk.>",)},
    # its events, and the audit chain's signed checkpoints (AUDIT_CHECKPOINTS)
    "compliance": {"publish": ("compliance.>", "audit.checkpoint.>", "tokens.user.revoked.>"), "subscribe": ()},
    "discovery": {"publish": ("discovery.>",), "subscribe": ()},
    "gateway": {"publish": (), "subscribe": ()},
}
USERS = (*PERMISSIONS, ADMIN)


def users_for(passwords: dict[str, str]) -> list[dict]:
    """nats-server `authorization.users` entries for these users' passwords."""
    users = []
    for name, password in passwords.items():
        entry: dict = {"user": name, "password": password}
        if name in PERMISSIONS:
            allowed = PERMISSIONS[name]
            entry["permissions"] = {"publish": {"allow": [*COMMON_PUBLISH, *allowed["publish"]]},
                                    "subscribe": {"allow": [*COMMON_SUBSCRIBE, *allowed["subscribe"]]}}
        elif name != ADMIN:
            raise ValueError(f"no NATS permissions defined for {name!r}")
        users.append(entry)
    return users


def generate() -> dict[str, str]:
    return {name: secrets.token_urlsafe(24) for name in USERS}


def persistent_passwords(path: Path) -> dict[str, str]:
    """Every user's password for a data directory: generated once, kept (0600) in `path`, a
    user added later gets one too."""
    stored = json.loads(path.read_text()) if path.exists() else {}
    missing = {name for name in USERS if name not in stored}
    if missing:
        fresh = generate()
        stored.update({name: fresh[name] for name in missing})
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    return stored


def password_variable(user: str) -> str:
    return f"NATS_{user.upper()}_PASSWORD"


def compose_config() -> str:
    """deploy/nats/auth.conf: the same users and allow-lists, each password taken from the NATS
    node's environment (NATS_<USER>_PASSWORD, which compose passes from .env)."""
    lines = ["# Generated from services/kit/natsauth.py (python -m services.kit.natsauth); do not edit.",
             "# Each password comes from the node's environment: NATS_<USER>_PASSWORD.",
             "authorization {", "  users = ["]
    for name in USERS:
        entry = f"    {{user: {name}, password: ${password_variable(name)}"
        if name in PERMISSIONS:
            publish = ", ".join(json.dumps(s) for s in (*COMMON_PUBLISH, *PERMISSIONS[name]["publish"]))
            subscribe = ", ".join(json.dumps(s) for s in (*COMMON_SUBSCRIBE, *PERMISSIONS[name]["subscribe"]))
            entry += f", permissions: {{publish: {{allow: [{publish}]}}, subscribe: {{allow: [{subscribe}]}}}}"
        lines.append(entry + "}")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(compose_config(), end="")
