"""risk_books: a version per follower, bumped by every change to its reservations or positions,
so a replica's in-memory book of that follower is known current (or reloaded) under its lock

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_books",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("risk_books")
