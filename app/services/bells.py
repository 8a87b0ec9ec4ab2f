"""The staff notification bell: unread counts, the in-app list, read marks and e-mail preferences.

In-app rows are written by app.services.notifications with state "sent" and read_at NULL. A staff
user's rows are addressed to the user, a client's to their contact; these functions serve both
(the portal's bell uses them with the client's account).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import case, func, literal, select, update

from app.extensions import db
from app.models import Entity, Notification, NotificationPreference
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


UNREAD_CAP = 100  # badges show "99+" from here: counting thousands of unread rows cost ~40 ms on every page


def unread_count(user, cap=UNREAD_CAP):
    """How many in-app notifications of `user` are unread, counted up to `cap` (one query; 0 for
    anonymous users)."""
    return db.session.scalar(select(unread_count_column(user, cap))) or 0


def unread_count_column(user, cap=UNREAD_CAP):
    """unread_count as a column, for a page that reads it along with other figures in one statement."""
    mine = _mine(user)
    if mine is None:
        return literal(0)
    unread = select(Notification.id).where(*mine, Notification.read_at.is_(None)).limit(cap).subquery()
    return select(func.count()).select_from(unread).scalar_subquery()


def latest(user, limit=20, event=None, entity_id=None):
    """The user's newest in-app notifications, newest first (of one event and/or entity if given)."""
    mine = _mine(user)
    if mine is None:
        return []
    query = select(Notification).where(*mine)
    if event is not None:
        query = query.where(Notification.event == event)
    if entity_id is not None:
        query = query.where(Notification.entity_id == entity_id)
    return db.session.scalars(query.order_by(Notification.created_on.desc(), Notification.id.desc())
                              .limit(limit)).all()


GROUP_DAYS = 90  # the grouped bell looks this far back (older rows: ?view=each)
GROUPS_PER_PAGE = 50


@dataclass
class Group:
    """In-app rows of one client, one event and one actor: how many, how many unread, the newest."""

    entity_id: int | None
    event: str
    actor_id: int | None
    count: int
    unread: int
    newest: datetime
    entity: object = None  # the Entity, when the reader may still see it
    actor: str = ""  # the actor's name


def groups(user, event=None, client="", unread_only=False, page=0, today=None):
    """([Group], more?) of a staff user's in-app rows of the last GROUP_DAYS, newest group first:
    a fixed number of queries (the groups, their entities, their actors) whatever the rows."""
    mine = _mine(user)
    if mine is None:
        return [], False
    since = (today or datetime.now()) - timedelta(days=GROUP_DAYS)
    query = select(Notification.entity_id, Notification.event, Notification.actor_user_id, func.count(Notification.id),
                   func.sum(case((Notification.read_at.is_(None), 1), else_=0)),
                   func.max(Notification.created_on).label("newest")).where(*mine, Notification.created_on >= since)
    if event:
        query = query.where(Notification.event == event)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if client:
        query = query.where(Notification.entity_id.in_(select(Entity.id).where(
            Entity.name.ilike(f"%{client.strip()}%"), access.scope(user, Entity))))
    rows = db.session.execute(query.group_by(Notification.entity_id, Notification.event, Notification.actor_user_id)
                              .order_by(func.max(Notification.created_on).desc())
                              .offset(page * GROUPS_PER_PAGE).limit(GROUPS_PER_PAGE + 1)).all()
    found = [Group(*row) for row in rows[:GROUPS_PER_PAGE]]
    _name_groups(user, found)
    return found, len(rows) > GROUPS_PER_PAGE


def _name_groups(user, found):
    """Attach each group's entity (if still visible to `user`) and actor name: two queries."""
    entity_ids = {g.entity_id for g in found if g.entity_id is not None}
    actor_ids = {g.actor_id for g in found if g.actor_id is not None}
    entities = {e.id: e for e in db.session.scalars(access.visible(user, Entity).where(
        Entity.id.in_(entity_ids)))} if entity_ids else {}
    actors = {uid: f"{first} {last}".strip() for uid, first, last in db.session.execute(
        select(User.id, User.first_name, User.last_name).where(User.id.in_(actor_ids)))} if actor_ids else {}
    for group in found:
        group.entity, group.actor = entities.get(group.entity_id), actors.get(group.actor_id, "")


def mark_group_read(user, entity_id, event, actor_id):
    """Mark the user's unread rows of one group read; how many were marked."""
    mine = _mine(user)
    if mine is None:
        return 0
    marked = db.session.execute(update(Notification).where(
        *mine, Notification.read_at.is_(None), Notification.event == event,
        Notification.entity_id.is_(None) if entity_id is None else Notification.entity_id == entity_id,
        Notification.actor_user_id.is_(None) if actor_id is None else Notification.actor_user_id == actor_id,
    ).values(read_at=datetime.now())).rowcount
    db.session.commit()
    return marked


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
