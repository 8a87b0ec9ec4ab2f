"""Outbox housekeeping after trouble: rows a killed worker left behind, leases that ran out, and
due rows whose drain job Redis lost.

The per-mail marks ("sending", "sent") are committed without waiting for the disk on PostgreSQL
(app.services.delivery): a killed worker loses none of them, but a crash of the database server
may. Rows claimed before the server last started are therefore not simply given back to the
queue: any of them may have been sent, so they are flagged for a person, like an interrupted mail."""
from datetime import datetime, timedelta

from sqlalchemy import select, text, update

from app.extensions import db
from app.models import Notification
from app.models.notifications import NotificationState
from app.services.delivery import INTERRUPTED, LEASE, PENDING, SENDING, _due

RESTARTED = "the database restarted while this mail was being sent: it may have reached the recipient; check"


def sweep(now=None, stale_after=600, database_started=None):
    """Flag rows a killed worker left in "sending" and rows claimed before the database restarted
    (failed, for a person to check), free leases that ran out, and hand due rows to a drain job when
    Redis lost theirs. Returns the counts."""
    from app import jobs

    now = now or datetime.now()
    interrupted = _flag(where=(Notification.state == SENDING) & (
        Notification.sent_on < now - timedelta(seconds=stale_after)), error=INTERRUPTED)
    started = database_started or database_start()
    unknown = _flag(where=(Notification.state == PENDING) & (Notification.claimed_until < now) & (
        Notification.claimed_until < started + LEASE), error=RESTARTED) if started else 0
    released = db.session.execute(update(Notification).where(
        Notification.state == PENDING, Notification.claimed_until < now)
        .values(claim_token=None, claimed_until=None).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    due = db.session.scalar(select(db.func.count()).select_from(
        select(Notification.id).where(_due(now)).limit(1000).subquery()))
    requeued = due if due and jobs.ensure_sweep_drain() else 0
    return {"requeued": requeued, "interrupted": interrupted + unknown, "released": released}


def _flag(where, error):
    return db.session.execute(update(Notification).where(where).values(
        state=NotificationState.failed, last_error=error, claim_token=None, claimed_until=None)
        .execution_options(synchronize_session=False)).rowcount


def database_start():
    """When the PostgreSQL server last started (local time, as the outbox stores it); None on SQLite,
    whose marks are written before the commit returns."""
    if db.engine.dialect.name != "postgresql":
        return None
    started = db.session.scalar(text("SELECT pg_postmaster_start_time()"))
    return started.astimezone().replace(tzinfo=None)
