"""organizers sent through "assign to many": a batch may carry an organizer template and tax year

Revision ID: 7c3e1b9a5d20
Revises: e8b4d2c6a1f3
Create Date: 2026-12-05 16:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3e1b9a5d20'
down_revision = 'e8b4d2c6a1f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('task_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organizer_template_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tax_year', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_task_batch_organizer_template_id'), ['organizer_template_id'],
                              unique=False)
        batch_op.create_foreign_key('fk_task_batch_organizer_template_id', 'organizer_template',
                                    ['organizer_template_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('task_batch', schema=None) as batch_op:
        batch_op.drop_constraint('fk_task_batch_organizer_template_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_task_batch_organizer_template_id'))
        batch_op.drop_column('tax_year')
        batch_op.drop_column('organizer_template_id')
