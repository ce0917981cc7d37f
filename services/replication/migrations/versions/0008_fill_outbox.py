"""master_fills as an outbox: whether JetStream has acknowledged each fill, and when it was stored

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("master_fills") as batch:
        # Fills stored before the outbox were published by the request that stored them.
        batch.add_column(sa.Column("published", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("record_time", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_master_fills_unpublished", "master_fills", ["published", "record_time"])


def downgrade() -> None:
    op.drop_index("ix_master_fills_unpublished", "master_fills")
    with op.batch_alter_table("master_fills") as batch:
        batch.drop_column("record_time")
        batch.drop_column("published")
