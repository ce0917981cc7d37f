"""Which follower market copies a master's, found from the markets both venues publish.

A master trading "1000PEPE/USDT:USDT" on one venue is copied to "PEPE/USDT:USDT" on another:
the same underlying (base with any 10^n multiplier taken off: "1000PEPE", "PEPE1000", "1MPEPE"
all mean PEPE), the same quote, the same settle currency (when both are derivatives), and a
quantity ratio from what one unit of each is worth in the underlying (contract size x
multiplier). A manual entry in the copy settings' symbol_map always wins (`resolve`).

`auto_map` is pure; `resolve` asks the venues for their markets."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from services.domain import sizing
from services.replication.venues.base import Instrument, VenueError

_PREFIX = re.compile(r"^(10+|1M|1B)([A-Z][A-Z0-9]*)$")  # 1000PEPE, 1000000MOG, 1MBABYDOGE
_SUFFIX = re.compile(r"^([A-Z][A-Z0-9]*[A-Z])(10+)$")  # SHIB1000
_LETTERS = {"1M": Decimal(1_000_000), "1B": Decimal(1_000_000_000)}


def underlying(base: str) -> tuple[str, Decimal]:
    """("PEPE", 1000) for "1000PEPE" or "PEPE1000"; (base, 1) for anything else ("1INCH", "BTC")."""
    base = base.upper()
    if match := _PREFIX.match(base):
        scale, root = match.groups()
        return root, _LETTERS.get(scale) or Decimal(scale)
    if match := _SUFFIX.match(base):
        root, scale = match.groups()
        return root, Decimal(scale)
    return base, Decimal(1)


def settle_of(symbol: str) -> tuple[str, str]:
    """(settle, expiry) of a unified symbol: ("USDT", "") for "BTC/USDT:USDT", ("", "") for spot."""
    if ":" not in symbol:
        return "", ""
    settle, _, expiry = symbol.split(":", 1)[1].partition("-")
    return settle, expiry


@dataclass(frozen=True)
class Key:
    underlying: str
    quote: str
    settle: str
    expiry: str
    units: Decimal  # underlying units one quantity unit (a contract, or a spot unit) is worth

    @classmethod
    def of(cls, instrument: Instrument) -> Key:
        root, scale = underlying(instrument.base)
        settle, expiry = settle_of(instrument.symbol)
        return cls(root, instrument.quote.upper(), settle, expiry, instrument.contract_size * scale)


def auto_map(master: Instrument, candidates: Iterable[Instrument]) -> tuple[str, Decimal] | None:
    """The follower symbol and quantity ratio (follower quantity = master quantity x ratio) for
    the master's market among the follower venue's, or None when none matches. Preferred: the
    same unified symbol, then the same multiplier, then the first by name."""
    want = Key.of(master)
    matches = []
    for candidate in candidates:
        have = Key.of(candidate)
        if (have.underlying, have.quote) != (want.underlying, want.quote) or have.units <= 0:
            continue
        if want.settle and have.settle and want.settle != have.settle:
            continue
        if have.expiry != want.expiry:  # a perpetual is not copied into a dated future, nor back
            continue
        matches.append((candidate.symbol != master.symbol, have.units != want.units, candidate.symbol,
                        want.units / have.units))
    if not matches:
        return None
    _, _, symbol, ratio = min(matches)
    return symbol, ratio


async def resolve(settings: sizing.Settings, symbol: str, follower_venue,
                  master_venue: Callable[[], Awaitable[object | None]]) -> sizing.Settings:
    """The settings with `symbol` mapped for this follower venue, unless the copy settings map
    it already (the manual map wins). master_venue() gives the master's venue, or None when
    the master trades on the follower's own venue and market (then nothing is mapped)."""
    if symbol in settings.symbol_map:
        return settings
    venue = await master_venue()
    if venue is None:
        return settings
    try:
        master = await venue.instrument(symbol)
        candidates = (await follower_venue.instruments()).values()
    except VenueError:
        return settings  # unknown here: the copy is tried as the master's symbol, and says why it fails
    found = auto_map(master, candidates)
    if found is None:
        return settings
    return replace(settings, symbol_map={**settings.symbol_map, symbol: found})
