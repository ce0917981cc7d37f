import datetime

from copytrade.type.v1 import trading_pb2 as _trading_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FollowerOrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FOLLOWER_ORDER_STATUS_UNSPECIFIED: _ClassVar[FollowerOrderStatus]
    FOLLOWER_ORDER_STATUS_PENDING: _ClassVar[FollowerOrderStatus]
    FOLLOWER_ORDER_STATUS_PLACED: _ClassVar[FollowerOrderStatus]
    FOLLOWER_ORDER_STATUS_PARTIALLY_FILLED: _ClassVar[FollowerOrderStatus]
    FOLLOWER_ORDER_STATUS_FILLED: _ClassVar[FollowerOrderStatus]
    FOLLOWER_ORDER_STATUS_CANCELED: _ClassVar[FollowerOrderStatus]
    FOLLOWER_ORDER_STATUS_REFUSED: _ClassVar[FollowerOrderStatus]
    FOLLOWER_ORDER_STATUS_FAILED: _ClassVar[FollowerOrderStatus]
    FOLLOWER_ORDER_STATUS_UNKNOWN: _ClassVar[FollowerOrderStatus]

class MasterOrderChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MASTER_ORDER_CHANGE_UNSPECIFIED: _ClassVar[MasterOrderChange]
    MASTER_ORDER_CHANGE_OPENED: _ClassVar[MasterOrderChange]
    MASTER_ORDER_CHANGE_AMENDED: _ClassVar[MasterOrderChange]
    MASTER_ORDER_CHANGE_CANCELED: _ClassVar[MasterOrderChange]
FOLLOWER_ORDER_STATUS_UNSPECIFIED: FollowerOrderStatus
FOLLOWER_ORDER_STATUS_PENDING: FollowerOrderStatus
FOLLOWER_ORDER_STATUS_PLACED: FollowerOrderStatus
FOLLOWER_ORDER_STATUS_PARTIALLY_FILLED: FollowerOrderStatus
FOLLOWER_ORDER_STATUS_FILLED: FollowerOrderStatus
FOLLOWER_ORDER_STATUS_CANCELED: FollowerOrderStatus
FOLLOWER_ORDER_STATUS_REFUSED: FollowerOrderStatus
FOLLOWER_ORDER_STATUS_FAILED: FollowerOrderStatus
FOLLOWER_ORDER_STATUS_UNKNOWN: FollowerOrderStatus
MASTER_ORDER_CHANGE_UNSPECIFIED: MasterOrderChange
MASTER_ORDER_CHANGE_OPENED: MasterOrderChange
MASTER_ORDER_CHANGE_AMENDED: MasterOrderChange
MASTER_ORDER_CHANGE_CANCELED: MasterOrderChange

class MasterFill(_message.Message):
    __slots__ = ("fill_id", "master_account_id", "master_id", "venue", "venue_trade_id", "venue_order_id", "client_order_id", "symbol", "side", "quantity", "price", "fee", "fee_currency", "order_type", "position_before", "master_equity", "execute_time", "receive_time", "backfilled")
    FILL_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    VENUE_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    FEE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    POSITION_BEFORE_FIELD_NUMBER: _ClassVar[int]
    MASTER_EQUITY_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    BACKFILLED_FIELD_NUMBER: _ClassVar[int]
    fill_id: str
    master_account_id: str
    master_id: str
    venue: _trading_pb2.Venue
    venue_trade_id: str
    venue_order_id: str
    client_order_id: str
    symbol: str
    side: _trading_pb2.Side
    quantity: str
    price: str
    fee: str
    fee_currency: str
    order_type: _trading_pb2.OrderType
    position_before: str
    master_equity: str
    execute_time: _timestamp_pb2.Timestamp
    receive_time: _timestamp_pb2.Timestamp
    backfilled: bool
    def __init__(self, fill_id: _Optional[str] = ..., master_account_id: _Optional[str] = ..., master_id: _Optional[str] = ..., venue: _Optional[_Union[_trading_pb2.Venue, _Mapping]] = ..., venue_trade_id: _Optional[str] = ..., venue_order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., fee: _Optional[str] = ..., fee_currency: _Optional[str] = ..., order_type: _Optional[_Union[_trading_pb2.OrderType, str]] = ..., position_before: _Optional[str] = ..., master_equity: _Optional[str] = ..., execute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receive_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., backfilled: _Optional[bool] = ...) -> None: ...

class MasterFillRejected(_message.Message):
    __slots__ = ("subject", "stream_sequence", "msg_id", "refusal", "fill", "reject_time")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STREAM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MSG_ID_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    REJECT_TIME_FIELD_NUMBER: _ClassVar[int]
    subject: str
    stream_sequence: int
    msg_id: str
    refusal: _trading_pb2.Refusal
    fill: MasterFill
    reject_time: _timestamp_pb2.Timestamp
    def __init__(self, subject: _Optional[str] = ..., stream_sequence: _Optional[int] = ..., msg_id: _Optional[str] = ..., refusal: _Optional[_Union[_trading_pb2.Refusal, _Mapping]] = ..., fill: _Optional[_Union[MasterFill, _Mapping]] = ..., reject_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FollowerOrder(_message.Message):
    __slots__ = ("order_id", "client_order_id", "config_id", "follower_id", "follower_account_id", "master_fill_id", "symbol", "side", "order_type", "quantity", "price", "filled_quantity", "average_fill_price", "status", "venue_order_id", "refusal", "error_kind", "error_message", "master_fill_time", "receive_time", "risk_decide_time", "send_time", "ack_time", "master_order_id", "cancel_reason", "budget_delay", "trigger_price", "oco_group", "parent_order_id", "close_position", "reduction")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_FILL_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_FILL_PRICE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VENUE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MASTER_FILL_TIME_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    RISK_DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    ACK_TIME_FIELD_NUMBER: _ClassVar[int]
    MASTER_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REASON_FIELD_NUMBER: _ClassVar[int]
    BUDGET_DELAY_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_PRICE_FIELD_NUMBER: _ClassVar[int]
    OCO_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLOSE_POSITION_FIELD_NUMBER: _ClassVar[int]
    REDUCTION_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    client_order_id: str
    config_id: str
    follower_id: str
    follower_account_id: str
    master_fill_id: str
    symbol: str
    side: _trading_pb2.Side
    order_type: _trading_pb2.OrderType
    quantity: str
    price: str
    filled_quantity: str
    average_fill_price: str
    status: FollowerOrderStatus
    venue_order_id: str
    refusal: _trading_pb2.Refusal
    error_kind: str
    error_message: str
    master_fill_time: _timestamp_pb2.Timestamp
    receive_time: _timestamp_pb2.Timestamp
    risk_decide_time: _timestamp_pb2.Timestamp
    send_time: _timestamp_pb2.Timestamp
    ack_time: _timestamp_pb2.Timestamp
    master_order_id: str
    cancel_reason: str
    budget_delay: _duration_pb2.Duration
    trigger_price: str
    oco_group: str
    parent_order_id: str
    close_position: bool
    reduction: _trading_pb2.Refusal
    def __init__(self, order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., config_id: _Optional[str] = ..., follower_id: _Optional[str] = ..., follower_account_id: _Optional[str] = ..., master_fill_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., order_type: _Optional[_Union[_trading_pb2.OrderType, str]] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., filled_quantity: _Optional[str] = ..., average_fill_price: _Optional[str] = ..., status: _Optional[_Union[FollowerOrderStatus, str]] = ..., venue_order_id: _Optional[str] = ..., refusal: _Optional[_Union[_trading_pb2.Refusal, _Mapping]] = ..., error_kind: _Optional[str] = ..., error_message: _Optional[str] = ..., master_fill_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receive_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., risk_decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., send_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ack_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., master_order_id: _Optional[str] = ..., cancel_reason: _Optional[str] = ..., budget_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., trigger_price: _Optional[str] = ..., oco_group: _Optional[str] = ..., parent_order_id: _Optional[str] = ..., close_position: _Optional[bool] = ..., reduction: _Optional[_Union[_trading_pb2.Refusal, _Mapping]] = ...) -> None: ...

class MasterOrderChanged(_message.Message):
    __slots__ = ("change_id", "master_order_id", "master_account_id", "master_id", "venue", "venue_order_id", "client_order_id", "change", "version", "symbol", "side", "quantity", "price", "filled_quantity", "position", "master_equity", "change_time", "order_type", "trigger_price", "oco_group", "parent_master_order_id", "reduce_only", "close_position")
    CHANGE_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    VENUE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    MASTER_EQUITY_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_PRICE_FIELD_NUMBER: _ClassVar[int]
    OCO_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARENT_MASTER_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REDUCE_ONLY_FIELD_NUMBER: _ClassVar[int]
    CLOSE_POSITION_FIELD_NUMBER: _ClassVar[int]
    change_id: str
    master_order_id: str
    master_account_id: str
    master_id: str
    venue: _trading_pb2.Venue
    venue_order_id: str
    client_order_id: str
    change: MasterOrderChange
    version: int
    symbol: str
    side: _trading_pb2.Side
    quantity: str
    price: str
    filled_quantity: str
    position: str
    master_equity: str
    change_time: _timestamp_pb2.Timestamp
    order_type: _trading_pb2.OrderType
    trigger_price: str
    oco_group: str
    parent_master_order_id: str
    reduce_only: bool
    close_position: bool
    def __init__(self, change_id: _Optional[str] = ..., master_order_id: _Optional[str] = ..., master_account_id: _Optional[str] = ..., master_id: _Optional[str] = ..., venue: _Optional[_Union[_trading_pb2.Venue, _Mapping]] = ..., venue_order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., change: _Optional[_Union[MasterOrderChange, str]] = ..., version: _Optional[int] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., filled_quantity: _Optional[str] = ..., position: _Optional[str] = ..., master_equity: _Optional[str] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order_type: _Optional[_Union[_trading_pb2.OrderType, str]] = ..., trigger_price: _Optional[str] = ..., oco_group: _Optional[str] = ..., parent_master_order_id: _Optional[str] = ..., reduce_only: _Optional[bool] = ..., close_position: _Optional[bool] = ...) -> None: ...

class FollowerOrderPlaced(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: FollowerOrder
    def __init__(self, order: _Optional[_Union[FollowerOrder, _Mapping]] = ...) -> None: ...

class FollowerOrderFilled(_message.Message):
    __slots__ = ("order", "venue_trade_id", "quantity", "price", "execute_time", "venue", "fee", "fee_currency")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    VENUE_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    FEE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    order: FollowerOrder
    venue_trade_id: str
    quantity: str
    price: str
    execute_time: _timestamp_pb2.Timestamp
    venue: _trading_pb2.Venue
    fee: str
    fee_currency: str
    def __init__(self, order: _Optional[_Union[FollowerOrder, _Mapping]] = ..., venue_trade_id: _Optional[str] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., execute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., venue: _Optional[_Union[_trading_pb2.Venue, _Mapping]] = ..., fee: _Optional[str] = ..., fee_currency: _Optional[str] = ...) -> None: ...

class FollowerOrderCanceled(_message.Message):
    __slots__ = ("order", "reason")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order: FollowerOrder
    reason: str
    def __init__(self, order: _Optional[_Union[FollowerOrder, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class CopyRefused(_message.Message):
    __slots__ = ("order", "refusal")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    order: FollowerOrder
    refusal: _trading_pb2.Refusal
    def __init__(self, order: _Optional[_Union[FollowerOrder, _Mapping]] = ..., refusal: _Optional[_Union[_trading_pb2.Refusal, _Mapping]] = ...) -> None: ...

class CopyFailed(_message.Message):
    __slots__ = ("order", "error_kind", "error_message", "will_retry")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WILL_RETRY_FIELD_NUMBER: _ClassVar[int]
    order: FollowerOrder
    error_kind: str
    error_message: str
    will_retry: bool
    def __init__(self, order: _Optional[_Union[FollowerOrder, _Mapping]] = ..., error_kind: _Optional[str] = ..., error_message: _Optional[str] = ..., will_retry: _Optional[bool] = ...) -> None: ...

class CopyEvent(_message.Message):
    __slots__ = ("event_id", "occur_time", "placed", "filled", "refused", "failed", "canceled")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    PLACED_FIELD_NUMBER: _ClassVar[int]
    FILLED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occur_time: _timestamp_pb2.Timestamp
    placed: FollowerOrderPlaced
    filled: FollowerOrderFilled
    refused: CopyRefused
    failed: CopyFailed
    canceled: FollowerOrderCanceled
    def __init__(self, event_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., placed: _Optional[_Union[FollowerOrderPlaced, _Mapping]] = ..., filled: _Optional[_Union[FollowerOrderFilled, _Mapping]] = ..., refused: _Optional[_Union[CopyRefused, _Mapping]] = ..., failed: _Optional[_Union[CopyFailed, _Mapping]] = ..., canceled: _Optional[_Union[FollowerOrderCanceled, _Mapping]] = ...) -> None: ...

class ErrorEventRecorded(_message.Message):
    __slots__ = ("error_id", "follower_id", "config_id", "order_id", "error_type", "status", "attempt_count", "occur_time")
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    error_id: str
    follower_id: str
    config_id: str
    order_id: str
    error_type: str
    status: str
    attempt_count: int
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, error_id: _Optional[str] = ..., follower_id: _Optional[str] = ..., config_id: _Optional[str] = ..., order_id: _Optional[str] = ..., error_type: _Optional[str] = ..., status: _Optional[str] = ..., attempt_count: _Optional[int] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CopySessionChanged(_message.Message):
    __slots__ = ("config_id", "follower_id", "master_id", "master_account_id", "state", "reason", "occur_time")
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    follower_id: str
    master_id: str
    master_account_id: str
    state: str
    reason: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, config_id: _Optional[str] = ..., follower_id: _Optional[str] = ..., master_id: _Optional[str] = ..., master_account_id: _Optional[str] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VenueAccountDeleted(_message.Message):
    __slots__ = ("account_id", "user_id", "occur_time")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    user_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., user_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
