"""measured_copies: the delay and fill price of each filled copy of a master fill

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
        "measured_copies",
        sa.Column("order_id", sa.String(200), primary_key=True),
        sa.Column("master_fill_id", sa.String(160), nullable=False, index=True),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("fill_price", sa.String(64), nullable=False),
        sa.Column("delay_ms", sa.Integer, nullable=False),
        sa.Column("ack_time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("measured_copies")
