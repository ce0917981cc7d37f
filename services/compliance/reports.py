"""Trade reports: a user's executions in a half-open period [start, end), as CSV or JSON.
Pure but for `export`, which reads the trades and audits the export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.compliance import identity
from services.compliance.anomaly import notional
from services.compliance.audit import AuditTrail, Entry
from services.compliance.store import TradeRow
from services.kit import errors
from services.kit.db import Database, aware

MAX_TRADES = 20_000  # keeps a report well inside one gRPC message; ask for a shorter period
# One row per execution at a venue. trade_id is unique across every report; venue_trade_id and
# venue_order_id are the venue's own ids, client_order_id the order's at the venue; fee is what the
# venue reported for the execution ("" when it reported none); times are UTC.
COLUMNS = ("trade_id", "role", "execute_time", "venue", "account_id", "symbol", "side", "quantity", "price",
           "notional", "fee", "fee_currency", "order_id", "master_fill_id", "venue_trade_id", "venue_order_id",
           "client_order_id")
CONTENT_TYPES = {pb.REPORT_FORMAT_CSV: "text/csv; charset=utf-8", pb.REPORT_FORMAT_JSON: "application/json"}


def period(request: pb.ExportTradeReportRequest) -> tuple[datetime, datetime]:
    """The requested period as UTC datetimes; both ends required and start before end."""
    for name in ("start_time", "end_time"):
        if not request.HasField(name):
            raise errors.invalid_argument("INVALID_PERIOD", f"{name} is required", domain=identity.DOMAIN, field=name)
    start, end = _to_datetime(request.start_time, "start_time"), _to_datetime(request.end_time, "end_time")
    if start >= end:
        raise errors.invalid_argument("INVALID_PERIOD", "start_time must be before end_time",
                                      domain=identity.DOMAIN, field="start_time")
    return start, end


def report_format(value: int) -> int:
    if value == pb.REPORT_FORMAT_UNSPECIFIED:
        return pb.REPORT_FORMAT_CSV
    if value not in CONTENT_TYPES:
        raise errors.invalid_argument("INVALID_FORMAT", "format is REPORT_FORMAT_CSV or REPORT_FORMAT_JSON",
                                      domain=identity.DOMAIN, field="format")
    return value


async def export(db: Database, trail: AuditTrail, actor: str, user_id: str, start: datetime, end: datetime,
                 fmt: int) -> tuple[str, str, int]:
    """(content type, content, trade count) of the user's report, audited; PERIOD_TOO_LONG when
    the period holds more than MAX_TRADES."""
    async with db.session() as session:
        trades = (await session.execute(select(TradeRow).where(
            TradeRow.user_id == user_id, TradeRow.execute_time >= start, TradeRow.execute_time < end)
            .order_by(TradeRow.execute_time, TradeRow.trade_id).limit(MAX_TRADES + 1))).scalars().all()
    if len(trades) > MAX_TRADES:
        raise errors.invalid_argument("PERIOD_TOO_LONG", f"the period holds more than {MAX_TRADES} trades; ask "
                                      "for a shorter one", domain=identity.DOMAIN, field="end_time",
                                      max_trades=MAX_TRADES)
    content_type, content = render(fmt, user_id, start, end, trades)
    await trail.record(Entry(actor, "trade_report.exported", f"user:{user_id}", user_id, {
        "start_time": start.isoformat(), "end_time": end.isoformat(), "format": pb.ReportFormat.Name(fmt),
        "trade_count": len(trades)}))
    return content_type, content, len(trades)


def render(fmt: int, user_id: str, start: datetime, end: datetime, trades: list[TradeRow]) -> tuple[str, str]:
    """(content type, content)."""
    rows = [_row(t) for t in trades]
    if fmt == pb.REPORT_FORMAT_JSON:
        document = {"user_id": user_id, "start_time": _iso(start), "end_time": _iso(end), "trade_count": len(rows),
                    "trades": rows}
        return CONTENT_TYPES[fmt], json.dumps(document, indent=2)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _csv_safe(v) for k, v in row.items()} for row in rows)
    return CONTENT_TYPES[fmt], out.getvalue()


def _row(trade: TradeRow) -> dict[str, str]:
    return {"trade_id": trade.trade_id, "role": trade.role, "execute_time": _iso(trade.execute_time),
            "venue": trade.venue, "account_id": trade.account_id, "symbol": trade.symbol, "side": trade.side,
            "quantity": str(trade.quantity), "price": str(trade.price),
            "notional": str(notional(trade.quantity, trade.price)),
            "fee": "" if trade.fee is None else str(trade.fee), "fee_currency": trade.fee_currency,
            "order_id": trade.order_id, "master_fill_id": trade.master_fill_id,
            "venue_trade_id": trade.venue_trade_id or "", "venue_order_id": trade.venue_order_id or "",
            "client_order_id": trade.client_order_id or ""}


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet; ids come from venues, so quote them.
    return "'" + value if value[:1] in ("=", "+", "@") or (value[:1] == "-" and not _is_number(value)) else value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _iso(moment: datetime) -> str:
    return aware(moment).astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _to_datetime(ts: Timestamp, field: str) -> datetime:
    """A Timestamp as a UTC datetime, rounded up to the microsecond the database keeps: the
    half-open period then holds exactly the trades at or after start and before end."""
    try:
        moment = datetime.fromtimestamp(ts.seconds, UTC)
        return moment + timedelta(microseconds=-(-ts.nanos // 1000))
    except (OverflowError, OSError, ValueError):
        raise errors.invalid_argument("INVALID_PERIOD", f"{field} is out of range", domain=identity.DOMAIN,
                                      field=field) from None
