"""The staff notification bell: unread counts, the in-app list, read marks and e-mail preferences.

In-app rows are written by app.services.notifications with state "sent" and read_at NULL. A staff
user's rows are addressed to the user, a client's to their contact; these functions serve both
(the portal's bell uses them with the client's account).
"""
from datetime import datetime

from flask import has_request_context
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import ClientRequest, Document, Message, Notification, NotificationPreference, TaxVoucher
from app.models.notifications import Channel
from app.security import access
from app.services import events
from app.services.notifications import event_title, object_models

OBJECTS = object_models()


def _user_id(user):
    """The id of a signed-in user, or None for anonymous and missing users."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "id", None)


def _mine(user):
    """The clause of the in-app rows addressed to `user`: a staff user's own, or (for a client
    account) its contact's — the same bell serves the staff navbar and the portal."""
    uid = _user_id(user)
    if uid is None:
        return None
    contact_id = access.contact_id_of(user)
    owner = (Notification.recipient_contact_id == contact_id if contact_id is not None
             else Notification.recipient_user_id == uid)
    return (owner, Notification.channel == Channel.in_app)


def unread_count(user):
    """How many in-app notifications of `user` are unread (one query; 0 for anonymous users)."""
    mine = _mine(user)
    if mine is None:
        return 0
    return db.session.scalar(select(func.count(Notification.id)).where(
        *mine, Notification.read_at.is_(None))) or 0


def unread_count_for_current_user():
    """The bell's number for the signed-in user (a Jinja global); 0 for anonymous visitors."""
    if not has_request_context():
        return 0
    return unread_count(current_user)


def latest(user, limit=20):
    """The user's newest in-app notifications, newest first."""
    mine = _mine(user)
    if mine is None:
        return []
    return db.session.scalars(select(Notification).where(*mine)
                              .order_by(Notification.created_on.desc(), Notification.id.desc())
                              .limit(limit)).all()


def mark_read(user, notification_id):
    """Mark one of the user's own in-app rows read; the row, or None when it is not theirs."""
    mine = _mine(user)
    if mine is None:
        return None
    row = db.session.scalar(select(Notification).where(Notification.id == notification_id, *mine))
    if row is None:
        return None
    if row.read_at is None:
        row.read_at = datetime.now()
        db.session.commit()
    return row


def mark_all_read(user):
    """Mark every unread in-app row of the user read; how many were marked."""
    mine = _mine(user)
    if mine is None:
        return 0
    marked = db.session.execute(update(Notification).where(*mine, Notification.read_at.is_(None))
                                .values(read_at=datetime.now())).rowcount
    db.session.commit()
    return marked


def load_objects(rows):
    """{(object_type, id): object} for the rows: one query per object type, whatever the number of rows."""
    ids = {}
    for row in rows:
        if row.object_type in OBJECTS:
            ids.setdefault(row.object_type, set()).add(row.object_id)
    found = {}
    for object_type, wanted in ids.items():
        model = OBJECTS[object_type]
        query = select(model).where(model.id.in_(sorted(wanted)))
        if model is Message:
            query = query.options(joinedload(Message.task), joinedload(Message.request))
        for obj in db.session.scalars(query).unique():
            found[(object_type, obj.id)] = obj
    return found


def describe(row, objects=None):
    """(title, staff URL) of one row; the URL is None when the object no longer exists.

    Pass `objects` from load_objects() when describing a list (otherwise the row's object is loaded).
    """
    if objects is None:
        objects = load_objects([row])
    obj = objects.get((row.object_type, row.object_id))
    thread = (obj.task or obj.request) if isinstance(obj, Message) else obj
    if thread is None:
        return _("This item no longer exists"), None
    if isinstance(thread, ClientRequest):
        name, url = thread.subject, f"/clientrequestview/show/{thread.id}"
    elif isinstance(thread, TaxVoucher):  # only contacts get these: the portal's page of that due date
        day = thread.due_date.isoformat()
        name, url = day, f"/portal/payments/{day}?entity={thread.entity_id}"
    elif isinstance(thread, Document):  # a client's upload (staff bells only)
        name, url = thread.name, f"/documentview/show/{thread.id}"
    else:
        name, url = thread.title, f"/taskview/show/{thread.id}"
    return event_title(row.event, name), url


def describe_all(rows):
    """[(row, title, url)] for a list of rows, in a fixed number of queries."""
    objects = load_objects(rows)
    return [(row, *describe(row, objects)) for row in rows]


def preferences(user):
    """{event: wants e-mail} for every event; True where the user has not said otherwise."""
    stored = dict(db.session.execute(select(NotificationPreference.event, NotificationPreference.email).where(
        NotificationPreference.user_id == user.id)).all())
    return {event: stored.get(event, True) is not False for event in events.EVENTS}


def set_preferences(user, choices):
    """Store {event: bool} as the user's e-mail preferences (unknown events are ignored); committed."""
    existing = {p.event: p for p in db.session.scalars(select(NotificationPreference).where(
        NotificationPreference.user_id == user.id))}
    for event in events.EVENTS:
        if event not in choices:
            continue
        wanted = bool(choices[event])
        if event in existing:
            existing[event].email = wanted
        else:
            db.session.add(NotificationPreference(user_id=user.id, event=event, email=wanted))
    db.session.commit()
