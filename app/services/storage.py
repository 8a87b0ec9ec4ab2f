"""Operations on the blob store as a whole: the sha256 check and the copy to another backend."""
import os
import tempfile

from sqlalchemy import select

from app.extensions import db
from app.models import DocumentVersion
from app.services.firm import logo_keys
from app.storage import CHUNK, backend, file_sha256, remove_file


def referenced():
    """(key, sha256 or None, size or None) of every blob the database references, each key once."""
    rows = db.session.execute(select(DocumentVersion.storage_key, DocumentVersion.sha256, DocumentVersion.size)
                              .distinct().order_by(DocumentVersion.storage_key)).all()
    seen = {key for key, _, _ in rows}
    return [tuple(row) for row in rows] + [(key, None, None) for key in logo_keys() if key not in seen]


def verify_storage(store=None):
    """Read every referenced blob back and compare it with its recorded sha256 and size.
    Returns a list of (key, problem) for the missing and the altered ones."""
    store = store or backend()
    problems = []
    for key, sha, size in referenced():
        try:
            found_sha, found_size = store.sha256(key)
        except FileNotFoundError:
            problems.append((key, "missing"))
            continue
        if sha is not None and (found_sha, found_size) != (sha, size):
            problems.append((key, "sha256 mismatch"))
    return problems


def migrate_storage(source, target, report=None):
    """Copy every referenced blob from `source` to `target`, verifying each hash on both sides.
    Idempotent and resumable: a blob already in `target` with the right hash is skipped.
    Returns counts; raises nothing for one bad blob (it is counted as failed and reported)."""
    counts = {"copied": 0, "skipped": 0, "failed": 0}
    for key, sha, size in referenced():
        try:
            outcome = _copy_one(source, target, key, sha)
        except (FileNotFoundError, ValueError) as error:
            outcome = "failed"
            if report:
                report(f"{key}: {error}")
        counts[outcome] += 1
    return counts


def _copy_one(source, target, key, sha):
    if target.exists(key) and (sha is None or target.sha256(key)[0] == sha):
        return "skipped"
    fd, path = tempfile.mkstemp(dir=target.tmp, prefix="mv-")
    try:
        with os.fdopen(fd, "wb") as out, source.open(key) as blob:
            while chunk := blob.read(CHUNK):
                out.write(chunk)
        with open(path, "rb") as copy:
            copied_sha, _ = file_sha256(copy)
        if sha is not None and copied_sha != sha:
            raise ValueError("sha256 mismatch in the source")
        target.put_file(key, path)
    finally:
        remove_file(path)
    if target.sha256(key)[0] != copied_sha:
        raise ValueError("sha256 mismatch after copying")
    return "copied"
