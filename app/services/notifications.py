"""Notification triggers: domain events become outbox rows in the same transaction; after the
commit a drain job is scheduled at their send_after (app.services.delivery sends them)."""
import logging
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Contact, Notification, Task
from app.models.notifications import Channel, NotificationState
from app.security import roles as R
from app.services import events
from app.services.firm import get_settings

PENDING_KEY = "portico_new_notifications"
log = logging.getLogger(__name__)


def object_models():
    """The models a notification can be about, by their object_type."""
    from app.models import ClientRequest, Document, Message, SignatureRequest, TaxVoucher

    return {"Task": Task, "Message": Message, "ClientRequest": ClientRequest, "TaxVoucher": TaxVoucher,
            "Document": Document, "SignatureRequest": SignatureRequest}


EVENT_TITLES = {
    events.TASK_ASSIGNED: _l("New task: %(name)s"),
    events.TASK_WITHDRAWN: _l("Task withdrawn: %(name)s"),
    events.MESSAGE_POSTED: _l("New message about %(name)s"),
    events.CLIENT_COMPLETED: _l("Client marked done: %(name)s"),
    events.REQUEST_CREATED: _l("New client request: %(name)s"),
    events.FILE_REQUEST_CREATED: _l("Files requested: %(name)s"),
    events.DEADLINE_APPROACHING: _l("Deadline coming up: %(name)s"),
    events.VOUCHER_DUE: _l("Tax payments due on %(name)s"),
    events.CLIENT_UPLOADED: _l("New file from the client: %(name)s"),
    events.SIGNATURE_REQUESTED: _l("Please sign: %(name)s"),
    events.SIGNATURE_DECLINED: _l("Declined to sign: %(name)s"),
    events.SIGNATURE_COMPLETED: _l("Signed by everyone: %(name)s"),
    events.ORGANIZER_REOPENED: _l("Organizer reopened: %(name)s"),
}


def event_title(event_name, name):
    """A notification's title in the current language (mails, digests and the bell share it);
    only the one title needed is translated (a drain asks once per mail line)."""
    title = EVENT_TITLES.get(event_name)
    return str(title) % {"name": name} if title is not None else name


def _person_key(person):
    return f"c{person.id}" if isinstance(person, Contact) else f"u{person.id}"


def idempotency_key(event_name, obj, person, channel, discriminator=""):
    """The outbox key of one notification: event, object, person, channel and what makes it unique."""
    return f"{event_name}:{type(obj).__name__}:{obj.id}:{_person_key(person)}:{channel.name}:{discriminator}"[:200]


def existing_keys(keys):
    """Which of `keys` the outbox holds already (one query; the unique index answers)."""
    keys = set(keys)
    return set(db.session.scalars(select(Notification.idempotency_key).where(
        Notification.idempotency_key.in_(keys)))) if keys else set()


def notify(event_name, people, obj, entity, actor=None, discriminator="", delay=True, channels=tuple(Channel)):
    """Add in-app and e-mail rows (or only `channels`) for each person (skipping the actor); uncommitted.
    (The daily deadline reminders write the same rows set-based: app/services/task_reminders.py.)"""
    now = datetime.now()
    send_after = now + timedelta(seconds=get_settings().notification_delay if delay else 0)
    people = [p for p in people if p is not None and not (
        actor is not None and getattr(p, "id", None) == actor.id and not isinstance(p, Contact))]
    keys = {(p, channel): idempotency_key(event_name, obj, p, channel, discriminator)
            for p in people for channel in channels}
    # A re-run (a daily job run twice) finds its rows already written: never a second row or mail.
    # Exact keys (the unique index answers), not a LIKE on a prefix (no index can serve it here).
    seen = existing_keys(keys.values())  # grows with what is added
    for (person, channel), key in keys.items():
        if key not in seen:
            seen.add(key)
            db.session.add(Notification(
                recipient_contact_id=person.id if isinstance(person, Contact) else None,
                recipient_user_id=None if isinstance(person, Contact) else person.id,
                event=event_name, entity_id=entity.id, object_type=type(obj).__name__, object_id=obj.id,
                channel=channel, actor_user_id=getattr(actor, "id", None),
                send_after=now if channel is Channel.in_app else send_after,
                state=NotificationState.sent if channel is Channel.in_app else NotificationState.pending,
                sent_on=now if channel is Channel.in_app else None,
                idempotency_key=key,
            ))


def staff_for_entity(entity, with_admins=False):
    """The entity's responsible member, and (for new requests) every Admin and the firm owner."""
    from flask_appbuilder.security.sqla.models import Role, User, assoc_user_role

    people = [entity.responsible] if entity.responsible is not None else []
    if with_admins:
        admins = db.session.scalars(select(User).join(assoc_user_role).join(Role).where(
            Role.name == R.ADMIN, User.active.is_(True))).all()
        owner = get_settings().owner
        people += admins + ([owner] if owner is not None else [])
    return [p for p in people if p is not None and p.active]


def _on_task_assigned(entity, obj, actor=None, recipients=(), **_):
    notify(events.TASK_ASSIGNED, recipients, obj, entity, actor, discriminator=obj.assigned_on.isoformat())


def _on_task_withdrawn(entity, obj, actor=None, recipients=(), **_):
    """Within the delay: the assignment mail is cancelled and nothing is sent; after it: a withdrawal mail."""
    cancelled = db.session.execute(
        update(Notification).where(
            Notification.event == events.TASK_ASSIGNED, Notification.object_type == "Task",
            Notification.object_id == obj.id, Notification.channel == Channel.email,
            Notification.state == NotificationState.pending,
        ).values(state=NotificationState.cancelled, last_error="withdrawn before sending")
    ).rowcount
    told = db.session.scalar(select(Notification.id).where(
        Notification.event == events.TASK_ASSIGNED, Notification.object_type == "Task",
        Notification.object_id == obj.id, Notification.channel == Channel.email,
        Notification.state == NotificationState.sent).limit(1))
    if told or not cancelled:
        notify(events.TASK_WITHDRAWN, recipients, obj, entity, actor, discriminator=obj.withdrawn_on.isoformat(),
               delay=False)
    _settle_bell(obj, recipients)


def _settle_bell(task, contacts):
    """The contacts' unread bell lines about a withdrawn task (and its messages) lead nowhere: read."""
    from app.models import Message

    ids = [c.id for c in contacts]
    if not ids:
        return
    about_task = (Notification.object_type == "Task") & (Notification.object_id == task.id)
    about_thread = (Notification.object_type == "Message") & Notification.object_id.in_(
        select(Message.id).where(Message.task_id == task.id))
    db.session.execute(update(Notification).where(
        Notification.channel == Channel.in_app, Notification.recipient_contact_id.in_(ids),
        Notification.read_at.is_(None), Notification.event != events.TASK_WITHDRAWN, about_task | about_thread,
    ).values(read_at=datetime.now()).execution_options(synchronize_session=False))


def _on_message_posted(entity, obj, actor=None, kind=None, thread=None, **_):
    from app.models import MessageKind

    if kind is MessageKind.internal:
        return  # never leaves the staff side
    if obj.author_contact_id is not None:
        staff = [thread.responsible] if isinstance(thread, Task) and thread.responsible else staff_for_entity(entity)
        notify(events.MESSAGE_POSTED, staff, obj, entity, actor, delay=False)
        return
    if isinstance(thread, Task):
        from app.models.tasks import PortalState

        people = list(thread.assignees) if thread.portal_state is PortalState.assigned else []
    else:
        people = [thread.contact] if thread.contact is not None else []
    # A staff e-mail is mailed at once (app.services.messages_mail); the bell still shows it.
    channels = (Channel.in_app,) if kind is MessageKind.email else tuple(Channel)
    notify(events.MESSAGE_POSTED, people, obj, entity, actor, channels=channels)


def _on_client_completed(entity, obj, actor=None, **_):
    notify(events.CLIENT_COMPLETED, [obj.responsible] if obj.responsible else staff_for_entity(entity), obj, entity,
           actor, discriminator=obj.client_done_on.isoformat(), delay=False)


def _on_request_created(entity, obj, actor=None, **_):
    notify(events.REQUEST_CREATED, staff_for_entity(entity, with_admins=True), obj, entity, actor, delay=False)


def _on_file_request_created(entity, obj, actor=None, recipients=(), **_):
    notify(events.FILE_REQUEST_CREATED, recipients, obj, entity, actor)


def _on_voucher_due(entity, obj, actor=None, recipients=(), days_left=0, **_):
    """One reminder per contact and due date (obj is the date's first voucher); keyed by date and day."""
    notify(events.VOUCHER_DUE, recipients, obj, entity, actor,
           discriminator=f"{obj.due_date.isoformat()}:{days_left}", delay=False)


def _on_client_uploaded(entity, obj, actor=None, **_):
    """A client's upload tells the responsible member (several files in a row become one digest)."""
    notify(events.CLIENT_UPLOADED, staff_for_entity(entity), obj, entity, actor)


def _on_organizer_reopened(entity, obj, actor=None, recipients=(), reopened_on=None, **_):
    """The task's contacts hear that their organizer is open again (the note is in the mail); a reopen
    each time: keyed by when."""
    notify(events.ORGANIZER_REOPENED, recipients, obj, entity, actor, discriminator=reopened_on.isoformat())


HANDLERS = {
    events.TASK_ASSIGNED: _on_task_assigned,
    events.TASK_WITHDRAWN: _on_task_withdrawn,
    events.MESSAGE_POSTED: _on_message_posted,
    events.CLIENT_COMPLETED: _on_client_completed,
    events.REQUEST_CREATED: _on_request_created,
    events.FILE_REQUEST_CREATED: _on_file_request_created,
    events.VOUCHER_DUE: _on_voucher_due,
    events.CLIENT_UPLOADED: _on_client_uploaded,
    events.ORGANIZER_REOPENED: _on_organizer_reopened,
}


def register():
    """Subscribe the triggers to the domain events and the job scheduling to commits (once)."""
    for name, handler in HANDLERS.items():
        if handler not in events.subscribers(name):
            events.subscribe(name, handler)
    if not event.contains(Session, "after_flush", _remember_new):
        event.listen(Session, "after_flush", _remember_new)
        event.listen(Session, "after_commit", _enqueue_new)
        event.listen(Session, "after_rollback", _forget_new)


def _remember_new(session, flush_context):
    """Note the e-mail rows this transaction wrote (ids are known after the flush)."""
    new = [(n.id, n.send_after) for n in session.new
           if isinstance(n, Notification) and n.channel is Channel.email]
    if new:
        session.info.setdefault(PENDING_KEY, []).extend(new)


def _enqueue_new(session):
    """After the commit: one drain job per distinct send_after (to the second) of the new e-mail rows."""
    rows = session.info.pop(PENDING_KEY, [])
    if rows:
        from app import jobs

        latest = {}
        for _row_id, send_after in rows:
            second = send_after.replace(microsecond=0)
            latest[second] = max(latest.get(second, send_after), send_after)
        now = datetime.now()
        for send_after in sorted(latest.values()):
            jobs.enqueue_drain(send_after if send_after > now else None)


def _forget_new(session):
    session.info.pop(PENDING_KEY, None)


def _row_ids(ids):
    """The integer ids among posted row ids (anything else is ignored)."""
    result = set()
    for value in ids:
        try:
            result.add(int(value))
        except (TypeError, ValueError):
            continue
    return sorted(result)


def _move(ids, source, target, **values):
    """Compare-and-set `source` → `target` for each id and commit; the ids that really moved."""
    moved = []
    for notification_id in ids:
        result = db.session.execute(update(Notification).where(
            Notification.id == notification_id, Notification.state == source).values(state=target, **values))
        if result.rowcount == 1:
            moved.append(notification_id)
    db.session.commit()
    return moved


def retry(ids):
    """failed → pending, due now (attempts kept), then a delivery job each; (moved ids, skipped count).

    A job that cannot be queued (Redis away) is harmless: the row is pending and due, so the
    periodic sweep picks it up."""
    from redis.exceptions import RedisError

    from app import jobs

    wanted = _row_ids(ids)
    moved = _move(wanted, NotificationState.failed, NotificationState.pending, send_after=datetime.now())
    for notification_id in moved:
        try:
            jobs.enqueue_delivery(notification_id)
        except RedisError:
            log.warning("could not enqueue delivery of notification %s", notification_id, exc_info=True)
    return moved, len(wanted) - len(moved)


def cancel(ids):
    """pending → cancelled (a worker re-reads the state before sending); (moved ids, skipped count)."""
    wanted = _row_ids(ids)
    moved = _move(wanted, NotificationState.pending, NotificationState.cancelled)
    return moved, len(wanted) - len(moved)
