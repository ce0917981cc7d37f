import datetime

from copytrade.type.v1 import access_pb2 as _access_pb2
from copytrade.type.v1 import trading_pb2 as _trading_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_FOLLOWER: _ClassVar[Role]
    ROLE_MASTER: _ClassVar[Role]
    ROLE_OPERATOR: _ClassVar[Role]

class KycStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KYC_STATUS_UNSPECIFIED: _ClassVar[KycStatus]
    KYC_STATUS_NOT_SUBMITTED: _ClassVar[KycStatus]
    KYC_STATUS_PENDING: _ClassVar[KycStatus]
    KYC_STATUS_APPROVED: _ClassVar[KycStatus]
    KYC_STATUS_REJECTED: _ClassVar[KycStatus]

class ReportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_FORMAT_UNSPECIFIED: _ClassVar[ReportFormat]
    REPORT_FORMAT_CSV: _ClassVar[ReportFormat]
    REPORT_FORMAT_JSON: _ClassVar[ReportFormat]
ROLE_UNSPECIFIED: Role
ROLE_FOLLOWER: Role
ROLE_MASTER: Role
ROLE_OPERATOR: Role
KYC_STATUS_UNSPECIFIED: KycStatus
KYC_STATUS_NOT_SUBMITTED: KycStatus
KYC_STATUS_PENDING: KycStatus
KYC_STATUS_APPROVED: KycStatus
KYC_STATUS_REJECTED: KycStatus
REPORT_FORMAT_UNSPECIFIED: ReportFormat
REPORT_FORMAT_CSV: ReportFormat
REPORT_FORMAT_JSON: ReportFormat

class User(_message.Message):
    __slots__ = ("user_id", "email", "display_name", "roles", "create_time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    display_name: str
    roles: _containers.RepeatedScalarFieldContainer[Role]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., display_name: _Optional[str] = ..., roles: _Optional[_Iterable[_Union[Role, str]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterUserRequest(_message.Message):
    __slots__ = ("email", "password", "display_name", "roles")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    display_name: str
    roles: _containers.RepeatedScalarFieldContainer[Role]
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., display_name: _Optional[str] = ..., roles: _Optional[_Iterable[_Union[Role, str]]] = ...) -> None: ...

class RegisterUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("email", "password")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("access_token", "expire_time", "user")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    expire_time: _timestamp_pb2.Timestamp
    user: User
    def __init__(self, access_token: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class SetUserRolesRequest(_message.Message):
    __slots__ = ("user_id", "roles")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    roles: _containers.RepeatedScalarFieldContainer[Role]
    def __init__(self, user_id: _Optional[str] = ..., roles: _Optional[_Iterable[_Union[Role, str]]] = ...) -> None: ...

class SetUserRolesResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class DeleteUserResponse(_message.Message):
    __slots__ = ("credentials_shredded",)
    CREDENTIALS_SHREDDED_FIELD_NUMBER: _ClassVar[int]
    credentials_shredded: int
    def __init__(self, credentials_shredded: _Optional[int] = ...) -> None: ...

class ExportUserDataRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ExportUserDataResponse(_message.Message):
    __slots__ = ("content",)
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    content: str
    def __init__(self, content: _Optional[str] = ...) -> None: ...

class KycVerification(_message.Message):
    __slots__ = ("user_id", "status", "legal_name", "country", "document_type", "submit_time", "decide_time", "decided_by", "comment")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LEGAL_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    status: KycStatus
    legal_name: str
    country: str
    document_type: str
    submit_time: _timestamp_pb2.Timestamp
    decide_time: _timestamp_pb2.Timestamp
    decided_by: str
    comment: str
    def __init__(self, user_id: _Optional[str] = ..., status: _Optional[_Union[KycStatus, str]] = ..., legal_name: _Optional[str] = ..., country: _Optional[str] = ..., document_type: _Optional[str] = ..., submit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_by: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class SubmitKycRequest(_message.Message):
    __slots__ = ("user_id", "legal_name", "country", "document_type", "document_number")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LEGAL_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    legal_name: str
    country: str
    document_type: str
    document_number: str
    def __init__(self, user_id: _Optional[str] = ..., legal_name: _Optional[str] = ..., country: _Optional[str] = ..., document_type: _Optional[str] = ..., document_number: _Optional[str] = ...) -> None: ...

class SubmitKycResponse(_message.Message):
    __slots__ = ("kyc",)
    KYC_FIELD_NUMBER: _ClassVar[int]
    kyc: KycVerification
    def __init__(self, kyc: _Optional[_Union[KycVerification, _Mapping]] = ...) -> None: ...

class GetKycRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetKycResponse(_message.Message):
    __slots__ = ("kyc",)
    KYC_FIELD_NUMBER: _ClassVar[int]
    kyc: KycVerification
    def __init__(self, kyc: _Optional[_Union[KycVerification, _Mapping]] = ...) -> None: ...

class DecideKycRequest(_message.Message):
    __slots__ = ("user_id", "approve", "comment")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    approve: bool
    comment: str
    def __init__(self, user_id: _Optional[str] = ..., approve: _Optional[bool] = ..., comment: _Optional[str] = ...) -> None: ...

class DecideKycResponse(_message.Message):
    __slots__ = ("kyc",)
    KYC_FIELD_NUMBER: _ClassVar[int]
    kyc: KycVerification
    def __init__(self, kyc: _Optional[_Union[KycVerification, _Mapping]] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("user_id", "document", "version", "accept_time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    document: str
    version: str
    accept_time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., document: _Optional[str] = ..., version: _Optional[str] = ..., accept_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordConsentRequest(_message.Message):
    __slots__ = ("user_id", "document", "version")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    document: str
    version: str
    def __init__(self, user_id: _Optional[str] = ..., document: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class RecordConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class CheckCopyEligibilityRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class CheckCopyEligibilityResponse(_message.Message):
    __slots__ = ("eligible", "refusal")
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    eligible: bool
    refusal: _trading_pb2.Refusal
    def __init__(self, eligible: _Optional[bool] = ..., refusal: _Optional[_Union[_trading_pb2.Refusal, _Mapping]] = ...) -> None: ...

class Credential(_message.Message):
    __slots__ = ("credential_id", "user_id", "venue", "label", "masked_api_key", "create_time", "update_time")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    MASKED_API_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    user_id: str
    venue: _trading_pb2.Venue
    label: str
    masked_api_key: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, credential_id: _Optional[str] = ..., user_id: _Optional[str] = ..., venue: _Optional[_Union[_trading_pb2.Venue, _Mapping]] = ..., label: _Optional[str] = ..., masked_api_key: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StoreCredentialRequest(_message.Message):
    __slots__ = ("user_id", "venue", "label", "api_key", "api_secret", "passphrase", "request_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    API_SECRET_FIELD_NUMBER: _ClassVar[int]
    PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    venue: _trading_pb2.Venue
    label: str
    api_key: str
    api_secret: str
    passphrase: str
    request_id: str
    def __init__(self, user_id: _Optional[str] = ..., venue: _Optional[_Union[_trading_pb2.Venue, _Mapping]] = ..., label: _Optional[str] = ..., api_key: _Optional[str] = ..., api_secret: _Optional[str] = ..., passphrase: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class StoreCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class ListCredentialsRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListCredentialsResponse(_message.Message):
    __slots__ = ("credentials",)
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[Credential]
    def __init__(self, credentials: _Optional[_Iterable[_Union[Credential, _Mapping]]] = ...) -> None: ...

class UpdateCredentialSecretRequest(_message.Message):
    __slots__ = ("credential_id", "api_key", "api_secret", "passphrase")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    API_SECRET_FIELD_NUMBER: _ClassVar[int]
    PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    api_key: str
    api_secret: str
    passphrase: str
    def __init__(self, credential_id: _Optional[str] = ..., api_key: _Optional[str] = ..., api_secret: _Optional[str] = ..., passphrase: _Optional[str] = ...) -> None: ...

class UpdateCredentialSecretResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class DeleteCredentialRequest(_message.Message):
    __slots__ = ("credential_id",)
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    def __init__(self, credential_id: _Optional[str] = ...) -> None: ...

class DeleteCredentialResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateEncryptionKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateEncryptionKeyResponse(_message.Message):
    __slots__ = ("records_reencrypted",)
    RECORDS_REENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    records_reencrypted: int
    def __init__(self, records_reencrypted: _Optional[int] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("sequence", "occur_time", "actor", "action", "resource", "subject_user_id", "details_json", "hash", "previous_hash")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_USER_ID_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    occur_time: _timestamp_pb2.Timestamp
    actor: str
    action: str
    resource: str
    subject_user_id: str
    details_json: str
    hash: str
    previous_hash: str
    def __init__(self, sequence: _Optional[int] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., resource: _Optional[str] = ..., subject_user_id: _Optional[str] = ..., details_json: _Optional[str] = ..., hash: _Optional[str] = ..., previous_hash: _Optional[str] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("user_id", "action_prefix", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    action_prefix: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., action_prefix: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class VerifyAuditChainRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditChainResponse(_message.Message):
    __slots__ = ("intact", "records_checked", "first_bad_sequence", "problem", "checkpoints_checked", "explanation")
    INTACT_FIELD_NUMBER: _ClassVar[int]
    RECORDS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_BAD_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    intact: bool
    records_checked: int
    first_bad_sequence: int
    problem: str
    checkpoints_checked: int
    explanation: str
    def __init__(self, intact: _Optional[bool] = ..., records_checked: _Optional[int] = ..., first_bad_sequence: _Optional[int] = ..., problem: _Optional[str] = ..., checkpoints_checked: _Optional[int] = ..., explanation: _Optional[str] = ...) -> None: ...

class ExportTradeReportRequest(_message.Message):
    __slots__ = ("user_id", "start_time", "end_time", "format")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    format: ReportFormat
    def __init__(self, user_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., format: _Optional[_Union[ReportFormat, str]] = ...) -> None: ...

class ExportTradeReportResponse(_message.Message):
    __slots__ = ("content_type", "content", "trade_count")
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TRADE_COUNT_FIELD_NUMBER: _ClassVar[int]
    content_type: str
    content: str
    trade_count: int
    def __init__(self, content_type: _Optional[str] = ..., content: _Optional[str] = ..., trade_count: _Optional[int] = ...) -> None: ...

class ComplianceAlert(_message.Message):
    __slots__ = ("alert_id", "user_id", "kind", "message", "metadata", "raise_time")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RAISE_TIME_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    user_id: str
    kind: str
    message: str
    metadata: _containers.ScalarMap[str, str]
    raise_time: _timestamp_pb2.Timestamp
    def __init__(self, alert_id: _Optional[str] = ..., user_id: _Optional[str] = ..., kind: _Optional[str] = ..., message: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., raise_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListComplianceAlertsRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListComplianceAlertsResponse(_message.Message):
    __slots__ = ("alerts", "next_page_token")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[ComplianceAlert]
    next_page_token: str
    def __init__(self, alerts: _Optional[_Iterable[_Union[ComplianceAlert, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
