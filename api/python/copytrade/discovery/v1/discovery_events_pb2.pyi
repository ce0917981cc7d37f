import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PerformanceStatsUpdated(_message.Message):
    __slots__ = ("trader_id", "roi_all_time", "max_drawdown_all_time", "update_time")
    TRADER_ID_FIELD_NUMBER: _ClassVar[int]
    ROI_ALL_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_ALL_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    trader_id: str
    roi_all_time: str
    max_drawdown_all_time: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, trader_id: _Optional[str] = ..., roi_all_time: _Optional[str] = ..., max_drawdown_all_time: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
