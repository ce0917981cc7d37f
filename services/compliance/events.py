"""What compliance hears on NATS and what it says there.

Consumed, with the durable consumer "compliance" on each stream (replicas share the work):
  FILLS  fills.master.filled.>  master fills       → the trades table (and monitoring)
  COPIES copies.>               the copy lifecycle → the audit trail; follower fills also → trades
  RISK   risk.>                 trading state, kill switch, breakers → the audit trail
Each message lands once: its Nats-Msg-Id is the audit record's event id (a redelivery finds the
record) and a trade's id is its business id.

Published: compliance.audit.recorded, compliance.alert.raised.<user_id>,
compliance.kyc.decided.<user_id> (see compliance_events.proto).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from google.protobuf import json_format
from google.protobuf.message import Message
from sqlalchemy.exc import IntegrityError

from copytrade.replication.v1 import replication_events_pb2 as rep_events
from copytrade.risk.v1 import risk_events_pb2 as risk_events
from copytrade.type.v1 import trading_pb2
from services.compliance.audit import AuditTrail, Entry
from services.compliance.monitor import Monitor, trade_row
from services.kit import fillsign
from services.kit.bus import Bus, Delivery

log = logging.getLogger("copytrade.compliance.events")

DURABLE = "compliance"
PUBLISH_ATTEMPTS = 10
PIPELINE = 64  # announcements in flight at once
COPY_BATCH = 256  # copy events per transaction
SIDES = {trading_pb2.SIDE_BUY: "buy", trading_pb2.SIDE_SELL: "sell"}
COPY_ACTIONS = {
    rep_events.FollowerOrderPlaced: "copy.placed",
    rep_events.FollowerOrderFilled: "copy.filled",
    rep_events.CopyRefused: "copy.refused",
    rep_events.CopyFailed: "copy.failed",
    rep_events.ErrorEventRecorded: "copy.error.recorded",
    rep_events.CopySessionChanged: "copy.session.changed",
}


class Publisher:
    """Announcements, sent in order by one background task (up to PIPELINE in flight) after the
    transaction that caused them has committed. The database already holds the truth, so a call never waits on (or fails
    with) the bus: during a bus outage announcements queue up to a bound, then are dropped with a
    warning (the audit trail itself loses nothing)."""

    def __init__(self, bus: Bus, *, capacity: int = 10_000) -> None:
        self.bus = bus
        self._queue: asyncio.Queue[tuple[str, Message, str]] = asyncio.Queue(capacity)
        self._task = asyncio.create_task(self._send(), name="compliance-announcements")

    async def __call__(self, subject: str, event: Message, msg_id: str) -> None:
        try:
            self._queue.put_nowait((subject, event, msg_id))
        except asyncio.QueueFull:
            log.warning("announcement queue full; %s on %s not published", type(event).__name__, subject)

    async def _send(self) -> None:
        while True:
            # What queued up meanwhile goes out together: the publishes share the connection's
            # writes and wait for their acks at once (a batch of copies makes hundreds).
            batch = [await self._queue.get()]
            while len(batch) < PIPELINE and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await asyncio.gather(*(self._publish(*item) for item in batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _publish(self, subject: str, event: Message, msg_id: str) -> None:
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                await self.bus.publish(subject, event, msg_id)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the bus reconnects by itself; try again
                log.warning("could not publish %s on %s (attempt %d: %s)", type(event).__name__, subject,
                            attempt, exc)
                await asyncio.sleep(min(1.0 * attempt, 5.0))

    async def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (for up to `timeout` seconds), then stop."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.warning("%d announcements not published at shutdown", self._queue.qsize())
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


# --- pure: events as audit entries and trades --------------------------------------------------
def copy_entry(event: Message, subject: str, event_id: str) -> Entry:
    details = json_format.MessageToDict(event, preserving_proto_field_name=True)
    action = COPY_ACTIONS.get(type(event)) or _action_from(subject)
    order = getattr(event, "order", None)
    if order is not None and order.order_id:
        return Entry("system:replication", action, f"order:{order.order_id}", order.follower_id, details, event_id)
    if isinstance(event, rep_events.ErrorEventRecorded):
        return Entry("system:replication", action, f"error:{event.error_id}", event.follower_id, details, event_id)
    if isinstance(event, rep_events.CopySessionChanged):
        return Entry("system:replication", action, f"session:{event.config_id}", event.follower_id, details, event_id)
    return Entry("system:replication", action, "", _subject_key(subject), details, event_id)


def risk_entry(event: Message, subject: str, event_id: str) -> Entry:
    details = json_format.MessageToDict(event, preserving_proto_field_name=True)
    if isinstance(event, risk_events.TradingStateChanged):
        scope = event.scope
        resource = f"trading-state:{scope.user_id or 'global'}" + (f"/{scope.master_id}" if scope.master_id else "")
        return Entry(event.changed_by or "system:risk", "risk.state.changed", resource, scope.user_id, details,
                     event_id)
    if isinstance(event, risk_events.CircuitBreakerTripped):
        return Entry("system:risk", "risk.breaker.tripped", f"breaker:{event.user_id}", event.user_id, details,
                     event_id)
    return Entry("system:risk", _action_from(subject), "", _subject_key(subject), details, event_id)


def master_trade(event: rep_events.MasterFill):
    return trade_row(trade_id=event.fill_id, user_id=event.master_id, role="master",
                     account_id=event.master_account_id, venue=event.venue.id, symbol=event.symbol,
                     side=SIDES.get(event.side, ""), quantity=event.quantity, price=event.price, fee=event.fee,
                     fee_currency=event.fee_currency, order_id=event.venue_order_id, master_fill_id=event.fill_id,
                     venue_trade_id=event.venue_trade_id, venue_order_id=event.venue_order_id,
                     client_order_id=event.client_order_id, execute_time=_time(event.execute_time, event.receive_time))


def follower_trade(event: rep_events.FollowerOrderFilled):
    order = event.order
    # A resting copy can fill in steps; a step the venue gave no trade id for is named by the total.
    suffix = event.venue_trade_id or f"filled:{order.filled_quantity}"
    return trade_row(trade_id=f"{order.order_id}:{suffix}", user_id=order.follower_id, role="follower",
                     account_id=order.follower_account_id, venue=event.venue.id, symbol=order.symbol,
                     side=SIDES.get(order.side, ""), quantity=event.quantity or order.filled_quantity,
                     price=event.price or order.average_fill_price, fee=event.fee, fee_currency=event.fee_currency,
                     order_id=order.order_id, master_fill_id=order.master_fill_id,
                     venue_trade_id=event.venue_trade_id, venue_order_id=order.venue_order_id,
                     client_order_id=order.client_order_id or order.order_id,
                     execute_time=_time(event.execute_time, order.ack_time, order.send_time))


def _time(*candidates) -> datetime:
    for ts in candidates:
        if ts.seconds or ts.nanos:
            return ts.ToDatetime(tzinfo=UTC)
    return datetime.now(UTC)


def _action_from(subject: str) -> str:
    return ".".join(subject.split(".")[:3])[:64]


def _subject_key(subject: str) -> str:
    parts = subject.split(".")
    return parts[3] if len(parts) > 3 else ""


def event_id(stream: str, delivery: Delivery) -> str:
    key = delivery.msg_id or f"seq:{delivery.stream_sequence}"
    return f"nats:{stream}:{key}"[:200]


# --- the consumers ------------------------------------------------------------------------------
class Intake:
    def __init__(self, audit: AuditTrail, monitor: Monitor, fills: fillsign.Verifier) -> None:
        self.audit = audit
        self.monitor = monitor
        self.fills = fills  # a master fill is recorded only with replication's signature

    async def start(self, bus: Bus) -> None:
        await bus.consume("FILLS", DURABLE, "fills.master.filled.>", self.fills.verified(self.on_fill, "compliance"))
        # A fill's copies come in hundreds: their events are folded per fetch into one
        # transaction (one chain-lock acquisition, one multi-row append).
        await bus.consume_batches("COPIES", DURABLE, "copies.>", self.on_copies, batch=COPY_BATCH)
        await bus.consume("RISK", DURABLE, "risk.>", self.on_risk)

    async def on_fill(self, delivery: Delivery) -> None:
        if not isinstance(delivery.event, rep_events.MasterFill) or not delivery.event.master_id:
            return
        await self._once(lambda tx: self.monitor.record_trade(tx, master_trade(delivery.event)))

    async def on_copies(self, deliveries: list[Delivery]) -> None:
        """Copy events in one transaction, in stream order: the followers' trades in one look-up
        and insert, the audit entries in one append. Should the batch fail (another replica wrote
        one of its trades meanwhile, or one event cannot be stored), each is applied on its own,
        so the others are not held back by it."""
        try:
            async with self.audit.transaction() as tx:
                await self._apply_copies(tx, deliveries)
        except Exception as exc:  # noqa: BLE001 - each event again, alone
            log.info("%d copy events stored one by one (%s: %s)", len(deliveries), type(exc).__name__,
                     str(exc).splitlines()[0][:200] if str(exc) else "")
            for delivery in deliveries:
                await self.on_copy(delivery)

    async def on_copy(self, delivery: Delivery) -> None:
        await self._once(lambda tx: self._apply_copies(tx, [delivery]))

    async def _apply_copies(self, tx, deliveries: list[Delivery]) -> None:
        # No look for the events first: one arrives twice only on a redelivery, and then the
        # trade is found known and the chain finds the entry (a read saved per copy event).
        await self.monitor.record_copies(tx, [
            follower_trade(d.event) for d in deliveries
            if isinstance(d.event, rep_events.FollowerOrderFilled) and d.event.order.follower_id])
        for delivery in deliveries:
            tx.record(copy_entry(delivery.event, delivery.subject, event_id("COPIES", delivery)))

    async def on_risk(self, delivery: Delivery) -> None:
        entry = risk_entry(delivery.event, delivery.subject, event_id("RISK", delivery))

        async def apply(tx) -> None:
            if not await self.audit.seen(tx.session, entry.event_id):
                tx.record(entry)

        await self._once(apply)

    async def _once(self, apply) -> None:
        try:
            async with self.audit.transaction() as tx:
                await apply(tx)
        except IntegrityError:
            # Another replica wrote the same trade or alert between our look and our write: look
            # again (what is known is skipped now); a second failure has the message redelivered.
            async with self.audit.transaction() as tx:
                await apply(tx)
