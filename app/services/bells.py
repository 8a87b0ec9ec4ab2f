"""The staff notification bell: unread counts, the in-app list, read marks and e-mail preferences.

In-app rows are written by app.services.notifications with state "sent" and read_at NULL. A staff
user's rows are addressed to the user, a client's to their contact; these functions serve both
(the portal's bell uses them with the client's account).
"""
from datetime import datetime

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Notification, NotificationPreference
from app.models.notifications import Channel
from app.security import access
from app.services import events


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
