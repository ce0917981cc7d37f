"""copy sessions, master fills, follower orders

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "copy_sessions",
        sa.Column("config_id", sa.String(64), primary_key=True),
        sa.Column("follower_id", sa.String(64), nullable=False, index=True),
        sa.Column("follower_account_id", sa.String(64), nullable=False),
        sa.Column("master_id", sa.String(64), nullable=False, index=True),
        sa.Column("master_account_id", sa.String(64), nullable=False, index=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("follower_id", "request_id", name="uq_copy_sessions_request"),
    )
    op.create_table(
        "master_fills",
        sa.Column("fill_id", sa.String(160), primary_key=True),
        sa.Column("master_account_id", sa.String(64), nullable=False, index=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("execute_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "follower_orders",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("config_id", sa.String(64), nullable=False, index=True),
        sa.Column("follower_id", sa.String(64), nullable=False, index=True),
        sa.Column("follower_account_id", sa.String(64), nullable=False),
        sa.Column("master_fill_id", sa.String(160), nullable=False, index=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("filled_quantity", sa.String(64), nullable=False),
        sa.Column("average_fill_price", sa.String(64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("venue_order_id", sa.String(64), nullable=False),
        sa.Column("refusal", sa.JSON(), nullable=True),
        sa.Column("error_kind", sa.String(32), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("master_fill_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receive_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("risk_decide_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("send_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_time", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("follower_orders")
    op.drop_table("master_fills")
    op.drop_table("copy_sessions")
