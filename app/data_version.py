"""One number for "has any row changed": the data version in Redis, which goes up after every commit
that wrote anything, from any process (web, worker, CLI) and through any path (ORM flush, Core or
text() statements, migrations).

Writes are noticed on the engine (any statement that is not a read), announced after the database
has the commit (the session's after_commit, or the pool's check-in for bare and AUTOCOMMIT
connections), so a reader that saw the old number read the old rows and its copies die with the bump.
A version Redis lost starts again from a random number, never one a process may hold copies under;
one that went back (Redis restored from a snapshot) empties this process's copies. Caches keyed by
it (app.web.page_cache, app.security.account_cache) read it only with PAGE_CACHE; writes are
announced whenever Redis is named (REDIS_URL), so a worker or a CLI run with the caches off still
ends the web processes' copies.
"""
import re
import secrets
import threading

from flask import current_app, g, has_request_context
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

VERSION_KEY = "portico:data-version"
# Statements that change no row; anything else counts as a write (a CTE only when it holds no DML).
_READS = re.compile(r"\s*(SELECT|PRAGMA|SHOW|SET|SAVEPOINT|RELEASE|ROLLBACK|BEGIN|"
                    r"WITH\b(?!.*\b(INSERT|UPDATE|DELETE|MERGE)\b))\b", re.IGNORECASE | re.DOTALL)
_WROTE = "portico_wrote"
_pending = threading.local()  # a commit that wrote, not yet announced
_on_bump = []  # this process's caches, dropped at each bump
_riders = []  # reads that share the version's round trip
_highest = [None]  # the highest version this process has read


def current():
    """The data version, read once per request; None when the caches are off or Redis cannot say."""
    if not has_request_context():
        return read()
    if "data_version" not in g:
        g.data_version = read()
    return g.data_version


def read():
    """The data version now (one Redis round trip), or None."""
    from app.redis_conn import get_redis

    if not current_app.config.get("PAGE_CACHE"):
        return None
    try:
        redis = get_redis()
        pipe = redis.pipeline(transaction=False)
        pipe.get(VERSION_KEY)
        takers = [taker for taker in (rider(pipe) for rider in _riders) if taker is not None]
        value, *replies = pipe.execute()
        for count, take in takers:
            take(replies[:count])
            replies = replies[count:]
        if value is None:  # first use, or Redis lost it: a random start, never a number used before
            redis.set(VERSION_KEY, secrets.randbelow(2**62), nx=True)
            value = redis.get(VERSION_KEY)
        return _seen(int(value))
    except (RedisError, ValueError, TypeError):
        return None


def _seen(value):
    # Copies are kept under versions read here; a lower one means Redis went back in time and may
    # return a number copies were kept under with other rows.
    if _highest[0] is not None and value < _highest[0]:
        _forget_all()
    _highest[0] = value
    return value


def _forget_all():
    for forget in _on_bump:
        forget()


def bump():
    """Announce a committed change: every process's copies stop serving."""
    from app.redis_conn import get_redis

    _forget_all()
    try:
        if not (current_app.config.get("PAGE_CACHE") or current_app.config.get("REDIS_URL")):
            return
        pipe = get_redis().pipeline(transaction=False)
        pipe.set(VERSION_KEY, secrets.randbelow(2**62), nx=True).incr(VERSION_KEY)
        pipe.execute()
    except (RedisError, RuntimeError):  # RuntimeError: no app to find Redis through
        pass  # this process dropped its copies; the others' age out (each cache bounds their age)


def ride_along(rider):
    """Let `rider(pipe)` queue commands on the version's round trip (one per request, not one each):
    it returns (number queued, a function taking their replies), or None when it queued nothing."""
    if rider not in _riders:
        _riders.append(rider)


def on_bump(forget):
    """Call `forget()` at each bump of this process (a cache drops what it kept)."""
    if forget not in _on_bump:
        _on_bump.append(forget)


def _note_write(conn, cursor, statement, parameters, context, executemany):
    if not _READS.match(statement):
        conn.info[_WROTE] = True


def _after_write(conn, cursor, statement, parameters, context, executemany):
    if conn.info.get(_WROTE) and _autocommit(conn):
        del conn.info[_WROTE]
        _pending.commit = True  # committed by the statement itself: no commit event will follow
        _announce()


def _autocommit(conn):
    level = conn.get_execution_options().get("isolation_level") or \
        getattr(conn.dialect, "isolation_level", None)
    return level == "AUTOCOMMIT"


def _committing(conn):
    if conn.info.pop(_WROTE, False):
        _pending.commit = True  # announced once the database has it (after_commit, or the check-in)


def _rolled_back(conn):
    conn.info.pop(_WROTE, None)


def _announce(*_args):
    if getattr(_pending, "commit", False):
        _pending.commit = False
        bump()


def _checked_in(dbapi_connection, record):
    # Written and neither committed nor rolled back through SQLAlchemy (autocommit, or discarded by
    # the pool's reset): counted as a change, which only costs a miss.
    if record.info.pop(_WROTE, False):
        _pending.commit = True
    _announce()


def register():
    """Listen for writing commits (once per process)."""
    if not event.contains(Engine, "before_cursor_execute", _note_write):
        event.listen(Engine, "before_cursor_execute", _note_write)
        event.listen(Engine, "after_cursor_execute", _after_write)
        event.listen(Engine, "commit", _committing)
        event.listen(Engine, "rollback", _rolled_back)
        event.listen(Session, "after_commit", _announce)
        event.listen(Pool, "checkin", _checked_in)
