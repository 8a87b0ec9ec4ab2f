"""Reminder rows of the daily jobs, written set-based.

A large firm has thousands of reminders due on one morning. One ORM row per reminder cost several ms
each on PostgreSQL, most of it turning huge multi-row INSERTs into the driver's placeholders. Here the
database builds the rows: `INSERT … SELECT … ON CONFLICT DO NOTHING` per channel, with the outbox keys
`notifications.notify` writes (so both paths agree and a second run writes nothing), and an activity
line only for the objects that got a new reminder.
"""
from datetime import datetime

from sqlalchemy import String, cast, insert, literal
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import ActivityEvent, Notification
from app.models.notifications import Channel, NotificationState

COLUMNS = ("recipient_contact_id", "event", "entity_id", "object_type", "object_id", "channel", "send_after",
           "state", "sent_on", "attempts", "idempotency_key", "created_on")


def contact_key(event, object_type, object_id, contact_id, channel, discriminator):
    """SQL for the key notify() gives a contact's row: event:Type:id:c<contact>:<channel>:<discriminator>."""
    return (literal(f"{event}:{object_type}:") + cast(object_id, String) + literal(":c") + cast(contact_id, String)
            + literal(f":{channel.name}:") + discriminator)


def columns(contact_id, event, entity_id, object_type, object_id, channel, now, discriminator):
    """The COLUMNS of one channel's rows, for a SELECT: sent at once in-app, due now by e-mail."""
    in_app = channel is Channel.in_app
    return (contact_id, literal(event), entity_id, literal(object_type), object_id,
            literal(channel, Notification.channel.type), literal(now, Notification.send_after.type),
            literal(NotificationState.sent if in_app else NotificationState.pending, Notification.state.type),
            literal(now if in_app else None, Notification.sent_on.type), literal(0),
            contact_key(event, object_type, object_id, contact_id, channel, discriminator),
            literal(now, Notification.created_on.type))


def insert_rows(select_for):
    """Insert, for each channel, the rows of `select_for(channel, now)` whose key is new (uncommitted);
    returns the object ids that got a new row."""
    now = datetime.now()
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    given = set()
    for channel in (Channel.in_app, Channel.email):
        statement = (dialect.insert(Notification).from_select(COLUMNS, select_for(channel, now))
                     .on_conflict_do_nothing(index_elements=["idempotency_key"]))
        given |= set(db.session.scalars(statement.returning(Notification.object_id)))
    return given


def record_activity(rows):
    """Insert activity lines from `rows`, a SELECT of (verb, entity_id, object_type, object_id, summary)
    (uncommitted; by the system, now)."""
    with_time = rows.add_columns(literal(datetime.now(), ActivityEvent.created_on.type))
    db.session.execute(insert(ActivityEvent).from_select(
        ("verb", "entity_id", "object_type", "object_id", "summary", "created_on"), with_time))
