"""The replication service's tables."""

from __future__ import annotations

from datetime import datetime

from decimal import Decimal

from sqlalchemy import Boolean, DateTime, Index, Integer, JSON, LargeBinary, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, DecimalText


class ReplicationBase(Base):
    __abstract__ = True
    metadata = MetaData()  # this service's tables only: names may repeat across services


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


class CopySessionRow(ReplicationBase):
    __tablename__ = "copy_sessions"
    __table_args__ = (UniqueConstraint("follower_id", "request_id", name="uq_copy_sessions_request"),)

    config_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    follower_id: Mapped[str] = mapped_column(String(64), index=True)
    follower_account_id: Mapped[str] = mapped_column(String(64))
    master_id: Mapped[str] = mapped_column(String(64), index=True)
    master_account_id: Mapped[str] = mapped_column(String(64), index=True)
    settings: Mapped[dict] = mapped_column(JSON)  # CopySettings as proto JSON
    state: Mapped[int] = mapped_column(Integer)
    state_reason: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MasterFillRow(ReplicationBase):
    __tablename__ = "master_fills"
    __table_args__ = (Index("ix_master_fills_order", "master_account_id", "venue_order_id"),
                      Index("ix_master_fills_unpublished", "published", "record_time"),
                      Index("ix_master_fills_unhandled", "master_account_id", "handled", "record_time"))

    fill_id: Mapped[str] = mapped_column(String(160), primary_key=True)  # <account>:<venue trade id>
    master_account_id: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # the MasterFill event as published
    execute_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Which master order it filled, and how much: what of a resting order is already filled.
    venue_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quantity: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    # The outbox: stored first, then published until JetStream acknowledges it (fills.FillOutbox).
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    record_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Copied to every session (or refused, or handed to retries): a fill JetStream redelivers after
    # a later one is copied before it by that later one (Copier._handle), so a close never
    # overtakes its open.
    handled: Mapped[bool] = mapped_column(Boolean, default=False)


class MasterPositionRow(ReplicationBase):
    """A master's signed position per symbol, as built by the fills recorded here: the base for
    mirroring closes proportionally (MasterFill.position_before) and for joining it (join.py)."""

    __tablename__ = "master_positions"

    master_account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    # The average entry price of what is open (None when flat, or built before it was kept).
    entry_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MasterFeedRow(ReplicationBase):
    """A watched master account's fill feed. The cursor is the newest fill recorded from the
    venue, per symbol: a watcher that starts (process start, reconnect, lease takeover) reads the
    venue's trade history from it before it trusts the stream. stream_lost_time: the followers'
    outage policies were applied at this time and the stream has not been back since (so the
    replica that takes the watcher over knows to do what a return of the stream does)."""

    __tablename__ = "master_feeds"

    master_account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[dict] = mapped_column(JSON)  # symbol ("" venue-wide) -> [venue trade id, ISO time]
    stream_lost_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MasterOrderRow(ReplicationBase):
    """A master's resting limit order as last seen on its order stream: the base for telling an
    opening from an amendment, and each change's version."""

    __tablename__ = "master_orders"
    __table_args__ = (Index("ix_master_orders_client_order", "master_account_id", "client_order_id"),)

    master_order_id: Mapped[str] = mapped_column(String(160), primary_key=True)  # <account>:<venue order id>
    master_account_id: Mapped[str] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    filled_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    open: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    order_type: Mapped[int] = mapped_column(Integer, default=2)  # trading_pb2.OrderType (LIMIT)
    trigger_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    client_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the master's own id
    oco_group: Mapped[str | None] = mapped_column(String(160), nullable=True)  # <account>:<venue group id>
    parent_order_id: Mapped[str | None] = mapped_column(String(160), nullable=True)  # a bracket child's parent
    reduce_only: Mapped[bool] = mapped_column(Boolean, default=False)
    close_position: Mapped[bool] = mapped_column(Boolean, default=False)


class FollowerOrderRow(ReplicationBase):
    __tablename__ = "follower_orders"
    __table_args__ = (Index("ix_follower_orders_config_symbol", "config_id", "symbol"),
                      Index("ix_follower_orders_master_order", "config_id", "master_order_id"),
                      Index("ix_follower_orders_oco_group", "config_id", "oco_group"),
                      Index("ix_follower_orders_effects", "effects_pending", "ack_time"))

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # = the client order id
    config_id: Mapped[str] = mapped_column(String(64), index=True)
    follower_id: Mapped[str] = mapped_column(String(64), index=True)
    follower_account_id: Mapped[str] = mapped_column(String(64))
    master_fill_id: Mapped[str] = mapped_column(String(160), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    filled_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    average_fill_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    status: Mapped[int] = mapped_column(Integer)
    venue_order_id: Mapped[str] = mapped_column(String(64))
    refusal: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    reduction: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # risk approved less: why
    error_kind: Mapped[str] = mapped_column(String(32))
    error_message: Mapped[str] = mapped_column(Text)
    master_fill_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    receive_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    risk_decide_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    send_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ack_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # host:pid of the worker that made the copy, for operators (and to see replicas share work).
    worker: Mapped[str] = mapped_column(String(128), default="")
    # The risk reservation of the attempt that was sent (each retry reserves anew).
    reservation_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    order_type: Mapped[int] = mapped_column(Integer, default=1)  # trading_pb2.OrderType
    limit_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    # Set on a resting copy: the master order it mirrors (<account>:<venue order id>).
    master_order_id: Mapped[str | None] = mapped_column(String(160), nullable=True)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # How long placing it waited for the venue's request budget (services/replication/budget.py).
    budget_delay_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A stop or take-profit copy: its trigger; copies of one OCO group cancel each other; a bracket
    # child's or protective order's parent copy (its order_id); closes the whole position.
    trigger_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    oco_group: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parent_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    close_position: Mapped[bool] = mapped_column(Boolean, default=False)
    # Acknowledged by the venue, its effects (risk commit, copy events) not all done yet: set in
    # the write that records the acknowledgement, cleared once they are; the sweeper
    # (services/replication/fanout.py) redoes what a crash or an outage left undone.
    effects_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # The copy's fills as the venue reported them on acknowledging it, its own figures (see
    # copier.venue_fills_json): what its filled events carry. None: the venue did not say (its
    # trade history is asked when the events go out).
    venue_fills: Mapped[list | None] = mapped_column(JSON, nullable=True)


class ErrorEventRow(ReplicationBase):
    """A failed or uncertain follower order and its retries (one per follower order)."""

    __tablename__ = "error_events"

    error_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    follower_id: Mapped[str] = mapped_column(String(64), index=True)
    config_id: Mapped[str] = mapped_column(String(64))
    venue_id: Mapped[str] = mapped_column(String(64))
    error_type: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer, index=True)
    message: Mapped[str] = mapped_column(Text)
    attempt_count: Mapped[int] = mapped_column(Integer)  # retries made so far
    retry_after: Mapped[float | None] = mapped_column(nullable=True)  # the venue's Retry-After, seconds
    next_attempt_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # A processor holds a claimed event until then; past it, another may take it over.
    claim_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolution_comment: Mapped[str] = mapped_column(Text, default="")
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReconciliationResultRow(ReplicationBase):
    __tablename__ = "reconciliation_results"

    result_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    config_id: Mapped[str] = mapped_column(String(64), index=True)
    run_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    in_sync: Mapped[bool] = mapped_column(Boolean)
    discrepancies: Mapped[list] = mapped_column(JSON)
    resolution: Mapped[str] = mapped_column(String(32))


class MasterAccessRow(ReplicationBase):
    """Who may copy a master account; no row: everyone (see sessions.may_copy)."""

    __tablename__ = "master_access"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    private: Mapped[bool] = mapped_column(Boolean)
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AllowedFollowerRow(ReplicationBase):
    """A follower a (private) master account allows to copy it."""

    __tablename__ = "allowed_followers"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    follower_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


metadata = ReplicationBase.metadata
