"""Newest-first lists of documents and shares: (created_on, id) indexes instead of created_on alone

The lists order by created_on DESC, id DESC. With created_on alone PostgreSQL could not walk an
index in that order (rows created together tie), so it sorted every row in scope: the shares list
read and sorted 290,000 rows (82 ms) and a scoped member's documents joined 30,000 rows before
keeping 25 (190 ms) at 100,000 clients.

Revision ID: e8b4d2c6a1f3
Revises: 2aea9f928fa1
Create Date: 2026-12-05 17:15:00

"""
from alembic import op


revision = 'e8b4d2c6a1f3'
down_revision = '2aea9f928fa1'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_document_created_on', table_name='document')
    op.create_index('ix_document_created_id', 'document', ['created_on', 'id'], unique=False)
    op.drop_index('ix_entity_share_created_on', table_name='entity_share')
    op.create_index('ix_entity_share_created_id', 'entity_share', ['created_on', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_entity_share_created_id', table_name='entity_share')
    op.create_index('ix_entity_share_created_on', 'entity_share', ['created_on'], unique=False)
    op.drop_index('ix_document_created_id', table_name='document')
    op.create_index('ix_document_created_on', 'document', ['created_on'], unique=False)
