"""staff second factor (TOTP, recovery codes, remembered browsers) and session settings

Revision ID: d4e18a2f0c31
Revises: 3d1f0c2a7b41
Create Date: 2026-12-04 16:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e18a2f0c31'
down_revision = '3d1f0c2a7b41'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_totp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('confirmed_on', sa.DateTime(), nullable=True),
    sa.Column('last_step', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_on', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id')
    )
    op.create_table('staff_recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_on', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'code_hash', name='uq_staff_recovery_code')
    )
    with op.batch_alter_table('staff_recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_recovery_code_user_id'), ['user_id'], unique=False)

    op.create_table('staff_trusted_browser',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_on', sa.DateTime(), nullable=False),
    sa.Column('last_used_on', sa.DateTime(), nullable=False),
    sa.Column('expires_on', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staff_trusted_browser', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_trusted_browser_key_hash'), ['key_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_trusted_browser_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('firm_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_factor_roles', sa.Text(), server_default='Admin\nStaff Admin', nullable=False))
        batch_op.add_column(sa.Column('idle_timeout_minutes', sa.Integer(), server_default='30', nullable=False))
        batch_op.add_column(sa.Column('absolute_timeout_hours', sa.Integer(), server_default='12', nullable=False))
        batch_op.create_check_constraint('ck_firm_settings_idle_timeout', 'idle_timeout_minutes > 0')
        batch_op.create_check_constraint('ck_firm_settings_absolute_timeout', 'absolute_timeout_hours > 0')


def downgrade():
    with op.batch_alter_table('firm_settings', schema=None) as batch_op:
        batch_op.drop_constraint('ck_firm_settings_absolute_timeout', type_='check')
        batch_op.drop_constraint('ck_firm_settings_idle_timeout', type_='check')
        batch_op.drop_column('absolute_timeout_hours')
        batch_op.drop_column('idle_timeout_minutes')
        batch_op.drop_column('second_factor_roles')

    with op.batch_alter_table('staff_trusted_browser', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_trusted_browser_user_id'))
        batch_op.drop_index(batch_op.f('ix_staff_trusted_browser_key_hash'))

    op.drop_table('staff_trusted_browser')
    with op.batch_alter_table('staff_recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_recovery_code_user_id'))

    op.drop_table('staff_recovery_code')
    op.drop_table('staff_totp')
