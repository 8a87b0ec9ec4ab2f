"""How the e-mail outbox is doing (queue lag, mails per minute, deliveries to check) and its
housekeeping (old sent and cancelled rows purged in batches)."""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import Notification
from app.models.notifications import Channel, NotificationState

RATE_WINDOW = timedelta(minutes=5)
PURGE_BATCH = 1000


def outbox_health(now=None):
    """Queue lag (seconds the oldest due pending mail has waited, 0 when none), mails sent per
    minute over the last five minutes, and deliveries interrupted while sending (to check)."""
    from app.services.delivery import INTERRUPTED
    from app.services.delivery_sweep import RESTARTED

    now = now or datetime.now()
    oldest = db.session.scalar(select(func.min(Notification.send_after)).where(
        Notification.state == NotificationState.pending, Notification.channel == Channel.email,
        Notification.send_after <= now))
    recent = db.session.scalar(select(func.count()).where(
        Notification.state == NotificationState.sent, Notification.channel == Channel.email,
        Notification.sent_on >= now - RATE_WINDOW))
    interrupted = db.session.scalar(select(func.count()).where(
        Notification.state == NotificationState.failed, Notification.last_error.in_((INTERRUPTED, RESTARTED))))
    return {"lag_seconds": int((now - oldest).total_seconds()) if oldest else 0,
            "per_minute": round(recent / (RATE_WINDOW.total_seconds() / 60), 1), "interrupted": interrupted}


def purge(now=None, keep_days=None, batch=PURGE_BATCH, max_batches=1000):
    """Delete sent and cancelled e-mail rows older than `keep_days` (OUTBOX_KEEP_DAYS), a batch per
    commit so locks stay short; returns how many went. In-app rows stay: they are the bell's history."""
    now = now or datetime.now()
    keep_days = current_app.config["OUTBOX_KEEP_DAYS"] if keep_days is None else keep_days
    cutoff, removed = now - timedelta(days=keep_days), 0
    for _ in range(max_batches):
        ids = db.session.scalars(select(Notification.id).where(
            Notification.state.in_([NotificationState.sent, NotificationState.cancelled]),
            Notification.channel == Channel.email, Notification.send_after < cutoff).limit(batch)).all()
        if not ids:
            break
        removed += db.session.execute(delete(Notification).where(Notification.id.in_(ids))).rowcount
        db.session.commit()
    return removed
