"""keyed audit chain: the chain's head, and its HMAC key

The head starts at the chain's newest record, so an existing chain carries on from it; its
records keep their SHA-256 links (the key, created at the first start, signs from the next
sequence on, and its first record's MAC covers the old head's hash).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    head = op.create_table(
        "audit_head",
        sa.Column("chain", sa.String(16), primary_key=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    last = op.get_bind().execute(sa.text(
        "SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1")).first()
    op.bulk_insert(head, [{"chain": "main", "sequence": last[0] if last else 0,
                           "hash": last[1] if last else GENESIS_HASH}])


def downgrade() -> None:
    op.drop_table("audit_keys")
    op.drop_table("audit_head")
