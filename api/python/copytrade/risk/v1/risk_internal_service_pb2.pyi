from copytrade.risk.v1 import risk_service_pb2 as _risk_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReserveOrdersRequest(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[_risk_service_pb2.ReserveOrderRequest]
    def __init__(self, orders: _Optional[_Iterable[_Union[_risk_service_pb2.ReserveOrderRequest, _Mapping]]] = ...) -> None: ...

class ReserveOrdersResponse(_message.Message):
    __slots__ = ("decisions",)
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[_risk_service_pb2.ReserveOrderResponse]
    def __init__(self, decisions: _Optional[_Iterable[_Union[_risk_service_pb2.ReserveOrderResponse, _Mapping]]] = ...) -> None: ...

class ReservationCommit(_message.Message):
    __slots__ = ("follower_id", "commit")
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    follower_id: str
    commit: _risk_service_pb2.CommitReservationRequest
    def __init__(self, follower_id: _Optional[str] = ..., commit: _Optional[_Union[_risk_service_pb2.CommitReservationRequest, _Mapping]] = ...) -> None: ...

class CommitReservationsRequest(_message.Message):
    __slots__ = ("commits",)
    COMMITS_FIELD_NUMBER: _ClassVar[int]
    commits: _containers.RepeatedCompositeFieldContainer[ReservationCommit]
    def __init__(self, commits: _Optional[_Iterable[_Union[ReservationCommit, _Mapping]]] = ...) -> None: ...

class CommitReservationsResponse(_message.Message):
    __slots__ = ("reservation_ids",)
    RESERVATION_IDS_FIELD_NUMBER: _ClassVar[int]
    reservation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reservation_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReservationRelease(_message.Message):
    __slots__ = ("follower_id", "release")
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    follower_id: str
    release: _risk_service_pb2.ReleaseReservationRequest
    def __init__(self, follower_id: _Optional[str] = ..., release: _Optional[_Union[_risk_service_pb2.ReleaseReservationRequest, _Mapping]] = ...) -> None: ...

class ReleaseReservationsRequest(_message.Message):
    __slots__ = ("releases",)
    RELEASES_FIELD_NUMBER: _ClassVar[int]
    releases: _containers.RepeatedCompositeFieldContainer[ReservationRelease]
    def __init__(self, releases: _Optional[_Iterable[_Union[ReservationRelease, _Mapping]]] = ...) -> None: ...

class ReleaseReservationsResponse(_message.Message):
    __slots__ = ("reservation_ids",)
    RESERVATION_IDS_FIELD_NUMBER: _ClassVar[int]
    reservation_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reservation_ids: _Optional[_Iterable[str]] = ...) -> None: ...
