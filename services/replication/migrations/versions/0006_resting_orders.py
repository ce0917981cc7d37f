"""master_orders, and follower orders that mirror them: order type, limit price, master order, cancel reason

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "master_orders",
        sa.Column("master_order_id", sa.String(160), primary_key=True),
        sa.Column("master_account_id", sa.String(64), nullable=False, index=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.Integer, nullable=False),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("price", sa.String(64), nullable=False),
        sa.Column("filled_quantity", sa.String(64), nullable=False),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("master_fills") as batch:
        batch.add_column(sa.Column("venue_order_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("quantity", sa.String(64), nullable=True))
        batch.create_index("ix_master_fills_order", ["master_account_id", "venue_order_id"])
    with op.batch_alter_table("follower_orders") as batch:
        batch.add_column(sa.Column("order_type", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("limit_price", sa.String(64), nullable=True))
        batch.add_column(sa.Column("master_order_id", sa.String(160), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.Text, nullable=False, server_default=""))
        batch.create_index("ix_follower_orders_master_order", ["config_id", "master_order_id"])


def downgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.drop_index("ix_follower_orders_master_order")
        for column in ("cancel_reason", "master_order_id", "limit_price", "order_type"):
            batch.drop_column(column)
    with op.batch_alter_table("master_fills") as batch:
        batch.drop_index("ix_master_fills_order")
        batch.drop_column("quantity")
        batch.drop_column("venue_order_id")
    op.drop_table("master_orders")
