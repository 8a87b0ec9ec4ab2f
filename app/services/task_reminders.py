"""Deadline reminders of the daily job, written set-based.

A large firm has thousands of tasks due on one morning (3 days before, on the day, and every 7th day
overdue). Building one ORM row per reminder cost several ms a task on PostgreSQL, most of it turning
huge multi-row INSERTs into the driver's placeholders. Here each batch of due tasks is one
`INSERT … SELECT … ON CONFLICT DO NOTHING` per channel: the database builds the rows, the unique
outbox key makes a second run write nothing, and an activity line is recorded only for the tasks that
got a new reminder. The keys are the ones `notifications.notify` writes, so both paths agree.
"""
from datetime import datetime, timedelta

from sqlalchemy import String, case, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from app import jobs
from app.extensions import db
from app.models import ActivityEvent, Notification, Task
from app.models.notifications import Channel, NotificationState
from app.models.tasks import PortalState, StaffStatus, task_assignees
from app.services import events

BATCH = 2000  # due tasks per statement and commit: memory and lock time stay bounded
VERB = f"work.{events.DEADLINE_APPROACHING}"
_COLUMNS = ("recipient_contact_id", "event", "entity_id", "object_type", "object_id", "channel", "send_after",
            "state", "sent_on", "attempts", "idempotency_key", "created_on")


def _open_assigned():
    return (Task.staff_status == StaffStatus.open, Task.portal_state == PortalState.assigned)


def reminder_deadlines(today, days_before=(3, 0)):
    """The deadlines reminded of today: `days_before` days ahead, and every 7th day overdue back to
    the oldest open, assigned task (one query)."""
    due = {today + timedelta(days=n) for n in days_before}
    oldest = db.session.scalar(select(func.min(Task.deadline)).where(*_open_assigned()))
    day = today - timedelta(days=7)
    while oldest is not None and day >= oldest:
        due.add(day)
        day -= timedelta(days=7)
    return sorted(due)


def emit_deadline_events(today, days_before=(3, 0)):
    """Remind the assignees of open, assigned tasks due `days_before` days from `today`, and weekly while
    overdue (in-app and e-mail rows, an activity line per task reminded); a re-run the same day writes
    nothing. Batches of BATCH tasks, each committed; a drain is enqueued after the commits. Returns the
    ids of the tasks due."""
    deadlines = reminder_deadlines(today, days_before)
    found, after, mailed = [], 0, False
    while deadlines:
        ids = db.session.scalars(select(Task.id).where(*_open_assigned(), Task.deadline.in_(deadlines),
                                                       Task.id > after).order_by(Task.id).limit(BATCH)).all()
        if not ids:
            break
        window = (Task.id > after, Task.id <= ids[-1])
        reminded = _write_rows(today, deadlines, window)
        mailed = mailed or bool(reminded)
        _record_activity(reminded)
        db.session.commit()
        found += ids
        after = ids[-1]
        if len(ids) < BATCH:
            break
    if mailed:
        jobs.enqueue_drain()
    return found


def _write_rows(today, deadlines, window):
    """Insert the in-app and e-mail rows of the tasks in `window`; the ids of the tasks given a new row."""
    now = datetime.now()
    reminded = set()
    for channel in (Channel.in_app, Channel.email):
        statement = _insert().from_select(_COLUMNS, _rows(today, deadlines, window, channel, now))
        statement = statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
        reminded |= set(db.session.scalars(statement.returning(Notification.object_id)))
    return reminded


def _insert():
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(Notification)


def _rows(today, deadlines, window, channel, now):
    """SELECT of one channel's notification rows: one per assignee of each due task in `window`."""
    discriminator = case({d: f"{d.isoformat()}:{(d - today).days}" for d in deadlines}, value=Task.deadline)
    key = (literal(f"{events.DEADLINE_APPROACHING}:Task:") + cast(Task.id, String) + literal(":c")
           + cast(task_assignees.c.contact_id, String) + literal(f":{channel.name}:") + discriminator)
    in_app = channel is Channel.in_app
    return (select(task_assignees.c.contact_id, literal(events.DEADLINE_APPROACHING), Task.entity_id,
                   literal("Task"), Task.id, literal(channel, Notification.channel.type),
                   literal(now, Notification.send_after.type),
                   literal(NotificationState.sent if in_app else NotificationState.pending, Notification.state.type),
                   literal(now if in_app else None, Notification.sent_on.type), literal(0), key,
                   literal(now, Notification.created_on.type))
            .join(task_assignees, task_assignees.c.task_id == Task.id)
            .where(*_open_assigned(), Task.deadline.in_(deadlines), *window))


def _record_activity(task_ids):
    """One "Deadline approaching" line per task reminded, by the system (one INSERT … SELECT)."""
    if not task_ids:
        return
    rows = select(literal(VERB), Task.entity_id, literal("Task"), Task.id, func.substr(Task.title, 1, 300),
                  literal(datetime.now(), ActivityEvent.created_on.type)).where(Task.id.in_(sorted(task_ids)))
    db.session.execute(db.insert(ActivityEvent).from_select(
        ("verb", "entity_id", "object_type", "object_id", "summary", "created_on"), rows))
