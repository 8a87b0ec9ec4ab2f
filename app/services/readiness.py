"""Is this deployment ready to serve? Database, migrations, Redis, storage and (for the CLI) SMTP."""
import logging
import os
import smtplib

from flask import current_app
from sqlalchemy import text

from app.extensions import db

log = logging.getLogger(__name__)


def _database():
    db.session.execute(text("SELECT 1"))
    return db.engine.dialect.name


def _migrations():
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(os.path.join(os.path.dirname(current_app.root_path), "migrations"))
    heads = set(script.get_heads())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != heads:
        raise RuntimeError(f"database at {sorted(current) or 'no revision'}, code expects {sorted(heads)}: "
                           "run `flask db upgrade`")
    return ", ".join(sorted(heads))


def _redis():
    from app.redis_conn import get_redis

    get_redis(socket_connect_timeout=2, socket_timeout=2).ping()
    return "ping answered"


def _storage():
    from app.storage import backend

    store = backend()
    if not store.writable():
        raise RuntimeError("the probe read back differs from what was written")
    return f"{store.kind} round trip"


def _smtp():
    server = current_app.config.get("MAIL_SERVER")
    if not server:
        raise RuntimeError("MAIL_SERVER is not set")
    with smtplib.SMTP(server, current_app.config.get("MAIL_PORT", 25), timeout=5) as smtp:
        smtp.ehlo()
        if current_app.config.get("MAIL_USE_TLS"):
            smtp.starttls()
        code, _ = smtp.noop()
        if code != 250:
            raise RuntimeError(f"NOOP answered {code}")
    return f"{server} answers"


def run_checks(smtp=False):
    """[(part, ok, detail)] for each part; a failure's detail is its error message."""
    parts = [("database", _database), ("migrations", _migrations), ("redis", _redis), ("storage", _storage)]
    if smtp:
        parts.append(("smtp", _smtp))
    results = []
    for name, probe in parts:
        try:
            results.append((name, True, probe()))
        except Exception as error:  # any failure means "not ready"; the message says which and why
            db.session.rollback()
            log.warning("readiness check %s failed: %s", name, error)
            results.append((name, False, f"{type(error).__name__}: {error}"))
    return results
