"""Outbox housekeeping and health: purge in batches, queue lag, mails per minute, the portal address check."""
import itertools
from datetime import datetime, timedelta

from app.extensions import db
from app.models import Notification
from app.models.notifications import Channel, NotificationState
from app.security import roles as R
from app.services.delivery_render import portal_address_warning
from app.services.delivery_stats import outbox_health, purge
from tests import factories as f

_keys = itertools.count()


def _row(contact, state, send_after, channel=Channel.email, sent_on=None):
    db.session.add(Notification(recipient_contact_id=contact.id, event="task_assigned", object_type="Task",
                                object_id=1, channel=channel, send_after=send_after, state=state, sent_on=sent_on,
                                idempotency_key=f"stats-{next(_keys)}"))


def test_purge_removes_old_sent_and_cancelled_mail_rows_in_batches_and_keeps_the_rest(ctx):
    """Old sent/cancelled e-mail rows go (three batches of two); pending, failed, recent and in-app rows stay."""
    contact, now = f.contact(), datetime.now()
    old = now - timedelta(days=31)
    for state in [NotificationState.sent] * 3 + [NotificationState.cancelled] * 2:
        _row(contact, state, old)
    _row(contact, NotificationState.pending, old)
    _row(contact, NotificationState.failed, old)
    _row(contact, NotificationState.sent, now - timedelta(days=29))
    _row(contact, NotificationState.sent, old, channel=Channel.in_app)
    db.session.commit()
    assert purge(now, keep_days=30, batch=2) == 5
    left = sorted((n.state.name, n.channel.name) for n in db.session.query(Notification))
    assert left == [("failed", "email"), ("pending", "email"), ("sent", "email"), ("sent", "in_app")]


def test_health_reports_queue_lag_rate_and_interrupted_deliveries(ctx):
    """Lag is the oldest due pending mail's wait; the rate counts mails sent in the last five minutes."""
    from app.services.delivery import INTERRUPTED

    contact, now = f.contact(), datetime.now()
    _row(contact, NotificationState.pending, now - timedelta(seconds=90))
    _row(contact, NotificationState.pending, now + timedelta(minutes=5))  # not due: no lag
    for minutes in (1, 2, 3, 4, 6):
        _row(contact, NotificationState.sent, now - timedelta(minutes=minutes), sent_on=now - timedelta(minutes=minutes))
    db.session.add(Notification(recipient_contact_id=contact.id, event="x", object_type="Task", object_id=1,
                                channel=Channel.email, send_after=now, state=NotificationState.failed,
                                last_error=INTERRUPTED, idempotency_key="stats-interrupted"))
    db.session.commit()
    assert outbox_health(now) == {"lag_seconds": 90, "per_minute": 0.8, "interrupted": 1}


def test_the_ops_console_warns_when_the_portal_address_is_not_the_serving_host(app, client, login):
    """PORTAL_BASE_URL http://127.0.0.1:5000 seen from http://localhost/: a warning; matching: none."""
    with app.app_context():
        admin = f.staff(R.ADMIN).id
        assert portal_address_warning("http://127.0.0.1:5000/") is None
        assert portal_address_warning("http://localhost/") == "http://127.0.0.1:5000"
    login(client, admin)
    assert "Links in mails point to http://127.0.0.1:5000" in client.get("/ops/").get_data(as_text=True)
    page = client.get("/ops/", base_url="http://127.0.0.1:5000").get_data(as_text=True)
    assert "Links in mails point to" not in page
