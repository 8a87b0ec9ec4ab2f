"""Notification triggers: domain events become outbox rows in the same transaction; after the
commit each e-mail row gets an rq job at its send_after (job id = "notify-<id>")."""
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Contact, Notification, Task
from app.models.notifications import Channel, NotificationState
from app.models.tasks import StaffStatus
from app.security import roles as R
from app.services import events
from app.services.firm import get_settings

PENDING_KEY = "portico_new_notifications"


def object_models():
    """The models a notification can be about, by their object_type."""
    from app.models import ClientRequest, Document, Message, TaxVoucher

    return {"Task": Task, "Message": Message, "ClientRequest": ClientRequest, "TaxVoucher": TaxVoucher,
            "Document": Document}


def event_title(event_name, name):
    """A notification's title in the current language (mails, digests and the bell share it)."""
    titles = {
        events.TASK_ASSIGNED: _("New task: %(name)s", name=name),
        events.TASK_WITHDRAWN: _("Task withdrawn: %(name)s", name=name),
        events.MESSAGE_POSTED: _("New message about %(name)s", name=name),
        events.CLIENT_COMPLETED: _("Client marked done: %(name)s", name=name),
        events.REQUEST_CREATED: _("New client request: %(name)s", name=name),
        events.FILE_REQUEST_CREATED: _("Files requested: %(name)s", name=name),
        events.DEADLINE_APPROACHING: _("Deadline coming up: %(name)s", name=name),
        events.VOUCHER_DUE: _("Tax payments due on %(name)s", name=name),
        events.CLIENT_UPLOADED: _("New file from the client: %(name)s", name=name),
    }
    return titles.get(event_name, name)


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


def deadline_discriminator(task, days_left):
    """What tells one deadline reminder of a task from another (the deadline and the days left)."""
    return f"{task.deadline.isoformat()}:{days_left}"


def notify(event_name, people, obj, entity, actor=None, discriminator="", delay=True, existing=None):
    """Add in-app and e-mail rows for each person (skipping the actor); uncommitted. `existing`: the
    keys already in the outbox when the caller looked them up for a whole batch (else one query here)."""
    now = datetime.now()
    send_after = now + timedelta(seconds=get_settings().notification_delay if delay else 0)
    people = [p for p in people if p is not None and not (
        actor is not None and getattr(p, "id", None) == actor.id and not isinstance(p, Contact))]
    keys = {(p, channel): idempotency_key(event_name, obj, p, channel, discriminator)
            for p in people for channel in Channel}
    # A re-run (a daily job run twice) finds its rows already written: never a second row or mail.
    # Exact keys (the unique index answers), not a LIKE on a prefix (no index can serve it here).
    seen = existing if existing is not None else existing_keys(keys.values())  # grows with what is added
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
    notify(events.MESSAGE_POSTED, people, obj, entity, actor)


def _on_client_completed(entity, obj, actor=None, **_):
    notify(events.CLIENT_COMPLETED, [obj.responsible] if obj.responsible else staff_for_entity(entity), obj, entity,
           actor, discriminator=obj.client_done_on.isoformat(), delay=False)


def _on_request_created(entity, obj, actor=None, **_):
    notify(events.REQUEST_CREATED, staff_for_entity(entity, with_admins=True), obj, entity, actor, delay=False)


def _on_file_request_created(entity, obj, actor=None, recipients=(), **_):
    notify(events.FILE_REQUEST_CREATED, recipients, obj, entity, actor)


def _on_deadline_approaching(entity, obj, actor=None, recipients=(), days_left=0, existing=None, **_):
    if obj.staff_status is StaffStatus.open:
        notify(events.DEADLINE_APPROACHING, recipients, obj, entity, actor,
               discriminator=deadline_discriminator(obj, days_left), delay=False, existing=existing)


def _on_voucher_due(entity, obj, actor=None, recipients=(), days_left=0, **_):
    """One reminder per contact and due date (obj is the date's first voucher); keyed by date and day."""
    notify(events.VOUCHER_DUE, recipients, obj, entity, actor,
           discriminator=f"{obj.due_date.isoformat()}:{days_left}", delay=False)


def _on_client_uploaded(entity, obj, actor=None, **_):
    """A client's upload tells the responsible member (several files in a row become one digest)."""
    notify(events.CLIENT_UPLOADED, staff_for_entity(entity), obj, entity, actor)


HANDLERS = {
    events.TASK_ASSIGNED: _on_task_assigned,
    events.TASK_WITHDRAWN: _on_task_withdrawn,
    events.MESSAGE_POSTED: _on_message_posted,
    events.CLIENT_COMPLETED: _on_client_completed,
    events.REQUEST_CREATED: _on_request_created,
    events.FILE_REQUEST_CREATED: _on_file_request_created,
    events.DEADLINE_APPROACHING: _on_deadline_approaching,
    events.VOUCHER_DUE: _on_voucher_due,
    events.CLIENT_UPLOADED: _on_client_uploaded,
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
    """After the commit: one delivery job per new e-mail row, due at its send_after."""
    rows = session.info.pop(PENDING_KEY, [])
    if rows:
        from app import jobs

        jobs.enqueue_deliveries(rows)  # new rows: no failed job of theirs to replace


def _forget_new(session):
    session.info.pop(PENDING_KEY, None)
