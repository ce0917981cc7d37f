"""Compliance monitoring over the tables: trades recorded as they arrive (a master's own checked
for unusual size and bursts against that master's own pattern; copies are not checked again),
logins checked for new addresses, alerts stored once and announced."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.compliance import anomaly
from services.compliance.audit import AuditedTransaction, Entry
from services.compliance.store import AlertRow, LoginAddressRow, TradeRow
from services.kit import paging
from services.kit.db import Database, aware

ACTOR = "system:compliance"
MASTER = "master"  # a trade's role: a master's own fill (the other: a follower's copy)
LOOKUP_IDS = 1000  # trade ids per look-up


def alert_to_proto(row: AlertRow) -> pb.ComplianceAlert:
    alert = pb.ComplianceAlert(alert_id=row.alert_id, user_id=row.user_id, kind=row.kind, message=row.message,
                               metadata={k: str(v) for k, v in (row.details or {}).items()})
    alert.raise_time.FromDatetime(aware(row.raise_time))
    return alert


async def alerts_page(db: Database, user_id: str, requested_size: int, page_token: str) -> tuple[list[AlertRow], str]:
    """One page of alerts, newest first: `user_id`'s (everyone's when empty)."""
    query = select(AlertRow)
    if user_id:
        query = query.where(AlertRow.user_id == user_id)
    async with db.session() as session:
        return await paging.keyset_page(session, query, AlertRow.alert_id, requested_size, page_token,
                                        descending=True)


def subject_token(text: str) -> str:
    """`text` as one NATS subject token (no dots, spaces or wildcards)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "_"


def new_alert_id(now: datetime) -> str:
    # Sorts by raise time, so keyset paging lists alerts newest first.
    return f"alr_{int(now.timestamp() * 1_000_000):016x}{uuid.uuid4().hex[:8]}"


class Monitor:
    def __init__(self, thresholds: anomaly.Thresholds = anomaly.Thresholds()) -> None:
        self.thresholds = thresholds

    async def record_copies(self, tx: AuditedTransaction, trades: list[TradeRow]) -> int:
        """Store followers' copies not yet known, with one look-up and one multi-row insert (a
        fill's copies arrive in hundreds); returns how many were new. Copies are not checked
        (see record_trade)."""
        fresh: dict[str, TradeRow] = {}
        for trade in trades:
            fresh.setdefault(trade.trade_id, trade)
        ids = list(fresh)
        for start in range(0, len(ids), LOOKUP_IDS):
            for known in (await tx.session.execute(select(TradeRow.trade_id).where(
                    TradeRow.trade_id.in_(ids[start:start + LOOKUP_IDS])))).scalars():
                fresh.pop(known, None)
        tx.session.add_all(fresh.values())
        return len(fresh)

    async def record_trade(self, tx: AuditedTransaction, trade: TradeRow) -> bool:
        """Store `trade` unless known (False), then, for a master's own trade, check it against
        that master's own history. A follower's copy is the master's decision, measured once at
        the master: checked again for each follower it would raise the master's finding N more
        times (every copy of an unusual order is as unusual for its follower)."""
        session = tx.session
        if await session.get(TradeRow, trade.trade_id) is not None:
            return False
        if trade.role != MASTER:
            session.add(trade)
            return True
        history = [anomaly.notional(q, p) for q, p in (await session.execute(
            select(TradeRow.quantity, TradeRow.price)
            .where(TradeRow.user_id == trade.user_id, TradeRow.role == MASTER,
                   TradeRow.execute_time <= trade.execute_time)
            .order_by(TradeRow.execute_time.desc()).limit(self.thresholds.size_history))).all()]
        session.add(trade)
        await session.flush()
        size = anomaly.notional(trade.quantity, trade.price)
        finding = anomaly.size_anomaly(trade.user_id, trade.trade_id, size, history, self.thresholds)
        if finding and not await self._recent(tx, trade.user_id, anomaly.ORDER_SIZE_ANOMALY,
                                              trade.execute_time - self.thresholds.size_cooldown):
            await self.raise_alert(tx, trade.user_id, finding, trade.execute_time)
        await self._check_burst(tx, trade)
        return True

    async def _check_burst(self, tx: AuditedTransaction, trade: TradeRow) -> None:
        """The master's own orders of the last window against their own usual rate (copies they
        receive as a follower are not theirs), one alert a burst."""
        t, session, user = self.thresholds, tx.session, trade.user_id
        since = trade.execute_time - t.burst_window
        count = await session.scalar(select(func.count()).select_from(TradeRow).where(
            TradeRow.user_id == user, TradeRow.role == MASTER, TradeRow.execute_time > since,
            TradeRow.execute_time <= trade.execute_time))
        if count <= t.burst_count:
            return  # under the floor: nobody's pattern makes this a burst
        if await self._recent(tx, user, anomaly.ORDER_BURST, trade.execute_time - t.burst_cooldown):
            return  # this burst (or one just before) was raised already
        baseline_start = trade.execute_time - t.baseline_window
        prior, first = (await session.execute(select(func.count(), func.min(TradeRow.execute_time)).where(
            TradeRow.user_id == user, TradeRow.role == MASTER, TradeRow.execute_time > baseline_start,
            TradeRow.execute_time <= since))).one()
        span = since - max(baseline_start, aware(first)) if first is not None else timedelta(0)
        usual = anomaly.usual_per_window(prior, span, t)
        finding = anomaly.burst(user, trade.execute_time, count, t, usual)
        if finding:
            await self.raise_alert(tx, user, finding, trade.execute_time)

    async def note_login(self, tx: AuditedTransaction, user_id: str, address: str) -> None:
        if not address:
            return
        now = datetime.now(UTC)
        known = {row.address: row for row in (await tx.session.execute(
            select(LoginAddressRow).where(LoginAddressRow.user_id == user_id))).scalars()}
        if address in known:
            known[address].last_seen = now
            return
        tx.session.add(LoginAddressRow(user_id=user_id, address=address, first_seen=now, last_seen=now))
        finding = anomaly.new_login_address(user_id, address, set(known))
        if finding:
            await self.raise_alert(tx, user_id, finding, now)

    async def raise_alert(self, tx: AuditedTransaction, user_id: str, finding: anomaly.Finding,
                          observed: datetime) -> AlertRow | None:
        """Store the alert unless this finding was raised before; audit it and announce it on commit."""
        if await tx.session.scalar(select(AlertRow.alert_id).where(AlertRow.dedup_key == finding.dedup_key)):
            return None
        now = datetime.now(UTC)
        row = AlertRow(alert_id=new_alert_id(now), user_id=user_id, kind=finding.kind, message=finding.message[:500],
                       details=dict(finding.details), raise_time=now, observe_time=observed,
                       dedup_key=finding.dedup_key[:300])
        tx.session.add(row)
        details = {k: v for k, v in finding.details.items() if k != "address"}  # the trail is permanent
        tx.record(Entry(actor=ACTOR, action="alert.raised", resource=f"alert:{row.alert_id}",
                        subject_user_id=user_id, details={"kind": finding.kind, **details}))
        tx.announce(f"compliance.alert.raised.{subject_token(user_id)}",
                    events_pb.ComplianceAlertRaised(alert=alert_to_proto(row)), row.alert_id)
        return row

    async def _recent(self, tx: AuditedTransaction, user_id: str, kind: str, since: datetime) -> bool:
        return await tx.session.scalar(select(AlertRow.alert_id).where(
            AlertRow.user_id == user_id, AlertRow.kind == kind, AlertRow.observe_time > since).limit(1)) is not None


def trade_row(*, trade_id: str, user_id: str, role: str, account_id: str, venue: str, symbol: str, side: str,
              quantity: str, price: str, fee: str = "", fee_currency: str = "", order_id: str = "",
              master_fill_id: str = "", venue_trade_id: str = "", venue_order_id: str = "",
              client_order_id: str = "", execute_time: datetime) -> TradeRow:
    """A trade as stored; a fee given as "" (the venue did not report one) is unknown, not zero."""
    return TradeRow(trade_id=trade_id[:200], user_id=user_id[:64], role=role, account_id=account_id[:64],
                    venue=venue[:64], symbol=symbol[:64], side=side, quantity=_decimal(quantity),
                    price=_decimal(price), fee=_decimal(fee) if fee else None, fee_currency=fee_currency[:16],
                    order_id=order_id[:200], master_fill_id=master_fill_id[:200],
                    venue_trade_id=venue_trade_id[:200], venue_order_id=venue_order_id[:200],
                    client_order_id=client_order_id[:200], execute_time=execute_time.astimezone(UTC),
                    record_time=datetime.now(UTC))


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text or "0")
    except ArithmeticError:
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)
