"""Role grants and the firm's settings cached across requests, safely: keyed by a version that every
change bumps.

The version lives in Redis (shared by every web process and worker). A commit that touches a role,
permission, view-menu, their links or the firm's settings (or deletes an account, which the database
unlinks from the settings by itself) increments it after the commit, so the next request of any process
reloads. A version Redis lost (flushed, restarted empty) starts again from a random number, never from
one a process may hold entries under; an entry is kept at most MAX_AGE seconds, which bounds how long a
change whose bump Redis missed (down at that moment) goes unseen. Without Redis nothing is cached across
requests (each request loads, as before).
"""
import secrets
import time

from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, User, ViewMenu
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from app.models import FirmSettings

VERSION_KEY = "portico:grants-version"
MAX_AGE = 60  # seconds an entry serves
_CHANGED = "portico_grants_changed"
_WATCHED = (Role, Permission, PermissionView, ViewMenu, FirmSettings)
_store = {}  # (name, version) -> (monotonic time loaded, value), for this process
_MISSING = object()


def version():
    """The current grants version, or None when Redis cannot say or GRANTS_CACHE is off (nothing cached)."""
    from flask import current_app

    from app.redis_conn import get_redis

    if not current_app.config.get("GRANTS_CACHE", True):
        return None
    try:
        redis = get_redis()
        value = redis.get(VERSION_KEY)
        if value is None:  # first use, or Redis lost it: a fresh random start, not 0 again
            redis.set(VERSION_KEY, secrets.randbelow(2**62), nx=True)
            value = redis.get(VERSION_KEY)
        return int(value)
    except (RedisError, ValueError, TypeError):
        return None


def cached(name, current_version, load):
    """`load()` once per (name, version) in this process (for at most MAX_AGE seconds); every call when
    the version is unknown. What a transaction that changed grants reads is not kept (it may roll back)."""
    if current_version is None:
        return load()
    key = (name, current_version)
    kept = _fresh(key)
    if kept is not _MISSING:
        return kept
    value = load()
    if not _changes_pending():
        if len(_store) > 32:  # old versions are never asked for again
            _store.clear()
        _store[key] = (time.monotonic(), value)
    return value


def _fresh(key):
    kept = _store.get(key)
    return kept[1] if kept is not None and time.monotonic() - kept[0] < MAX_AGE else _MISSING


def _changes_pending():
    from app.extensions import db

    return bool(db.session.info.get(_CHANGED))


def attached(name, current_version, session, load):
    """The row `load()` returns, attached to `session`: loaded once per (name, version) in this
    process, later merged into the session from a detached copy without a query. The session's own
    instance wins when it holds one (it may carry changes not committed yet)."""
    if current_version is None:
        return load()
    copy = _fresh((name, current_version))
    if copy is not _MISSING:
        own = session.identity_map.get(inspect(copy).key)
        return own if own is not None else session.merge(copy, load=False)
    row = load()
    state = inspect(row) if row is not None else None
    if state is not None and state.persistent and not state.modified:  # never a change not yet committed
        cached(name, current_version, lambda: _detached_copy(row))
    return row


def _detached_copy(row):
    mapper = inspect(row).mapper
    copy = mapper.class_(**{attr.key: getattr(row, attr.key) for attr in mapper.column_attrs})
    make_transient_to_detached(copy)  # as if loaded: clean, with its identity
    return copy


def bump():
    """Invalidate every process's cached grants (after a change to roles or permissions)."""
    from app.redis_conn import get_redis

    _store.clear()
    try:
        get_redis().incr(VERSION_KEY)
    except RedisError:
        pass  # this process dropped its copy; the others' entries age out within MAX_AGE


def _changes_grants(obj, new_or_deleted):
    """A new or deleted grant object, a changed firm settings row, or a role whose permissions or name
    changed (a role also turns dirty when a user joins it: that changes no grant)."""
    if not isinstance(obj, _WATCHED):
        return False
    if new_or_deleted or not isinstance(obj, Role):
        return True
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in ("permissions", "name"))


def _note_changes(session, flush_context):
    # A deleted account: the database sets firm_settings.owner_id to NULL by itself (ON DELETE SET NULL).
    if any(_changes_grants(obj, True) or isinstance(obj, User) for obj in session.deleted) or \
            any(_changes_grants(obj, True) for obj in session.new) or \
            any(_changes_grants(obj, False) for obj in session.dirty):
        session.info[_CHANGED] = True


def _after_commit(session):
    if session.info.pop(_CHANGED, False):
        bump()


def _after_rollback(session):
    session.info.pop(_CHANGED, None)


def register():
    """Listen for commits that change grants (once per process)."""
    if not event.contains(Session, "after_flush", _note_changes):
        event.listen(Session, "after_flush", _note_changes)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
