"""a follower copy's effects (risk commit, copy events, hence the audit record) still to be
done after the venue acknowledged it: set with the acknowledgement, cleared once they are done

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.add_column(sa.Column("effects_pending", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_index("ix_follower_orders_effects", ["effects_pending", "ack_time"])


def downgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.drop_index("ix_follower_orders_effects")
        batch.drop_column("effects_pending")
