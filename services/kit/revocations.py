"""Where every service learns that a user's login tokens were revoked: compliance publishes a
UserTokensRevoked on tokens.user.revoked.<user_id> to the stream TOKEN_REVOCATIONS, which keeps
the last message per user for as long as a login token lives (after that, every token the
message voided has expired anyway). A service reads a user's last message the first time it
sees their token (a user with none has version 0) and hears each new one as it is published,
so a logout, a role change or an erasure holds everywhere at once, with no call to compliance
on the request path and nothing else to configure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from nats.js import api
from nats.js.errors import NotFoundError

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from services.kit import auth
from services.kit.bus import Bus

log = logging.getLogger("copytrade.revocations")

STREAM = "TOKEN_REVOCATIONS"
MAX_AGE_S = auth.USER_TOKEN_TTL + 3600.0


async def ensure_stream(bus: Bus) -> None:
    config = api.StreamConfig(
        name=STREAM, subjects=[f"{auth.REVOCATION_SUBJECT}.>"], storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS, max_msgs_per_subject=1, max_age=MAX_AGE_S, duplicate_window=120.0)
    await bus.ensure_stream(config)  # at the bus's replica count, like every stream


def stream_source(bus: Bus) -> auth.VersionSource:
    """{user id: version} from each user's last revocation (absent: the user was deleted)."""

    async def source(user_ids: list[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        for user_id in user_ids:
            try:
                msg = await bus.js.get_last_msg(STREAM, auth.revocation_subject(user_id))
            except NotFoundError:
                versions[user_id] = 0  # never revoked
                continue
            event = events_pb.UserTokensRevoked.FromString(msg.data)
            if not event.deleted:
                versions[user_id] = int(event.token_version)
        return versions

    return source


async def token_versions(settings, source: auth.VersionSource | None = None
                         ) -> tuple[auth.TokenVersions, list[Callable[[], Awaitable[None]]]]:
    """This process's token-version cache, read from the stream (or from `source`: compliance
    reads its own table) and kept current by the stream's new messages. Returns it with what
    closes it."""
    bus = await Bus.for_service(settings, f"{settings.service}-tokens", ensure_streams=False)
    await ensure_stream(bus)
    versions = auth.TokenVersions(source or stream_source(bus))
    await bus.subscribe(f"{auth.REVOCATION_SUBJECT}.>", auth.revocations_heard(versions))
    return versions, [bus.close]
