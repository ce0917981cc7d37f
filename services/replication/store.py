"""The replication service's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base


class ReplicationBase(Base):
    __abstract__ = True


class VenueAccountRow(ReplicationBase):
    __tablename__ = "venue_accounts"
    __table_args__ = (UniqueConstraint("user_id", "request_id", name="uq_venue_accounts_request"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[int] = mapped_column(Integer)
    venue_kind: Mapped[int] = mapped_column(Integer)
    venue_id: Mapped[str] = mapped_column(String(64))
    market_type: Mapped[int] = mapped_column(Integer)
    credential_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    watch_fills: Mapped[bool] = mapped_column(Boolean)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


metadata = ReplicationBase.metadata
