"""scale: indexes on foreign keys and default orders; trigram search indexes on PostgreSQL

Every foreign key without an index whose first column is the key (found from the metadata), the
columns the lists sort by by default, and on PostgreSQL pg_trgm GIN indexes for the name/title
searches (`ILIKE '%x%'`), which a btree cannot serve. SQLite keeps LIKE over a scan (no pg_trgm).
`CREATE EXTENSION pg_trgm` needs no superuser: pg_trgm is a trusted extension (PostgreSQL 13+), so
the database owner may create it. The trigram indexes live only here (not in the models): the
models also build SQLite and plain test schemas.

Revision ID: d41e7a0c9b11
Revises: e4c2a9d7b613
Create Date: 2026-12-04 16:45:00
"""
from alembic import op

revision = "d41e7a0c9b11"
down_revision = "e4c2a9d7b613"
branch_labels = None
depends_on = None

FOREIGN_KEYS = [
    ("activity_event", "actor_id"),
    ("checklist_item", "done_by_user_id"),
    ("client_request", "task_id"),
    ("client_request_attachment", "document_id"),
    ("document", "created_by_id"),
    ("document_version", "uploaded_by_id"),
    ("entity_share", "role_id"),
    ("file_request_answer", "contact_id"),
    ("file_request_answer", "document_id"),
    ("k1_recipient", "document_id"),
    ("k1_recipient", "sent_by_id"),
    ("message", "author_contact_id"),
    ("message", "author_user_id"),
    ("message_attachment", "document_id"),
    ("notification", "actor_user_id"),
    ("task", "client_done_by_id"),
    ("task", "created_by_id"),
    ("task", "update_document_id"),
    ("tax_voucher", "marked_paid_by_id"),
]
ORDERS = [
    ("ix_document_created_on", "document", "created_on"),
    ("ix_client_request_created_on", "client_request", "created_on"),
    ("ix_tax_voucher_due_date", "tax_voucher", "due_date"),
    ("ix_message_created_on", "message", "created_on"),
    ("ix_contact_last_name", "contact", "last_name"),
    ("ix_entity_share_created_on", "entity_share", "created_on"),
]
TRIGRAMS = [
    ("entity", "name"),
    ("document", "name"),
    ("task", "title"),
    ("contact", "first_name"),
    ("contact", "last_name"),
    ("client_request", "subject"),
]


def upgrade():
    for table, column in FOREIGN_KEYS:
        op.create_index(f"ix_{table}_{column}", table, [column])
    for name, table, column in ORDERS:
        op.create_index(name, table, [column])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in TRIGRAMS:
            op.execute(f"CREATE INDEX ix_{table}_{column}_trgm ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, column in TRIGRAMS:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")
        # The extension stays: other databases objects may use it, and dropping needs its owner.
    for name, table, _column in reversed(ORDERS):
        op.drop_index(name, table_name=table)
    for table, column in reversed(FOREIGN_KEYS):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
