"""The compliance service's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base


class ComplianceBase(Base):
    __abstract__ = True


class UserRow(ComplianceBase):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list] = mapped_column(JSON)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VaultKeyRow(ComplianceBase):
    """A derivation salt for MASTER_KEY; the key itself is never stored."""

    __tablename__ = "vault_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CredentialRow(ComplianceBase):
    __tablename__ = "credentials"

    credential_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    venue_kind: Mapped[int] = mapped_column(Integer)
    venue_id: Mapped[str] = mapped_column(String(64))
    market_type: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    masked_api_key: Mapped[str] = mapped_column(String(200))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


metadata = ComplianceBase.metadata
