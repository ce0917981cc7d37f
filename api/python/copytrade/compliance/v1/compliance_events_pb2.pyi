import datetime

from copytrade.compliance.v1 import compliance_service_pb2 as _compliance_service_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditEventRecorded(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _compliance_service_pb2.AuditEvent
    def __init__(self, event: _Optional[_Union[_compliance_service_pb2.AuditEvent, _Mapping]] = ...) -> None: ...

class ComplianceAlertRaised(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: _compliance_service_pb2.ComplianceAlert
    def __init__(self, alert: _Optional[_Union[_compliance_service_pb2.ComplianceAlert, _Mapping]] = ...) -> None: ...

class AuditCheckpoint(_message.Message):
    __slots__ = ("chain", "sequence", "hash", "sign_time", "key_id", "signature")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIGN_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    chain: str
    sequence: int
    hash: str
    sign_time: _timestamp_pb2.Timestamp
    key_id: str
    signature: str
    def __init__(self, chain: _Optional[str] = ..., sequence: _Optional[int] = ..., hash: _Optional[str] = ..., sign_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_id: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class KycDecided(_message.Message):
    __slots__ = ("kyc",)
    KYC_FIELD_NUMBER: _ClassVar[int]
    kyc: _compliance_service_pb2.KycVerification
    def __init__(self, kyc: _Optional[_Union[_compliance_service_pb2.KycVerification, _Mapping]] = ...) -> None: ...

class UserTokensRevoked(_message.Message):
    __slots__ = ("user_id", "token_version", "deleted", "reason")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_VERSION_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    token_version: int
    deleted: bool
    reason: str
    def __init__(self, user_id: _Optional[str] = ..., token_version: _Optional[int] = ..., deleted: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...
