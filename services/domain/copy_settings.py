"""CopySettings on the wire ↔ the sizing module's Settings, with validation of what a follower
sends (replication's follow and update, discovery's preview: the same checks), and the follower's
protective levels it carries (replication places their orders: services/replication/protective.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from google.protobuf import json_format

from copytrade.replication.v1 import replication_service_pb2 as pb
from services.domain import sizing
from services.kit import errors, validation

MODES = {pb.SIZING_MODE_FIXED_QUANTITY: "FIXED_QUANTITY", pb.SIZING_MODE_MULTIPLIER: "MULTIPLIER",
         pb.SIZING_MODE_EQUITY_PROPORTIONAL: "EQUITY_PROPORTIONAL", pb.SIZING_MODE_FIXED_NOTIONAL: "FIXED_NOTIONAL",
         pb.SIZING_MODE_RISK_PERCENT: "RISK_PERCENT"}
# The parameter each mode needs, which must then be a positive decimal.
REQUIRED = {"FIXED_QUANTITY": "fixed_quantity", "MULTIPLIER": "multiplier", "FIXED_NOTIONAL": "fixed_notional",
            "RISK_PERCENT": "risk_percent"}


FILL_AGE = validation.Bound(Decimal(0), Decimal(86_400))
DEFAULT_MAX_FILL_AGE_S = Decimal(10)
# Each decimal parameter's bound (services.kit.validation; documented in CopySettings) and default.
DECIMALS = {"fixed_quantity": (validation.LOT, Decimal(0)), "multiplier": (validation.MULTIPLIER, Decimal(1)),
            "fixed_notional": (validation.MONEY, Decimal(0)), "risk_percent": (validation.FRACTION, Decimal(0)),
            "stop_distance": (validation.LOT, Decimal(0)), "max_slippage": (validation.FRACTION, Decimal(0)),
            "allocated_capital": (validation.MONEY, Decimal(0)),
            "max_fill_age_seconds": (FILL_AGE, DEFAULT_MAX_FILL_AGE_S)}
MAX_SYMBOLS = 200  # entries in symbol_map, allowed_symbols and denied_symbols, each
MAX_SYMBOL_CHARS = 64


@dataclass(frozen=True)
class Level:
    """Where one protective order triggers: `fraction` of the fill price away from it, or `price`."""

    fraction: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True)
class Protective:
    stop_loss: Level | None = None
    take_profit: Level | None = None

    def __bool__(self) -> bool:
        return self.stop_loss is not None or self.take_profit is not None


def _decimal(field: str, raw: str, bound: validation.Bound, default: Decimal) -> Decimal:
    return validation.parse_decimal(raw, f"settings.{field}", bound, reason="INVALID_SETTINGS", domain=sizing.DOMAIN,
                                    default=default)


def _symbols(field: str, symbols) -> None:
    if len(symbols) > MAX_SYMBOLS:
        raise errors.invalid_argument("INVALID_SETTINGS", f"settings.{field} has more than {MAX_SYMBOLS} entries",
                                      domain=sizing.DOMAIN, field=f"settings.{field}")
    for i, symbol in enumerate(symbols):
        if len(symbol) > MAX_SYMBOL_CHARS:
            raise errors.invalid_argument("INVALID_SETTINGS", f"settings.{field}[{i}] is longer than "
                                          f"{MAX_SYMBOL_CHARS} characters", domain=sizing.DOMAIN,
                                          field=f"settings.{field}[{i}]")


def validate(settings: pb.CopySettings) -> sizing.Settings:
    mode = MODES.get(settings.sizing_mode)
    if mode is None:
        raise errors.invalid_argument("INVALID_SETTINGS", "settings.sizing_mode is required",
                                      domain=sizing.DOMAIN, field="settings.sizing_mode")
    values = {name: _decimal(name, getattr(settings, name), bound, default)
              for name, (bound, default) in DECIMALS.items()}
    needed = REQUIRED.get(mode)
    if needed and values[needed] <= 0:
        raise errors.invalid_argument("INVALID_SETTINGS", f"sizing mode {mode} needs settings.{needed} > 0",
                                      domain=sizing.DOMAIN, field=f"settings.{needed}")
    if mode == "RISK_PERCENT" and values["stop_distance"] <= 0:
        raise errors.invalid_argument("INVALID_SETTINGS", "RISK_PERCENT needs a stop_distance > 0 and "
                                      "risk_percent as a fraction <= 1", domain=sizing.DOMAIN,
                                      field="settings.stop_distance")
    _symbols("allowed_symbols", settings.allowed_symbols)
    _symbols("denied_symbols", settings.denied_symbols)
    if len(settings.symbol_map) > MAX_SYMBOLS:
        raise errors.invalid_argument("INVALID_SETTINGS", f"settings.symbol_map has more than {MAX_SYMBOLS} entries",
                                      domain=sizing.DOMAIN, field="settings.symbol_map")
    symbol_map = {}
    for i, mapping in enumerate(settings.symbol_map):
        if not mapping.master_symbol or not mapping.follower_symbol:
            raise errors.invalid_argument("INVALID_SETTINGS", "symbol_map entries need both symbols",
                                          domain=sizing.DOMAIN, field=f"settings.symbol_map[{i}]")
        _symbols(f"symbol_map[{i}]", [mapping.master_symbol, mapping.follower_symbol])
        symbol_map[mapping.master_symbol] = (mapping.follower_symbol,
                                             _decimal(f"symbol_map[{i}].contract_ratio", mapping.contract_ratio,
                                                      validation.RATIO, Decimal(1)))
    if settings.limit_at_tolerance and values["max_slippage"] <= 0:
        raise errors.invalid_argument("INVALID_SETTINGS", "limit_at_tolerance needs settings.max_slippage > 0 "
                                      "(the tolerance the limit price is set at)", domain=sizing.DOMAIN,
                                      field="settings.max_slippage")
    protective(settings)  # refused here, with the rest, when it is malformed
    return sizing.Settings(
        mode=mode, fixed_quantity=values["fixed_quantity"], multiplier=values["multiplier"],
        fixed_notional=values["fixed_notional"], risk_percent=values["risk_percent"],
        stop_distance=values["stop_distance"], symbol_map=symbol_map, reverse=settings.reverse,
        allowed_symbols=frozenset(settings.allowed_symbols), denied_symbols=frozenset(settings.denied_symbols),
        max_slippage=values["max_slippage"], max_fill_age_s=values["max_fill_age_seconds"],
        limit_at_tolerance=settings.limit_at_tolerance)


def protective(settings: pb.CopySettings) -> Protective:
    """The follower's own protective stop-loss and take-profit, validated: a fraction strictly
    between 0 and 1, or a positive price."""
    levels = {}
    for name in ("protective_stop_loss", "protective_take_profit"):
        if not settings.HasField(name):
            levels[name] = None
            continue
        level = getattr(settings, name)
        which = level.WhichOneof("level")
        bound = validation.FRACTION if which == "fraction" else validation.PRICE
        value = _decimal(f"{name}.{which or 'fraction'}", getattr(level, which) if which else "", bound, Decimal(0))
        if which is None or value <= 0 or (which == "fraction" and value >= 1):
            raise errors.invalid_argument(
                "INVALID_SETTINGS", f"settings.{name} needs a fraction between 0 and 1 or a positive price",
                domain=sizing.DOMAIN, field=f"settings.{name}")
        levels[name] = Level(fraction=value) if which == "fraction" else Level(price=value)
    return Protective(levels["protective_stop_loss"], levels["protective_take_profit"])


def to_json(settings: pb.CopySettings) -> dict:
    return json_format.MessageToDict(settings, preserving_proto_field_name=True)


def from_json(data: dict) -> pb.CopySettings:
    return json_format.ParseDict(data, pb.CopySettings())
