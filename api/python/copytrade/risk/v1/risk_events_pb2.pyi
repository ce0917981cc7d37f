import datetime

from copytrade.risk.v1 import risk_service_pb2 as _risk_service_pb2
from copytrade.type.v1 import trading_pb2 as _trading_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TradingStateChanged(_message.Message):
    __slots__ = ("event_id", "scope", "previous_state", "state", "reason", "changed_by", "kill_switch_active", "occur_time")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    KILL_SWITCH_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    scope: _risk_service_pb2.TradingScope
    previous_state: _trading_pb2.TradingState
    state: _trading_pb2.TradingState
    reason: str
    changed_by: str
    kill_switch_active: bool
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., scope: _Optional[_Union[_risk_service_pb2.TradingScope, _Mapping]] = ..., previous_state: _Optional[_Union[_trading_pb2.TradingState, str]] = ..., state: _Optional[_Union[_trading_pb2.TradingState, str]] = ..., reason: _Optional[str] = ..., changed_by: _Optional[str] = ..., kill_switch_active: _Optional[bool] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CircuitBreakerTripped(_message.Message):
    __slots__ = ("event_id", "user_id", "breaker", "occur_time")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    user_id: str
    breaker: _risk_service_pb2.CircuitBreaker
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., user_id: _Optional[str] = ..., breaker: _Optional[_Union[_risk_service_pb2.CircuitBreaker, _Mapping]] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RiskLimitsChanged(_message.Message):
    __slots__ = ("event_id", "user_id", "limits", "changed_by", "occur_time")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    user_id: str
    limits: _risk_service_pb2.RiskLimits
    changed_by: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., user_id: _Optional[str] = ..., limits: _Optional[_Union[_risk_service_pb2.RiskLimits, _Mapping]] = ..., changed_by: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
