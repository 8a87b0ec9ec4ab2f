"""Deadline reminders of the daily job: 3 days before, on the day, and every 7th day overdue.

Written set-based (app/services/outbox_bulk.py): a batch of due tasks is one INSERT … SELECT per
channel, so a morning with thousands of tasks due takes seconds, not minutes.
"""
from datetime import timedelta

from sqlalchemy import case, func, literal, select

from app import jobs
from app.extensions import db
from app.models import Task
from app.models.tasks import PortalState, StaffStatus, task_assignees
from app.services import events, outbox_bulk

BATCH = 2000  # due tasks per statement and commit: memory and lock time stay bounded


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
    discriminator = case({d: f"{d.isoformat()}:{(d - today).days}" for d in deadlines}, value=Task.deadline)
    found, after, reminded = [], 0, False
    while deadlines:
        ids = db.session.scalars(select(Task.id).where(*_open_assigned(), Task.deadline.in_(deadlines),
                                                       Task.id > after).order_by(Task.id).limit(BATCH)).all()
        if not ids:
            break
        window = (*_open_assigned(), Task.deadline.in_(deadlines), Task.id > after, Task.id <= ids[-1])
        given = outbox_bulk.insert_rows(lambda channel, now: select(*outbox_bulk.columns(
            task_assignees.c.contact_id, events.DEADLINE_APPROACHING, Task.entity_id, "Task", Task.id, channel,
            now, discriminator)).join(task_assignees, task_assignees.c.task_id == Task.id).where(*window))
        if given:
            outbox_bulk.record_activity(select(
                literal(f"work.{events.DEADLINE_APPROACHING}"), Task.entity_id, literal("Task"), Task.id,
                func.substr(Task.title, 1, 300)).where(Task.id.in_(sorted(given))))
        db.session.commit()
        reminded = reminded or bool(given)
        found += ids
        after = ids[-1]
        if len(ids) < BATCH:
            break
    if reminded:
        jobs.enqueue_drain()
    return found
