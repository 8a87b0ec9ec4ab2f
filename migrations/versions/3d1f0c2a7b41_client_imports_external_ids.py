"""Client imports: external ids on entities and contacts, import runs

Revision ID: 3d1f0c2a7b41
Revises: 501be8447c6b
Create Date: 2026-12-04 17:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = "3d1f0c2a7b41"
down_revision = "501be8447c6b"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("entity") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_entity_external_id", ["external_id"])
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_contact_external_id", ["external_id"])
    op.create_table(
        "import_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.Enum("previewed", "queued", "running", "done", "failed", name="import_state",
                                   native_enum=False, length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("finished_on", sa.DateTime(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["ab_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_import_run_created_by_id", "import_run", ["created_by_id"])


def downgrade():
    op.drop_index("ix_import_run_created_by_id", table_name="import_run")
    op.drop_table("import_run")
    with op.batch_alter_table("contact") as batch:
        batch.drop_constraint("uq_contact_external_id", type_="unique")
        batch.drop_column("external_id")
    with op.batch_alter_table("entity") as batch:
        batch.drop_constraint("uq_entity_external_id", type_="unique")
        batch.drop_column("external_id")
