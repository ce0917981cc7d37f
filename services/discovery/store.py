"""The discovery service's tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, Integer, JSON, MetaData, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, DecimalText


class DiscoveryBase(Base):
    __abstract__ = True
    metadata = MetaData()  # this service's tables only: names may repeat across services


class MasterProfileRow(DiscoveryBase):
    __tablename__ = "master_profiles"

    trader_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    strategy_type: Mapped[int] = mapped_column(Integer)
    risk_level: Mapped[int] = mapped_column(Integer)
    bio: Mapped[str] = mapped_column(Text)
    venues: Mapped[list] = mapped_column(JSON)
    master_account_ids: Mapped[list] = mapped_column(JSON)
    public: Mapped[bool] = mapped_column(Boolean)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MasterFillRow(DiscoveryBase):
    """Discovery's own copy of the master fills it has seen on NATS (each once)."""

    __tablename__ = "master_fills"

    fill_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    master_account_id: Mapped[str] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    fee: Mapped[Decimal] = mapped_column(DecimalText)  # in the quote currency
    equity: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    execute_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MeasuredCopyRow(DiscoveryBase):
    """A filled copy of a master fill as replication reported it (copies.order.filled): how long
    after the master's fill the follower's venue acknowledged it, and at what price it filled.
    The master's price is its MasterFillRow's (same fill_id)."""

    __tablename__ = "measured_copies"

    order_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    master_fill_id: Mapped[str] = mapped_column(String(160), index=True)
    side: Mapped[str] = mapped_column(String(4))
    fill_price: Mapped[Decimal] = mapped_column(DecimalText)
    delay_ms: Mapped[int] = mapped_column(Integer)
    ack_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PerformanceStatsRow(DiscoveryBase):
    """A profile's statistics for one window, brought up to date as each fill arrives."""

    __tablename__ = "performance_stats"

    trader_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    window: Mapped[str] = mapped_column(String(16), primary_key=True)
    stats: Mapped[dict] = mapped_column(JSON)
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RankingRow(DiscoveryBase):
    """One place in a ranking as it stood when its first page was asked for: the pages that
    follow read the same list, so fills arriving meanwhile move nobody between pages."""

    __tablename__ = "rankings"

    ranking_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    trader_id: Mapped[str] = mapped_column(String(64))
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


metadata = DiscoveryBase.metadata
