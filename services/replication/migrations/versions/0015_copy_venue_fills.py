"""a copy's fills as its venue reported them on acknowledging it (trade id, quantity, price, the
fee it charged, its time), for the copy's filled events and so the trade report

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.add_column(sa.Column("venue_fills", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.drop_column("venue_fills")
