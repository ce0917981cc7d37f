"""venue accounts

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "venue_accounts",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("role", sa.Integer(), nullable=False),
        sa.Column("venue_kind", sa.Integer(), nullable=False),
        sa.Column("venue_id", sa.String(64), nullable=False),
        sa.Column("market_type", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("watch_fills", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "request_id", name="uq_venue_accounts_request"),
    )


def downgrade() -> None:
    op.drop_table("venue_accounts")
