import datetime

from copytrade.replication.v1 import replication_events_pb2 as _replication_events_pb2
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

class AccountRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_ROLE_UNSPECIFIED: _ClassVar[AccountRole]
    ACCOUNT_ROLE_MASTER: _ClassVar[AccountRole]
    ACCOUNT_ROLE_FOLLOWER: _ClassVar[AccountRole]

class SizingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIZING_MODE_UNSPECIFIED: _ClassVar[SizingMode]
    SIZING_MODE_FIXED_QUANTITY: _ClassVar[SizingMode]
    SIZING_MODE_MULTIPLIER: _ClassVar[SizingMode]
    SIZING_MODE_EQUITY_PROPORTIONAL: _ClassVar[SizingMode]
    SIZING_MODE_FIXED_NOTIONAL: _ClassVar[SizingMode]
    SIZING_MODE_RISK_PERCENT: _ClassVar[SizingMode]

class FeedOutagePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEED_OUTAGE_POLICY_UNSPECIFIED: _ClassVar[FeedOutagePolicy]
    FEED_OUTAGE_POLICY_FREEZE: _ClassVar[FeedOutagePolicy]
    FEED_OUTAGE_POLICY_FLATTEN: _ClassVar[FeedOutagePolicy]
    FEED_OUTAGE_POLICY_RESYNC: _ClassVar[FeedOutagePolicy]

class DriftPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DRIFT_POLICY_UNSPECIFIED: _ClassVar[DriftPolicy]
    DRIFT_POLICY_ALERT_ONLY: _ClassVar[DriftPolicy]
    DRIFT_POLICY_RESYNC: _ClassVar[DriftPolicy]
    DRIFT_POLICY_FLATTEN: _ClassVar[DriftPolicy]

class SessionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATE_UNSPECIFIED: _ClassVar[SessionState]
    SESSION_STATE_ACTIVE: _ClassVar[SessionState]
    SESSION_STATE_PAUSED: _ClassVar[SessionState]
    SESSION_STATE_STOPPED: _ClassVar[SessionState]
    SESSION_STATE_FROZEN: _ClassVar[SessionState]
ACCOUNT_ROLE_UNSPECIFIED: AccountRole
ACCOUNT_ROLE_MASTER: AccountRole
ACCOUNT_ROLE_FOLLOWER: AccountRole
SIZING_MODE_UNSPECIFIED: SizingMode
SIZING_MODE_FIXED_QUANTITY: SizingMode
SIZING_MODE_MULTIPLIER: SizingMode
SIZING_MODE_EQUITY_PROPORTIONAL: SizingMode
SIZING_MODE_FIXED_NOTIONAL: SizingMode
SIZING_MODE_RISK_PERCENT: SizingMode
FEED_OUTAGE_POLICY_UNSPECIFIED: FeedOutagePolicy
FEED_OUTAGE_POLICY_FREEZE: FeedOutagePolicy
FEED_OUTAGE_POLICY_FLATTEN: FeedOutagePolicy
FEED_OUTAGE_POLICY_RESYNC: FeedOutagePolicy
DRIFT_POLICY_UNSPECIFIED: DriftPolicy
DRIFT_POLICY_ALERT_ONLY: DriftPolicy
DRIFT_POLICY_RESYNC: DriftPolicy
DRIFT_POLICY_FLATTEN: DriftPolicy
SESSION_STATE_UNSPECIFIED: SessionState
SESSION_STATE_ACTIVE: SessionState
SESSION_STATE_PAUSED: SessionState
SESSION_STATE_STOPPED: SessionState
SESSION_STATE_FROZEN: SessionState

class VenueAccount(_message.Message):
    __slots__ = ("account_id", "user_id", "role", "venue", "credential_id", "label", "watch_fills", "create_time")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    WATCH_FILLS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    user_id: str
    role: AccountRole
    venue: _trading_pb2.Venue
    credential_id: str
    label: str
    watch_fills: bool
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[AccountRole, str]] = ..., venue: _Optional[_Union[_trading_pb2.Venue, _Mapping]] = ..., credential_id: _Optional[str] = ..., label: _Optional[str] = ..., watch_fills: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateVenueAccountRequest(_message.Message):
    __slots__ = ("user_id", "role", "venue", "credential_id", "label", "watch_fills", "request_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    WATCH_FILLS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    role: AccountRole
    venue: _trading_pb2.Venue
    credential_id: str
    label: str
    watch_fills: bool
    request_id: str
    def __init__(self, user_id: _Optional[str] = ..., role: _Optional[_Union[AccountRole, str]] = ..., venue: _Optional[_Union[_trading_pb2.Venue, _Mapping]] = ..., credential_id: _Optional[str] = ..., label: _Optional[str] = ..., watch_fills: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateVenueAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: VenueAccount
    def __init__(self, account: _Optional[_Union[VenueAccount, _Mapping]] = ...) -> None: ...

class GetVenueAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class GetVenueAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: VenueAccount
    def __init__(self, account: _Optional[_Union[VenueAccount, _Mapping]] = ...) -> None: ...

class ListVenueAccountsRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVenueAccountsResponse(_message.Message):
    __slots__ = ("accounts", "next_page_token")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[VenueAccount]
    next_page_token: str
    def __init__(self, accounts: _Optional[_Iterable[_Union[VenueAccount, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteVenueAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class DeleteVenueAccountResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MasterAccess(_message.Message):
    __slots__ = ("account_id", "private")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    private: bool
    def __init__(self, account_id: _Optional[str] = ..., private: _Optional[bool] = ...) -> None: ...

class AllowedFollower(_message.Message):
    __slots__ = ("account_id", "follower_id", "create_time")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    follower_id: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., follower_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetMasterAccessRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class GetMasterAccessResponse(_message.Message):
    __slots__ = ("access",)
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    access: MasterAccess
    def __init__(self, access: _Optional[_Union[MasterAccess, _Mapping]] = ...) -> None: ...

class SetMasterAccessRequest(_message.Message):
    __slots__ = ("account_id", "private")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    private: bool
    def __init__(self, account_id: _Optional[str] = ..., private: _Optional[bool] = ...) -> None: ...

class SetMasterAccessResponse(_message.Message):
    __slots__ = ("access", "stopped_config_ids")
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_CONFIG_IDS_FIELD_NUMBER: _ClassVar[int]
    access: MasterAccess
    stopped_config_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, access: _Optional[_Union[MasterAccess, _Mapping]] = ..., stopped_config_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AllowFollowerRequest(_message.Message):
    __slots__ = ("account_id", "follower_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    follower_id: str
    def __init__(self, account_id: _Optional[str] = ..., follower_id: _Optional[str] = ...) -> None: ...

class AllowFollowerResponse(_message.Message):
    __slots__ = ("allowed",)
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    allowed: AllowedFollower
    def __init__(self, allowed: _Optional[_Union[AllowedFollower, _Mapping]] = ...) -> None: ...

class RemoveAllowedFollowerRequest(_message.Message):
    __slots__ = ("account_id", "follower_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    follower_id: str
    def __init__(self, account_id: _Optional[str] = ..., follower_id: _Optional[str] = ...) -> None: ...

class RemoveAllowedFollowerResponse(_message.Message):
    __slots__ = ("stopped_config_ids",)
    STOPPED_CONFIG_IDS_FIELD_NUMBER: _ClassVar[int]
    stopped_config_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, stopped_config_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAllowedFollowersRequest(_message.Message):
    __slots__ = ("account_id", "page_size", "page_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    page_token: str
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAllowedFollowersResponse(_message.Message):
    __slots__ = ("followers", "next_page_token")
    FOLLOWERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    followers: _containers.RepeatedCompositeFieldContainer[AllowedFollower]
    next_page_token: str
    def __init__(self, followers: _Optional[_Iterable[_Union[AllowedFollower, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SymbolMapping(_message.Message):
    __slots__ = ("master_symbol", "follower_symbol", "contract_ratio")
    MASTER_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_RATIO_FIELD_NUMBER: _ClassVar[int]
    master_symbol: str
    follower_symbol: str
    contract_ratio: str
    def __init__(self, master_symbol: _Optional[str] = ..., follower_symbol: _Optional[str] = ..., contract_ratio: _Optional[str] = ...) -> None: ...

class CopySettings(_message.Message):
    __slots__ = ("sizing_mode", "fixed_quantity", "multiplier", "fixed_notional", "risk_percent", "stop_distance", "allocated_capital", "symbol_map", "reverse", "allowed_symbols", "denied_symbols", "max_slippage", "copy_open_positions", "feed_outage_policy", "drift_policy", "mirror_resting_orders", "mirror_stop_orders", "protective_stop_loss", "protective_take_profit", "max_fill_age_seconds", "limit_at_tolerance")
    SIZING_MODE_FIELD_NUMBER: _ClassVar[int]
    FIXED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    FIXED_NOTIONAL_FIELD_NUMBER: _ClassVar[int]
    RISK_PERCENT_FIELD_NUMBER: _ClassVar[int]
    STOP_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_CAPITAL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_MAP_FIELD_NUMBER: _ClassVar[int]
    REVERSE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    DENIED_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    MAX_SLIPPAGE_FIELD_NUMBER: _ClassVar[int]
    COPY_OPEN_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    FEED_OUTAGE_POLICY_FIELD_NUMBER: _ClassVar[int]
    DRIFT_POLICY_FIELD_NUMBER: _ClassVar[int]
    MIRROR_RESTING_ORDERS_FIELD_NUMBER: _ClassVar[int]
    MIRROR_STOP_ORDERS_FIELD_NUMBER: _ClassVar[int]
    PROTECTIVE_STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    PROTECTIVE_TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    MAX_FILL_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_AT_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    sizing_mode: SizingMode
    fixed_quantity: str
    multiplier: str
    fixed_notional: str
    risk_percent: str
    stop_distance: str
    allocated_capital: str
    symbol_map: _containers.RepeatedCompositeFieldContainer[SymbolMapping]
    reverse: bool
    allowed_symbols: _containers.RepeatedScalarFieldContainer[str]
    denied_symbols: _containers.RepeatedScalarFieldContainer[str]
    max_slippage: str
    copy_open_positions: bool
    feed_outage_policy: FeedOutagePolicy
    drift_policy: DriftPolicy
    mirror_resting_orders: bool
    mirror_stop_orders: bool
    protective_stop_loss: ProtectiveLevel
    protective_take_profit: ProtectiveLevel
    max_fill_age_seconds: str
    limit_at_tolerance: bool
    def __init__(self, sizing_mode: _Optional[_Union[SizingMode, str]] = ..., fixed_quantity: _Optional[str] = ..., multiplier: _Optional[str] = ..., fixed_notional: _Optional[str] = ..., risk_percent: _Optional[str] = ..., stop_distance: _Optional[str] = ..., allocated_capital: _Optional[str] = ..., symbol_map: _Optional[_Iterable[_Union[SymbolMapping, _Mapping]]] = ..., reverse: _Optional[bool] = ..., allowed_symbols: _Optional[_Iterable[str]] = ..., denied_symbols: _Optional[_Iterable[str]] = ..., max_slippage: _Optional[str] = ..., copy_open_positions: _Optional[bool] = ..., feed_outage_policy: _Optional[_Union[FeedOutagePolicy, str]] = ..., drift_policy: _Optional[_Union[DriftPolicy, str]] = ..., mirror_resting_orders: _Optional[bool] = ..., mirror_stop_orders: _Optional[bool] = ..., protective_stop_loss: _Optional[_Union[ProtectiveLevel, _Mapping]] = ..., protective_take_profit: _Optional[_Union[ProtectiveLevel, _Mapping]] = ..., max_fill_age_seconds: _Optional[str] = ..., limit_at_tolerance: _Optional[bool] = ...) -> None: ...

class ProtectiveLevel(_message.Message):
    __slots__ = ("fraction", "price")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    fraction: str
    price: str
    def __init__(self, fraction: _Optional[str] = ..., price: _Optional[str] = ...) -> None: ...

class CopySession(_message.Message):
    __slots__ = ("config_id", "follower_id", "follower_account_id", "master_id", "master_account_id", "settings", "state", "state_reason", "create_time", "update_time")
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    follower_id: str
    follower_account_id: str
    master_id: str
    master_account_id: str
    settings: CopySettings
    state: SessionState
    state_reason: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, config_id: _Optional[str] = ..., follower_id: _Optional[str] = ..., follower_account_id: _Optional[str] = ..., master_id: _Optional[str] = ..., master_account_id: _Optional[str] = ..., settings: _Optional[_Union[CopySettings, _Mapping]] = ..., state: _Optional[_Union[SessionState, str]] = ..., state_reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CopySessionStats(_message.Message):
    __slots__ = ("master_fills_seen", "orders_placed", "orders_filled", "copies_refused", "copies_failed", "latency_p50_ms", "latency_p99_ms", "last_copy_time")
    MASTER_FILLS_SEEN_FIELD_NUMBER: _ClassVar[int]
    ORDERS_PLACED_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FILLED_FIELD_NUMBER: _ClassVar[int]
    COPIES_REFUSED_FIELD_NUMBER: _ClassVar[int]
    COPIES_FAILED_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_COPY_TIME_FIELD_NUMBER: _ClassVar[int]
    master_fills_seen: int
    orders_placed: int
    orders_filled: int
    copies_refused: int
    copies_failed: int
    latency_p50_ms: float
    latency_p99_ms: float
    last_copy_time: _timestamp_pb2.Timestamp
    def __init__(self, master_fills_seen: _Optional[int] = ..., orders_placed: _Optional[int] = ..., orders_filled: _Optional[int] = ..., copies_refused: _Optional[int] = ..., copies_failed: _Optional[int] = ..., latency_p50_ms: _Optional[float] = ..., latency_p99_ms: _Optional[float] = ..., last_copy_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartCopySessionRequest(_message.Message):
    __slots__ = ("follower_id", "follower_account_id", "master_account_id", "settings", "request_id")
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    follower_id: str
    follower_account_id: str
    master_account_id: str
    settings: CopySettings
    request_id: str
    def __init__(self, follower_id: _Optional[str] = ..., follower_account_id: _Optional[str] = ..., master_account_id: _Optional[str] = ..., settings: _Optional[_Union[CopySettings, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class StartCopySessionResponse(_message.Message):
    __slots__ = ("session", "joined_orders")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    JOINED_ORDERS_FIELD_NUMBER: _ClassVar[int]
    session: CopySession
    joined_orders: _containers.RepeatedCompositeFieldContainer[_replication_events_pb2.FollowerOrder]
    def __init__(self, session: _Optional[_Union[CopySession, _Mapping]] = ..., joined_orders: _Optional[_Iterable[_Union[_replication_events_pb2.FollowerOrder, _Mapping]]] = ...) -> None: ...

class StopCopySessionRequest(_message.Message):
    __slots__ = ("config_id", "reason", "close_positions")
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CLOSE_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    reason: str
    close_positions: bool
    def __init__(self, config_id: _Optional[str] = ..., reason: _Optional[str] = ..., close_positions: _Optional[bool] = ...) -> None: ...

class StopCopySessionResponse(_message.Message):
    __slots__ = ("session", "close_resolution")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    CLOSE_RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    session: CopySession
    close_resolution: str
    def __init__(self, session: _Optional[_Union[CopySession, _Mapping]] = ..., close_resolution: _Optional[str] = ...) -> None: ...

class PauseCopySessionRequest(_message.Message):
    __slots__ = ("config_id", "reason")
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    reason: str
    def __init__(self, config_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PauseCopySessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: CopySession
    def __init__(self, session: _Optional[_Union[CopySession, _Mapping]] = ...) -> None: ...

class ResumeCopySessionRequest(_message.Message):
    __slots__ = ("config_id",)
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    def __init__(self, config_id: _Optional[str] = ...) -> None: ...

class ResumeCopySessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: CopySession
    def __init__(self, session: _Optional[_Union[CopySession, _Mapping]] = ...) -> None: ...

class GetCopySessionStatusRequest(_message.Message):
    __slots__ = ("config_id",)
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    def __init__(self, config_id: _Optional[str] = ...) -> None: ...

class GetCopySessionStatusResponse(_message.Message):
    __slots__ = ("session", "stats")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    session: CopySession
    stats: CopySessionStats
    def __init__(self, session: _Optional[_Union[CopySession, _Mapping]] = ..., stats: _Optional[_Union[CopySessionStats, _Mapping]] = ...) -> None: ...

class ListCopySessionsRequest(_message.Message):
    __slots__ = ("follower_id", "master_id", "page_size", "page_token")
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    follower_id: str
    master_id: str
    page_size: int
    page_token: str
    def __init__(self, follower_id: _Optional[str] = ..., master_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCopySessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[CopySession]
    next_page_token: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[CopySession, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCopySettingsRequest(_message.Message):
    __slots__ = ("config_id", "settings", "update_mask")
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    settings: CopySettings
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, config_id: _Optional[str] = ..., settings: _Optional[_Union[CopySettings, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateCopySettingsResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: CopySession
    def __init__(self, session: _Optional[_Union[CopySession, _Mapping]] = ...) -> None: ...

class SubmitMasterFillRequest(_message.Message):
    __slots__ = ("master_account_id", "venue_trade_id", "venue_order_id", "symbol", "side", "quantity", "price", "order_type", "execute_time", "fee", "fee_currency", "master_equity")
    MASTER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    FEE_CURRENCY_FIELD_NUMBER: _ClassVar[int]
    MASTER_EQUITY_FIELD_NUMBER: _ClassVar[int]
    master_account_id: str
    venue_trade_id: str
    venue_order_id: str
    symbol: str
    side: _trading_pb2.Side
    quantity: str
    price: str
    order_type: _trading_pb2.OrderType
    execute_time: _timestamp_pb2.Timestamp
    fee: str
    fee_currency: str
    master_equity: str
    def __init__(self, master_account_id: _Optional[str] = ..., venue_trade_id: _Optional[str] = ..., venue_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., order_type: _Optional[_Union[_trading_pb2.OrderType, str]] = ..., execute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fee: _Optional[str] = ..., fee_currency: _Optional[str] = ..., master_equity: _Optional[str] = ...) -> None: ...

class SubmitMasterFillResponse(_message.Message):
    __slots__ = ("fill", "created")
    FILL_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    fill: _replication_events_pb2.MasterFill
    created: bool
    def __init__(self, fill: _Optional[_Union[_replication_events_pb2.MasterFill, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ListMasterFillsRequest(_message.Message):
    __slots__ = ("master_account_id", "page_size", "page_token")
    MASTER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    master_account_id: str
    page_size: int
    page_token: str
    def __init__(self, master_account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMasterFillsResponse(_message.Message):
    __slots__ = ("fills", "next_page_token")
    FILLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    fills: _containers.RepeatedCompositeFieldContainer[_replication_events_pb2.MasterFill]
    next_page_token: str
    def __init__(self, fills: _Optional[_Iterable[_Union[_replication_events_pb2.MasterFill, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListFollowerOrdersRequest(_message.Message):
    __slots__ = ("follower_id", "config_id", "master_fill_id", "page_size", "page_token")
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_FILL_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    follower_id: str
    config_id: str
    master_fill_id: str
    page_size: int
    page_token: str
    def __init__(self, follower_id: _Optional[str] = ..., config_id: _Optional[str] = ..., master_fill_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFollowerOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[_replication_events_pb2.FollowerOrder]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[_replication_events_pb2.FollowerOrder, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetFollowerOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class GetFollowerOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: _replication_events_pb2.FollowerOrder
    def __init__(self, order: _Optional[_Union[_replication_events_pb2.FollowerOrder, _Mapping]] = ...) -> None: ...

class StreamCopyEventsRequest(_message.Message):
    __slots__ = ("follower_id", "master_id")
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ID_FIELD_NUMBER: _ClassVar[int]
    follower_id: str
    master_id: str
    def __init__(self, follower_id: _Optional[str] = ..., master_id: _Optional[str] = ...) -> None: ...

class StreamCopyEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _replication_events_pb2.CopyEvent
    def __init__(self, event: _Optional[_Union[_replication_events_pb2.CopyEvent, _Mapping]] = ...) -> None: ...

class GetCopySessionPerformanceRequest(_message.Message):
    __slots__ = ("config_id",)
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    def __init__(self, config_id: _Optional[str] = ...) -> None: ...

class CopyPosition(_message.Message):
    __slots__ = ("symbol", "quantity", "entry_price", "mark_price", "unrealized_pnl")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ENTRY_PRICE_FIELD_NUMBER: _ClassVar[int]
    MARK_PRICE_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    quantity: str
    entry_price: str
    mark_price: str
    unrealized_pnl: str
    def __init__(self, symbol: _Optional[str] = ..., quantity: _Optional[str] = ..., entry_price: _Optional[str] = ..., mark_price: _Optional[str] = ..., unrealized_pnl: _Optional[str] = ...) -> None: ...

class PnlPoint(_message.Message):
    __slots__ = ("time", "net_pnl")
    TIME_FIELD_NUMBER: _ClassVar[int]
    NET_PNL_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    net_pnl: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., net_pnl: _Optional[str] = ...) -> None: ...

class CopySessionPerformance(_message.Message):
    __slots__ = ("config_id", "currency", "invested", "realized_pnl", "unrealized_pnl", "fees", "net_pnl", "roi", "volume", "fill_count", "positions", "curve")
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    INVESTED_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    NET_PNL_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    FILL_COUNT_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    CURVE_FIELD_NUMBER: _ClassVar[int]
    config_id: str
    currency: str
    invested: str
    realized_pnl: str
    unrealized_pnl: str
    fees: str
    net_pnl: str
    roi: str
    volume: str
    fill_count: int
    positions: _containers.RepeatedCompositeFieldContainer[CopyPosition]
    curve: _containers.RepeatedCompositeFieldContainer[PnlPoint]
    def __init__(self, config_id: _Optional[str] = ..., currency: _Optional[str] = ..., invested: _Optional[str] = ..., realized_pnl: _Optional[str] = ..., unrealized_pnl: _Optional[str] = ..., fees: _Optional[str] = ..., net_pnl: _Optional[str] = ..., roi: _Optional[str] = ..., volume: _Optional[str] = ..., fill_count: _Optional[int] = ..., positions: _Optional[_Iterable[_Union[CopyPosition, _Mapping]]] = ..., curve: _Optional[_Iterable[_Union[PnlPoint, _Mapping]]] = ...) -> None: ...

class GetCopySessionPerformanceResponse(_message.Message):
    __slots__ = ("performance",)
    PERFORMANCE_FIELD_NUMBER: _ClassVar[int]
    performance: CopySessionPerformance
    def __init__(self, performance: _Optional[_Union[CopySessionPerformance, _Mapping]] = ...) -> None: ...

class ListSupportedVenuesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SupportedVenue(_message.Message):
    __slots__ = ("kind", "id", "display_name", "market_types", "needs_passphrase", "api_key_label", "api_secret_label", "passphrase_label")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    MARKET_TYPES_FIELD_NUMBER: _ClassVar[int]
    NEEDS_PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    API_KEY_LABEL_FIELD_NUMBER: _ClassVar[int]
    API_SECRET_LABEL_FIELD_NUMBER: _ClassVar[int]
    PASSPHRASE_LABEL_FIELD_NUMBER: _ClassVar[int]
    kind: _trading_pb2.VenueKind
    id: str
    display_name: str
    market_types: _containers.RepeatedScalarFieldContainer[_trading_pb2.MarketType]
    needs_passphrase: bool
    api_key_label: str
    api_secret_label: str
    passphrase_label: str
    def __init__(self, kind: _Optional[_Union[_trading_pb2.VenueKind, str]] = ..., id: _Optional[str] = ..., display_name: _Optional[str] = ..., market_types: _Optional[_Iterable[_Union[_trading_pb2.MarketType, str]]] = ..., needs_passphrase: _Optional[bool] = ..., api_key_label: _Optional[str] = ..., api_secret_label: _Optional[str] = ..., passphrase_label: _Optional[str] = ...) -> None: ...

class ListSupportedVenuesResponse(_message.Message):
    __slots__ = ("venues",)
    VENUES_FIELD_NUMBER: _ClassVar[int]
    venues: _containers.RepeatedCompositeFieldContainer[SupportedVenue]
    def __init__(self, venues: _Optional[_Iterable[_Union[SupportedVenue, _Mapping]]] = ...) -> None: ...
