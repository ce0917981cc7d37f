import datetime

from copytrade.replication.v1 import replication_service_pb2 as _replication_service_pb2
from copytrade.risk.v1 import risk_service_pb2 as _risk_service_pb2
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

class StrategyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STRATEGY_TYPE_UNSPECIFIED: _ClassVar[StrategyType]
    STRATEGY_TYPE_SCALPING: _ClassVar[StrategyType]
    STRATEGY_TYPE_DAY_TRADING: _ClassVar[StrategyType]
    STRATEGY_TYPE_SWING: _ClassVar[StrategyType]
    STRATEGY_TYPE_POSITION: _ClassVar[StrategyType]

class RiskLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_LEVEL_UNSPECIFIED: _ClassVar[RiskLevel]
    RISK_LEVEL_CONSERVATIVE: _ClassVar[RiskLevel]
    RISK_LEVEL_MODERATE: _ClassVar[RiskLevel]
    RISK_LEVEL_AGGRESSIVE: _ClassVar[RiskLevel]

class StatsWindow(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATS_WINDOW_UNSPECIFIED: _ClassVar[StatsWindow]
    STATS_WINDOW_7D: _ClassVar[StatsWindow]
    STATS_WINDOW_30D: _ClassVar[StatsWindow]
    STATS_WINDOW_90D: _ClassVar[StatsWindow]
    STATS_WINDOW_ALL_TIME: _ClassVar[StatsWindow]

class CapturableBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAPTURABLE_BASIS_UNSPECIFIED: _ClassVar[CapturableBasis]
    CAPTURABLE_BASIS_MEASURED: _ClassVar[CapturableBasis]
    CAPTURABLE_BASIS_MODEL: _ClassVar[CapturableBasis]
STRATEGY_TYPE_UNSPECIFIED: StrategyType
STRATEGY_TYPE_SCALPING: StrategyType
STRATEGY_TYPE_DAY_TRADING: StrategyType
STRATEGY_TYPE_SWING: StrategyType
STRATEGY_TYPE_POSITION: StrategyType
RISK_LEVEL_UNSPECIFIED: RiskLevel
RISK_LEVEL_CONSERVATIVE: RiskLevel
RISK_LEVEL_MODERATE: RiskLevel
RISK_LEVEL_AGGRESSIVE: RiskLevel
STATS_WINDOW_UNSPECIFIED: StatsWindow
STATS_WINDOW_7D: StatsWindow
STATS_WINDOW_30D: StatsWindow
STATS_WINDOW_90D: StatsWindow
STATS_WINDOW_ALL_TIME: StatsWindow
CAPTURABLE_BASIS_UNSPECIFIED: CapturableBasis
CAPTURABLE_BASIS_MEASURED: CapturableBasis
CAPTURABLE_BASIS_MODEL: CapturableBasis

class PerformanceStats(_message.Message):
    __slots__ = ("window", "roi", "realized_pnl", "unrealized_pnl", "win_rate", "profit_factor", "average_win", "average_loss", "max_drawdown", "sharpe_ratio", "sortino_ratio", "volatility", "average_holding_hours", "trades_per_day", "trade_count", "follower_count", "assets_under_copy", "track_record_days", "update_time", "capturable_roi", "copiers_pnl", "not_enough_history", "capturable_basis", "capturable_copy_count", "capturable_delay_ms", "capturable_slippage_bps")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    WIN_RATE_FIELD_NUMBER: _ClassVar[int]
    PROFIT_FACTOR_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_WIN_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_LOSS_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_FIELD_NUMBER: _ClassVar[int]
    SHARPE_RATIO_FIELD_NUMBER: _ClassVar[int]
    SORTINO_RATIO_FIELD_NUMBER: _ClassVar[int]
    VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_HOLDING_HOURS_FIELD_NUMBER: _ClassVar[int]
    TRADES_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    TRADE_COUNT_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_COUNT_FIELD_NUMBER: _ClassVar[int]
    ASSETS_UNDER_COPY_FIELD_NUMBER: _ClassVar[int]
    TRACK_RECORD_DAYS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CAPTURABLE_ROI_FIELD_NUMBER: _ClassVar[int]
    COPIERS_PNL_FIELD_NUMBER: _ClassVar[int]
    NOT_ENOUGH_HISTORY_FIELD_NUMBER: _ClassVar[int]
    CAPTURABLE_BASIS_FIELD_NUMBER: _ClassVar[int]
    CAPTURABLE_COPY_COUNT_FIELD_NUMBER: _ClassVar[int]
    CAPTURABLE_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    CAPTURABLE_SLIPPAGE_BPS_FIELD_NUMBER: _ClassVar[int]
    window: StatsWindow
    roi: str
    realized_pnl: str
    unrealized_pnl: str
    win_rate: str
    profit_factor: str
    average_win: str
    average_loss: str
    max_drawdown: str
    sharpe_ratio: str
    sortino_ratio: str
    volatility: str
    average_holding_hours: float
    trades_per_day: float
    trade_count: int
    follower_count: int
    assets_under_copy: str
    track_record_days: int
    update_time: _timestamp_pb2.Timestamp
    capturable_roi: str
    copiers_pnl: str
    not_enough_history: _containers.RepeatedCompositeFieldContainer[InsufficientHistory]
    capturable_basis: CapturableBasis
    capturable_copy_count: int
    capturable_delay_ms: int
    capturable_slippage_bps: str
    def __init__(self, window: _Optional[_Union[StatsWindow, str]] = ..., roi: _Optional[str] = ..., realized_pnl: _Optional[str] = ..., unrealized_pnl: _Optional[str] = ..., win_rate: _Optional[str] = ..., profit_factor: _Optional[str] = ..., average_win: _Optional[str] = ..., average_loss: _Optional[str] = ..., max_drawdown: _Optional[str] = ..., sharpe_ratio: _Optional[str] = ..., sortino_ratio: _Optional[str] = ..., volatility: _Optional[str] = ..., average_holding_hours: _Optional[float] = ..., trades_per_day: _Optional[float] = ..., trade_count: _Optional[int] = ..., follower_count: _Optional[int] = ..., assets_under_copy: _Optional[str] = ..., track_record_days: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., capturable_roi: _Optional[str] = ..., copiers_pnl: _Optional[str] = ..., not_enough_history: _Optional[_Iterable[_Union[InsufficientHistory, _Mapping]]] = ..., capturable_basis: _Optional[_Union[CapturableBasis, str]] = ..., capturable_copy_count: _Optional[int] = ..., capturable_delay_ms: _Optional[int] = ..., capturable_slippage_bps: _Optional[str] = ...) -> None: ...

class InsufficientHistory(_message.Message):
    __slots__ = ("field", "observation", "required", "observed")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    field: str
    observation: str
    required: int
    observed: int
    def __init__(self, field: _Optional[str] = ..., observation: _Optional[str] = ..., required: _Optional[int] = ..., observed: _Optional[int] = ...) -> None: ...

class MasterProfile(_message.Message):
    __slots__ = ("trader_id", "user_id", "display_name", "strategy_type", "observed_strategy_type", "risk_level", "bio", "venues", "master_account_ids", "public", "stats", "create_time", "update_time")
    TRADER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_TYPE_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_STRATEGY_TYPE_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    BIO_FIELD_NUMBER: _ClassVar[int]
    VENUES_FIELD_NUMBER: _ClassVar[int]
    MASTER_ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    trader_id: str
    user_id: str
    display_name: str
    strategy_type: StrategyType
    observed_strategy_type: StrategyType
    risk_level: RiskLevel
    bio: str
    venues: _containers.RepeatedCompositeFieldContainer[_trading_pb2.Venue]
    master_account_ids: _containers.RepeatedScalarFieldContainer[str]
    public: bool
    stats: PerformanceStats
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, trader_id: _Optional[str] = ..., user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., strategy_type: _Optional[_Union[StrategyType, str]] = ..., observed_strategy_type: _Optional[_Union[StrategyType, str]] = ..., risk_level: _Optional[_Union[RiskLevel, str]] = ..., bio: _Optional[str] = ..., venues: _Optional[_Iterable[_Union[_trading_pb2.Venue, _Mapping]]] = ..., master_account_ids: _Optional[_Iterable[str]] = ..., public: _Optional[bool] = ..., stats: _Optional[_Union[PerformanceStats, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateMasterProfileRequest(_message.Message):
    __slots__ = ("profile", "request_id")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    profile: MasterProfile
    request_id: str
    def __init__(self, profile: _Optional[_Union[MasterProfile, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateMasterProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: MasterProfile
    def __init__(self, profile: _Optional[_Union[MasterProfile, _Mapping]] = ...) -> None: ...

class GetMasterProfileRequest(_message.Message):
    __slots__ = ("trader_id", "window")
    TRADER_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    trader_id: str
    window: StatsWindow
    def __init__(self, trader_id: _Optional[str] = ..., window: _Optional[_Union[StatsWindow, str]] = ...) -> None: ...

class GetMasterProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: MasterProfile
    def __init__(self, profile: _Optional[_Union[MasterProfile, _Mapping]] = ...) -> None: ...

class UpdateMasterProfileRequest(_message.Message):
    __slots__ = ("profile", "update_mask")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    profile: MasterProfile
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, profile: _Optional[_Union[MasterProfile, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateMasterProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: MasterProfile
    def __init__(self, profile: _Optional[_Union[MasterProfile, _Mapping]] = ...) -> None: ...

class ListMasterTradersRequest(_message.Message):
    __slots__ = ("window", "order_by", "strategy_type", "risk_level", "venue_id", "min_track_record_days", "page_size", "page_token")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_TYPE_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_TRACK_RECORD_DAYS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    window: StatsWindow
    order_by: str
    strategy_type: StrategyType
    risk_level: RiskLevel
    venue_id: str
    min_track_record_days: int
    page_size: int
    page_token: str
    def __init__(self, window: _Optional[_Union[StatsWindow, str]] = ..., order_by: _Optional[str] = ..., strategy_type: _Optional[_Union[StrategyType, str]] = ..., risk_level: _Optional[_Union[RiskLevel, str]] = ..., venue_id: _Optional[str] = ..., min_track_record_days: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMasterTradersResponse(_message.Message):
    __slots__ = ("traders", "next_page_token", "total_size")
    TRADERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    traders: _containers.RepeatedCompositeFieldContainer[MasterProfile]
    next_page_token: str
    total_size: int
    def __init__(self, traders: _Optional[_Iterable[_Union[MasterProfile, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetPerformanceStatsRequest(_message.Message):
    __slots__ = ("trader_id", "window")
    TRADER_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    trader_id: str
    window: StatsWindow
    def __init__(self, trader_id: _Optional[str] = ..., window: _Optional[_Union[StatsWindow, str]] = ...) -> None: ...

class GetPerformanceStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: PerformanceStats
    def __init__(self, stats: _Optional[_Union[PerformanceStats, _Mapping]] = ...) -> None: ...

class FollowTraderRequest(_message.Message):
    __slots__ = ("trader_id", "follower_id", "follower_account_id", "master_account_id", "settings", "request_id")
    TRADER_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    trader_id: str
    follower_id: str
    follower_account_id: str
    master_account_id: str
    settings: _replication_service_pb2.CopySettings
    request_id: str
    def __init__(self, trader_id: _Optional[str] = ..., follower_id: _Optional[str] = ..., follower_account_id: _Optional[str] = ..., master_account_id: _Optional[str] = ..., settings: _Optional[_Union[_replication_service_pb2.CopySettings, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class FollowTraderResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _replication_service_pb2.CopySession
    def __init__(self, session: _Optional[_Union[_replication_service_pb2.CopySession, _Mapping]] = ...) -> None: ...

class UnfollowTraderRequest(_message.Message):
    __slots__ = ("trader_id", "follower_id")
    TRADER_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_ID_FIELD_NUMBER: _ClassVar[int]
    trader_id: str
    follower_id: str
    def __init__(self, trader_id: _Optional[str] = ..., follower_id: _Optional[str] = ...) -> None: ...

class UnfollowTraderResponse(_message.Message):
    __slots__ = ("config_ids",)
    CONFIG_IDS_FIELD_NUMBER: _ClassVar[int]
    config_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, config_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PreviewCopyRequest(_message.Message):
    __slots__ = ("trader_id", "capital", "settings", "limits", "venue", "latency_ms", "fee_rate", "start_time", "end_time")
    TRADER_ID_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    FEE_RATE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    trader_id: str
    capital: str
    settings: _replication_service_pb2.CopySettings
    limits: _risk_service_pb2.RiskLimits
    venue: _trading_pb2.Venue
    latency_ms: int
    fee_rate: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, trader_id: _Optional[str] = ..., capital: _Optional[str] = ..., settings: _Optional[_Union[_replication_service_pb2.CopySettings, _Mapping]] = ..., limits: _Optional[_Union[_risk_service_pb2.RiskLimits, _Mapping]] = ..., venue: _Optional[_Union[_trading_pb2.Venue, _Mapping]] = ..., latency_ms: _Optional[int] = ..., fee_rate: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EquityPoint(_message.Message):
    __slots__ = ("time", "equity")
    TIME_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    equity: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., equity: _Optional[str] = ...) -> None: ...

class PreviewTrade(_message.Message):
    __slots__ = ("master_fill_id", "time", "symbol", "side", "master_quantity", "follower_quantity", "master_price", "follower_price", "refusal")
    MASTER_FILL_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    MASTER_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MASTER_PRICE_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_PRICE_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    master_fill_id: str
    time: _timestamp_pb2.Timestamp
    symbol: str
    side: _trading_pb2.Side
    master_quantity: str
    follower_quantity: str
    master_price: str
    follower_price: str
    refusal: _trading_pb2.Refusal
    def __init__(self, master_fill_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., master_quantity: _Optional[str] = ..., follower_quantity: _Optional[str] = ..., master_price: _Optional[str] = ..., follower_price: _Optional[str] = ..., refusal: _Optional[_Union[_trading_pb2.Refusal, _Mapping]] = ...) -> None: ...

class PreviewCopyResponse(_message.Message):
    __slots__ = ("follower_equity", "trades", "master_return", "follower_return", "capture_gap", "trades_taken", "trades_refused")
    FOLLOWER_EQUITY_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    MASTER_RETURN_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_RETURN_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_GAP_FIELD_NUMBER: _ClassVar[int]
    TRADES_TAKEN_FIELD_NUMBER: _ClassVar[int]
    TRADES_REFUSED_FIELD_NUMBER: _ClassVar[int]
    follower_equity: _containers.RepeatedCompositeFieldContainer[EquityPoint]
    trades: _containers.RepeatedCompositeFieldContainer[PreviewTrade]
    master_return: str
    follower_return: str
    capture_gap: str
    trades_taken: int
    trades_refused: int
    def __init__(self, follower_equity: _Optional[_Iterable[_Union[EquityPoint, _Mapping]]] = ..., trades: _Optional[_Iterable[_Union[PreviewTrade, _Mapping]]] = ..., master_return: _Optional[str] = ..., follower_return: _Optional[str] = ..., capture_gap: _Optional[str] = ..., trades_taken: _Optional[int] = ..., trades_refused: _Optional[int] = ...) -> None: ...

class GetMasterActivityRequest(_message.Message):
    __slots__ = ("trader_id", "trade_limit")
    TRADER_ID_FIELD_NUMBER: _ClassVar[int]
    TRADE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    trader_id: str
    trade_limit: int
    def __init__(self, trader_id: _Optional[str] = ..., trade_limit: _Optional[int] = ...) -> None: ...

class MasterPosition(_message.Message):
    __slots__ = ("symbol", "quantity", "entry_price", "last_price", "open_time")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ENTRY_PRICE_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    quantity: str
    entry_price: str
    last_price: str
    open_time: _timestamp_pb2.Timestamp
    def __init__(self, symbol: _Optional[str] = ..., quantity: _Optional[str] = ..., entry_price: _Optional[str] = ..., last_price: _Optional[str] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MasterTrade(_message.Message):
    __slots__ = ("trade_id", "time", "symbol", "side", "quantity", "price", "fee", "realized_pnl")
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    trade_id: str
    time: _timestamp_pb2.Timestamp
    symbol: str
    side: _trading_pb2.Side
    quantity: str
    price: str
    fee: str
    realized_pnl: str
    def __init__(self, trade_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., fee: _Optional[str] = ..., realized_pnl: _Optional[str] = ...) -> None: ...

class GetMasterActivityResponse(_message.Message):
    __slots__ = ("positions", "trades", "total_trades")
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TRADES_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[MasterPosition]
    trades: _containers.RepeatedCompositeFieldContainer[MasterTrade]
    total_trades: int
    def __init__(self, positions: _Optional[_Iterable[_Union[MasterPosition, _Mapping]]] = ..., trades: _Optional[_Iterable[_Union[MasterTrade, _Mapping]]] = ..., total_trades: _Optional[int] = ...) -> None: ...
