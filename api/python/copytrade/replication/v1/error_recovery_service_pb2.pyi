import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_TYPE_UNSPECIFIED: _ClassVar[ErrorType]
    ERROR_TYPE_NETWORK: _ClassVar[ErrorType]
    ERROR_TYPE_RATE_LIMIT: _ClassVar[ErrorType]
    ERROR_TYPE_TIMEOUT: _ClassVar[ErrorType]
    ERROR_TYPE_PLATFORM: _ClassVar[ErrorType]
    ERROR_TYPE_REJECTED: _ClassVar[ErrorType]
    ERROR_TYPE_UNKNOWN_OUTCOME: _ClassVar[ErrorType]

class ErrorStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_STATUS_UNSPECIFIED: _ClassVar[ErrorStatus]
    ERROR_STATUS_PENDING_RETRY: _ClassVar[ErrorStatus]
    ERROR_STATUS_RETRYING: _ClassVar[ErrorStatus]
    ERROR_STATUS_SUCCEEDED: _ClassVar[ErrorStatus]
    ERROR_STATUS_NEEDS_ATTENTION: _ClassVar[ErrorStatus]
    ERROR_STATUS_CANCELED: _ClassVar[ErrorStatus]
    ERROR_STATUS_RESOLVED: _ClassVar[ErrorStatus]
    ERROR_STATUS_STALE: _ClassVar[ErrorStatus]

class DiscrepancyCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISCREPANCY_CAUSE_UNSPECIFIED: _ClassVar[DiscrepancyCause]
    DISCREPANCY_CAUSE_MISSED_COPY: _ClassVar[DiscrepancyCause]
    DISCREPANCY_CAUSE_PARTIAL_FILL: _ClassVar[DiscrepancyCause]
    DISCREPANCY_CAUSE_MANUAL_TRADE: _ClassVar[DiscrepancyCause]
    DISCREPANCY_CAUSE_REFUSED_BY_RISK: _ClassVar[DiscrepancyCause]
    DISCREPANCY_CAUSE_UNKNOWN: _ClassVar[DiscrepancyCause]
ERROR_TYPE_UNSPECIFIED: ErrorType
ERROR_TYPE_NETWORK: ErrorType
ERROR_TYPE_RATE_LIMIT: ErrorType
ERROR_TYPE_TIMEOUT: ErrorType
ERROR_TYPE_PLATFORM: ErrorType
ERROR_TYPE_REJECTED: ErrorType
ERROR_TYPE_UNKNOWN_OUTCOME: ErrorType
ERROR_STATUS_UNSPECIFIED: ErrorStatus
ERROR_STATUS_PENDING_RETRY: ErrorStatus
ERROR_STATUS_RETRYING: ErrorStatus
ERROR_STATUS_SUCCEEDED: ErrorStatus
ERROR_STATUS_NEEDS_ATTENTION: ErrorStatus
ERROR_STATUS_CANCELED: ErrorStatus
ERROR_STATUS_RESOLVED: ErrorStatus
ERROR_STATUS_STALE: ErrorStatus
DISCREPANCY_CAUSE_UNSPECIFIED: DiscrepancyCause
DISCREPANCY_CAUSE_MISSED_COPY: DiscrepancyCause
DISCREPANCY_CAUSE_PARTIAL_FILL: DiscrepancyCause
DISCREPANCY_CAUSE_MANUAL_TRADE: DiscrepancyCause
DISCREPANCY_CAUSE_REFUSED_BY_RISK: DiscrepancyCause
DISCREPANCY_CAUSE_UNKNOWN: DiscrepancyCause

class ErrorEvent(_message.Message):
    __slots__ = ("error_id", "error_type", "status", "venue_id", "follower_id", "config_id", "order_id", "message", "attempt_count", "next_attempt_time", "create_time", "update_time", "resolution_comment")
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_COMMENT_FIELD_NUMBER: _ClassVar[int]
    error_id: str
    error_type: ErrorType
    status: ErrorStatus
    venue_id: str
    follower_id: str
    config_id: str
    order_id: str
    message: str
    attempt_count: int
    next_attempt_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    resolution_comment: str
    def __init__(self, error_id: _Optional[str] = ..., error_type: _Optional[_Union[ErrorType, str]] = ..., status: _Optional[_Union[ErrorStatus, str]] = ..., venue_id: _Optional[str] = ..., follower_id: _Optional[str] = ..., config_id: _Optional[str] = ..., order_id: _Optional[str] = ..., message: _Optional[str] = ..., attempt_count: _Optional[int] = ..., next_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution_comment: _Optional[str] = ...) -> None: ...

class LogErrorRequest(_message.Message):
    __slots__ = ("error_type", "venue_id", "follower_id", "config_id", "order_id", "message", "retry_after_seconds")
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    error_type: ErrorType
    venue_id: str
    follower_id: str
    config_id: str
    order_id: str
    message: str
    retry_after_seconds: int
    def __init__(self, error_type: _Optional[_Union[ErrorType, str]] = ..., venue_id: _Optional[str] = ..., follower_id: _Optional[str] = ..., config_id: _Optional[str] = ..., order_id: _Optional[str] = ..., message: _Optional[str] = ..., retry_after_seconds: _Optional[int] = ...) -> None: ...

class LogErrorResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ErrorEvent
    def __init__(self, event: _Optional[_Union[ErrorEvent, _Mapping]] = ...) -> None: ...

class ListPendingRetriesRequest(_message.Message):
    __slots__ = ("follower_id", "page_size", "page_token")
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    follower_id: str
    page_size: int
    page_token: str
    def __init__(self, follower_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPendingRetriesResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ErrorEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[ErrorEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ProcessRetryRequest(_message.Message):
    __slots__ = ("error_id",)
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    error_id: str
    def __init__(self, error_id: _Optional[str] = ...) -> None: ...

class ProcessRetryResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ErrorEvent
    def __init__(self, event: _Optional[_Union[ErrorEvent, _Mapping]] = ...) -> None: ...

class CancelRetryRequest(_message.Message):
    __slots__ = ("error_id", "comment")
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    error_id: str
    comment: str
    def __init__(self, error_id: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class CancelRetryResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ErrorEvent
    def __init__(self, event: _Optional[_Union[ErrorEvent, _Mapping]] = ...) -> None: ...

class ResolveErrorRequest(_message.Message):
    __slots__ = ("error_id", "comment")
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    error_id: str
    comment: str
    def __init__(self, error_id: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class ResolveErrorResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ErrorEvent
    def __init__(self, event: _Optional[_Union[ErrorEvent, _Mapping]] = ...) -> None: ...

class Discrepancy(_message.Message):
    __slots__ = ("symbol", "follower_position", "target_position", "difference", "cause")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_POSITION_FIELD_NUMBER: _ClassVar[int]
    TARGET_POSITION_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    follower_position: str
    target_position: str
    difference: str
    cause: DiscrepancyCause
    def __init__(self, symbol: _Optional[str] = ..., follower_position: _Optional[str] = ..., target_position: _Optional[str] = ..., difference: _Optional[str] = ..., cause: _Optional[_Union[DiscrepancyCause, str]] = ...) -> None: ...

class ReconciliationResult(_message.Message):
    __slots__ = ("result_id", "config_id", "run_time", "in_sync", "discrepancies", "resolution")
    RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_TIME_FIELD_NUMBER: _ClassVar[int]
    IN_SYNC_FIELD_NUMBER: _ClassVar[int]
    DISCREPANCIES_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    result_id: str
    config_id: str
    run_time: _timestamp_pb2.Timestamp
    in_sync: bool
    discrepancies: _containers.RepeatedCompositeFieldContainer[Discrepancy]
    resolution: str
    def __init__(self, result_id: _Optional[str] = ..., config_id: _Optional[str] = ..., run_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., in_sync: _Optional[bool] = ..., discrepancies: _Optional[_Iterable[_Union[Discrepancy, _Mapping]]] = ..., resolution: _Optional[str] = ...) -> None: ...

class ReconcileTradeRequest(_message.Message):
    __slots__ = ("config_id", "order_id", "dry_run")
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    order_id: str
    dry_run: bool
    def __init__(self, config_id: _Optional[str] = ..., order_id: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ReconcileTradeResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ReconciliationResult
    def __init__(self, result: _Optional[_Union[ReconciliationResult, _Mapping]] = ...) -> None: ...

class ForceResyncRequest(_message.Message):
    __slots__ = ("config_id",)
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    def __init__(self, config_id: _Optional[str] = ...) -> None: ...

class ForceResyncResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ReconciliationResult
    def __init__(self, result: _Optional[_Union[ReconciliationResult, _Mapping]] = ...) -> None: ...

class ListReconciliationResultsRequest(_message.Message):
    __slots__ = ("config_id", "page_size", "page_token")
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    page_size: int
    page_token: str
    def __init__(self, config_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReconciliationResultsResponse(_message.Message):
    __slots__ = ("results", "next_page_token")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ReconciliationResult]
    next_page_token: str
    def __init__(self, results: _Optional[_Iterable[_Union[ReconciliationResult, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
