"""The gateway service's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, JSON, MetaData, String
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base


class GatewayBase(Base):
    __abstract__ = True
    metadata = MetaData()  # this service's tables only: names may repeat across services


class ApiKeyRow(GatewayBase):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list] = mapped_column(JSON)
    # SHA-256 of the secret part: the secret itself is shown once and never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expire_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoke_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_use_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


metadata = GatewayBase.metadata
