"""The discovery service's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base


class DiscoveryBase(Base):
    __abstract__ = True


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


metadata = DiscoveryBase.metadata
