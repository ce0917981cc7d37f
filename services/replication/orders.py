"""Follower orders as the API and the events show them."""

from __future__ import annotations

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.type.v1 import trading_pb2
from services.replication.store import FollowerOrderRow


def order_to_proto(row: FollowerOrderRow) -> events.FollowerOrder:
    order = events.FollowerOrder(
        order_id=row.order_id, client_order_id=row.order_id, config_id=row.config_id, follower_id=row.follower_id,
        follower_account_id=row.follower_account_id, master_fill_id=row.master_fill_id, symbol=row.symbol,
        side=row.side, order_type=row.order_type or trading_pb2.ORDER_TYPE_MARKET, quantity=str(row.quantity),
        price=str(row.limit_price) if row.limit_price is not None else "",
        master_order_id=row.master_order_id or "", cancel_reason=row.cancel_reason or "",
        filled_quantity=str(row.filled_quantity),
        average_fill_price=str(row.average_fill_price) if row.average_fill_price is not None else "",
        status=row.status, venue_order_id=row.venue_order_id, error_kind=row.error_kind,
        error_message=row.error_message)
    if row.budget_delay_ms is not None:
        order.budget_delay.FromMilliseconds(row.budget_delay_ms)
    if row.refusal:
        order.refusal.CopyFrom(trading_pb2.Refusal(**row.refusal))
    for field in ("master_fill_time", "receive_time", "risk_decide_time", "send_time", "ack_time"):
        value = getattr(row, field)
        if value is not None:
            getattr(order, field).FromDatetime(value)
    return order
