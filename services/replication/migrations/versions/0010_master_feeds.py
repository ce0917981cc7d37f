"""master_feeds: per watched master account, the cursor of the newest fill recorded (read from
after a restart, a reconnect or a lease takeover) and whether an outage is in force

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "master_feeds",
        sa.Column("master_account_id", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.JSON, nullable=False),
        sa.Column("stream_lost_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("master_feeds")
