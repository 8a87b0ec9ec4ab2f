"""staff passkeys (WebAuthn credentials) beside the authenticator app

Revision ID: a3c9e5f1d207
Revises: b7e3f1a2c905
Create Date: 2026-12-05 07:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = "a3c9e5f1d207"
down_revision = "b7e3f1a2c905"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_passkey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("transports", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("last_used_on", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id"),
    )
    op.create_index("ix_staff_passkey_user_id", "staff_passkey", ["user_id"])


def downgrade():
    op.drop_index("ix_staff_passkey_user_id", table_name="staff_passkey")
    op.drop_table("staff_passkey")
