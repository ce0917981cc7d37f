"""master_positions: each master's position as built by its recorded fills

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "master_positions",
        sa.Column("master_account_id", sa.String(64), primary_key=True),
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    # Reducing copies look up what a session's copies hold in a symbol.
    op.create_index("ix_follower_orders_config_symbol", "follower_orders", ["config_id", "symbol"])


def downgrade() -> None:
    op.drop_index("ix_follower_orders_config_symbol", "follower_orders")
    op.drop_table("master_positions")
