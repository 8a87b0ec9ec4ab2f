"""Tasks: create, assign to the portal, withdraw, complete (staff or client), reopen, checklists,
and recurring series whose next occurrence a scheduled job creates (idempotently)."""
import logging
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.models import ChecklistItem, Task, TaskSeries
from app.models.tasks import ClientStatus, PortalState, StaffStatus, TaskKind
from app.security import access
from app.security import roles as R
from app.services import events
from app.services.entities import contact_ids_with_access, contacts_with_access
from app.services.recurrence import Rule, next_deadline

log = logging.getLogger(__name__)


class TaskError(ValueError):
    """A refused task operation; the message is for the user."""


def _now():
    return datetime.now()


def default_assignees(entity):
    """Every contact who can see the entity (directly or through a group)."""
    return [contact for contact, _role in contacts_with_access(entity)]


def check_assignees(entity, contacts, allowed=None):
    """Refuse assignees who cannot see the entity (`allowed`: their ids, when the caller has them)."""
    allowed = contact_ids_with_access(entity.id) if allowed is None else allowed
    strangers = [c for c in contacts if c.id not in allowed]
    if strangers:
        raise TaskError(_("%(names)s cannot see this entity.", names=", ".join(map(str, strangers))))


def create_task(entity, title, user, description=None, deadline=None, responsible=None, auto_complete=False,
                checklist=(), assignees=None, kind=TaskKind.task, series=None, occurrence=None, commit=True,
                batch_id=None, allowed=None):
    """A new task on `entity` (assignees default to every contact who can see it; `allowed`: the ids of
    those contacts, when the caller has them already)."""
    if not (title or "").strip():
        raise TaskError(_("Give the task a title."))
    if assignees is None:
        assignees = default_assignees(entity)
    else:
        assignees = list(assignees)
        check_assignees(entity, assignees, allowed)
    task = Task(entity=entity, title=title.strip()[:200], description=description, deadline=deadline,
                responsible=responsible or entity.responsible, auto_complete=auto_complete, kind=kind,
                series=series, occurrence=occurrence, created_by_id=getattr(user, "id", None),
                assignees=assignees, batch_id=batch_id)
    task.checklist = [ChecklistItem(position=i, text=text[:500]) for i, text in enumerate(checklist) if text.strip()]
    db.session.add(task)
    if commit:
        db.session.commit()
    return task


def assign(task, user, commit=True):
    """Show the task to its assignees in the portal (they are told after the firm's delay)."""
    if not task.assignees:
        raise TaskError(_("Choose at least one contact before assigning the task."))
    task.portal_state, task.assigned_on, task.withdrawn_on = PortalState.assigned, _now(), None
    events.emit(events.TASK_ASSIGNED, task.entity, task, actor=user, recipients=list(task.assignees))
    if commit:
        db.session.commit()


def withdraw(task, user):
    """Take an assigned task back from the portal."""
    if task.portal_state is not PortalState.assigned:
        raise TaskError(_("Only an assigned task can be withdrawn."))
    task.portal_state, task.withdrawn_on = PortalState.withdrawn, _now()
    events.emit(events.TASK_WITHDRAWN, task.entity, task, actor=user, recipients=list(task.assignees))
    db.session.commit()


def complete(task, user):
    """Staff mark the task done; a recurring task's next occurrence is created now."""
    task.staff_status, task.staff_done_on = StaffStatus.done, _now()
    db.session.commit()
    spawn_next(task.id)


def reopen(task, user):
    """Open the task again on both sides."""
    task.staff_status, task.staff_done_on = StaffStatus.open, None
    task.client_status, task.client_done_on, task.client_done_by_id = ClientStatus.pending, None, None
    db.session.commit()


def client_complete(task, contact, user):
    """The client marks the task done; staff are told unless they closed it already."""
    if not access.can(user, R.VIEW, task):
        raise TaskError(_("This task is not assigned to you."))
    staff_done_before = task.staff_status is StaffStatus.done
    task.client_status, task.client_done_on, task.client_done_by_id = ClientStatus.done, _now(), contact.id
    if task.auto_complete:
        task.staff_status, task.staff_done_on = StaffStatus.done, _now()
    if not staff_done_before:
        events.emit(events.CLIENT_COMPLETED, task.entity, task, actor=user, auto_completed=task.auto_complete)
    db.session.commit()


def tick(item, user, done):
    """Tick or untick a checklist line: staff who work on the entity, or an assignee of the task."""
    if not (access.can(user, R.WORK, item.task) or (access.is_contact(user) and access.can(user, R.VIEW, item))):
        raise TaskError(_("You cannot change this checklist."))
    item.done, item.done_on, item.done_by_user_id = done, _now() if done else None, user.id if done else None
    db.session.commit()


EDITABLE = ("title", "description", "deadline", "responsible", "assignees", "auto_complete")


def update_task(task, user, **changes):
    """Change the fields the task screen edits (staff who work on the entity); assignees must see the entity."""
    if not access.can(user, R.WORK, task):
        raise TaskError(_("You cannot change this task."))
    if "title" in changes and not (changes["title"] or "").strip():
        raise TaskError(_("Give the task a title."))
    if "assignees" in changes:
        check_assignees(task.entity, changes["assignees"])
    for field in EDITABLE:
        if field in changes:
            setattr(task, field, changes[field].strip() if field == "title" else changes[field])
    db.session.commit()
    return task


def delete_task(task, user):
    """Delete a task with its checklist and thread (staff who work on the entity)."""
    if not access.can(user, R.WORK, task):
        raise TaskError(_("You cannot delete this task."))
    db.session.delete(task)
    db.session.commit()


def add_item(task, user, text):
    """Add a checklist line at the end (staff who work on the entity)."""
    text = (text or "").strip()
    if not text:
        raise TaskError(_("Write the checklist line first."))
    if not access.can(user, R.WORK, task):
        raise TaskError(_("You cannot change this checklist."))
    position = max((item.position for item in task.checklist), default=-1) + 1
    item = ChecklistItem(task=task, position=position, text=text[:500])
    db.session.add(item)
    db.session.commit()
    return item


def remove_item(item, user):
    """Remove a checklist line (staff who work on the entity)."""
    if not access.can(user, R.WORK, item.task):
        raise TaskError(_("You cannot change this checklist."))
    db.session.delete(item)
    db.session.commit()


def attach(task, document, user):
    """Attach a document of the task's entity to the task (staff who work on it)."""
    if not access.can(user, R.WORK, task) or document.entity_id != task.entity_id:
        raise TaskError(_("That document cannot be attached to this task."))
    if document not in task.attachments:
        task.attachments.append(document)
        db.session.commit()


def check_rule(rule):
    """Refuse an invalid repeat rule with a message for the user (the rule's own is for developers)."""
    try:
        rule.validate()
    except ValueError:
        raise TaskError(_("This repeat rule is not valid: monthly, quarterly and yearly repeat every 1; "
                          "every N days, weeks or months needs N from 1 to 366; the number of occurrences "
                          "must be at least 1."))


def create_series(entity, title, rule, start, user, commit=True, **fields):
    """A recurring series and its first occurrence (deadline = start). commit=False: the caller commits,
    then calls jobs.schedule_spawn(task)."""
    check_rule(rule)
    series = TaskSeries(entity_id=entity.id, title=title, description=fields.get("description"), start=start,
                        frequency=rule.frequency, interval=rule.interval, until=rule.until, count=rule.count)
    db.session.add(series)
    task = create_task(entity, title, user, deadline=start, series=series, occurrence=1, commit=False, **fields)
    if commit:
        db.session.commit()
        jobs.schedule_spawn(task)
    return task


def series_rule(series):
    """The recurrence Rule stored on a series."""
    return Rule(series.frequency, series.interval, series.until, series.count)


def spawn_next(task_id):
    """Create the occurrence after `task_id` if the series has one; running it twice creates one."""
    task = db.session.get(Task, task_id)
    if task is None or task.series is None or task.deadline is None:
        return None
    number = (task.occurrence or 1) + 1
    existing = _occurrence(task.series_id, number)
    if existing is not None:
        return existing
    series = task.series
    deadline = next_deadline(series.start, series_rule(series), task.deadline)
    if deadline is None:
        return None
    still_allowed = contact_ids_with_access(task.entity_id)  # a revoked share is not copied
    try:
        nxt = create_task(task.entity, series.title, None, description=series.description, deadline=deadline,
                          responsible=task.responsible, auto_complete=task.auto_complete,
                          checklist=[item.text for item in task.checklist],
                          assignees=[c for c in task.assignees if c.id in still_allowed],
                          kind=task.kind, series=series, occurrence=number, allowed=still_allowed)
    except IntegrityError:  # another worker created it first
        db.session.rollback()
        return _occurrence(task.series_id, number)
    jobs.schedule_spawn(nxt)
    return nxt


def _occurrence(series_id, number):
    return db.session.scalar(select(Task).where(Task.series_id == series_id, Task.occurrence == number))


def edit_series(series, **changes):
    """Change a series' title, description or rule; occurrences already created keep theirs."""
    for field in ("title", "description", "frequency", "interval", "until", "count"):
        if field in changes:
            setattr(series, field, changes[field])
    check_rule(series_rule(series))
    db.session.commit()
