"""The signed-in account and its contact, read once per data version per process.

Every request loads its account (FAB's user loader, with the account's contact in the same
statement). While no row has changed (app.data_version), the rows are the same as last time: their
copies are merged into the request's session without a query. An entry serves at most MAX_AGE
seconds, like the kept pages; nothing is kept without a data version (PAGE_CACHE off, Redis down).
"""
import threading
import time
from collections import OrderedDict

from flask import current_app
from sqlalchemy import inspect

from app import data_version
from app.security.grants_cache import _detached_copy

MAX_AGE = 30  # seconds an entry serves
ENTRIES = 4096  # accounts kept per process, least recently used dropped first
_lock = threading.RLock()  # a bump may drop copies from a pool check-in inside a locked section
_store = OrderedDict()  # (database, user id, version) -> (monotonic time, user copy, contact copy or None)


def load(user_id, session, read):
    """(user, contact or None) of `user_id` in `session`; `read()` gives them (or None) from the
    database when no copy serves."""
    version = data_version.current()
    key = (current_app.config.get("SQLALCHEMY_DATABASE_URI"), user_id, version)
    with _lock:
        kept = _store.get(key) if version is not None else None
        if kept is not None and time.monotonic() - kept[0] < MAX_AGE:
            _store.move_to_end(key)
        else:
            kept = None
    if kept is not None:
        return tuple(_attach(copy, session) for copy in kept[1:])
    row = read()
    if row is None:
        return None, None
    user, contact = row
    if version is not None and _clean(user) and (contact is None or _clean(contact)):
        entry = (time.monotonic(), _detached_copy(user), contact and _detached_copy(contact))
        with _lock:
            _store[key] = entry
            while len(_store) > ENTRIES:
                _store.popitem(last=False)
    return user, contact


def forget():
    """Drop every copy (the data changed)."""
    with _lock:
        _store.clear()


def _clean(row):
    state = inspect(row)
    return state.persistent and not state.modified


def _attach(copy, session):
    if copy is None:
        return None
    own = session.identity_map.get(inspect(copy).key)  # the session's own instance wins
    return own if own is not None else session.merge(copy, load=False)


data_version.on_bump(forget)
