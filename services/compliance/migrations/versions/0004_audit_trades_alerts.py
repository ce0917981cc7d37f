"""audit trail, trades, compliance alerts, login addresses

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("sequence", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("occur_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(256), nullable=False),
        sa.Column("subject_user_id", sa.String(64), nullable=False, index=True),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=True, unique=True),
    )
    op.create_index("ix_audit_events_actor", "audit_events", ["actor"])
    op.create_table(
        "trades",
        sa.Column("trade_id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("price", sa.String(64), nullable=False),
        sa.Column("fee", sa.String(64), nullable=False),
        sa.Column("fee_currency", sa.String(16), nullable=False),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("master_fill_id", sa.String(200), nullable=False),
        sa.Column("execute_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_trades_user_time", "trades", ["user_id", "execute_time"])
    op.create_table(
        "compliance_alerts",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raise_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observe_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dedup_key", sa.String(300), nullable=False, unique=True),
    )
    op.create_table(
        "login_addresses",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("login_addresses")
    op.drop_table("compliance_alerts")
    op.drop_index("ix_trades_user_time", table_name="trades")
    op.drop_table("trades")
    op.drop_index("ix_audit_events_actor", table_name="audit_events")
    op.drop_table("audit_events")
