"""Binance USDⓈ-M perpetual contract rules: the filters exchangeInfo publishes per symbol (a
perpetual's differ from its spot pair's) and the leverage brackets of /fapi/v1/leverageBracket.

Sources: BTCUSDT and ETHUSDT price, lot and market-lot filters as in ccxt's stored exchangeInfo
snapshot of Binance (ts/src/test/static/markets/binance.json); minimum notionals as Binance
publishes them now (BTCUSDT 100, ETHUSDT 20; that snapshot predates the rise and shows 5). The
brackets are Binance's published BTCUSDT and ETHUSDT tables as recalled, not checked against a
snapshot. Each bracket's `cum` (the maintenance amount) follows from the table:
cum[n] = cum[n-1] + floor[n] * (mmr[n] - mmr[n-1]). Other symbols (SOLUSDT here) have no
verified table yet: they trade by the spot pair's rules with one 125x bracket."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from venue_sim.book import Symbol


@dataclass(frozen=True)
class Contract:
    rules: Symbol  # tick, lot step, min/max quantity (LOT_SIZE), min notional (MIN_NOTIONAL)
    market_max_qty: Decimal  # MARKET_LOT_SIZE maxQty
    min_price: Decimal
    max_price: Decimal


@dataclass(frozen=True)
class Bracket:
    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


def _contract(name: str, base: str, tick: str, step: str, max_qty: str, market_max: str, notional: str,
              min_price: str, max_price: str) -> Contract:
    rules = Symbol(name, base, "USDT", Decimal(tick), Decimal(step), Decimal(step), Decimal(notional), Decimal(0),
                   max_qty=Decimal(max_qty))
    return Contract(rules, Decimal(market_max), Decimal(min_price), Decimal(max_price))


CONTRACTS: dict[str, Contract] = {c.rules.name: c for c in (
    _contract("BTCUSDT", "BTC", "0.10", "0.001", "1000", "120", "100", "556.80", "4529764"),
    _contract("ETHUSDT", "ETH", "0.01", "0.001", "10000", "2000", "20", "39.86", "306177"),
)}


def _brackets(rows: tuple[tuple[int, int, int, str], ...]) -> tuple[Bracket, ...]:
    """rows: (notional floor, notional cap, initial leverage, maintenance margin ratio)."""
    out, cum, mmr_before = [], Decimal(0), Decimal(0)
    for n, (floor, cap, leverage, mmr) in enumerate(rows, start=1):
        mmr_d = Decimal(mmr)
        cum += Decimal(floor) * (mmr_d - mmr_before) if n > 1 else 0
        out.append(Bracket(n, leverage, Decimal(floor), Decimal(cap), mmr_d, cum))
        mmr_before = mmr_d
    return tuple(out)


BRACKETS: dict[str, tuple[Bracket, ...]] = {
    "BTCUSDT": _brackets((
        (0, 300_000, 125, "0.004"), (300_000, 800_000, 100, "0.005"), (800_000, 3_000_000, 75, "0.0065"),
        (3_000_000, 12_000_000, 50, "0.01"), (12_000_000, 70_000_000, 25, "0.02"),
        (70_000_000, 100_000_000, 20, "0.025"), (100_000_000, 230_000_000, 10, "0.05"),
        (230_000_000, 480_000_000, 5, "0.1"), (480_000_000, 600_000_000, 4, "0.125"),
        (600_000_000, 800_000_000, 3, "0.15"), (800_000_000, 1_200_000_000, 2, "0.25"),
        (1_200_000_000, 1_800_000_000, 1, "0.5"))),
    "ETHUSDT": _brackets((
        (0, 300_000, 125, "0.004"), (300_000, 800_000, 100, "0.005"), (800_000, 3_000_000, 75, "0.0065"),
        (3_000_000, 12_000_000, 50, "0.01"), (12_000_000, 50_000_000, 25, "0.02"),
        (50_000_000, 65_000_000, 20, "0.025"), (65_000_000, 150_000_000, 10, "0.05"),
        (150_000_000, 320_000_000, 5, "0.1"), (320_000_000, 400_000_000, 4, "0.125"),
        (400_000_000, 530_000_000, 3, "0.15"), (530_000_000, 800_000_000, 2, "0.25"),
        (800_000_000, 1_200_000_000, 1, "0.5"))),
}


def max_notional(brackets: tuple[Bracket, ...], leverage: int) -> Decimal:
    """The largest position notional allowed at this leverage: the cap of the last bracket whose
    initial leverage is at least it."""
    allowed = [b.notional_cap for b in brackets if b.initial_leverage >= leverage]
    return max(allowed) if allowed else Decimal(0)


# What a symbol without a published table gets: one bracket, 125x up to 1,000,000.
DEFAULT_BRACKETS = _brackets(((0, 1_000_000, 125, "0.004"),))
