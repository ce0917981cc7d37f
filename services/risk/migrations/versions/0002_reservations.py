"""reservations, positions, trading states

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("reservation_id", sa.String(80), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("signed_quantity", sa.String(64), nullable=False),
        sa.Column("price", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "positions",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("signed_quantity", sa.String(64), nullable=False),
        sa.Column("price", sa.String(64), nullable=False),
    )
    op.create_table(
        "trading_states",
        sa.Column("scope", sa.String(140), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("kill_switch", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("change_time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trading_states")
    op.drop_table("positions")
    op.drop_table("reservations")
