"""master_fills.handled: whether a fill has been copied to every session, so a fill JetStream
redelivers late is copied before the later fill that overtook it

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("master_fills") as batch:
        # Fills stored before this column were copied by the worker that took them.
        batch.add_column(sa.Column("handled", sa.Boolean, nullable=False, server_default=sa.true()))
    op.create_index("ix_master_fills_unhandled", "master_fills", ["master_account_id", "handled", "record_time"])


def downgrade() -> None:
    op.drop_index("ix_master_fills_unhandled", "master_fills")
    with op.batch_alter_table("master_fills") as batch:
        batch.drop_column("handled")
