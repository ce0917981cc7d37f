"""a copy risk reduced: the limit that reduced it and its numbers (a Refusal's fields), shown
on the follower order and its events

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.add_column(sa.Column("reduction", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.drop_column("reduction")
