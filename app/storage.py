"""Blob storage for uploaded files: streamed in, hashed, size-capped, stored under random keys.

The local backend keeps blobs under STORAGE_DIR (outside any static folder, never routed).
Keys are opaque ("ab/cd/<random>") so an object-store backend can use them as object names.
"""
import hashlib
import os
import secrets
import tempfile
import time
from dataclasses import dataclass

from flask import current_app
from werkzeug.exceptions import RequestEntityTooLarge

CHUNK = 64 * 1024
HEAD_BYTES = 64 * 1024  # what type detection reads


@dataclass(frozen=True)
class StoredBlob:
    """What saving a stream produced."""

    key: str
    size: int
    sha256: str
    head: bytes


class TooLarge(RequestEntityTooLarge):
    """The upload passed the firm's per-file limit (answered with 413)."""


class LocalBackend:
    """Blobs as files under one directory; temp files live beside them so renames are atomic."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.tmp = os.path.join(self.root, "tmp")
        os.makedirs(self.tmp, exist_ok=True)

    def path(self, key):
        """The file of `key`; refuses anything that is not one of our keys."""
        parts = key.split("/")
        if len(parts) != 3 or not all(p and p.replace("-", "").replace("_", "").isalnum() for p in parts):
            raise ValueError("not a storage key")
        return os.path.join(self.root, *parts)

    def save(self, stream, max_bytes, inspect=None):
        """Copy `stream` into a new blob, hashing and counting; past `max_bytes` nothing is kept.
        `inspect`, if given, is called with every chunk (content checks without a second read)."""
        digest, size, head = hashlib.sha256(), 0, b""
        fd, tmp_path = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge()
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                    digest.update(chunk)
                    if inspect is not None:
                        inspect(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            key = self._new_key()
            final = self.path(key)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(tmp_path, final)
            _fsync_dir(os.path.dirname(final))
        except BaseException:
            _remove(tmp_path)
            raise
        return StoredBlob(key=key, size=size, sha256=digest.hexdigest(), head=head)

    def open(self, key):
        """A binary file object for reading `key`."""
        return open(self.path(key), "rb")

    def delete(self, key):
        """Remove a blob; a missing one is not an error (deletes may be retried)."""
        _remove(self.path(key))

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

    def stale_temp_files(self, older_than):
        """Temp files left by a crashed upload, older than `older_than` seconds."""
        cutoff = time.time() - older_than
        for name in os.listdir(self.tmp):
            path = os.path.join(self.tmp, name)
            if os.path.getmtime(path) < cutoff:
                yield path

    def delete_path(self, path):
        """Remove a temp file found by stale_temp_files()."""
        if os.path.dirname(os.path.abspath(path)) == self.tmp:
            _remove(path)

    def age(self, key):
        """Seconds since the blob was written."""
        return time.time() - os.path.getmtime(self.path(key))

    def _new_key(self):
        token = secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
        return f"{token[:2]}/{token[2:4]}/{token}"


def _remove(path):
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


def backend():
    """The app's storage backend (one per app, created on first use)."""
    store = current_app.extensions.get("portico_storage")
    if store is None:
        store = current_app.extensions["portico_storage"] = LocalBackend(current_app.config["STORAGE_DIR"])
    return store
