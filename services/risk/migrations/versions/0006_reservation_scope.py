"""reservations scoped to (calling service, follower): the stored key is derived from both and
the caller's id, so no caller can read, reuse or pre-claim a decision made for someone else

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
    with op.batch_alter_table("reservations") as batch:
        # Rows made before were made by replication (the only caller in production) under its own id.
        batch.add_column(sa.Column("caller", sa.String(64), nullable=False, server_default="replication"))
        batch.add_column(sa.Column("client_id", sa.String(80), nullable=True))
    op.execute("UPDATE reservations SET client_id = reservation_id")
    with op.batch_alter_table("reservations") as batch:
        batch.alter_column("client_id", existing_type=sa.String(80), nullable=False)
    op.create_index("ix_reservations_caller_client", "reservations", ["caller", "client_id"])


def downgrade() -> None:
    op.drop_index("ix_reservations_caller_client", "reservations")
    with op.batch_alter_table("reservations") as batch:
        batch.drop_column("client_id")
        batch.drop_column("caller")
