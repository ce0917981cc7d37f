from copytrade.type.v1 import trading_pb2 as _trading_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FetchCredentialRequest(_message.Message):
    __slots__ = ("credential_id", "user_id")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    user_id: str
    def __init__(self, credential_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class FetchCredentialResponse(_message.Message):
    __slots__ = ("venue", "api_key", "api_secret", "passphrase")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    API_SECRET_FIELD_NUMBER: _ClassVar[int]
    PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    venue: _trading_pb2.Venue
    api_key: str
    api_secret: str
    passphrase: str
    def __init__(self, venue: _Optional[_Union[_trading_pb2.Venue, _Mapping]] = ..., api_key: _Optional[str] = ..., api_secret: _Optional[str] = ..., passphrase: _Optional[str] = ...) -> None: ...

class FetchCredentialsRequest(_message.Message):
    __slots__ = ("credentials",)
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[FetchCredentialRequest]
    def __init__(self, credentials: _Optional[_Iterable[_Union[FetchCredentialRequest, _Mapping]]] = ...) -> None: ...

class FetchCredentialsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[FetchedCredential]
    def __init__(self, results: _Optional[_Iterable[_Union[FetchedCredential, _Mapping]]] = ...) -> None: ...

class FetchedCredential(_message.Message):
    __slots__ = ("credential_id", "credential", "error_reason", "error_message")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    credential: FetchCredentialResponse
    error_reason: str
    error_message: str
    def __init__(self, credential_id: _Optional[str] = ..., credential: _Optional[_Union[FetchCredentialResponse, _Mapping]] = ..., error_reason: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class RecordAuditEventRequest(_message.Message):
    __slots__ = ("actor", "action", "resource", "subject_user_id", "details_json", "event_id")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_USER_ID_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    actor: str
    action: str
    resource: str
    subject_user_id: str
    details_json: str
    event_id: str
    def __init__(self, actor: _Optional[str] = ..., action: _Optional[str] = ..., resource: _Optional[str] = ..., subject_user_id: _Optional[str] = ..., details_json: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...

class RecordAuditEventResponse(_message.Message):
    __slots__ = ("sequence",)
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    def __init__(self, sequence: _Optional[int] = ...) -> None: ...

class VerifyCredentialOwnerRequest(_message.Message):
    __slots__ = ("credential_id", "user_id")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    user_id: str
    def __init__(self, credential_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class VerifyCredentialOwnerResponse(_message.Message):
    __slots__ = ("owned",)
    OWNED_FIELD_NUMBER: _ClassVar[int]
    owned: bool
    def __init__(self, owned: _Optional[bool] = ...) -> None: ...
