import datetime

from copytrade.type.v1 import access_pb2 as _access_pb2
from copytrade.type.v1 import trading_pb2 as _trading_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_APPROVED: _ClassVar[Decision]
    DECISION_REDUCED: _ClassVar[Decision]
    DECISION_DENIED: _ClassVar[Decision]

class BreakerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKER_KIND_UNSPECIFIED: _ClassVar[BreakerKind]
    BREAKER_KIND_DAILY_LOSS: _ClassVar[BreakerKind]
    BREAKER_KIND_DRAWDOWN: _ClassVar[BreakerKind]
    BREAKER_KIND_EMERGENCY_STOP: _ClassVar[BreakerKind]
    BREAKER_KIND_VENUE_FAILURES: _ClassVar[BreakerKind]
    BREAKER_KIND_LATENCY: _ClassVar[BreakerKind]
DECISION_UNSPECIFIED: Decision
DECISION_APPROVED: Decision
DECISION_REDUCED: Decision
DECISION_DENIED: Decision
BREAKER_KIND_UNSPECIFIED: BreakerKind
BREAKER_KIND_DAILY_LOSS: BreakerKind
BREAKER_KIND_DRAWDOWN: BreakerKind
BREAKER_KIND_EMERGENCY_STOP: BreakerKind
BREAKER_KIND_VENUE_FAILURES: BreakerKind
BREAKER_KIND_LATENCY: BreakerKind

class RiskLimits(_message.Message):
    __slots__ = ("max_daily_loss", "max_drawdown", "max_position_size", "max_leverage", "stop_loss_enabled", "take_profit_enabled", "correlation_limit", "volatility_limit", "circuit_breaker_enabled", "emergency_stop_loss", "max_slippage", "max_latency_ms", "max_orders_per_minute", "timezone")
    MAX_DAILY_LOSS_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_FIELD_NUMBER: _ClassVar[int]
    MAX_POSITION_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_ENABLED_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_LIMIT_FIELD_NUMBER: _ClassVar[int]
    VOLATILITY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_BREAKER_ENABLED_FIELD_NUMBER: _ClassVar[int]
    EMERGENCY_STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    MAX_SLIPPAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDERS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    max_daily_loss: str
    max_drawdown: str
    max_position_size: str
    max_leverage: str
    stop_loss_enabled: bool
    take_profit_enabled: bool
    correlation_limit: str
    volatility_limit: str
    circuit_breaker_enabled: bool
    emergency_stop_loss: str
    max_slippage: str
    max_latency_ms: int
    max_orders_per_minute: int
    timezone: str
    def __init__(self, max_daily_loss: _Optional[str] = ..., max_drawdown: _Optional[str] = ..., max_position_size: _Optional[str] = ..., max_leverage: _Optional[str] = ..., stop_loss_enabled: _Optional[bool] = ..., take_profit_enabled: _Optional[bool] = ..., correlation_limit: _Optional[str] = ..., volatility_limit: _Optional[str] = ..., circuit_breaker_enabled: _Optional[bool] = ..., emergency_stop_loss: _Optional[str] = ..., max_slippage: _Optional[str] = ..., max_latency_ms: _Optional[int] = ..., max_orders_per_minute: _Optional[int] = ..., timezone: _Optional[str] = ...) -> None: ...

class GetRiskLimitsRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetRiskLimitsResponse(_message.Message):
    __slots__ = ("limits", "is_default", "update_time")
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    limits: RiskLimits
    is_default: bool
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, limits: _Optional[_Union[RiskLimits, _Mapping]] = ..., is_default: _Optional[bool] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UpdateRiskLimitsRequest(_message.Message):
    __slots__ = ("user_id", "limits", "update_mask")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    limits: RiskLimits
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, user_id: _Optional[str] = ..., limits: _Optional[_Union[RiskLimits, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateRiskLimitsResponse(_message.Message):
    __slots__ = ("limits", "update_time")
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    limits: RiskLimits
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, limits: _Optional[_Union[RiskLimits, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OrderIntent(_message.Message):
    __slots__ = ("follower_id", "master_id", "config_id", "instrument", "side", "quantity", "expected_price", "reference_price", "equity", "positions", "master_fill_time", "returns")
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_PRICE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_PRICE_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    MASTER_FILL_TIME_FIELD_NUMBER: _ClassVar[int]
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    follower_id: str
    master_id: str
    config_id: str
    instrument: _trading_pb2.Instrument
    side: _trading_pb2.Side
    quantity: str
    expected_price: str
    reference_price: str
    equity: str
    positions: _containers.RepeatedCompositeFieldContainer[_trading_pb2.Position]
    master_fill_time: _timestamp_pb2.Timestamp
    returns: _containers.RepeatedCompositeFieldContainer[ReturnSeries]
    def __init__(self, follower_id: _Optional[str] = ..., master_id: _Optional[str] = ..., config_id: _Optional[str] = ..., instrument: _Optional[_Union[_trading_pb2.Instrument, _Mapping]] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., quantity: _Optional[str] = ..., expected_price: _Optional[str] = ..., reference_price: _Optional[str] = ..., equity: _Optional[str] = ..., positions: _Optional[_Iterable[_Union[_trading_pb2.Position, _Mapping]]] = ..., master_fill_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., returns: _Optional[_Iterable[_Union[ReturnSeries, _Mapping]]] = ...) -> None: ...

class ReturnSeries(_message.Message):
    __slots__ = ("symbol", "returns", "periods_per_year")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    returns: _containers.RepeatedScalarFieldContainer[float]
    periods_per_year: float
    def __init__(self, symbol: _Optional[str] = ..., returns: _Optional[_Iterable[float]] = ..., periods_per_year: _Optional[float] = ...) -> None: ...

class CheckOrderRequest(_message.Message):
    __slots__ = ("intent",)
    INTENT_FIELD_NUMBER: _ClassVar[int]
    intent: OrderIntent
    def __init__(self, intent: _Optional[_Union[OrderIntent, _Mapping]] = ...) -> None: ...

class CheckOrderResponse(_message.Message):
    __slots__ = ("decision", "approved_quantity", "refusal", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DECISION_FIELD_NUMBER: _ClassVar[int]
    APPROVED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    approved_quantity: str
    refusal: _trading_pb2.Refusal
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., approved_quantity: _Optional[str] = ..., refusal: _Optional[_Union[_trading_pb2.Refusal, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ReserveOrderRequest(_message.Message):
    __slots__ = ("reservation_id", "intent")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    intent: OrderIntent
    def __init__(self, reservation_id: _Optional[str] = ..., intent: _Optional[_Union[OrderIntent, _Mapping]] = ...) -> None: ...

class ReserveOrderResponse(_message.Message):
    __slots__ = ("decision", "approved_quantity", "refusal", "reservation_id", "expire_time", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DECISION_FIELD_NUMBER: _ClassVar[int]
    APPROVED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    approved_quantity: str
    refusal: _trading_pb2.Refusal
    reservation_id: str
    expire_time: _timestamp_pb2.Timestamp
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., approved_quantity: _Optional[str] = ..., refusal: _Optional[_Union[_trading_pb2.Refusal, _Mapping]] = ..., reservation_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CommitReservationRequest(_message.Message):
    __slots__ = ("reservation_id", "filled_quantity", "fill_price", "realized_pnl")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    FILL_PRICE_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    filled_quantity: str
    fill_price: str
    realized_pnl: str
    def __init__(self, reservation_id: _Optional[str] = ..., filled_quantity: _Optional[str] = ..., fill_price: _Optional[str] = ..., realized_pnl: _Optional[str] = ...) -> None: ...

class CommitReservationResponse(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class ReleaseReservationRequest(_message.Message):
    __slots__ = ("reservation_id", "reason")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    reason: str
    def __init__(self, reservation_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReleaseReservationResponse(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class RecordAccountSnapshotRequest(_message.Message):
    __slots__ = ("user_id", "equity", "realized_pnl", "unrealized_pnl", "snapshot_time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    equity: str
    realized_pnl: str
    unrealized_pnl: str
    snapshot_time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., equity: _Optional[str] = ..., realized_pnl: _Optional[str] = ..., unrealized_pnl: _Optional[str] = ..., snapshot_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordAccountSnapshotResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _trading_pb2.TradingState
    def __init__(self, state: _Optional[_Union[_trading_pb2.TradingState, str]] = ...) -> None: ...

class TradingScope(_message.Message):
    __slots__ = ("user_id", "master_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    master_id: str
    def __init__(self, user_id: _Optional[str] = ..., master_id: _Optional[str] = ...) -> None: ...

class TradingStateInfo(_message.Message):
    __slots__ = ("scope", "state", "reason", "changed_by", "change_time", "kill_switch_active")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    KILL_SWITCH_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    scope: TradingScope
    state: _trading_pb2.TradingState
    reason: str
    changed_by: str
    change_time: _timestamp_pb2.Timestamp
    kill_switch_active: bool
    def __init__(self, scope: _Optional[_Union[TradingScope, _Mapping]] = ..., state: _Optional[_Union[_trading_pb2.TradingState, str]] = ..., reason: _Optional[str] = ..., changed_by: _Optional[str] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kill_switch_active: _Optional[bool] = ...) -> None: ...

class GetTradingStateRequest(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: TradingScope
    def __init__(self, scope: _Optional[_Union[TradingScope, _Mapping]] = ...) -> None: ...

class GetTradingStateResponse(_message.Message):
    __slots__ = ("state", "effective_state")
    STATE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_STATE_FIELD_NUMBER: _ClassVar[int]
    state: TradingStateInfo
    effective_state: _trading_pb2.TradingState
    def __init__(self, state: _Optional[_Union[TradingStateInfo, _Mapping]] = ..., effective_state: _Optional[_Union[_trading_pb2.TradingState, str]] = ...) -> None: ...

class SetTradingStateRequest(_message.Message):
    __slots__ = ("scope", "state", "reason")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    scope: TradingScope
    state: _trading_pb2.TradingState
    reason: str
    def __init__(self, scope: _Optional[_Union[TradingScope, _Mapping]] = ..., state: _Optional[_Union[_trading_pb2.TradingState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class SetTradingStateResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: TradingStateInfo
    def __init__(self, state: _Optional[_Union[TradingStateInfo, _Mapping]] = ...) -> None: ...

class ActivateKillSwitchRequest(_message.Message):
    __slots__ = ("scope", "reason")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    scope: TradingScope
    reason: str
    def __init__(self, scope: _Optional[_Union[TradingScope, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ActivateKillSwitchResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: TradingStateInfo
    def __init__(self, state: _Optional[_Union[TradingStateInfo, _Mapping]] = ...) -> None: ...

class ResetTradingStateRequest(_message.Message):
    __slots__ = ("scope", "comment")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    scope: TradingScope
    comment: str
    def __init__(self, scope: _Optional[_Union[TradingScope, _Mapping]] = ..., comment: _Optional[str] = ...) -> None: ...

class ResetTradingStateResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: TradingStateInfo
    def __init__(self, state: _Optional[_Union[TradingStateInfo, _Mapping]] = ...) -> None: ...

class CircuitBreaker(_message.Message):
    __slots__ = ("kind", "tripped", "trip_time", "value", "threshold", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TRIPPED_FIELD_NUMBER: _ClassVar[int]
    TRIP_TIME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: BreakerKind
    tripped: bool
    trip_time: _timestamp_pb2.Timestamp
    value: str
    threshold: str
    reason: str
    def __init__(self, kind: _Optional[_Union[BreakerKind, str]] = ..., tripped: _Optional[bool] = ..., trip_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., value: _Optional[str] = ..., threshold: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ListCircuitBreakersRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListCircuitBreakersResponse(_message.Message):
    __slots__ = ("breakers",)
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    breakers: _containers.RepeatedCompositeFieldContainer[CircuitBreaker]
    def __init__(self, breakers: _Optional[_Iterable[_Union[CircuitBreaker, _Mapping]]] = ...) -> None: ...
