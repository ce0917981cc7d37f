"""The compliance service's tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Index, Integer, JSON, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, DecimalText


class ComplianceBase(Base):
    __abstract__ = True
    metadata = MetaData()  # this service's tables only: names may repeat across services


class UserRow(ComplianceBase):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list] = mapped_column(JSON)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Login tokens carry the version they were issued under; bumping it voids them all (logout,
    # a role change), see kit.auth.TokenVersions.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class VaultKeyRow(ComplianceBase):
    """A derivation salt for MASTER_KEY; the key itself is never stored."""

    __tablename__ = "vault_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserKeyRow(ComplianceBase):
    """A user's own data key (random), sealed by the vault: their credentials and identity
    document are encrypted under it, and erasure deletes it, so no copy of their ciphertext
    (a backup, a replica) opens again, whatever keys remain (crypto-shredding)."""

    __tablename__ = "user_keys"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
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


class AuditRow(ComplianceBase):
    """One link of the append-only, HMAC-chained audit trail (see audit.py). Never updated."""

    __tablename__ = "audit_events"

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occur_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(256))
    subject_user_id: Mapped[str] = mapped_column(String(64), index=True)
    details_json: Mapped[str] = mapped_column(Text)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # What the record came from (a NATS message id, a caller's event id): a redelivery finds it.
    event_id: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)


class AuditHeadRow(ComplianceBase):
    """The chain's newest link, kept apart from the records: appenders lock this row, and take
    the next sequence number from it, so a number is never handed out twice even when records
    are deleted (verification then finds the records missing from the end)."""

    __tablename__ = "audit_head"

    chain: Mapped[str] = mapped_column(String(16), primary_key=True)  # "main"
    sequence: Mapped[int] = mapped_column(BigInteger)  # 0: no record yet
    hash: Mapped[str] = mapped_column(String(64))


class AuditKeyRow(ComplianceBase):
    """The audit chain's HMAC key, sealed by the vault together with the first sequence it signs
    (records before it are the unkeyed SHA-256 chain written before keys existed). Rotating the
    vault re-seals it, so the chain verifies across MASTER_KEY changes."""

    __tablename__ = "audit_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TradeRow(ComplianceBase):
    """An execution on a user's venue account: a master fill or a follower's copy filling."""

    __tablename__ = "trades"
    __table_args__ = (Index("ix_trades_user_time", "user_id", "execute_time"),)

    trade_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # "master" or "follower"
    account_id: Mapped[str] = mapped_column(String(64))
    venue: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))  # "buy" or "sell"
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    # As the venue reported it for this execution; None when it did not (never computed here).
    fee: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    fee_currency: Mapped[str] = mapped_column(String(16))
    # The order: the venue's id for a master's, copytrade's (= its client order id) for a copy.
    order_id: Mapped[str] = mapped_column(String(200))
    master_fill_id: Mapped[str] = mapped_column(String(200))  # the master fill a copy follows
    # The venue's own ids of the execution and its order, and the order's client order id.
    venue_trade_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    venue_order_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    client_order_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    execute_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    record_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertRow(ComplianceBase):
    __tablename__ = "compliance_alerts"

    alert_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sorts by raise time
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict] = mapped_column(JSON)
    raise_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When what raised it happened (a trade's execution, a login).
    observe_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # One alert per finding: a redelivered event or a repeated burst does not raise it twice.
    dedup_key: Mapped[str] = mapped_column(String(300), unique=True)


class LoginAddressRow(ComplianceBase):
    """Addresses a user has logged in from: a login from one not seen before is flagged."""

    __tablename__ = "login_addresses"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginThrottleRow(ComplianceBase):
    """Failed logins for one email (registered or not), by the email's SHA-256; see throttle.py."""

    __tablename__ = "login_throttle"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


metadata = ComplianceBase.metadata
