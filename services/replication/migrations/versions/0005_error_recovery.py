"""error_events and reconciliation_results: retries by error type, drift found and repaired

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.add_column(sa.Column("reservation_id", sa.String(80), nullable=True))
    op.create_table(
        "error_events",
        sa.Column("error_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), nullable=False, unique=True),
        sa.Column("follower_id", sa.String(64), nullable=False, index=True),
        sa.Column("config_id", sa.String(64), nullable=False),
        sa.Column("venue_id", sa.String(64), nullable=False),
        sa.Column("error_type", sa.Integer, nullable=False),
        sa.Column("status", sa.Integer, nullable=False, index=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("attempt_count", sa.Integer, nullable=False),
        sa.Column("retry_after", sa.Float, nullable=True),
        sa.Column("next_attempt_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_comment", sa.Text, nullable=False, server_default=""),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reconciliation_results",
        sa.Column("result_id", sa.String(64), primary_key=True),
        sa.Column("config_id", sa.String(64), nullable=False, index=True),
        sa.Column("run_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("in_sync", sa.Boolean, nullable=False),
        sa.Column("discrepancies", sa.JSON, nullable=False),
        sa.Column("resolution", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reconciliation_results")
    op.drop_table("error_events")
    with op.batch_alter_table("follower_orders") as batch:
        batch.drop_column("reservation_id")
