"""master_fills, performance_stats, rankings: statistics from the masters' fills

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
        "master_fills",
        sa.Column("fill_id", sa.String(160), primary_key=True),
        sa.Column("master_account_id", sa.String(64), nullable=False, index=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("price", sa.String(64), nullable=False),
        sa.Column("fee", sa.String(64), nullable=False),
        sa.Column("equity", sa.String(64), nullable=True),
        sa.Column("execute_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "performance_stats",
        sa.Column("trader_id", sa.String(64), primary_key=True),
        sa.Column("window", sa.String(16), primary_key=True),
        sa.Column("stats", sa.JSON, nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rankings",
        sa.Column("ranking_id", sa.String(40), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("trader_id", sa.String(64), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("rankings")
    op.drop_table("performance_stats")
    op.drop_table("master_fills")
