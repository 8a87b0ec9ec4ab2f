"""The hourly sweep of recurring tasks: the next occurrence of every series whose latest occurrence's
deadline has passed (the job scheduled at each deadline does the same for one task; both are idempotent).

A firm's first of the month has hundreds of series due at once. They are created CHUNK at a time in one
transaction, loaded together (tasks with their series, client, checklist and assignees; who still sees
each client in one query), so a chunk costs about ten statements instead of ten per occurrence.
"""
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app import jobs
from app.extensions import db
from app.models import Entity, Task
from app.services.entities import shared_contacts
from app.services.recurrence import next_deadline
from app.services.tasks import create_task, series_rule, spawn_next

CHUNK = 100  # occurrences created per transaction


def spawn_due_occurrences(today=None):
    """Create the next occurrence of every series due by `today`; returns how many were created (or found
    created by another worker). Selected in SQL: the work grows with the series due, not with every series."""
    today = today or date.today()
    latest = (select(Task.series_id, func.max(Task.occurrence).label("occurrence"))
              .where(Task.series_id.is_not(None)).group_by(Task.series_id).subquery())
    due = db.session.scalars(
        select(Task.id).join(latest, (Task.series_id == latest.c.series_id) & (Task.occurrence == latest.c.occurrence))
        .where(Task.deadline <= today).order_by(Task.id)).all()
    return sum(_spawn_chunk(due[start:start + CHUNK]) for start in range(0, len(due), CHUNK))


def _spawn_chunk(task_ids):
    """The next occurrences of these tasks in one commit; when another worker created one meanwhile (the
    unique series/occurrence key refuses it), the chunk is rolled back and done one task at a time."""
    latest = db.session.scalars(select(Task).where(Task.id.in_(task_ids)).options(
        joinedload(Task.series), joinedload(Task.entity).joinedload(Entity.responsible),
        joinedload(Task.responsible), selectinload(Task.assignees), selectinload(Task.checklist))).unique().all()
    allowed = _contacts_seeing({task.entity_id for task in latest})
    created = []
    try:
        with db.session.no_autoflush:  # the chunk's rows go out together
            for task in latest:
                nxt = _next(task, allowed.get(task.entity_id, set()))
                if nxt is not None:
                    created.append(nxt)
        db.session.flush()
        scheduled = [(nxt.id, nxt.deadline) for nxt in created]  # read before the commit expires them
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return sum(1 for task_id in task_ids if spawn_next(task_id) is not None)
    for task_id, deadline in scheduled:
        jobs.schedule_spawn_at(task_id, deadline)
    return len(scheduled)


def _next(task, still_allowed):
    """The uncommitted occurrence after `task`, or None when its series has ended."""
    series = task.series
    if series is None or task.deadline is None:
        return None
    deadline = next_deadline(series.start, series_rule(series), task.deadline)
    if deadline is None:
        return None
    return create_task(task.entity, series.title, None, description=series.description, deadline=deadline,
                       responsible=task.responsible, auto_complete=task.auto_complete,
                       checklist=[item.text for item in task.checklist],
                       assignees=[c for c in task.assignees if c.id in still_allowed],  # a revoked share is not copied
                       kind=task.kind, series=series, occurrence=(task.occurrence or 1) + 1,
                       allowed=still_allowed, commit=False)


def _contacts_seeing(entity_ids):
    """{entity_id: ids of the contacts who see it} in one query."""
    seeing = {}
    for entity_id, contact_id in db.session.execute(shared_contacts(entity_ids)):
        seeing.setdefault(entity_id, set()).add(contact_id)
    return seeing
