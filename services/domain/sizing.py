"""How big a follower's copy of a master fill is. Pure: the same code sizes live copies
(replication) and the discovery preview. Every refusal says why.

A fill that shrinks the master's position is mirrored proportionally: the follower closes the same
fraction of the position its copies built, whatever its sizing mode (so a master closing half
closes half of the follower's, and a full close leaves no dust). Only the part of a fill that
opens or flips a position is sized by the mode."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from services.domain.instruments import Instrument

ZERO = Decimal(0)
DOMAIN = "replication.copytrade"


@dataclass(frozen=True)
class Settings:
    mode: str  # FIXED_QUANTITY | MULTIPLIER | EQUITY_PROPORTIONAL | FIXED_NOTIONAL | RISK_PERCENT
    fixed_quantity: Decimal = ZERO
    multiplier: Decimal = Decimal(1)
    fixed_notional: Decimal = ZERO
    risk_percent: Decimal = ZERO
    stop_distance: Decimal = ZERO  # price distance to the stop, for RISK_PERCENT
    symbol_map: dict[str, tuple[str, Decimal]] = field(default_factory=dict)  # master → (follower, ratio)
    reverse: bool = False
    allowed_symbols: frozenset[str] = frozenset()
    denied_symbols: frozenset[str] = frozenset()
    # The send guards (the copier applies them; sizing does not read them).
    max_slippage: Decimal = ZERO  # 0: none
    max_fill_age_s: Decimal = Decimal(10)  # 0: any age
    limit_at_tolerance: bool = False  # copies as IOC limits at max_slippage, not at market


@dataclass(frozen=True)
class MasterTrade:
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True)
class Sized:
    symbol: str = ""
    side: str = ""
    quantity: Decimal = ZERO
    closing: Decimal = ZERO  # the part of quantity that closes the follower's copied position
    # RISK_PERCENT: the stop the risk was measured to — "master" (the master's own stop order) or
    # "follower" (the distance the follower typed) — and its distance from the price.
    stop_source: str = ""
    stop_distance: Decimal = ZERO
    reason: str = ""  # set when refused
    message: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # Set when cut below what the settings sized, for a reason the follower is told (a Refusal's
    # fields, as risk's reductions are): reason, domain, message, metadata with the quantities.
    reduction: dict | None = None

    @property
    def refused(self) -> bool:
        return bool(self.reason)


def _refuse(reason: str, message: str, **numbers) -> Sized:
    return Sized(reason=reason, message=message, metadata={k: str(v) for k, v in numbers.items()})


def route(settings: Settings, trade: MasterTrade) -> tuple[str, Decimal] | Sized:
    """The follower's symbol and contract ratio, or a refusal by the symbol filters."""
    if trade.symbol in settings.denied_symbols:
        return _refuse("SYMBOL_DENIED", f"{trade.symbol} is on your deny list", symbol=trade.symbol)
    if settings.allowed_symbols and trade.symbol not in settings.allowed_symbols:
        return _refuse("SYMBOL_NOT_ALLOWED", f"{trade.symbol} is not on your allow list", symbol=trade.symbol)
    return settings.symbol_map.get(trade.symbol, (trade.symbol, Decimal(1)))


def raw_quantity(settings: Settings, trade: MasterTrade, *, follower_equity: Decimal, master_equity: Decimal,
                 price: Decimal) -> Decimal | Sized:
    """The unrounded follower quantity in master units, by the sizing mode."""
    mode = settings.mode
    if mode == "FIXED_QUANTITY":
        return settings.fixed_quantity
    if mode == "MULTIPLIER":
        return trade.quantity * settings.multiplier
    if mode == "EQUITY_PROPORTIONAL":
        if master_equity <= 0 or follower_equity <= 0:
            return _refuse("EQUITY_UNKNOWN", "proportional sizing needs both accounts' equity",
                           follower_equity=follower_equity, master_equity=master_equity)
        return trade.quantity * follower_equity / master_equity
    if mode == "FIXED_NOTIONAL":
        return settings.fixed_notional / price
    if mode == "RISK_PERCENT":
        if settings.stop_distance <= 0 or follower_equity <= 0:
            return _refuse("STOP_DISTANCE_REQUIRED", "risk-percent sizing needs a stop distance and equity")
        return follower_equity * settings.risk_percent / settings.stop_distance
    return _refuse("SIZING_MODE_UNKNOWN", f"unknown sizing mode {mode}")


def risk_stop(settings: Settings, trade: MasterTrade, master_stop: Decimal | None) -> tuple[Decimal, str]:
    """The stop distance risk-percent sizing measures the risk to, and whose it is: the
    master's real stop when it protects what the trade opens (below a buy's price, above a
    sell's), else the distance the follower typed."""
    if master_stop is not None and master_stop > 0 and (master_stop < trade.price) == (trade.side == "buy") \
            and master_stop != trade.price:
        return abs(trade.price - master_stop), "master"
    return settings.stop_distance, "follower"


def closing_fraction(position_before: Decimal, side: str, quantity: Decimal) -> tuple[Decimal, Decimal]:
    """(the fraction of the master's position this fill closes, the quantity left that opens)."""
    signed = quantity if side == "buy" else -quantity
    if position_before == 0 or (position_before > 0) == (signed > 0):
        return ZERO, quantity
    closing = min(quantity, abs(position_before))
    return closing / abs(position_before), quantity - closing


def close_quantity(fraction: Decimal, held: Decimal, lot_size: Decimal) -> Decimal:
    """How much of a held (unsigned) position closing `fraction` of it is, in whole lots."""
    if fraction >= 1 or held <= 0:
        return max(held, ZERO)
    lots = (held * fraction / lot_size).to_integral_value(rounding=ROUND_HALF_UP)
    return min(lots * lot_size, held)


def size(settings: Settings, trade: MasterTrade, instrument: Instrument, *, follower_equity: Decimal = ZERO,
         master_equity: Decimal = ZERO, price: Decimal | None = None, position_before: Decimal = ZERO,
         follower_position: Decimal = ZERO, follower_price: Decimal | None = None,
         master_stop: Decimal | None = None) -> Sized:
    """`position_before` is the master's signed position before the fill; `follower_position` the
    follower's signed position built by this session's copies, in follower units. `follower_price`
    is the follower instrument's own price, when the master's says nothing about it (a symbol map
    onto another underlying: ES → BTC/USDT:USDT): a fixed notional then buys
    notional / (follower_price x contract size) follower contracts, the ratio not applied.
    `master_stop` is the trigger of the master's stop protecting what the trade opens, if it
    has one: risk-percent sizing then measures the risk to it (and says so)."""
    stop_source, stop_distance = "", ZERO
    if settings.mode == "RISK_PERCENT":
        stop_distance, stop_source = risk_stop(settings, trade, master_stop)
        settings = replace(settings, stop_distance=stop_distance)
    sized = _size(settings, trade, instrument, follower_equity=follower_equity, master_equity=master_equity,
                  price=price, position_before=position_before, follower_position=follower_position,
                  follower_price=follower_price)
    if stop_source and not sized.refused:
        return replace(sized, stop_source=stop_source, stop_distance=stop_distance)
    return sized


def _size(settings: Settings, trade: MasterTrade, instrument: Instrument, *, follower_equity: Decimal,
          master_equity: Decimal, price: Decimal | None, position_before: Decimal, follower_position: Decimal,
          follower_price: Decimal | None) -> Sized:
    routed = route(settings, trade)
    if isinstance(routed, Sized):
        return routed
    symbol, ratio = routed
    price = price or trade.price
    side = trade.side
    if settings.reverse:
        side = "sell" if side == "buy" else "buy"
    fraction, opening = closing_fraction(position_before, trade.side, trade.quantity)
    closing = ZERO
    if fraction > 0:
        # The follower's copies hold the opposite of what this side trades, or there is nothing to close.
        held = -follower_position if side == "buy" else follower_position
        closing = close_quantity(fraction, held, instrument.lot_size)
    quantity = ZERO
    if opening > 0:
        opened = MasterTrade(trade.symbol, trade.side, opening, trade.price)
        raw = raw_quantity(settings, opened, follower_equity=follower_equity, master_equity=master_equity,
                           price=follower_price or price)
        if isinstance(raw, Sized):
            if closing <= 0:
                return raw
        else:
            if follower_price and settings.mode == "FIXED_NOTIONAL":  # already in follower units
                raw, ratio = raw / instrument.contract_size, Decimal(1)
            quantity = (raw * ratio / instrument.lot_size).to_integral_value(rounding=ROUND_DOWN) * instrument.lot_size
    quantity += closing
    if quantity <= 0:
        if fraction > 0 and opening <= 0:
            return _refuse("NOTHING_TO_CLOSE", "the master closed a position your copies do not hold",
                           follower_position=follower_position)
        return _refuse("QUANTITY_ROUNDS_TO_ZERO", f"the copy rounds to zero at a lot size of {instrument.lot_size}",
                       lot_size=instrument.lot_size)
    if quantity < instrument.min_quantity:
        return _refuse("BELOW_MIN_QUANTITY", f"{quantity} is below the venue's minimum of {instrument.min_quantity}",
                       quantity=quantity, min_quantity=instrument.min_quantity)
    notional = quantity * price / ratio  # the master's price is per master unit
    if follower_price:
        notional = quantity * follower_price * instrument.contract_size
    if notional < instrument.min_notional:
        return _refuse("BELOW_MIN_NOTIONAL", f"{notional:.2f} is below the venue's minimum order value of "
                       f"{instrument.min_notional}", notional=notional.quantize(Decimal("0.01")),
                       min_notional=instrument.min_notional)
    return Sized(symbol=symbol, side=side, quantity=quantity, closing=closing)


def within_holdings(sized: Sized, free: Decimal, lot_size: Decimal) -> Sized:
    """A spot close sells no more than the follower holds (fees taken in the base asset leave
    a little less than the copies bought)."""
    held = (max(free, ZERO) / lot_size).to_integral_value(rounding=ROUND_DOWN) * lot_size
    if sized.quantity <= held:
        return sized
    if held <= 0:
        return _refuse("NOTHING_TO_CLOSE", "your account holds none of what the master closed", free=free)
    asset = base_asset(sized.symbol)
    return Sized(symbol=sized.symbol, side=sized.side, quantity=held, closing=min(sized.closing, held),
                 reduction={"reason": "LIMITED_TO_HOLDINGS", "domain": DOMAIN,
                            "message": f"sold the {held} {asset} your account holds, not the {sized.quantity} "
                                       "the copy sized (the venue took fees in it)",
                            "metadata": {"free": str(free), "sized_quantity": str(sized.quantity),
                                         "approved_quantity": str(held)}})


def base_asset(symbol: str) -> str:
    return symbol.split("/", 1)[0]
