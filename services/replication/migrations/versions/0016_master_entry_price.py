"""master_positions.entry_price: the master's average entry price of what is open, kept with the
position by the fills that build it (a session joining the master's open positions guards its
slippage against it). Empty for positions built before it was kept: read from their fills then.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("master_positions") as batch:
        batch.add_column(sa.Column("entry_price", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("master_positions") as batch:
        batch.drop_column("entry_price")
