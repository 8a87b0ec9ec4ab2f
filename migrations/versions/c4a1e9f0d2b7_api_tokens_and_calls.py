"""API tokens of staff members and the audit trail of API calls

Revision ID: c4a1e9f0d2b7
Revises: c7d41e9a2b58
Create Date: 2026-12-05 12:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c4a1e9f0d2b7"
down_revision = "c7d41e9a2b58"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Enum("read", "write", name="api_token_scope", native_enum=False, length=10),
                  nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("expires_on", sa.DateTime(), nullable=False),
        sa.Column("last_used_on", sa.DateTime(), nullable=True),
        sa.Column("revoked_on", sa.DateTime(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["ab_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    op.create_index("ix_api_token_user_id", "api_token", ["user_id"], unique=False)
    op.create_index("ix_api_token_revoked_by_id", "api_token", ["revoked_by_id"], unique=False)
    op.create_table(
        "api_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_call_token_id", "api_call", ["token_id", "id"], unique=False)
    op.create_index("ix_api_call_user_id", "api_call", ["user_id", "id"], unique=False)
    op.create_index("ix_api_call_created_on", "api_call", ["created_on"], unique=False)


def downgrade():
    op.drop_index("ix_api_call_created_on", table_name="api_call")
    op.drop_index("ix_api_call_user_id", table_name="api_call")
    op.drop_index("ix_api_call_token_id", table_name="api_call")
    op.drop_table("api_call")
    op.drop_index("ix_api_token_revoked_by_id", table_name="api_token")
    op.drop_index("ix_api_token_user_id", table_name="api_token")
    op.drop_table("api_token")
