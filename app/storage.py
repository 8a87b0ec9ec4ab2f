"""Blob storage for uploaded files: streamed in, hashed, size-capped, stored under random keys.

Two backends share one interface, chosen by STORAGE_BACKEND: `local` keeps blobs under
STORAGE_DIR (outside any static folder, never routed); `s3` keeps them in an S3-compatible bucket
(app/storage_s3.py). Either way an upload is first spooled to a local temp file while it is hashed
and size-capped, inspected there (type detection), and only then stored: a refused file is never
written to the store, and no upload is ever held in memory. Keys are opaque ("ab/cd/<random>").
"""
import hashlib
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from werkzeug.exceptions import RequestEntityTooLarge

CHUNK = 64 * 1024
HEAD_BYTES = 64 * 1024  # what type detection reads first


@dataclass(frozen=True)
class StoredBlob:
    """What saving a stream produced (`inspected`: what the inspect callback returned)."""

    key: str
    size: int
    sha256: str
    head: bytes
    inspected: Any = None


class TooLarge(RequestEntityTooLarge):
    """The upload passed the firm's per-file limit (answered with 413)."""


def check_key(key):
    """`key` itself when it is one of our keys (three safe parts); ValueError otherwise."""
    parts = (key or "").split("/")
    if len(parts) != 3 or not all(p and p.replace("-", "").replace("_", "").isalnum() for p in parts):
        raise ValueError("not a storage key")
    return key


def new_key():
    """A fresh random key."""
    token = secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
    return f"{token[:2]}/{token[2:4]}/{token}"


def spool(stream, max_bytes, directory):
    """Copy `stream` to a new temp file in `directory`, hashing and counting; past `max_bytes`
    nothing is kept. Returns (path, size, sha256, head); the caller removes the file."""
    digest, size, head = hashlib.sha256(), 0, b""
    fd, path = tempfile.mkstemp(dir=directory, prefix="up-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge()
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        remove_file(path)
        raise
    return path, size, digest.hexdigest(), head


def file_sha256(fileobj):
    """(sha256, size) of everything readable from `fileobj`, read in chunks."""
    digest, size = hashlib.sha256(), 0
    while chunk := fileobj.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class SpoolingBackend:
    """What both backends share: spool, inspect, then hand the temp file to `_store`."""

    kind = ""

    def __init__(self, tmp_dir):
        self.tmp = os.path.abspath(tmp_dir)
        os.makedirs(self.tmp, exist_ok=True)

    def save(self, stream, max_bytes, inspect=None):
        """Store `stream` as a new blob. `inspect(head, path)` runs on the spooled local file first
        (type detection); what it raises aborts the upload before anything is stored."""
        path, size, sha, head = spool(stream, max_bytes, self.tmp)
        try:
            inspected = inspect(head, path) if inspect is not None else None
            key = new_key()
            self._store(key, path)
        finally:
            remove_file(path)
        return StoredBlob(key=key, size=size, sha256=sha, head=head, inspected=inspected)

    def put_file(self, key, path):
        """Store the local file `path` under `key` (migration and restore)."""
        check_key(key)
        fd, copy = tempfile.mkstemp(dir=self.tmp, prefix="cp-")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            self._store(key, copy)
        finally:
            remove_file(copy)

    def sha256(self, key):
        """(sha256, size) of the stored blob, read back from the store."""
        with self.open(key) as blob:
            return file_sha256(blob)

    def stale_temp_files(self, older_than):
        """Spool files left by a crashed upload, older than `older_than` seconds."""
        cutoff = time.time() - older_than
        for name in os.listdir(self.tmp):
            path = os.path.join(self.tmp, name)
            if os.path.getmtime(path) < cutoff:
                yield path

    def delete_path(self, path):
        """Remove a temp file found by stale_temp_files()."""
        if os.path.dirname(os.path.abspath(path)) == self.tmp:
            remove_file(path)

    def presigned_url(self, key, filename, mime, expires):
        """A short-lived direct download link, or None where the backend has none (local)."""
        return None


class LocalBackend(SpoolingBackend):
    """Blobs as files under one directory; temp files live beside them so renames are atomic."""

    kind = "local"

    def __init__(self, root):
        self.root = os.path.abspath(root)
        super().__init__(os.path.join(self.root, "tmp"))

    def path(self, key):
        """The file of `key`; refuses anything that is not one of our keys."""
        return os.path.join(self.root, *check_key(key).split("/"))

    def _store(self, key, path):
        final = self.path(key)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(path, final)
        _fsync_dir(os.path.dirname(final))

    def open(self, key):
        """A binary file object for reading `key`."""
        return open(self.path(key), "rb")

    def delete(self, key):
        """Remove a blob; a missing one is not an error (deletes may be retried)."""
        remove_file(self.path(key))

    def exists(self, key):
        """Whether the blob is present."""
        return os.path.exists(self.path(key))

    def keys(self):
        """Every stored key (for the orphan sweep)."""
        for top in os.listdir(self.root):
            if top == "tmp" or not os.path.isdir(os.path.join(self.root, top)):
                continue
            for mid in os.listdir(os.path.join(self.root, top)):
                for name in os.listdir(os.path.join(self.root, top, mid)):
                    yield f"{top}/{mid}/{name}"

    def age(self, key):
        """Seconds since the blob was written."""
        return time.time() - os.path.getmtime(self.path(key))

    def writable(self):
        """Round trip for `flask portico check`: write, read back and delete a probe file."""
        probe = os.path.join(self.tmp, "check-probe")
        with open(probe, "wb") as out:
            out.write(b"portico")
        with open(probe, "rb") as back:
            ok = back.read() == b"portico"
        remove_file(probe)
        return ok


def remove_file(path):
    """Remove a file; a missing one is not an error."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_backend(config, kind=None):
    """A backend of `kind` (default: STORAGE_BACKEND) built from a config mapping."""
    kind = (kind or config.get("STORAGE_BACKEND") or "local").lower()
    if kind == "local":
        return LocalBackend(config["STORAGE_DIR"])
    if kind == "s3":
        from app.storage_s3 import S3Backend

        return S3Backend.from_config(config)
    raise ValueError(f"unknown STORAGE_BACKEND {kind!r} (local or s3)")


def backend():
    """The app's storage backend (one per app, created on first use)."""
    store = current_app.extensions.get("portico_storage")
    if store is None:
        store = current_app.extensions["portico_storage"] = make_backend(current_app.config)
    return store
