"""Who may say what on the bus: one NATS user per service, each with publish and subscribe
allow-lists, so an event can come only from the context that owns its subjects (only
replication publishes fills.>; a connection without credentials is refused outright).

Of the JetStream API, each service may use only what services/kit/bus.py's tables give it:
create, inspect and (unless sealed) re-configure the streams it owns; inspect those it reads,
with its own consumers (create, inspect, pull, ack); read single messages where it does. No
service may delete or purge a stream, delete a message, or delete a consumer.

`users_for(passwords)` is the server's side (nats-server's `authorization` block, written by
NatsServer); a service connects as its own user with NATS_USER / NATS_PASSWORD. The `admin`
user has no limits: operators' tools and the tests' observers.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from services.kit import bus

ADMIN = "admin"
API = "$JS.API"
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


def jetstream(user: str) -> tuple[str, ...]:
    """The JetStream API subjects (and ack subjects) `user` may publish to, from bus.OWNERS,
    bus.SEALED, bus.CONSUMERS and bus.MESSAGE_READERS. Replies (API answers, pulled messages)
    come to the connection's own inboxes."""
    allowed: list[str] = []
    for stream, owner in bus.OWNERS.items():
        if owner == user:
            allowed += [f"{API}.STREAM.CREATE.{stream}", f"{API}.STREAM.INFO.{stream}"]
            if stream not in bus.SEALED:
                allowed.append(f"{API}.STREAM.UPDATE.{stream}")
    for stream, consumers in bus.CONSUMERS.get(user, {}).items():
        allowed.append(f"{API}.STREAM.INFO.{stream}")  # waiting for its owner to create it
        for consumer in consumers:  # (ANY_CONSUMER is NATS's one-token wildcard)
            allowed += [f"{API}.CONSUMER.CREATE.{stream}.{consumer}", f"{API}.CONSUMER.CREATE.{stream}.{consumer}.>",
                        f"{API}.CONSUMER.INFO.{stream}.{consumer}", f"{API}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
                        f"$JS.ACK.{stream}.{consumer}.>"]
    for stream, readers in bus.MESSAGE_READERS.items():
        if user in readers:
            allowed += [f"{API}.STREAM.INFO.{stream}", f"{API}.STREAM.MSG.GET.{stream}",
                        f"{API}.DIRECT.GET.{stream}", f"{API}.DIRECT.GET.{stream}.>"]
    return tuple(dict.fromkeys(allowed))


def publish_allowed(user: str) -> tuple[str, ...]:
    return (*jetstream(user), *PERMISSIONS[user]["publish"])


def subscribe_allowed(user: str) -> tuple[str, ...]:
    return (*COMMON_SUBSCRIBE, *PERMISSIONS[user]["subscribe"])


def users_for(passwords: dict[str, str]) -> list[dict]:
    """nats-server `authorization.users` entries for these users' passwords."""
    users = []
    for name, password in passwords.items():
        entry: dict = {"user": name, "password": password}
        if name in PERMISSIONS:
            entry["permissions"] = {"publish": {"allow": list(publish_allowed(name))},
                                    "subscribe": {"allow": list(subscribe_allowed(name))}}
        elif name != ADMIN:
            raise ValueError(f"no NATS permissions defined for {name!r}")
        users.append(entry)
    return users


def generate() -> dict[str, str]:
    # A letter first, then hex: nats-server parses a $VARIABLE's value (compose's auth.conf), and
    # one beginning with a digit or "-" is read as a number and refused.
    return {name: "p" + secrets.token_hex(24) for name in USERS}


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
            publish = ", ".join(json.dumps(s) for s in publish_allowed(name))
            subscribe = ", ".join(json.dumps(s) for s in subscribe_allowed(name))
            entry += f", permissions: {{publish: {{allow: [{publish}]}}, subscribe: {{allow: [{subscribe}]}}}}"
        lines.append(entry + "}")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(compose_config(), end="")
