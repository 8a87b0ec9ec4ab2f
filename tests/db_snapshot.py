"""Whole-database snapshots for tests: a digest of every table's rows (to prove nothing changed) and a
copy of every row plus the stored files (to put a world back after a test changed it)."""
import hashlib
import os
import shutil

from app.extensions import db


def _tables():
    return list(db.metadata.sorted_tables)


def digest():
    """{table name: sha256 of its sorted rows} for every table (plain DB-API reads: this runs per request)."""
    result = {}
    with db.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for table in _tables():
            cursor.execute(f'SELECT * FROM "{table.name}"')
            rows = sorted(map(repr, cursor.fetchall()))
            result[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        cursor.close()
    return result


def changed(before, after):
    """Names of the tables whose rows differ between two digests."""
    return sorted(name for name in before if before[name] != after.get(name))


class Snapshot:
    """Every row of every table and the storage folder, taken once and put back on demand."""

    def __init__(self, storage_dir, backup_dir):
        self.storage_dir, self.backup_dir = storage_dir, backup_dir
        with db.engine.connect() as conn:
            self.rows = {t.name: [dict(r._mapping) for r in conn.execute(t.select())] for t in _tables()}
        shutil.rmtree(backup_dir, ignore_errors=True)
        if os.path.isdir(storage_dir):
            shutil.copytree(storage_dir, backup_dir)
        self.digest = digest()

    def restore(self):
        """Put every table and stored file back as they were when the snapshot was taken."""
        db.session.rollback()
        db.session.remove()
        tables = _tables()
        with db.engine.begin() as conn:
            for table in reversed(tables):
                conn.execute(table.delete())
            for table in tables:
                if self.rows[table.name]:
                    conn.execute(table.insert(), self.rows[table.name])
        if os.path.isdir(self.backup_dir):
            shutil.copytree(self.backup_dir, self.storage_dir, dirs_exist_ok=True)
        # Re-read: a driver may store a restored value in another text form (SQLite timestamps).
        self.digest = digest()
