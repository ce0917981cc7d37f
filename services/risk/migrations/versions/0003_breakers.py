"""account_marks, breakers, processed_events: what the circuit breakers watch and what tripped

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_marks",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), nullable=False, server_default=""),
        sa.Column("day_start_equity", sa.String(64), nullable=True),
        sa.Column("high_water_mark", sa.String(64), nullable=True),
        sa.Column("equity", sa.String(64), nullable=True),
        sa.Column("snapshot_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures_in_a_row", sa.Integer, nullable=False, server_default="0"),
        sa.Column("recent_latencies_ms", sa.JSON, nullable=False),
    )
    op.create_table(
        "breakers",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("trip_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("threshold", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
    )
    op.create_table("processed_events", sa.Column("event_id", sa.String(200), primary_key=True))


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("breakers")
    op.drop_table("account_marks")
