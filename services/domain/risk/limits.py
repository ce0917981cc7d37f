"""Risk limits: the platform defaults (the product description's), overridable through the
environment, and the pure rules for validating a follower's changes."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from copytrade.risk.v1 import risk_service_pb2 as pb
from services.kit import errors, validation

DOMAIN = "risk.copytrade"


@dataclass(frozen=True)
class RiskLimits:
    max_daily_loss: Decimal = Decimal("1000")
    max_drawdown: Decimal = Decimal("0.15")
    max_position_size: Decimal = Decimal("5000")
    max_leverage: Decimal = Decimal("10")
    stop_loss_enabled: bool = True
    take_profit_enabled: bool = True
    # Ordinary crypto passes: BTC moves 50-80 % a year, ETH a little more, and the two correlate
    # at 0.7-0.9; what is denied is a wilder instrument, or the same bet under a second name
    # (spot and perpetual of one coin correlate above 0.95).
    correlation_limit: Decimal = Decimal("0.95")
    volatility_limit: Decimal = Decimal("1.5")
    circuit_breaker_enabled: bool = True
    emergency_stop_loss: Decimal = Decimal("0.05")
    max_slippage: Decimal = Decimal("0.01")
    max_latency_ms: int = 100
    max_orders_per_minute: int = 120
    timezone: str = "UTC"


FIELD_TYPES = {f.name: f.type for f in fields(RiskLimits)}
# Each decimal limit's bound (documented in RiskLimits): money, a leverage, fractions of equity
# or correlations in [0, 1], an annualised volatility.
DECIMAL_BOUNDS = {"max_daily_loss": validation.MONEY, "max_position_size": validation.MONEY,
                  "max_leverage": validation.LEVERAGE, "max_drawdown": validation.FRACTION,
                  "correlation_limit": validation.FRACTION, "emergency_stop_loss": validation.FRACTION,
                  "max_slippage": validation.FRACTION, "volatility_limit": validation.VOLATILITY}
INT32_MAX = 2 ** 31 - 1
INT_BOUNDS = {"max_latency_ms": INT32_MAX, "max_orders_per_minute": INT32_MAX}  # what the contract's int32 holds
MAX_TIMEZONE_CHARS = 64


def platform_defaults(overrides: dict[str, str] | None = None) -> RiskLimits:
    """The seed's defaults, with the operator's overrides by limit name (Settings.risk_defaults:
    RISK_DEFAULT_<LIMIT>, or the seed's MAX_DAILY_LOSS / MAX_DRAWDOWN / CIRCUIT_BREAKER_ENABLED),
    each parsed and checked; a name that is no limit is no override."""
    return validated(RiskLimits(), {name: raw for name, raw in (overrides or {}).items() if name in FIELD_TYPES})


def validated(base: RiskLimits, changes: dict[str, object]) -> RiskLimits:
    """`base` with `changes` applied, each parsed and checked; a bad value raises
    INVALID_ARGUMENT naming the field."""
    parsed: dict[str, object] = {}
    for name, raw in changes.items():
        kind = FIELD_TYPES.get(name)
        if kind is None:
            raise errors.invalid_argument("UNKNOWN_FIELD", f"risk limits have no field {name!r}", domain=DOMAIN,
                                          field=name)
        parsed[name] = _parse(name, kind, raw)
    return replace(base, **parsed)


def _parse(name: str, kind: str, raw: object) -> object:
    def bad(why: str) -> errors.DomainError:
        shown = raw if len(str(raw)) <= 64 else f"{str(raw)[:64]}…"  # never echo a megabyte back
        return errors.invalid_argument("INVALID_LIMIT", f"{name}: {why}", domain=DOMAIN, field=name, value=shown)

    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise bad("expected true or false")
    if kind == "int":
        text = str(raw).strip()
        try:
            value = int(text) if len(text) <= 20 else None
        except ValueError:
            value = None
        if value is None:
            raise bad("expected a whole number")
        if not 0 < value <= INT_BOUNDS[name]:
            raise bad(f"must be greater than 0 and at most {INT_BOUNDS[name]}")
        return value
    if kind == "str":
        try:
            if len(str(raw)) > MAX_TIMEZONE_CHARS:
                raise ValueError(raw)
            ZoneInfo(str(raw))
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise bad("expected an IANA time zone such as UTC or Europe/London") from None
        return str(raw)
    return validation.parse_decimal(str(raw), name, DECIMAL_BOUNDS[name], reason="INVALID_LIMIT", domain=DOMAIN)


def to_proto(limits: RiskLimits) -> pb.RiskLimits:
    return pb.RiskLimits(**{name: (str(v) if isinstance(v, Decimal) else v)
                            for name, v in ((n, getattr(limits, n)) for n in FIELD_TYPES)})


def changes_from_proto(message: pb.RiskLimits, mask_paths: list[str]) -> dict[str, object]:
    """The fields a request changes: those in the mask, or, when the mask is empty, every field
    set to a non-default value (as grpc-gateway infers a mask from the fields a body names)."""
    paths = mask_paths or [f.name for f, _ in message.ListFields()]
    changes = {}
    for path in paths:
        if path not in FIELD_TYPES:
            raise errors.invalid_argument("UNKNOWN_FIELD", f"update_mask names unknown field {path!r}",
                                          domain=DOMAIN, field=path)
        changes[path] = getattr(message, path)
    return changes


def to_row(limits: RiskLimits) -> dict[str, str]:
    """JSON-safe form for storage."""
    return {name: str(getattr(limits, name)) for name in FIELD_TYPES}


def stored(base: RiskLimits, row: dict[str, str]) -> RiskLimits:
    """Limits as stored over `base`. A value stored before the bounds existed (finite, >= 0, but
    past today's maximum) reads as that maximum: it meant "no limit", and must not make every
    later decision for its user fail."""
    values: dict[str, object] = {}
    for name, raw in row.items():
        if name in DECIMAL_BOUNDS:
            try:
                value = Decimal(str(raw))
            except InvalidOperation:
                continue
            bound = DECIMAL_BOUNDS[name]
            values[name] = max(bound.low, min(bound.high, value)) if value.is_finite() else bound.high
        elif name in INT_BOUNDS:
            values[name] = min(int(raw), INT_BOUNDS[name]) if str(raw).isdigit() and len(str(raw)) <= 20 else raw
        elif name in FIELD_TYPES:
            values[name] = raw
    return validated(base, values)
