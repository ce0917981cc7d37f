"""A demo master's past: days of round trips on a seeded random walk that ends at today's
simulator price, sized from the master's equity, each fill with its 0.1 % fee and the equity
it left. Pure and deterministic for a seed, so a second `up --demo` makes the same trades (and
the services, which know their ids, take none twice)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

FEE_RATE = Decimal("0.001")


@dataclass(frozen=True)
class Style:
    """How a master trades: for how long, how often, how long they hold, how well."""

    days: int
    round_trips_per_day: float
    hold_hours: float  # mean holding time
    edge: float  # 0: a coin flip; 1: always right about the direction
    shorts: bool  # sells first sometimes (derivatives)
    risk_fraction: Decimal  # of equity in each trade
    hourly_volatility: float  # σ of the hourly log return


@dataclass(frozen=True)
class PastFill:
    trade_id: str
    time: datetime
    side: str  # "buy" | "sell"
    quantity: Decimal
    price: Decimal
    fee: Decimal  # USDT
    equity: Decimal  # the master's equity after this fill


def price_path(seed: int, hours: int, end_price: Decimal, volatility: float) -> list[Decimal]:
    """hours + 1 hourly prices of a random walk, scaled so the last is end_price."""
    rng = random.Random(seed)
    path = [1.0]
    for _ in range(hours):
        path.append(path[-1] * (1 + rng.gauss(0, volatility)))
    scale = float(end_price) / path[-1]
    return [Decimal(str(round(p * scale, 2))) for p in path]


def _at(prices: list[Decimal], hour: float) -> Decimal:
    """The path's price between two hours, on the straight line joining them."""
    i = min(int(hour), len(prices) - 2)
    part = Decimal(str(round(hour - i, 4)))
    return (prices[i] + (prices[i + 1] - prices[i]) * part).quantize(Decimal("0.01"))


def history(seed: int, style: Style, *, end_price: Decimal, lot: Decimal, equity: Decimal, now: datetime
            ) -> list[PastFill]:
    """The master's fills, oldest first, ending before `now` (the last trade may still be open)."""
    rng = random.Random(seed * 7919 + 1)
    hours = style.days * 24
    prices = price_path(seed, hours, end_price, style.hourly_volatility)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)
    count = max(1, round(style.days * style.round_trips_per_day))
    opens = sorted(rng.uniform(0, hours - 1) for _ in range(count))
    fills: list[PastFill] = []
    free_from = 0.0  # one position at a time: the next opens after the last closed
    for n, opened in enumerate(opens):
        opened = max(opened, free_from)
        held = max(0.25, rng.expovariate(1 / style.hold_hours))
        closed = opened + held
        if opened >= hours - 1:
            break
        at_open, at_close = _at(prices, opened), _at(prices, min(closed, hours))
        rising = at_close >= at_open
        if style.shorts:
            long = rising if rng.random() < style.edge else rng.random() < 0.5
        else:
            long = True
            if not rising and rng.random() < style.edge:
                continue  # a skilled long-only trader sits this one out
        quantity = (equity * style.risk_fraction / at_open / lot).to_integral_value(rounding=ROUND_DOWN) * lot
        if quantity <= 0:
            continue
        open_fee = (quantity * at_open * FEE_RATE).quantize(Decimal("0.0001"))
        equity -= open_fee
        fills.append(PastFill(f"h{n}o", start + timedelta(hours=opened), "buy" if long else "sell", quantity, at_open,
                              open_fee, equity))
        if closed >= hours:
            break  # still open now
        close_fee = (quantity * at_close * FEE_RATE).quantize(Decimal("0.0001"))
        equity += (at_close - at_open) * quantity * (1 if long else -1) - close_fee
        fills.append(PastFill(f"h{n}c", start + timedelta(hours=closed), "sell" if long else "buy", quantity,
                              at_close, close_fee, equity))
        free_from = closed + 0.1
    return fills
