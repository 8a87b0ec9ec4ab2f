"""Delivering outbox rows: re-check at send time, honour preferences, one mail (a digest when
several rows of one person are due), never twice."""
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import select, update

from app import mailer
from app.extensions import db
from app.models import (ClientRequest, Contact, Document, Message, MessageKind, Notification, NotificationPreference,
                        Task, TaxVoucher)
from app.models.notifications import Channel, NotificationState
from app.models.contacts import PortalState as ContactState
from app.models.tasks import PortalState
from app.security import access
from app.security import roles as R
from app.services import events
from app.services.firm import get_settings
from app.services.notifications import event_title, object_models
from app.services.vouchers import still_due

MAX_ATTEMPTS = 4
EARLY = timedelta(seconds=2)  # rq's scheduler works in whole seconds: a job may start a moment early
OBJECTS = object_models()


def deliver(notification_id):
    """Send the row (and the recipient's other due rows) unless they no longer apply."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.state is not NotificationState.pending or row.channel is not Channel.email:
        return "skipped"
    if row.send_after > datetime.now() + EARLY:
        return "not due"  # the outbox sweep picks it up when it is
    due = [n for n in _due_rows(row) if not _cancel_if_stale(n)]
    person = row.recipient_contact or row.recipient_user
    address = person.primary_email if isinstance(person, Contact) else person.email
    if not due or not address:
        for n in due:
            n.state, n.last_error = NotificationState.cancelled, "no e-mail address"
        db.session.commit()
        return "cancelled"
    if not _claim(due):
        db.session.rollback()
        return "claimed elsewhere"
    try:
        subject, text, html = render(person, due)
        mailer.send(address, subject, text, html)
    except Exception as exc:  # SMTP or rendering trouble: back to pending (or failed), then rq retries
        _failed(due, exc)
        raise
    for n in due:
        n.state = NotificationState.sent
    db.session.commit()
    return "sent"


def _claim(rows):
    """Mark the rows as being sent, atomically (UPDATE … WHERE state = pending), and commit: a worker
    killed after the SMTP hand-off never sends them again, and two workers never both send."""
    ids = [n.id for n in rows]
    claimed = db.session.execute(
        update(Notification).where(Notification.id.in_(ids), Notification.state == NotificationState.pending)
        .values(state=NotificationState.sending, attempts=Notification.attempts + 1, sent_on=datetime.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != len(ids):
        return False
    db.session.commit()
    return True


def sweep(now=None, stale_after=600):
    """Re-create lost jobs (Redis flushed or restarted) for due pending rows, and mark rows left in
    "sending" by a killed worker as failed for an admin to check and retry. Returns the counts."""
    from rq.job import Job

    from app import jobs
    from app.redis_conn import get_redis

    now = now or datetime.now()
    interrupted = db.session.execute(
        update(Notification).where(Notification.state == NotificationState.sending,
                                   Notification.sent_on < now - timedelta(seconds=stale_after))
        .values(state=NotificationState.failed,
                last_error="interrupted while sending: it may have reached the recipient; check before retrying")
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    due = db.session.scalars(select(Notification.id).where(
        Notification.state == NotificationState.pending, Notification.channel == Channel.email,
        Notification.send_after <= now).order_by(Notification.id).limit(1000)).all()
    connection, requeued = get_redis(), 0
    for notification_id in due:
        job = Job.fetch(f"notify-{notification_id}", connection=connection) \
            if Job.exists(f"notify-{notification_id}", connection=connection) else None
        if job is None or job.get_status(refresh=True) in ("finished", "failed", "stopped", "canceled"):
            jobs.enqueue_delivery(notification_id, now)
            requeued += 1
    return {"requeued": requeued, "interrupted": interrupted}


def _due_rows(row):
    owner = (Notification.recipient_contact_id == row.recipient_contact_id if row.recipient_contact_id
             else Notification.recipient_user_id == row.recipient_user_id)
    return db.session.scalars(select(Notification).where(
        owner, Notification.channel == Channel.email, Notification.state == NotificationState.pending,
        Notification.send_after <= datetime.now() + EARLY,
    ).order_by(Notification.id)).all()


def _failed(rows, exc):
    db.session.rollback()
    for n in rows:
        n = db.session.get(Notification, n.id)
        n.state = NotificationState.failed if n.attempts >= MAX_ATTEMPTS else NotificationState.pending
        n.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    db.session.commit()


def _cancel_if_stale(row):
    """Cancel a row whose object is gone, no longer visible to the recipient, or not wanted by mail."""
    reason = _why_not(row)
    if reason:
        row.state, row.last_error = NotificationState.cancelled, reason
    return bool(reason)


def _why_not(row):
    model = OBJECTS.get(row.object_type)
    obj = db.session.get(model, row.object_id) if model is not None else None
    if obj is None:
        return "object deleted"
    if not wants_email(row):
        return "e-mail turned off by the recipient"
    if row.recipient_contact_id:
        return _contact_reason(row.recipient_contact, obj, row.event)
    user = row.recipient_user
    return None if user.active and access.can(user, R.VIEW, obj) else "no longer visible to the recipient"


def _contact_reason(contact, obj, event):
    if contact.portal_state is ContactState.disabled:
        return "contact disabled"
    thread = (obj.task or obj.request) if isinstance(obj, Message) else obj
    if thread is None or R.VIEW not in access.contact_actions(contact, thread.entity):
        return "entity no longer shared"
    if isinstance(obj, Message):
        if obj.deleted_on is not None or obj.kind is MessageKind.internal:
            return "message deleted"
        obj = obj.task or obj.request
    if isinstance(obj, Task) and event != events.TASK_WITHDRAWN:
        if obj.portal_state is not PortalState.assigned or contact not in obj.assignees:
            return "task no longer assigned"
    if isinstance(obj, ClientRequest) and obj.contact_id != contact.id:
        return "not the requester"
    if isinstance(obj, TaxVoucher) and not still_due(obj):
        return "paid"
    return None


def wants_email(row):
    """In-app is always on; e-mail unless the person turned it off (globally or for this event)."""
    if row.recipient_contact_id and not row.recipient_contact.notify_by_email:
        return False
    column = NotificationPreference.contact_id if row.recipient_contact_id else NotificationPreference.user_id
    person_id = row.recipient_contact_id or row.recipient_user_id
    preference = db.session.scalar(select(NotificationPreference.email).where(
        column == person_id, NotificationPreference.event == row.event))
    return preference is not False


def render(person, rows):
    """Subject, text and HTML of the mail, in the recipient's language."""
    language = person.language if isinstance(person, Contact) else current_app.config["BABEL_DEFAULT_LOCALE"]
    firm = get_settings()
    base = (firm.portal_base_url or current_app.config["PORTAL_BASE_URL"]).rstrip("/")
    with force_locale(language):
        items = [_item(n, base, isinstance(person, Contact)) for n in rows]
        subject = items[0]["title"] if len(items) == 1 else _("%(n)d updates from %(firm)s", n=len(items),
                                                               firm=firm.firm_name)
        settings_url = f"{base}/portal/settings" if isinstance(person, Contact) else f"{base}/notifications/preferences"
        context = dict(firm=firm, person=person, items=items, logo_url=f"{base}/firm-logo", settings_url=settings_url)
        return (f"{firm.firm_name}: {subject}", render_template("email/notification.txt", **context),
                render_template("email/notification.html", **context))


def _item(row, base, to_contact):
    obj = db.session.get(OBJECTS[row.object_type], row.object_id)
    if isinstance(obj, TaxVoucher):  # only the date and a link: amounts stay behind the portal sign-in
        url = f"{base}/portal/payments/{obj.due_date.isoformat()}?entity={obj.entity_id}"
        return {"title": event_title(row.event, format_date(obj.due_date, "medium")), "url": url, "body": "",
                "extra": None, "deadline": obj.due_date}
    if isinstance(obj, Document):  # staff only: a client's upload
        return {"title": event_title(row.event, obj.name), "url": f"{base}/documentview/show/{obj.id}", "body": "",
                "extra": None, "deadline": None}
    task = (obj.task or obj.request) if isinstance(obj, Message) else obj
    name = getattr(task, "title", None) or getattr(task, "subject", "")
    kind = "requests" if isinstance(task, ClientRequest) else "tasks"
    url = f"{base}/portal/{kind}/{task.id}" if to_contact else (
        f"{base}/clientrequestview/show/{task.id}" if kind == "requests" else f"{base}/taskview/show/{task.id}")
    body = obj.body if isinstance(obj, Message) and obj.kind is not MessageKind.internal else ""
    extra = getattr(task, "additional_message", None) if row.event == events.FILE_REQUEST_CREATED else None
    return {"title": event_title(row.event, name), "url": url, "body": body, "extra": extra,
            "deadline": getattr(task, "deadline", None)}

