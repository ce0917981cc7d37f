"""private master accounts: an account's copy access, and the followers a private one allows

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "master_access",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "allowed_followers",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("follower_id", sa.String(64), primary_key=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("allowed_followers")
    op.drop_table("master_access")
