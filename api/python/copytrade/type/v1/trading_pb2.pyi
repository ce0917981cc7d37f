from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_BUY: _ClassVar[Side]
    SIDE_SELL: _ClassVar[Side]

class OrderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_TYPE_UNSPECIFIED: _ClassVar[OrderType]
    ORDER_TYPE_MARKET: _ClassVar[OrderType]
    ORDER_TYPE_LIMIT: _ClassVar[OrderType]
    ORDER_TYPE_STOP_MARKET: _ClassVar[OrderType]
    ORDER_TYPE_STOP_LIMIT: _ClassVar[OrderType]
    ORDER_TYPE_TAKE_PROFIT_MARKET: _ClassVar[OrderType]
    ORDER_TYPE_TAKE_PROFIT_LIMIT: _ClassVar[OrderType]

class TimeInForce(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIME_IN_FORCE_UNSPECIFIED: _ClassVar[TimeInForce]
    TIME_IN_FORCE_GTC: _ClassVar[TimeInForce]
    TIME_IN_FORCE_IOC: _ClassVar[TimeInForce]
    TIME_IN_FORCE_FOK: _ClassVar[TimeInForce]
    TIME_IN_FORCE_DAY: _ClassVar[TimeInForce]

class MarketType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARKET_TYPE_UNSPECIFIED: _ClassVar[MarketType]
    MARKET_TYPE_SPOT: _ClassVar[MarketType]
    MARKET_TYPE_PERPETUAL: _ClassVar[MarketType]
    MARKET_TYPE_FUTURE: _ClassVar[MarketType]

class VenueKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VENUE_KIND_UNSPECIFIED: _ClassVar[VenueKind]
    VENUE_KIND_CCXT: _ClassVar[VenueKind]
    VENUE_KIND_IB: _ClassVar[VenueKind]
    VENUE_KIND_RITHMIC: _ClassVar[VenueKind]
    VENUE_KIND_NINJATRADER: _ClassVar[VenueKind]

class TradingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRADING_STATE_UNSPECIFIED: _ClassVar[TradingState]
    TRADING_STATE_ACTIVE: _ClassVar[TradingState]
    TRADING_STATE_REDUCING: _ClassVar[TradingState]
    TRADING_STATE_HALTED: _ClassVar[TradingState]
SIDE_UNSPECIFIED: Side
SIDE_BUY: Side
SIDE_SELL: Side
ORDER_TYPE_UNSPECIFIED: OrderType
ORDER_TYPE_MARKET: OrderType
ORDER_TYPE_LIMIT: OrderType
ORDER_TYPE_STOP_MARKET: OrderType
ORDER_TYPE_STOP_LIMIT: OrderType
ORDER_TYPE_TAKE_PROFIT_MARKET: OrderType
ORDER_TYPE_TAKE_PROFIT_LIMIT: OrderType
TIME_IN_FORCE_UNSPECIFIED: TimeInForce
TIME_IN_FORCE_GTC: TimeInForce
TIME_IN_FORCE_IOC: TimeInForce
TIME_IN_FORCE_FOK: TimeInForce
TIME_IN_FORCE_DAY: TimeInForce
MARKET_TYPE_UNSPECIFIED: MarketType
MARKET_TYPE_SPOT: MarketType
MARKET_TYPE_PERPETUAL: MarketType
MARKET_TYPE_FUTURE: MarketType
VENUE_KIND_UNSPECIFIED: VenueKind
VENUE_KIND_CCXT: VenueKind
VENUE_KIND_IB: VenueKind
VENUE_KIND_RITHMIC: VenueKind
VENUE_KIND_NINJATRADER: VenueKind
TRADING_STATE_UNSPECIFIED: TradingState
TRADING_STATE_ACTIVE: TradingState
TRADING_STATE_REDUCING: TradingState
TRADING_STATE_HALTED: TradingState

class Venue(_message.Message):
    __slots__ = ("kind", "id", "market_type")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MARKET_TYPE_FIELD_NUMBER: _ClassVar[int]
    kind: VenueKind
    id: str
    market_type: MarketType
    def __init__(self, kind: _Optional[_Union[VenueKind, str]] = ..., id: _Optional[str] = ..., market_type: _Optional[_Union[MarketType, str]] = ...) -> None: ...

class Instrument(_message.Message):
    __slots__ = ("symbol", "market_type", "base_asset", "quote_asset", "tick_size", "lot_size", "min_quantity", "min_notional", "contract_size")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    MARKET_TYPE_FIELD_NUMBER: _ClassVar[int]
    BASE_ASSET_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ASSET_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MIN_NOTIONAL_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_SIZE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    market_type: MarketType
    base_asset: str
    quote_asset: str
    tick_size: str
    lot_size: str
    min_quantity: str
    min_notional: str
    contract_size: str
    def __init__(self, symbol: _Optional[str] = ..., market_type: _Optional[_Union[MarketType, str]] = ..., base_asset: _Optional[str] = ..., quote_asset: _Optional[str] = ..., tick_size: _Optional[str] = ..., lot_size: _Optional[str] = ..., min_quantity: _Optional[str] = ..., min_notional: _Optional[str] = ..., contract_size: _Optional[str] = ...) -> None: ...

class Money(_message.Message):
    __slots__ = ("currency", "amount")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    currency: str
    amount: str
    def __init__(self, currency: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("symbol", "quantity", "entry_price", "mark_price", "leverage")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ENTRY_PRICE_FIELD_NUMBER: _ClassVar[int]
    MARK_PRICE_FIELD_NUMBER: _ClassVar[int]
    LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    quantity: str
    entry_price: str
    mark_price: str
    leverage: str
    def __init__(self, symbol: _Optional[str] = ..., quantity: _Optional[str] = ..., entry_price: _Optional[str] = ..., mark_price: _Optional[str] = ..., leverage: _Optional[str] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("reason", "domain", "message", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REASON_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    reason: str
    domain: str
    message: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, reason: _Optional[str] = ..., domain: _Optional[str] = ..., message: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...
