"""Backup and restore: one tar archive holding a consistent database dump, the blobs (or, for S3,
their keys and hashes) and a manifest (counts, alembic revision).

Consistency: the dump and everything the manifest says about it (counts, blob keys) come from one
database snapshot (PostgreSQL: an exported snapshot that pg_dump shares; SQLite: a copy made with
the sqlite3 backup API). Blobs are immutable and written before their rows, so every blob a dumped
row references already exists when the blobs are copied afterwards.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from contextlib import contextmanager

from sqlalchemy import text

from app import data_version
from app.extensions import db
from app.security import grants_cache
from app.storage import CHUNK, backend, file_sha256, remove_file

FORMAT = 1
PG_DUMP, SQLITE_DUMP = "database.pgdump", "database.sqlite3"
# What a freshly initialised deployment already has; rows anywhere else mean "not empty".
SETUP_TABLES = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_role", "ab_permission_view_role",
                "alembic_version"}


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why."""


def _tables():
    return [t.name for t in db.metadata.sorted_tables]


def _catalog(conn):
    """Counts per table, the alembic revision and the referenced blobs, read through `conn`."""
    counts = {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() for name in _tables()}
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    blobs = [list(row) for row in conn.execute(text(
        "SELECT DISTINCT storage_key, sha256, size FROM document_version ORDER BY storage_key"))]
    logo = conn.execute(text("SELECT logo_key FROM firm_settings WHERE id = 1")).scalar()
    if logo and logo.split(":", 1)[1] not in {b[0] for b in blobs}:
        blobs.append([logo.split(":", 1)[1], None, None])
    return {"counts": counts, "alembic_revision": sorted(revision), "blobs": blobs}


def _pg_env():
    url = db.engine.url
    return dict(os.environ, PGHOST=url.host or "127.0.0.1", PGPORT=str(url.port or 5432),
                PGUSER=url.username or "", PGPASSWORD=url.password or "", PGDATABASE=url.database)


def _run(args, env):
    binary = shutil.which(args[0])
    if binary is None:
        raise BackupError(f"{args[0]} is not installed (PostgreSQL client tools are needed)")
    done = subprocess.run([binary, *args[1:]], env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise BackupError(f"{args[0]} failed: {done.stderr.strip()[-500:]}")


def _dump_postgresql(path):
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  f"--file={path}"], _pg_env())
            return _catalog(conn)


def _dump_sqlite(path):
    source = db.engine.raw_connection()
    try:
        with closing_sqlite(path) as target:
            source.driver_connection.backup(target)
    finally:
        source.close()
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return _catalog(conn)
    finally:
        engine.dispose()


def create_backup(path, with_blobs=None):
    """Write the archive to `path` (atomically). Blobs go in for the local backend, or for any
    backend when `with_blobs`; otherwise only their keys and hashes. Returns the manifest."""
    store, dialect = backend(), db.engine.dialect.name
    with_blobs = store.kind == "local" if with_blobs is None else with_blobs
    work = tempfile.mkdtemp(prefix="portico-backup-")
    try:
        dump = os.path.join(work, PG_DUMP if dialect == "postgresql" else SQLITE_DUMP)
        catalog = _dump_postgresql(dump) if dialect == "postgresql" else _dump_sqlite(dump)
        manifest = {"format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "dialect": dialect, "storage_backend": store.kind, "blobs_included": bool(with_blobs),
                    **catalog}
        partial = f"{path}.partial"
        with tarfile.open(partial, "w") as archive:
            archive.add(dump, arcname=os.path.basename(dump))
            if with_blobs:
                manifest["missing_blobs"] = _add_blobs(archive, store, catalog["blobs"], work)
            _add_bytes(archive, "manifest.json", json.dumps(manifest, indent=1).encode())
        os.replace(partial, path)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _add_blobs(archive, store, blobs, work):
    """Copy each blob into the archive as blobs/<key>, checking its hash; returns keys that failed."""
    missing = []
    for key, sha, _ in blobs:
        copy = os.path.join(work, "blob")
        try:
            with store.open(key) as blob, open(copy, "wb") as out:
                shutil.copyfileobj(blob, out, CHUNK)
        except FileNotFoundError:
            missing.append(key)  # deleted after the snapshot
            continue
        with open(copy, "rb") as check:
            if sha is not None and file_sha256(check)[0] != sha:
                missing.append(key)
                continue
        archive.add(copy, arcname=f"blobs/{key}")
        remove_file(copy)
    return missing


def _add_bytes(archive, name, data):
    import io

    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), int(time.time())
    archive.addfile(info, io.BytesIO(data))


def database_is_empty():
    """Whether the database holds nothing beyond what `flask db upgrade` and `portico init` write."""
    with db.engine.connect() as conn:
        for name in _tables():
            if name in SETUP_TABLES:
                continue
            try:
                if conn.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first():
                    return False
            except Exception:  # noqa: BLE001  a table that does not exist yet is empty
                conn.rollback()
    return True


def read_manifest(path):
    """The manifest of the archive at `path`."""
    try:
        with tarfile.open(path) as archive:
            return json.load(archive.extractfile("manifest.json"))
    except (OSError, KeyError, tarfile.TarError, ValueError) as error:
        raise BackupError(f"{path} is not a Portico backup: {error}") from error


def restore_backup(path, force=False):
    """Rebuild this deployment's database and blobs from the archive at `path`. Refuses a database
    that holds data unless `force`. Returns {"counts_match", "blobs_restored", "missing_blobs"}."""
    manifest = read_manifest(path)
    dialect = db.engine.dialect.name
    if manifest.get("format") != FORMAT or manifest.get("dialect") != dialect:
        raise BackupError(f"this archive holds a {manifest.get('dialect')} database (format "
                          f"{manifest.get('format')}); this deployment runs {dialect}")
    if not force and not database_is_empty():
        raise BackupError("the database is not empty: restore into an empty deployment, or pass --force to replace it")
    store, wanted = backend(), {key: sha for key, sha, _ in manifest["blobs"]}
    work, restored = tempfile.mkdtemp(prefix="portico-restore-"), 0
    try:
        with tarfile.open(path) as archive:
            for member in archive:
                if member.name in (PG_DUMP, SQLITE_DUMP):
                    _restore_database(_extract(archive, member, work))
                elif member.name.startswith("blobs/") and member.isfile():
                    restored += _restore_blob(store, archive, member, wanted, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    grants_cache.bump()  # roles, permissions and settings of the restored database, in every process
    data_version.bump()  # the copy (raw sqlite3 backup, pg_restore) went around the engine's events
    with db.engine.connect() as conn:
        counts = _catalog(conn)["counts"]
    missing = [key for key in wanted if not store.exists(key)]
    return {"counts_match": counts == manifest["counts"], "blobs_restored": restored, "missing_blobs": missing}


def _extract(archive, member, work):
    target = os.path.join(work, "member")
    with archive.extractfile(member) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK)
    return target


def _restore_blob(store, archive, member, wanted, work):
    from app.storage import check_key

    key = check_key(member.name[len("blobs/"):])
    copy = _extract(archive, member, work)
    with open(copy, "rb") as check:
        if wanted.get(key) is not None and file_sha256(check)[0] != wanted[key]:
            raise BackupError(f"blob {key} in the archive does not match its sha256")
    if not store.exists(key):
        store.put_file(key, copy)
    remove_file(copy)
    return 1


def _restore_database(dump):
    db.session.remove()
    db.engine.dispose()
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        env = _pg_env()
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={env['PGDATABASE']}",
              dump], env)
    else:
        with closing_sqlite(dump) as source, closing_sqlite(db.engine.url.database) as target:
            source.backup(target)
    db.engine.dispose()


@contextmanager
def closing_sqlite(path):
    """A sqlite3 connection to `path`, closed afterwards."""
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()
