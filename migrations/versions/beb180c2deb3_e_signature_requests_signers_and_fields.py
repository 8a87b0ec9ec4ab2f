"""e-signature requests, signers and fields; the firm's consent text

Revision ID: beb180c2deb3
Revises: a5c8e2d4f610
Create Date: 2026-12-05 07:28:00.199324

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'beb180c2deb3'
down_revision = "a5c8e2d4f610"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('firm_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_consent', sa.Text(), nullable=True))
    op.create_table('signature_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('signing_order', sa.Enum('sequential', 'parallel', name='signing_order', native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('draft', 'awaiting', 'partly_signed', 'signed', 'declined', 'expired', 'voided', name='signature_status', native_enum=False, length=20), nullable=False),
    sa.Column('consent_text', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_on', sa.DateTime(), nullable=False),
    sa.Column('sent_on', sa.DateTime(), nullable=True),
    sa.Column('completed_on', sa.DateTime(), nullable=True),
    sa.Column('closed_on', sa.DateTime(), nullable=True),
    sa.Column('close_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entity_id'], ['entity.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signature_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_request_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_request_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index('ix_signature_request_status_deadline', ['status', 'deadline'], unique=False)

    op.create_table('signer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('waiting', 'asked', 'signed', 'declined', name='signer_status', native_enum=False, length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('asked_on', sa.DateTime(), nullable=True),
    sa.Column('viewed_on', sa.DateTime(), nullable=True),
    sa.Column('consented_on', sa.DateTime(), nullable=True),
    sa.Column('signed_on', sa.DateTime(), nullable=True),
    sa.Column('declined_on', sa.DateTime(), nullable=True),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=400), nullable=True),
    sa.Column('auth_method', sa.String(length=20), nullable=True),
    sa.Column('signature_kind', sa.String(length=10), nullable=True),
    sa.Column('signature_text', sa.String(length=200), nullable=True),
    sa.Column('signature_image', sa.LargeBinary(), nullable=True),
    sa.Column('initials', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['signature_request.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signer_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signer_request_id'), ['request_id'], unique=False)

    op.create_table('signature_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('signed_version_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.Column('sha256_before', sa.String(length=64), nullable=False),
    sa.Column('sha256_after', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['signature_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signed_version_id'], ['document_version.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['version_id'], ['document_version.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signature_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_document_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_document_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_document_signed_version_id'), ['signed_version_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_document_version_id'), ['version_id'], unique=False)

    op.create_table('signature_field',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('signer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('signature', 'initials', 'date_signed', 'text', 'checkbox', name='signature_field_kind', native_enum=False, length=20), nullable=False),
    sa.Column('page', sa.Integer(), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('w', sa.Float(), nullable=False),
    sa.Column('h', sa.Float(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['signature_document.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['signature_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signer_id'], ['signer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signature_field', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_field_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_field_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_field_signer_id'), ['signer_id'], unique=False)



def downgrade():
    with op.batch_alter_table('firm_settings', schema=None) as batch_op:
        batch_op.drop_column('signature_consent')
    with op.batch_alter_table('signature_field', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_field_signer_id'))
        batch_op.drop_index(batch_op.f('ix_signature_field_request_id'))
        batch_op.drop_index(batch_op.f('ix_signature_field_document_id'))

    op.drop_table('signature_field')
    with op.batch_alter_table('signature_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_document_version_id'))
        batch_op.drop_index(batch_op.f('ix_signature_document_signed_version_id'))
        batch_op.drop_index(batch_op.f('ix_signature_document_request_id'))
        batch_op.drop_index(batch_op.f('ix_signature_document_document_id'))

    op.drop_table('signature_document')
    with op.batch_alter_table('signer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signer_request_id'))
        batch_op.drop_index(batch_op.f('ix_signer_contact_id'))

    op.drop_table('signer')
    with op.batch_alter_table('signature_request', schema=None) as batch_op:
        batch_op.drop_index('ix_signature_request_status_deadline')
        batch_op.drop_index(batch_op.f('ix_signature_request_entity_id'))
        batch_op.drop_index(batch_op.f('ix_signature_request_created_by_id'))

    op.drop_table('signature_request')
