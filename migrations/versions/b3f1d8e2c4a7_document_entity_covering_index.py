"""A client's documents newest first, with their names, from the index alone

ix_document_entity_created becomes (entity_id, created_on, id) INCLUDE (name) on PostgreSQL (SQLite has
no INCLUDE: the key columns only). A scoped member's document search by name then tests the names in
the index instead of reading ~30,000 rows of the table scattered over its pages: at 100,000 clients
the page's count 130 → 25 ms and its top-25 154 → 25 ms.

Revision ID: b3f1d8e2c4a7
Revises: 7c3e1b9a5d20
Create Date: 2026-12-06 00:50:00

"""
from alembic import op


revision = 'b3f1d8e2c4a7'
down_revision = '7c3e1b9a5d20'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_document_entity_created', table_name='document')
    op.create_index('ix_document_entity_created', 'document', ['entity_id', 'created_on', 'id'], unique=False,
                    postgresql_include=['name'])


def downgrade():
    op.drop_index('ix_document_entity_created', table_name='document')
    op.create_index('ix_document_entity_created', 'document', ['entity_id', 'created_on'], unique=False)
