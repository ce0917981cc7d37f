"""The NATS JetStream bus: typed protobuf events, deterministic Nats-Msg-Id, and durable pull
consumers that N replicas of a service share (each message goes to one of them).

Subjects are `<context>.<entity>.<past_tense_verb>[.<key>]`; one stream per context. The
event's protobuf type travels in the `Ct-Type` header so one stream can carry several types.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats
from google.protobuf import symbol_database
from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import api
from nats.js.errors import NotFoundError
from opentelemetry.trace import SpanKind

from services.kit import tracing

log = logging.getLogger("copytrade.bus")

TYPE_HEADER = "Ct-Type"
MSG_ID_HEADER = "Nats-Msg-Id"
DUPLICATE_WINDOW_S = 120.0  # JetStream's default; a republish within it is dropped
HEADER_ROOM = 1024  # bytes of a message's headers, at most

# Every stream of the mesh: one per context. Creating them is idempotent.
STREAMS: dict[str, list[str]] = {
    "FILLS": ["fills.>"],
    "COPIES": ["copies.>"],
    "RISK": ["risk.>"],
    "COMPLIANCE": ["compliance.>"],
    "DISCOVERY": ["discovery.>"],
}


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


Handler = Callable[[Delivery], Awaitable[None]]
BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


def decode(msg: Msg) -> Message:
    type_name = (msg.headers or {}).get(TYPE_HEADER)
    if not type_name:
        raise ValueError(f"event on {msg.subject} has no {TYPE_HEADER} header")
    cls = symbol_database.Default().GetSymbol(type_name)
    return cls.FromString(msg.data)


class Bus:
    def __init__(self, nc: NatsClient, name: str) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.name = name
        self._tasks: list[asyncio.Task] = []
        self._pull_subscriptions: list = []
        self._stopping = asyncio.Event()

    @classmethod
    async def connect(cls, url: str, name: str, *, ensure_streams: bool = True) -> "Bus":
        nc = await nats.connect(
            url, name=f"copytrade-{name}", max_reconnect_attempts=-1, reconnect_time_wait=0.5,
            connect_timeout=5, allow_reconnect=True, drain_timeout=2,
            error_cb=_log_error, disconnected_cb=_log_disconnect, reconnected_cb=_log_reconnect,
        )
        bus = cls(nc, name)
        if ensure_streams:
            await bus.ensure_streams()
        return bus

    async def ensure_streams(self) -> None:
        for stream, subjects in STREAMS.items():
            config = api.StreamConfig(
                name=stream, subjects=subjects, storage=api.StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S, retention=api.RetentionPolicy.LIMITS,
                max_age=7 * 24 * 3600.0,
            )
            try:
                await self.js.stream_info(stream)
            except NotFoundError:
                try:
                    await self.js.add_stream(config)
                except Exception:  # another replica created it first
                    await self.js.stream_info(stream)

    async def publish(self, subject: str, event: Message, msg_id: str, *, timeout: float = 5.0) -> bool:
        """Publish and wait for JetStream's ack. Returns False when msg_id was a duplicate."""
        headers = {MSG_ID_HEADER: msg_id, TYPE_HEADER: event.DESCRIPTOR.full_name}
        if not tracing.enabled():
            ack = await self.js.publish(subject, event.SerializeToString(), timeout=timeout, headers=headers)
            return not ack.duplicate
        with tracing.span(f"publish {subject.split('.', 1)[0]}", kind=SpanKind.PRODUCER, attributes={
                "messaging.system": "nats", "messaging.destination.name": subject, "messaging.message.id": msg_id}):
            tracing.inject(headers)  # W3C traceparent: the consumer's span continues this trace
            ack = await self.js.publish(subject, event.SerializeToString(), timeout=timeout, headers=headers)
            return not ack.duplicate

    async def consume(self, stream: str, durable: str, subject: str, handler: Handler, *,
                      batch: int = 64, ack_wait: float = 30.0, max_deliver: int = -1) -> None:
        """Start a background loop feeding `handler` from a durable pull consumer. Replicas that
        use the same durable share the work. A handler that raises gets the message redelivered
        (handlers must be idempotent)."""
        sub = await self._pull(stream, durable, subject, ack_wait, max_deliver)
        self._tasks.append(asyncio.create_task(self._pump(sub, handler, batch, durable), name=f"consume:{durable}"))

    async def _pull(self, stream: str, durable: str, subject: str, ack_wait: float, max_deliver: int):
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
        self._tasks.append(asyncio.create_task(self._pump_batches(sub, handler, batch), name=f"consume:{durable}"))

    async def _fetch(self, sub, batch: int) -> list[Msg]:
        """Up to `batch` messages, or none after a second of waiting or a lost connection."""
        try:
            return await sub.fetch(batch, timeout=1.0)
        except (TimeoutError, asyncio.TimeoutError):
            return []
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # connection lost: the client reconnects by itself
            log.warning("%s: fetch failed (%s); retrying", self.name, exc)
            await asyncio.sleep(0.2)
            return []

    async def _received(self, msg: Msg) -> Delivery | None:
        """The message as a Delivery; an undecodable one is terminated (a poison message would
        otherwise be redelivered forever) and None."""
        try:
            meta = msg.metadata
            return Delivery(msg.subject, decode(msg), (msg.headers or {}).get(MSG_ID_HEADER, ""),
                            meta.num_delivered, meta.sequence.stream, working=msg.in_progress)
        except Exception:
            log.exception("%s: undecodable event on %s; terminated", self.name, msg.subject)
            await msg.term()
            return None

    async def _pump_batches(self, sub, handler: BatchHandler, batch: int) -> None:
        while not self._stopping.is_set():
            msgs = await self._fetch(sub, batch)
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

    async def _pump(self, sub, handler: Handler, batch: int, durable: str) -> None:
        while not self._stopping.is_set():
            msgs = await self._fetch(sub, batch)
            for msg in msgs:
                if tracing.enabled():  # a consumer span, a child of the publisher's
                    with tracing.span(f"process {msg.subject.split('.', 1)[0]}", kind=SpanKind.CONSUMER,
                                      parent=tracing.extract(msg.headers), attributes={
                                          "messaging.system": "nats", "messaging.destination.name": msg.subject,
                                          "messaging.consumer.group.name": durable}):
                        await self._deliver(msg, handler)
                else:
                    await self._deliver(msg, handler)

    async def _deliver(self, msg: Msg, handler: Handler) -> None:
        delivery = await self._received(msg)
        if delivery is None:
            return
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

    async def _settle(self, ack: Awaitable[None], delivery: Delivery) -> None:
        """Ack or nak; with NATS away (restarting) neither arrives, and JetStream redelivers the
        message after the ack wait to a handler that recognises it: nothing to do but go on."""
        try:
            await ack
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: could not settle %s with JetStream (%s); it will be redelivered",
                        self.name, delivery.msg_id, exc)

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

    @property
    def max_payload(self) -> int:
        """The largest event the server takes, less room for our headers (message id, type,
        trace context)."""
        return self.nc.max_payload - HEADER_ROOM

    @property
    def closing(self) -> bool:
        return self._stopping.is_set()

    async def close(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
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


async def _log_error(exc: Exception) -> None:
    log.warning("nats error: %s", exc)


async def _log_disconnect() -> None:
    log.warning("nats disconnected; reconnecting")


async def _log_reconnect() -> None:
    log.info("nats reconnected")
