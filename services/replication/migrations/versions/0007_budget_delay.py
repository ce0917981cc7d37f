"""follower_orders.budget_delay_ms: how long a copy waited for the venue's request budget

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.add_column(sa.Column("budget_delay_ms", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.drop_column("budget_delay_ms")
