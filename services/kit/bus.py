"""The NATS JetStream bus: typed protobuf events, deterministic Nats-Msg-Id, and durable pull
consumers that N replicas of a service share (each message goes to one of them).

Subjects are `<context>.<entity>.<past_tense_verb>[.<key>]`; one stream per context. The
event's protobuf type travels in the `Ct-Type` header so one stream can carry several types.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import nats
from google.protobuf import symbol_database
from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import api
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NoStreamResponseError, NotFoundError
from opentelemetry.trace import SpanKind

from services.kit import tls as kit_tls
from services.kit import tracing
from services.kit.config import TlsFiles

log = logging.getLogger("copytrade.bus")

TYPE_HEADER = "Ct-Type"
MSG_ID_HEADER = "Nats-Msg-Id"
DUPLICATE_WINDOW_S = 120.0  # JetStream's default; a republish within it is dropped
FETCH_S = 1.0  # a pull request's long poll
HEADER_ROOM = 1024  # bytes of a message's headers, at most
PUBLISH_ATTEMPT_S = 2.0  # a publish not acked by then is sent again (same message id), within its timeout

# Every stream of the mesh: one per context. Creating them is idempotent.
STREAMS: dict[str, list[str]] = {
    "FILLS": ["fills.>"],
    "COPIES": ["copies.>"],
    "RISK": ["risk.>"],
    "COMPLIANCE": ["compliance.>"],
    "DISCOVERY": ["discovery.>"],
}

# Who may do what through the JetStream API: services/kit/natsauth.py derives each service's
# NATS permissions from these tables, and a Bus logged in as a service keeps to them.
# The owner of each stream creates it and brings it to the replica count; everyone else waits
# for it. Nobody but an administrator may delete or purge a stream or delete a message.
OWNERS: dict[str, str] = {
    "FILLS": "replication",
    "COPIES": "replication",
    "RISK": "risk",
    "COMPLIANCE": "compliance",
    "DISCOVERY": "discovery",
    "TOKEN_REVOCATIONS": "compliance",  # services/kit/revocations.py
    "AUDIT_CHECKPOINTS": "compliance",  # services/compliance/checkpoints.py
    "KV_replication-jobs": "replication",  # the job leases' KV bucket (services/kit/leases.py)
}
# Streams their owner may create but never re-configure: what protects them is their config
# (the checkpoints' deny_delete and deny_purge, and no limits), and an update could set a limit
# that drops old messages. An administrator raises their replicas.
SEALED = frozenset({"AUDIT_CHECKPOINTS"})
ANY_CONSUMER = "*"  # short-lived consumers of any name (on a stream of the service's own)
# Who reads which stream, through which (durable) consumers: another service's durable is not
# to be bound, nor its deliveries acked away.
CONSUMERS: dict[str, dict[str, tuple[str, ...]]] = {
    "replication": {"FILLS": ("replication", "replication-orders"), "RISK": ("replication-halts",),
                    "COPIES": ("replication-stops",), "TOKEN_REVOCATIONS": ("replication-erasure",)},
    "risk": {"COPIES": ("risk-breakers",)},
    "compliance": {"FILLS": ("compliance",), "COPIES": ("compliance",), "RISK": ("compliance",),
                   "AUDIT_CHECKPOINTS": (ANY_CONSUMER,)},
    "discovery": {"FILLS": ("discovery-stats",), "COPIES": ("discovery-copies",)},
    "gateway": {"TOKEN_REVOCATIONS": ("gateway-erasure",)},
}
# Who reads single messages of a stream (a user's last revocation; a lease's current holder).
MESSAGE_READERS: dict[str, tuple[str, ...]] = {
    "TOKEN_REVOCATIONS": tuple(CONSUMERS),
    "KV_replication-jobs": ("replication",),
    "COPIES": ("replication",),  # the live copy feed's resumption (Bus.follow)
}
STREAM_WAIT_S = 60.0  # how long a service waits for a stream it reads to be created by its owner


@dataclass(frozen=True)
class Delivery:
    """One received event and what JetStream says about its delivery."""

    subject: str
    event: Message
    msg_id: str
    num_delivered: int
    stream_sequence: int
    # Tells JetStream the handler is still at it (restarts the ack wait), for a handler that
    # holds a message on purpose.
    working: Callable[[], Awaitable[None]] | None = None
    # What came on the wire: the payload's bytes and the headers (a fill's signature: kit/fillsign.py).
    data: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Delivery], Awaitable[None]]
BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


def servers(url: str) -> list[str]:
    """NATS_URL's servers: "nats://a:4222,nats://b:4222" (a bare host:port gets nats://)."""
    found = [u.strip() for u in url.split(",") if u.strip()]
    if not found:
        raise ValueError("NATS_URL names no server")
    return [u if "://" in u else f"nats://{u}" for u in found]


def connect_options(user: str | None = None, password: str | None = None, tls: TlsFiles | None = None) -> dict:
    """nats.connect's login and TLS options. With TLS the handshake comes first (the servers
    ask for it: services/kit/natsd.py, deploy/nats), so nothing, the password least of all,
    is sent before the connection is encrypted, and a server without TLS is never spoken to."""
    options: dict = {"user": user, "password": password} if user else {}
    if tls is not None:
        options.update(tls=kit_tls.nats_context(tls), tls_handshake_first=True)
    return options


def decode(msg: Msg) -> Message:
    type_name = (msg.headers or {}).get(TYPE_HEADER)
    if not type_name:
        raise ValueError(f"event on {msg.subject} has no {TYPE_HEADER} header")
    cls = symbol_database.Default().GetSymbol(type_name)
    return cls.FromString(msg.data)


class Bus:
    def __init__(self, nc: NatsClient, name: str, *, replicas: int = 1, user: str | None = None) -> None:
        self.nc = nc
        # The service whose NATS user this bus is (OWNERS, CONSUMERS); None: unlimited (admin, or
        # a server without authentication, which has no permissions to keep to).
        auth_required = bool(getattr(nc, "_server_info", {}).get("auth_required"))  # (nats-py keeps INFO private)
        self.service = user if user in CONSUMERS and auth_required else None
        self.replicas = replicas  # of every stream (and KV bucket) this bus creates
        self.js = nc.jetstream()
        self.name = name
        self._pull_subscriptions: list = []
        self._consumers: list[_Consumer] = []
        self._batch_tasks: list[asyncio.Task] = []  # consume_batches loops
        self._stopping = asyncio.Event()

    @classmethod
    async def connect(cls, url: str, name: str, *, ensure_streams: bool = True, replicas: int = 1,
                      ready_timeout: float = 30.0, user: str | None = None, password: str | None = None,
                      tls: TlsFiles | None = None) -> "Bus":
        """Connect to NATS at `url`: one server, or a cluster's servers comma-separated (the
        client fails over among them, and learns the others from the cluster). Streams are made
        with `replicas` copies (1 on a single node, 3 in a cluster), waiting up to ready_timeout
        for the cluster to have the peers for them (nodes still starting, a leader election).
        user/password: the NATS user to log in as (what it may publish and subscribe to is the
        server's to say: services/kit/natsauth.py). tls: the CA and this client's certificate."""
        nc = await nats.connect(
            servers(url), name=f"copytrade-{name}", max_reconnect_attempts=-1, reconnect_time_wait=0.5,
            connect_timeout=5, allow_reconnect=True, drain_timeout=2, **connect_options(user, password, tls),
            error_cb=_log_error, disconnected_cb=_log_disconnect, reconnected_cb=_log_reconnect,
        )
        bus = cls(nc, name, replicas=replicas, user=user)
        if ensure_streams:
            deadline = asyncio.get_running_loop().time() + ready_timeout
            while True:
                try:
                    await bus.ensure_streams()
                    break
                except Exception as exc:  # noqa: BLE001 - JetStream not ready yet (no leader, peers missing)
                    if asyncio.get_running_loop().time() > deadline:
                        await nc.close()
                        raise
                    log.warning("%s: streams not ready (%s); retrying", name, exc)
                    await asyncio.sleep(0.5)
        return bus

    @classmethod
    async def for_service(cls, settings, name: str | None = None, *, ensure_streams: bool = True) -> "Bus":
        """A service's bus: NATS_URL, its own NATS user and TLS, streams at NATS_STREAM_REPLICAS
        (`name`: the connection's, when a service holds more than one)."""
        return await cls.connect(settings.nats_url, name or settings.service, ensure_streams=ensure_streams,
                                 replicas=settings.stream_replicas, user=settings.nats_user,
                                 password=settings.nats_password, tls=settings.tls)

    def owns(self, stream: str) -> bool:
        return self.service is None or OWNERS.get(stream) == self.service

    async def ensure_streams(self) -> None:
        """The mesh's streams this bus owns, created; those it reads, waited for."""
        for stream, subjects in sorted(STREAMS.items(), key=lambda item: not self.owns(item[0])):
            if not self.owns(stream) and stream not in CONSUMERS[self.service]:
                continue
            await self.ensure_stream(api.StreamConfig(
                name=stream, subjects=subjects, storage=api.StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S, retention=api.RetentionPolicy.LIMITS,
                max_age=7 * 24 * 3600.0,
            ))

    async def ensure_stream(self, config: api.StreamConfig) -> None:
        """Create the stream at this bus's replica count, or bring an existing one to it (a
        single-node deployment grown into a cluster: JetStream copies the stream to new peers).
        A stream of another service's is waited for (up to STREAM_WAIT_S), its owner creates it."""
        if not self.owns(config.name):
            return await self._await_stream(config.name)
        config.num_replicas = self.replicas
        try:
            info = await self.js.stream_info(config.name)
        except NotFoundError:
            try:
                await self.js.add_stream(config)
                return
            except Exception:  # another replica created it first
                info = await self.js.stream_info(config.name)
        if (info.config.num_replicas or 1) != self.replicas:
            if self.service is not None and config.name in SEALED:
                log.warning("%s: stream %s has %d replicas, not %d: an administrator must raise them", self.name,
                            config.name, info.config.num_replicas or 1, self.replicas)
                return
            info.config.num_replicas = self.replicas
            await self.js.update_stream(info.config)
            log.info("%s: stream %s now has %d replicas", self.name, config.name, self.replicas)
            await self._settled(config.name)

    async def _await_stream(self, stream: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_WAIT_S
        for attempt in itertools.count():
            try:
                await self.js.stream_info(stream)
                return
            except NotFoundError:
                if loop.time() > deadline:
                    raise
                if attempt == 0:
                    log.info("%s: waiting for %s to create stream %s", self.name, OWNERS.get(stream), stream)
                await asyncio.sleep(0.2)

    async def _settled(self, stream: str, timeout: float = 10.0) -> None:
        """Until a re-replicated stream has a leader and every replica has caught up: publishes
        meanwhile time out (they would be retried, but a service starts once this is over)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            cluster = (await self.js.stream_info(stream)).cluster
            if cluster is None or (cluster.leader and len(cluster.replicas or []) == self.replicas - 1
                                   and all(peer.current for peer in cluster.replicas or [])):
                return
            await asyncio.sleep(0.1)
        log.warning("%s: stream %s still settling on its %d replicas", self.name, stream, self.replicas)

    async def publish(self, subject: str, event: Message, msg_id: str, *, timeout: float = 5.0,
                      signer=None) -> bool:
        """Publish and wait for JetStream's ack. Returns False when msg_id was a duplicate.
        signer: adds its signature of the subject and payload (kit/fillsign.Signer)."""
        headers = {MSG_ID_HEADER: msg_id, TYPE_HEADER: event.DESCRIPTOR.full_name}
        data = event.SerializeToString()
        if signer is not None:
            headers.update(signer.headers(subject, data))
        if not tracing.enabled():
            ack = await self._publish(subject, data, headers, timeout)
            return not ack.duplicate
        with tracing.span(f"publish {subject.split('.', 1)[0]}", kind=SpanKind.PRODUCER, attributes={
                "messaging.system": "nats", "messaging.destination.name": subject, "messaging.message.id": msg_id}):
            tracing.inject(headers)  # W3C traceparent: the consumer's span continues this trace
            ack = await self._publish(subject, data, headers, timeout)
            return not ack.duplicate

    async def _publish(self, subject: str, data: bytes, headers: dict[str, str], timeout: float):
        """js.publish, retried within `timeout` while the stream has no leader to answer (a
        cluster electing one after a node died) or an ack does not come (the request went out
        on a connection that died): the message id makes a retry safe."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            try:
                return await self.js.publish(subject, data, timeout=max(0.1, min(left, PUBLISH_ATTEMPT_S)),
                                             headers=headers)
            except (NoStreamResponseError, NatsTimeoutError):
                if loop.time() + 0.1 >= deadline:
                    raise
                await asyncio.sleep(0.1)

    async def consume(self, stream: str, durable: str, subject: str, handler: Handler | BatchHandler, *,
                      batch: int = 64, ack_wait: float = 30.0, max_deliver: int = -1,
                      key: Callable[[Delivery], str] | None = None, lanes: int = 1, runs_of: int = 0) -> None:
        """Start a background loop feeding `handler` from a durable pull consumer. Replicas that
        use the same durable share the work. A handler that raises gets the message redelivered
        (handlers must be idempotent).

        Without `key`, deliveries are handled one at a time, in the order received. With it,
        each key's deliveries form a lane, handled one at a time in order, and up to `lanes`
        keys are handled at once: a key whose handler holds on never delays another key's.
        With `runs_of` > 0 the handler takes a list instead: what waits in the lane, in order, up
        to `runs_of` deliveries (a key's backlog handled in one pass), all acked when it returns
        and all handed back if it raises.
        Closing the bus hands every delivery not yet handled back to JetStream (nak)."""
        sub = await self._pull(stream, durable, subject, ack_wait, max_deliver)
        consumer = _Consumer(self, sub, durable, handler, key=key, lanes=max(1, lanes) if key else 1, batch=batch,
                             ack_wait=ack_wait, runs_of=runs_of)
        self._consumers.append(consumer)
        consumer.start()

    async def _pull(self, stream: str, durable: str, subject: str, ack_wait: float, max_deliver: int):
        if self.service is not None and durable not in CONSUMERS[self.service].get(stream, ()):
            raise ValueError(f"{self.service} has no consumer {durable!r} on {stream} in services/kit/bus.py "
                             f"CONSUMERS (NATS would refuse it)")
        config = api.ConsumerConfig(
            durable_name=durable, ack_policy=api.AckPolicy.EXPLICIT, ack_wait=ack_wait,
            max_deliver=max_deliver, filter_subject=subject, max_ack_pending=10_000,
        )
        sub = await self.js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
        self._pull_subscriptions.append(sub)
        return sub

    async def consume_batches(self, stream: str, durable: str, subject: str, handler: BatchHandler, *,
                              batch: int = 512, ack_wait: float = 30.0) -> None:
        """Like consume, but `handler` takes every message one fetch brings (up to `batch`, in
        stream order) at once, so a consumer can fold them into one transaction. All are acked
        when it returns, all redelivered if it raises."""
        sub = await self._pull(stream, durable, subject, ack_wait, -1)
        self._batch_tasks.append(asyncio.create_task(self._pump_batches(sub, handler, batch),
                                                     name=f"consume:{durable}"))

    async def _pump_batches(self, sub, handler: BatchHandler, batch: int) -> None:
        while not self.closing:
            try:
                msgs = await sub.fetch(batch, timeout=FETCH_S)
            except (TimeoutError, asyncio.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: the client reconnects by itself
                log.warning("%s: fetch failed (%s); retrying", self.name, exc)
                await asyncio.sleep(0.2)
                continue
            taken = [(msg, d) for msg in msgs if (d := await self._received(msg)) is not None]
            if not taken:
                continue
            try:
                await handler([d for _, d in taken])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: batch handler failed for %d events; they will be redelivered", self.name, len(taken))
                await asyncio.gather(*(self._settle(m.nak(delay=min(30.0, 0.5 * d.num_delivered)), d)
                                       for m, d in taken))
                continue
            await asyncio.gather(*(self._settle(m.ack(), d) for m, d in taken))

    async def _received(self, msg: Msg) -> Delivery | None:
        """The message as a Delivery; an undecodable one is terminated (a poison message would
        otherwise be redelivered forever) and None."""
        try:
            meta = msg.metadata
            return Delivery(msg.subject, decode(msg), (msg.headers or {}).get(MSG_ID_HEADER, ""),
                            meta.num_delivered, meta.sequence.stream, working=msg.in_progress,
                                data=msg.data, headers=msg.headers or {})
        except Exception:
            log.exception("%s: undecodable event on %s; terminated", self.name, msg.subject)
            await self._settle(msg.term(), None)
            return None

    async def _deliver(self, msg: Msg, delivery: Delivery, handler: Handler, durable: str) -> None:
        if tracing.enabled():  # a consumer span, a child of the publisher's
            with tracing.span(f"process {msg.subject.split('.', 1)[0]}", kind=SpanKind.CONSUMER,
                              parent=tracing.extract(msg.headers), attributes={
                                  "messaging.system": "nats", "messaging.destination.name": msg.subject,
                                  "messaging.consumer.group.name": durable}):
                return await self._handle(msg, delivery, handler)
        await self._handle(msg, delivery, handler)

    async def _deliver_run(self, taken: list[tuple[Msg, Delivery]], handler: BatchHandler, durable: str) -> None:
        """A lane's run of deliveries to a handler of lists: acked together, or handed back together."""
        msg, first = taken[0]
        if tracing.enabled():  # one consumer span for the run, a child of its first publisher's
            with tracing.span(f"process {msg.subject.split('.', 1)[0]}", kind=SpanKind.CONSUMER,
                              parent=tracing.extract(msg.headers), attributes={
                                  "messaging.system": "nats", "messaging.destination.name": msg.subject,
                                  "messaging.consumer.group.name": durable, "messaging.batch.message_count": len(taken)}):
                return await self._handle_run(taken, handler)
        await self._handle_run(taken, handler)

    async def _handle_run(self, taken: list[tuple[Msg, Delivery]], handler: BatchHandler) -> None:
        try:
            await handler([delivery for _, delivery in taken])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: handler failed for a run of %d (%s …); they will be redelivered",
                          self.name, len(taken), taken[0][1].msg_id)
            tracing.fail(description="handler failed; redelivered")
            await asyncio.gather(*(self._settle(m.nak(delay=min(30.0, 0.5 * d.num_delivered)), d) for m, d in taken))
            return
        await asyncio.gather(*(self._settle(m.ack(), d) for m, d in taken))

    async def _handle(self, msg: Msg, delivery: Delivery, handler: Handler) -> None:
        try:
            await handler(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: handler failed for %s (delivery %d); will be redelivered",
                          self.name, delivery.msg_id, delivery.num_delivered)
            tracing.fail(description="handler failed; redelivered")
            await self._settle(msg.nak(delay=min(30.0, 0.5 * delivery.num_delivered)), delivery)
            return
        await self._settle(msg.ack(), delivery)

    async def _settle(self, ack: Awaitable[None], delivery: Delivery | None) -> None:
        """Ack or nak; with NATS away (restarting) neither arrives, and JetStream redelivers the
        message after the ack wait to a handler that recognises it: nothing to do but go on."""
        try:
            await ack
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: could not settle %s with JetStream (%s); it will be redelivered",
                        self.name, delivery.msg_id if delivery else "a message", exc)

    async def subscribe(self, subject: str, callback: Callable[[str, Message], Awaitable[None]]):
        """A plain (non-durable) subscription, for live feeds: sees what is published from now on."""

        async def on_msg(msg: Msg) -> None:
            try:
                await callback(msg.subject, decode(msg))
            except Exception:
                log.exception("%s: live subscriber failed on %s", self.name, msg.subject)

        subscription = await self.nc.subscribe(subject, cb=on_msg)
        await self.nc.flush()  # the server has the interest now: nothing published after this is missed
        return subscription

    async def follow(self, stream: str, subject: str, after: int = 0):
        """A live feed with positions: (stream sequence, event) for what is published from now
        on, or from just after sequence `after` (a reconnecting reader's last) as far as the
        stream still holds it. Read by sequence (a message get) and woken by a plain subscription:
        no consumer, so no rights over other services' durables are needed."""
        wake = asyncio.Event()

        async def on_msg(msg: Msg) -> None:
            wake.set()

        subscription = await self.nc.subscribe(subject, cb=on_msg)
        await self.nc.flush()  # the server has the interest now: nothing published after this is missed
        cursor = after + 1 if after else (await self.js.stream_info(stream)).state.last_seq + 1

        async def events():
            nonlocal cursor
            try:
                while True:
                    wake.clear()
                    while True:
                        try:
                            msg = await self.js.get_msg(stream, cursor, subject=subject, next=True)
                        except NotFoundError:
                            break  # none yet
                        except (TimeoutError, NatsTimeoutError):
                            break  # NATS away: try again from the same place
                        cursor = msg.seq + 1
                        yield msg.seq, decode(msg)
                    with contextlib.suppress(TimeoutError):  # a wake-up lost with a reconnect: poll anyway
                        await asyncio.wait_for(wake.wait(), FETCH_S)
            finally:
                with contextlib.suppress(Exception):  # gone with the connection
                    await subscription.unsubscribe()
        return events()

    @property
    def max_payload(self) -> int:
        """The largest event the server takes, less room for our headers (message id, type,
        trace context)."""
        return self.nc.max_payload - HEADER_ROOM

    async def ready(self) -> bool:
        return self.nc.is_connected  # False while the client reconnects

    @property
    def closing(self) -> bool:
        return self._stopping.is_set()

    async def stop_consuming(self) -> None:
        """Take no more deliveries and hand what this replica holds back to JetStream (nak), for
        another replica to take at once (a rolling restart) rather than after the ack wait. A
        service calls it first when stopping, while its handlers' database and peers are there."""
        self._stopping.set()
        for task in self._batch_tasks:  # a batch in a handler is redelivered after the ack wait
            task.cancel()
        await asyncio.gather(*(consumer.stop() for consumer in self._consumers), *self._batch_tasks,
                             return_exceptions=True)
        self._consumers.clear()
        self._batch_tasks.clear()

    async def close(self) -> None:
        await self.stop_consuming()
        for sub in self._pull_subscriptions:  # a lingering pull request would hold up the drain
            try:
                await sub.unsubscribe()
            except Exception:  # noqa: BLE001 - already gone with the connection
                pass
        self._pull_subscriptions.clear()
        if not self.nc.is_closed:
            try:
                await self.nc.drain()
            except Exception:  # already closing, or the server is gone (shutting down while NATS is down)
                try:
                    await self.nc.close()
                except Exception as exc:  # noqa: BLE001 - nothing is left to flush to
                    log.warning("%s: closed without a clean goodbye to NATS (%s)", self.name, exc)


class _Consumer:
    """One durable pull consumer's deliveries in lanes: a lane per key, handled one delivery at
    a time in the order received; at most `lanes` lanes at once (the rest wait for one to come
    free). The consumer holds at most `batch` deliveries per lane and `batch` x `lanes` in all;
    a key with `batch` waiting hands the next back to JetStream for a moment (nak with a delay),
    so a held key cannot fill the consumer and stall the others. Deliveries waiting in a lane
    are kept ours (in_progress) so JetStream does not redeliver them past the ack wait."""

    HAND_BACK_S = 1.0  # how long JetStream keeps a delivery handed back for a full lane

    def __init__(self, bus: Bus, sub, durable: str, handler: Handler | BatchHandler, *,
                 key: Callable[[Delivery], str] | None, lanes: int, batch: int, ack_wait: float,
                 runs_of: int = 0) -> None:
        self.bus, self.sub, self.durable, self.handler = bus, sub, durable, handler
        self.runs_of = runs_of  # 0: the handler takes one delivery; n: a list of up to n of a lane
        self.key = key or (lambda delivery: "")
        self.hands_back = key is not None  # one lane (no key) keeps everything, in order
        self.per_lane, self.capacity = batch, batch * lanes
        self.ack_wait = ack_wait
        self.slots = asyncio.Semaphore(lanes)
        self.waiting: dict[str, deque[tuple[Msg, Delivery]]] = {}  # per key, not yet handled
        self.lanes: dict[str, asyncio.Task] = {}  # per key, the task working through its deliveries
        self.held = 0  # deliveries waiting or being handled
        self.room = asyncio.Event()
        self.tasks: list[asyncio.Task] = []
        self.fetching: asyncio.Future | None = None
        self.fetched_before = 0  # messages the subscription had received and handed out when that fetch began

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._pump(), name=f"consume:{self.durable}"),
                      asyncio.create_task(self._keep_waiting_ours(), name=f"consume:{self.durable}:in-progress")]

    async def _pump(self) -> None:
        while not self.bus.closing:
            room = self.capacity - self.held
            if room <= 0:
                self.room.clear()
                await self.room.wait()
                continue
            # Shielded: a fetch cut short by stop() would drop what it had received (until the
            # ack wait); stop() lets it end and hands its deliveries back.
            # (what the fetch takes from the client's queue, or receives, it alone holds)
            self.fetched_before = self.sub.delivered - self.sub.pending_msgs
            self.fetching = asyncio.ensure_future(self.sub.fetch(min(self.per_lane, room), timeout=FETCH_S))
            try:
                msgs = await asyncio.shield(self.fetching)
            except (TimeoutError, asyncio.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: the client reconnects by itself
                log.warning("%s: fetch failed (%s); retrying", self.bus.name, exc)
                await asyncio.sleep(0.2)
                continue
            self.fetching = None
            # Routed without a pause, so stop() finds every delivery in a lane.
            settle = [self._route(msg) for msg in msgs]
            await asyncio.gather(*(s for s in settle if s is not None))

    def _route(self, msg: Msg) -> Awaitable[None] | None:
        """Into its key's lane (starting the lane when it has none); or, when it cannot be,
        what to tell JetStream."""
        try:
            meta = msg.metadata
            delivery = Delivery(msg.subject, decode(msg), (msg.headers or {}).get(MSG_ID_HEADER, ""),
                                meta.num_delivered, meta.sequence.stream, working=msg.in_progress,
                                data=msg.data, headers=msg.headers or {})
            key = self.key(delivery)
        except Exception:
            log.exception("%s: undecodable event on %s; terminated", self.bus.name, msg.subject)
            return self.bus._settle(msg.term(), None)  # a poison message would otherwise be redelivered forever
        lane = self.waiting.setdefault(key, deque())
        if self.hands_back and len(lane) >= self.per_lane:  # this key is far behind: JetStream keeps it meanwhile
            return self.bus._settle(msg.nak(delay=self.HAND_BACK_S), delivery)
        lane.append((msg, delivery))
        self.held += 1
        if key not in self.lanes:
            self.lanes[key] = asyncio.create_task(self._work(key), name=f"consume:{self.durable}:{key}")
        return None

    async def _work(self, key: str) -> None:
        async with self.slots:
            lane = self.waiting[key]
            while lane:
                taken = [lane.popleft() for _ in range(min(self.runs_of, len(lane)) or 1)]
                try:
                    if self.runs_of:
                        await self.bus._deliver_run(taken, self.handler, self.durable)
                    else:
                        await self.bus._deliver(*taken[0], self.handler, self.durable)
                except asyncio.CancelledError:  # shutting down: back to JetStream, for another replica
                    await asyncio.gather(*(self.bus._settle(msg.nak(), delivery) for msg, delivery in taken))
                    raise
                finally:
                    self.held -= len(taken)
                    self.room.set()
            # (no await between the lane found empty and its removal: _route sees one or the other)
            del self.waiting[key], self.lanes[key]

    async def _keep_waiting_ours(self) -> None:
        while True:
            await asyncio.sleep(max(0.5, self.ack_wait / 3))
            for msg, delivery in [entry for lane in self.waiting.values() for entry in lane]:
                await self.bus._settle(msg.in_progress(), delivery)

    def _fetched_unread(self) -> list[Msg]:
        """Deliveries the client received for a fetch cut short by stop(): they wait in the
        subscription's queue (nats-py keeps it private), and would otherwise sit out the ack wait."""
        queue = getattr(getattr(self.sub, "_sub", None), "_pending_queue", None)
        unread = []
        while queue is not None and not queue.empty():
            msg = queue.get_nowait()
            if (msg.reply or "").startswith("$JS.ACK."):  # not a status message
                unread.append(msg)
        return unread

    async def stop(self) -> None:
        """Stop taking deliveries and hand back (nak) every one held: those waiting, and the
        ones in a handler as it is cut short. JetStream redelivers a nak at once to any open
        pull request, this one's too: so what is held is handed back only once the fetch in
        flight is over (at most FETCH_S); with nothing held, the fetch is simply dropped."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        fetch, fetched = self.fetching, []
        if fetch is not None and not fetch.done() and not self.held \
                and self.sub.delivered == self.fetched_before:
            fetch.cancel()  # it has received nothing, and nothing is handed back
        elif fetch is not None:
            try:
                fetched = await asyncio.wait_for(fetch, FETCH_S + 0.5)
            except Exception:  # noqa: BLE001 - timed out (nothing came), or the connection is gone
                pass
        waiting = [entry for lane in self.waiting.values() for entry in lane]
        waiting += [(msg, None) for msg in [*fetched, *self._fetched_unread()]]
        for lane in self.waiting.values():
            lane.clear()
        lanes = list(self.lanes.values())
        for task in lanes:
            task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        await asyncio.gather(*(self.bus._settle(msg.nak(), delivery) for msg, delivery in waiting),
                             return_exceptions=True)
        self.waiting.clear()
        self.lanes.clear()


async def _log_error(exc: Exception) -> None:
    log.warning("nats error: %s", exc)


async def _log_disconnect() -> None:
    log.warning("nats disconnected; reconnecting")


async def _log_reconnect() -> None:
    log.info("nats reconnected")
