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


class KycRow(ComplianceBase):
    __tablename__ = "kyc_verifications"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[int] = mapped_column(Integer)
    legal_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    document_type: Mapped[str] = mapped_column(String(40))
    document_number: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted by the vault
    submit_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decide_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(String(1000))


class ConsentRow(ComplianceBase):
    __tablename__ = "consents"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    accept_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


metadata = ComplianceBase.metadata
