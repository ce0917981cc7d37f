"""stop and take-profit orders: a master order's type, trigger price, OCO group, bracket parent and
client order id; a follower copy's trigger price, OCO group, parent copy and close-position flag

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("master_orders") as batch:
        batch.add_column(sa.Column("order_type", sa.Integer, nullable=False, server_default="2"))  # LIMIT
        batch.add_column(sa.Column("trigger_price", sa.String(64), nullable=True))
        batch.add_column(sa.Column("client_order_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("oco_group", sa.String(160), nullable=True))
        batch.add_column(sa.Column("parent_order_id", sa.String(160), nullable=True))
        batch.add_column(sa.Column("reduce_only", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("close_position", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_index("ix_master_orders_client_order", ["master_account_id", "client_order_id"])
    with op.batch_alter_table("follower_orders") as batch:
        batch.add_column(sa.Column("trigger_price", sa.String(64), nullable=True))
        batch.add_column(sa.Column("oco_group", sa.String(64), nullable=True))
        batch.add_column(sa.Column("parent_order_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("close_position", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_index("ix_follower_orders_oco_group", ["config_id", "oco_group"])


def downgrade() -> None:
    with op.batch_alter_table("follower_orders") as batch:
        batch.drop_index("ix_follower_orders_oco_group")
        for column in ("close_position", "parent_order_id", "oco_group", "trigger_price"):
            batch.drop_column(column)
    with op.batch_alter_table("master_orders") as batch:
        batch.drop_index("ix_master_orders_client_order")
        for column in ("close_position", "reduce_only", "parent_order_id", "oco_group", "client_order_id",
                       "trigger_price", "order_type"):
            batch.drop_column(column)
