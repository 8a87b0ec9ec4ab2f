"""entity_share: (grantee, role) indexes instead of the grantee-only ones

Every scope asks "the entities where this user / contact / group holds one of these roles". With
an index on the grantee alone beside one on role_id, SQLite's planner (no statistics on a young
database) walked every share of the role for each contact the mail path re-checks: 20 ms per
batch of 100 instead of 3. A composite index answers both conditions and still serves the
foreign key (grantee first).

Revision ID: b7e3f1a2c905
Revises: d41e7a0c9b11
Create Date: 2026-12-04 21:10:00
"""
from alembic import op

revision = "b7e3f1a2c905"
down_revision = "d41e7a0c9b11"
branch_labels = None
depends_on = None

GRANTEES = ("user", "contact", "group")


def upgrade():
    for grantee in GRANTEES:
        op.create_index(f"ix_entity_share_{grantee}_role", "entity_share", [f"{grantee}_id", "role_id"])
        op.drop_index(f"ix_entity_share_{grantee}_id", table_name="entity_share")


def downgrade():
    for grantee in GRANTEES:
        op.create_index(f"ix_entity_share_{grantee}_id", "entity_share", [f"{grantee}_id"])
        op.drop_index(f"ix_entity_share_{grantee}_role", table_name="entity_share")
