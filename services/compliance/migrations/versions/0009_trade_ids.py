"""trades: the venue's own trade and order ids and the client order id, as a regulatory trade
report carries them; a fee the venue did not report is unknown (NULL), not zero

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.add_column(sa.Column("venue_trade_id", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("venue_order_id", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("client_order_id", sa.String(200), nullable=False, server_default=""))
        batch.alter_column("fee", existing_type=sa.String(64), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE trades SET fee = '0' WHERE fee IS NULL")
    with op.batch_alter_table("trades") as batch:
        batch.alter_column("fee", existing_type=sa.String(64), nullable=False)
        batch.drop_column("client_order_id")
        batch.drop_column("venue_order_id")
        batch.drop_column("venue_trade_id")
