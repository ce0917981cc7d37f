"""The risk service's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base


class RiskBase(Base):
    __abstract__ = True


class RiskLimitsRow(RiskBase):
    """A follower's limits where they differ from the platform defaults."""

    __tablename__ = "risk_limits"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    limits: Mapped[dict] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


metadata = RiskBase.metadata
