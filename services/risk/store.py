"""The risk service's tables."""

from __future__ import annotations

from datetime import datetime

from decimal import Decimal

from sqlalchemy import DateTime, Index, Integer, JSON, MetaData, String
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, DecimalText


class RiskBase(Base):
    __abstract__ = True
    metadata = MetaData()  # this service's tables only: names may repeat across services


class RiskLimitsRow(RiskBase):
    """A follower's limits where they differ from the platform defaults."""

    __tablename__ = "risk_limits"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    limits: Mapped[dict] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReservationRow(RiskBase):
    """Exposure promised to an order not yet filled. OPEN ones count until they expire. The key
    is risk's own, derived from (caller, follower, the caller's id): see reservation_key."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_user_expire", "user_id", "expire_time"),
                      Index("ix_reservations_caller_client", "caller", "client_id"))

    reservation_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    caller: Mapped[str] = mapped_column(String(64))  # the service that reserved: "replication"
    client_id: Mapped[str] = mapped_column(String(80))  # the caller's name for it (its client order id)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    signed_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)  # of one contract: the unit price × contract_size
    status: Mapped[str] = mapped_column(String(16))  # OPEN | COMMITTED | RELEASED | DENIED
    decision: Mapped[dict] = mapped_column(JSON)  # the answer given, replayed for a retried request
    expire_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    contract_size: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(1))  # base units per contract


class PositionRow(RiskBase):
    """A follower's committed position, from committed fills."""

    __tablename__ = "positions"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    signed_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)


class RiskBookRow(RiskBase):
    """A follower's book version: bumped in the transaction of every change to its reservations
    or positions. A replica's in-memory book at the same version is current; any other is reloaded."""

    __tablename__ = "risk_books"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


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


class AccountMarksRow(RiskBase):
    """What the breakers watch of a follower: the day's starting equity and the high-water mark
    (from account snapshots), failures in a row and recent copy latencies (from copy events)."""

    __tablename__ = "account_marks"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), default="")  # UTC date of day_start_equity
    day_start_equity: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    high_water_mark: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    equity: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    snapshot_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failures_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    recent_latencies_ms: Mapped[list] = mapped_column(JSON, default=list)


class BreakerRow(RiskBase):
    """A tripped breaker; it stays until its user's trading state is reset."""

    __tablename__ = "breakers"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    trip_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[Decimal] = mapped_column(DecimalText)
    threshold: Mapped[Decimal] = mapped_column(DecimalText)
    reason: Mapped[str] = mapped_column(String(500))


class ProcessedEventRow(RiskBase):
    """Copy events already counted by the breakers (a redelivery counts once)."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)


metadata = RiskBase.metadata
