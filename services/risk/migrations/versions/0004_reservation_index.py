"""reservations by (user_id, expire_time): the open exposure and the order rate are range reads

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reservations_user_expire", "reservations", ["user_id", "expire_time"])


def downgrade() -> None:
    op.drop_index("ix_reservations_user_expire", "reservations")
