"""A member's open tasks by deadline: a partial index the home page's lists walk and stop early

Revision ID: c7d2e4f6a8b1
Revises: beb180c2deb3
Create Date: 2026-12-05 12:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c7d2e4f6a8b1'
down_revision = 'beb180c2deb3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_task_responsible_open', 'task', ['responsible_id', 'deadline', 'id'], unique=False,
                    postgresql_where=sa.text("staff_status = 'open'"),
                    sqlite_where=sa.text("staff_status = 'open'"))


def downgrade():
    op.drop_index('ix_task_responsible_open', table_name='task')
