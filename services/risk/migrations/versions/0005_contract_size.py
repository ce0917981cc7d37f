"""reservations.contract_size: a futures contract is worth its multiplier times the price

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
    with op.batch_alter_table("reservations") as batch:
        batch.add_column(sa.Column("contract_size", sa.String(64), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("reservations") as batch:
        batch.drop_column("contract_size")
