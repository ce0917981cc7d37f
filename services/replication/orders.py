"""Follower orders as the API and the events show them."""

from __future__ import annotations

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.type.v1 import trading_pb2
from services.replication.store import FollowerOrderRow
from services.replication.venues.base import LIMIT_TYPES, OrderRequest

# The venue contract's order type names ↔ the contract's OrderType.
ORDER_TYPE_NAMES = {trading_pb2.ORDER_TYPE_MARKET: "market", trading_pb2.ORDER_TYPE_LIMIT: "limit",
                    trading_pb2.ORDER_TYPE_STOP_MARKET: "stop_market", trading_pb2.ORDER_TYPE_STOP_LIMIT: "stop_limit",
                    trading_pb2.ORDER_TYPE_TAKE_PROFIT_MARKET: "take_profit_market",
                    trading_pb2.ORDER_TYPE_TAKE_PROFIT_LIMIT: "take_profit_limit"}
ORDER_TYPE_VALUES = {name: value for value, name in ORDER_TYPE_NAMES.items()}
SIDE_NAMES = {trading_pb2.SIDE_BUY: "buy", trading_pb2.SIDE_SELL: "sell"}


def order_request(row: FollowerOrderRow, venue, *, reduce_only: bool) -> OrderRequest:
    """The venue order for a copy as recorded: its type, prices, close-position flag, OCO group
    and parent — the last three only where the venue takes them on a single order (otherwise
    the copy is sized to the position, and the group is kept by the resting module)."""
    name = ORDER_TYPE_NAMES.get(row.order_type or trading_pb2.ORDER_TYPE_MARKET, "market")
    request = OrderRequest(row.order_id, row.symbol, SIDE_NAMES[row.side], row.quantity, name,
                           price=row.limit_price if name in LIMIT_TYPES else None,
                           reduce_only=reduce_only or bool(row.close_position),
                           trigger_price=row.trigger_price if name not in ("market", "limit") else None,
                           # a fill's copy as a limit is one at the tolerance: it fills at once or not at all
                           time_in_force="IOC" if name == "limit" and not row.master_order_id else "GTC")
    for extra in ({"close_position": True, "reduce_only": False} if row.close_position else {},
                  {"oco_group": row.oco_group} if row.oco_group else {},
                  {"parent_client_order_id": row.parent_order_id} if row.parent_order_id else {}):
        if extra:
            linked = OrderRequest(**{**request.__dict__, **extra})
            if venue.supports(linked):
                request = linked
    return request


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
        error_message=row.error_message, trigger_price=str(row.trigger_price) if row.trigger_price is not None else "",
        oco_group=row.oco_group or "", parent_order_id=row.parent_order_id or "",
        close_position=bool(row.close_position))
    if row.budget_delay_ms is not None:
        order.budget_delay.FromMilliseconds(row.budget_delay_ms)
    if row.refusal:
        order.refusal.CopyFrom(trading_pb2.Refusal(**row.refusal))
    if row.reduction:
        order.reduction.CopyFrom(trading_pb2.Refusal(**row.reduction))
    for field in ("master_fill_time", "receive_time", "risk_decide_time", "send_time", "ack_time"):
        value = getattr(row, field)
        if value is not None:
            getattr(order, field).FromDatetime(value)
    return order
