"""The risk service's tables."""

from __future__ import annotations

from datetime import datetime

from decimal import Decimal

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, DecimalText


class RiskBase(Base):
    __abstract__ = True


class RiskLimitsRow(RiskBase):
    """A follower's limits where they differ from the platform defaults."""

    __tablename__ = "risk_limits"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    limits: Mapped[dict] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReservationRow(RiskBase):
    """Exposure promised to an order not yet filled. OPEN ones count until they expire."""

    __tablename__ = "reservations"

    reservation_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    signed_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    status: Mapped[str] = mapped_column(String(16))  # OPEN | COMMITTED | RELEASED | DENIED
    decision: Mapped[dict] = mapped_column(JSON)  # the answer given, replayed for a retried request
    expire_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PositionRow(RiskBase):
    """A follower's committed position, from committed fills."""

    __tablename__ = "positions"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    signed_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)


class TradingStateRow(RiskBase):
    """Trading state by scope: "global", "<user>" or "<user>/<master>"; absent means ACTIVE.
    A follower's row is also the lock that serialises its reservations."""

    __tablename__ = "trading_states"

    scope: Mapped[str] = mapped_column(String(140), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    kill_switch: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(String(500))
    changed_by: Mapped[str] = mapped_column(String(128))
    change_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


metadata = RiskBase.metadata
