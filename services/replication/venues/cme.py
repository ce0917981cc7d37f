"""CME equity-index futures as data: the contracts the futures adapters (NinjaTrader, Rithmic)
trade, their multipliers and ticks, and their names for a contract month (which month is the
front one is the shared rule in roll.py).

Our unified symbol for a future is its root ("ES"): the adapter trades the front quarterly
month, which each platform names its own way ("ES 12-26" in NinjaTrader, "ESZ6" on Rithmic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.replication.venues.base import Instrument
from services.replication.venues.roll import MONTH_CODES, front_month


@dataclass(frozen=True)
class FutureSpec:
    root: str
    multiplier: Decimal  # USD per index point per contract
    tick_size: Decimal
    exchange: str = "CME"
    initial_margin: Decimal = Decimal(0)  # USD per contract (simulators use it to refuse oversize orders)


FUTURES: dict[str, FutureSpec] = {
    "ES": FutureSpec("ES", Decimal(50), Decimal("0.25"), initial_margin=Decimal(15000)),
    "MES": FutureSpec("MES", Decimal(5), Decimal("0.25"), initial_margin=Decimal(1500)),
    "NQ": FutureSpec("NQ", Decimal(20), Decimal("0.25"), initial_margin=Decimal(22000)),
    "MNQ": FutureSpec("MNQ", Decimal(2), Decimal("0.25"), initial_margin=Decimal(2200)),
}


def ninjatrader_name(root: str, now: datetime | None = None, month: tuple[int, int] | None = None) -> str:
    """NinjaTrader's instrument name of the front month (or of `month`): "ES 12-26"."""
    year, mon = month or front_month(now)
    return f"{root} {mon:02d}-{year % 100:02d}"


def rithmic_name(root: str, now: datetime | None = None, month: tuple[int, int] | None = None) -> str:
    """Rithmic's (CME's) symbol of the front month (or of `month`): "ESZ6"."""
    year, mon = month or front_month(now)
    return f"{root}{MONTH_CODES[mon]}{year % 10}"


def instrument(root: str, venue_symbol: str) -> Instrument:
    spec = FUTURES[root]
    return Instrument(symbol=root, venue_symbol=venue_symbol, base=root, quote="USD", tick_size=spec.tick_size,
                      lot_size=Decimal(1), min_quantity=Decimal(1), min_notional=Decimal(0),
                      contract_size=spec.multiplier, market_type="future")
