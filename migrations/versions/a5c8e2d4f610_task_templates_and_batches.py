"""Work for many clients: task templates, task batches (one task per chosen entity, made by a job),
the batch of a task, and the staff bell's (recipient, time) index for its grouped view

Revision ID: a5c8e2d4f610
Revises: a3c9e5f1d207
Create Date: 2026-12-05 07:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = "a5c8e2d4f610"
down_revision = "a3c9e5f1d207"
branch_labels = None
depends_on = None

KINDS = ("task", "file_request")
FREQUENCIES = ("once", "monthly", "quarterly", "yearly", "every_n_days", "every_n_weeks", "every_n_months")


def _enum(values, name):
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade():
    op.create_table(
        "task_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum(KINDS, "task_kind"), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("checklist", sa.Text(), nullable=True),
        sa.Column("deadline_days", sa.Integer(), nullable=True),
        sa.Column("frequency", _enum(FREQUENCIES, "task_frequency"), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["ab_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_task_template_created_by_id", "task_template", ["created_by_id"])
    op.create_table(
        "task_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum(KINDS, "task_kind"), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("checklist", sa.Text(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("frequency", _enum(FREQUENCIES, "task_frequency"), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("assign_now", sa.Boolean(), nullable=False),
        sa.Column("entity_ids", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.Column("state", _enum(("queued", "running", "done"), "task_batch_state"), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("finished_on", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["template_id"], ["task_template.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_id"], ["ab_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_task_batch_template_id", "task_batch", ["template_id"])
    op.create_index("ix_task_batch_created_by_id", "task_batch", ["created_by_id"])
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("batch_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_task_batch_id", "task_batch", ["batch_id"], ["id"], ondelete="SET NULL")
        batch.create_unique_constraint("uq_task_batch_entity", ["batch_id", "entity_id"])
    op.create_index("ix_notification_user_time", "notification", ["recipient_user_id", "created_on"])


def downgrade():
    op.drop_index("ix_notification_user_time", table_name="notification")
    with op.batch_alter_table("task") as batch:
        batch.drop_constraint("uq_task_batch_entity", type_="unique")
        batch.drop_constraint("fk_task_batch_id", type_="foreignkey")
        batch.drop_column("batch_id")
    op.drop_index("ix_task_batch_created_by_id", table_name="task_batch")
    op.drop_index("ix_task_batch_template_id", table_name="task_batch")
    op.drop_table("task_batch")
    op.drop_index("ix_task_template_created_by_id", table_name="task_template")
    op.drop_table("task_template")
