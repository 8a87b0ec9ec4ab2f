"""Work for many clients: choose entities by filter or contact group, then a job creates one task (or
file request) on each, with progress the page polls.

Only entities the author may work on (R.WORK, the right of the one-entity forms) are taken, when
chosen and again when the job creates each task. The job is idempotent: a task records its batch and
(batch, entity) is unique, so a re-run (a retried or a second job) skips the entities done already.
"""
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, union, update
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.models import Entity, EntityShare, Task, TaskBatch, TaskTemplate
from app.models.contacts import contact_group_members
from app.models.task_batches import BatchState
from app.models.tasks import Frequency, TaskKind
from app.security import access
from app.security import roles as R
from app.services import file_requests, tasks
from app.services.recurrence import Rule

MAX_ENTITIES = 5000  # one batch; more clients: several batches (a filter by kind, responsible or group)
CHUNK = 100  # entities created and committed at a time by the job
SAMPLE = 20  # entity names shown in the preview
log = logging.getLogger(__name__)


class BatchRefused(ValueError):
    """A refused batch; the message is for the user."""


@dataclass
class Selection:
    """How entities are chosen: by name, kind, status, responsible member and/or contact group."""

    name: str = ""
    kind: object = None
    status: object = None
    responsible_id: int | None = None
    group_id: int | None = None


def _group_entities(group_id):
    """Entities shared with the group itself or with one of its members."""
    members = select(contact_group_members.c.contact_id).where(contact_group_members.c.group_id == group_id)
    return union(select(EntityShare.entity_id).where(EntityShare.group_id == group_id),
                 select(EntityShare.entity_id).where(EntityShare.contact_id.in_(members)))


def matching(user, selection):
    """A select of the entities `user` may work on that match `selection`, by name."""
    query = select(Entity).where(access.scope(user, Entity, R.WORK))
    if selection.name:
        query = query.where(Entity.name.ilike(f"%{selection.name.strip()}%"))
    if selection.kind is not None:
        query = query.where(Entity.kind == selection.kind)
    if selection.status is not None:
        query = query.where(Entity.status == selection.status)
    if selection.responsible_id is not None:
        query = query.where(Entity.responsible_id == selection.responsible_id)
    if selection.group_id is not None:
        query = query.where(Entity.id.in_(_group_entities(selection.group_id)))
    return query.order_by(Entity.name, Entity.id)


def preview(user, selection):
    """(how many entities match — at most MAX_ENTITIES + 1 —, the first SAMPLE of them)."""
    ids = matching(user, selection).with_only_columns(Entity.id).order_by(None).limit(MAX_ENTITIES + 1).subquery()
    count = db.session.scalar(select(func.count()).select_from(ids))
    return count, db.session.scalars(matching(user, selection).limit(SAMPLE)).all()


def template_defaults(template, today=None):
    """The batch form's values taken from a template (deadline = today + its days)."""
    today = today or date.today()
    deadline = today + timedelta(days=template.deadline_days) if template.deadline_days is not None else None
    return {"kind": template.kind.name, "title": template.title, "description": template.description or "",
            "checklist": template.checklist or "", "deadline": deadline, "frequency": template.frequency.name,
            "interval": template.interval}


def start(user, selection, kind, title, description=None, checklist=None, deadline=None,
          frequency=Frequency.once, interval=1, assign_now=False, template=None, organizer_template=None,
          tax_year=None):
    """Record the batch with the matching entities (committed), then queue its job; the TaskBatch.
    With `organizer_template` (and `tax_year`) each task carries an organizer (app.services.organizer_sending)."""
    if not (title or "").strip():
        raise BatchRefused(_("Give the task a title."))
    if frequency is not Frequency.once:
        if kind is TaskKind.file_request:
            raise BatchRefused(_("File requests do not repeat; choose a one-time task or a task."))
        if deadline is None:
            raise BatchRefused(_("A repeating task needs a first deadline."))
        tasks.check_rule(Rule(frequency, interval if frequency.name.startswith("every_n") else 1))
    ids = db.session.scalars(matching(user, selection).with_only_columns(Entity.id).limit(MAX_ENTITIES + 1)).all()
    if not ids:
        raise BatchRefused(_("No client you work on matches this choice."))
    if len(ids) > MAX_ENTITIES:
        raise BatchRefused(_("More than %(n)d clients match: narrow the choice (kind, responsible, group) "
                             "and assign in several batches.", n=MAX_ENTITIES))
    batch = TaskBatch(kind=kind, template_id=getattr(template, "id", None), title=title.strip()[:200],
                      description=description or None, checklist=checklist or None, deadline=deadline,
                      frequency=frequency, interval=interval if frequency.name.startswith("every_n") else 1,
                      assign_now=bool(assign_now) and kind is TaskKind.task, entity_ids=json.dumps(ids),
                      total=len(ids), created_by_id=user.id, tax_year=tax_year,
                      organizer_template_id=getattr(organizer_template, "id", None))
    db.session.add(batch)
    db.session.commit()
    jobs.enqueue_task_batch(batch.id)
    return batch


def restart(batch, user):
    """Queue a batch that is not done again (Redis was down, or a worker lost it); the job only
    creates what is missing. True when queued."""
    if batch.created_by_id != user.id or batch.state is BatchState.done:
        raise BatchRefused(_("This batch is done."))
    return jobs.enqueue_task_batch(batch.id)


def recent(user, limit=10):
    """The user's latest batches."""
    return db.session.scalars(access.visible(user, TaskBatch).order_by(TaskBatch.id.desc()).limit(limit)).all()


def run(batch_id):
    """Job body: create the batch's missing tasks chunk by chunk (each chunk committed with the
    progress); safe to run twice or side by side. Returns the batch's state name."""
    from flask_appbuilder.security.sqla.models import User

    claimed = db.session.execute(update(TaskBatch).where(
        TaskBatch.id == batch_id, TaskBatch.state.in_((BatchState.queued, BatchState.running)))
        .values(state=BatchState.running)).rowcount
    db.session.commit()
    if claimed != 1:
        return "skipped"
    batch = db.session.get(TaskBatch, batch_id)
    user = db.session.get(User, batch.created_by_id) if batch.created_by_id else None
    chosen = batch.chosen()
    for start_at in range(0, len(chosen), CHUNK):
        _run_chunk(batch_id, user, chosen[start_at:start_at + CHUNK])
    batch = db.session.get(TaskBatch, batch_id)
    batch.state, batch.finished_on = BatchState.done, datetime.now()
    db.session.commit()
    return batch.state.name


def _run_chunk(batch_id, user, ids, attempts=3):
    """Create the chunk's missing tasks and commit them with the batch's counts (a concurrent job that
    created one first makes this chunk start again, skipping it)."""
    for _attempt in range(attempts):
        batch = db.session.get(TaskBatch, batch_id)
        try:
            spawns = _create_missing(batch, user, ids)
            batch.done = db.session.scalar(select(func.count(Task.id)).where(Task.batch_id == batch_id))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        for task in spawns:
            jobs.schedule_spawn(task)
        return
    raise RuntimeError(f"task batch {batch_id}: chunk kept colliding")


def _create_missing(batch, user, ids):
    """Create the tasks of `ids` that the batch has not made yet; record why others got none."""
    done = set(db.session.scalars(select(Task.entity_id).where(Task.batch_id == batch.id, Task.entity_id.in_(ids))))
    allowed = {e.id: e for e in db.session.scalars(select(Entity).where(
        Entity.id.in_(ids), access.scope(user, Entity, R.WORK)))} if user is not None and user.active else {}
    failures, spawns = batch.failure_map(), []
    for entity_id in ids:
        if entity_id in done:
            continue
        entity = allowed.get(entity_id)
        try:
            if entity is None:
                raise tasks.TaskError(_("You no longer work on this client (or it was deleted)."))
            task = _create_one(batch, entity, user)
        except ValueError as exc:  # TaskError, OrganizerError: refused before anything was written
            failures[entity_id] = str(exc)
            continue
        failures.pop(entity_id, None)
        if task.series is not None:  # its next occurrence is scheduled once the chunk is committed
            spawns.append(task)
    batch.failures, batch.failed = json.dumps({str(k): v for k, v in failures.items()}), len(failures)
    return spawns


def _create_one(batch, entity, user):
    """One entity's task or file request (uncommitted); TaskError before anything is written."""
    if batch.organizer_template_id is not None:
        # Imported here: organizer_sending builds on this module (it starts its batches).
        from app.services import organizer_sending
        return organizer_sending.create_one(batch.organizer_template, entity, user, batch.tax_year,
                                            batch.deadline, batch_id=batch.id).task
    checklist = [line for line in (batch.checklist or "").splitlines() if line.strip()]
    if batch.kind is TaskKind.file_request:
        recipients = file_requests.uploaders(entity)
        if not recipients:
            raise tasks.TaskError(_("No contact of this client may upload files (Entity Collaborator)."))
        return file_requests.create(entity, user, recipients, batch.title, description=batch.description,
                                    deadline=batch.deadline, batch_id=batch.id, commit=False)
    assignees = tasks.default_assignees(entity)
    if batch.assign_now and not assignees:
        raise tasks.TaskError(_("No contact can see this client, so the task cannot be assigned to the portal."))
    fields = dict(description=batch.description, checklist=checklist, assignees=assignees, batch_id=batch.id)
    if batch.frequency is Frequency.once:
        task = tasks.create_task(entity, batch.title, user, deadline=batch.deadline, commit=False, **fields)
    else:
        rule = Rule(batch.frequency, batch.interval)
        task = tasks.create_series(entity, batch.title, rule, batch.deadline, user, commit=False, **fields)
    if batch.assign_now:
        db.session.flush()
        tasks.assign(task, user, commit=False)
    return task


def progress(batch):
    """JSON-able figures for the progress display."""
    return {"state": batch.state.name, "label": str(batch.state_label()), "done": batch.done,
            "failed": batch.failed, "total": batch.total}


def failures(batch, limit):
    """[(entity name, why)] of the first `limit` entities that got no task (one query)."""
    found = sorted(batch.failure_map().items())[:limit]
    names = dict(db.session.execute(select(Entity.id, Entity.name).where(
        Entity.id.in_([k for k, _why in found]))).all()) if found else {}
    return [(names.get(k, f"#{k}"), why) for k, why in found]


def templates():
    """Every task template, by title (the firm's shared list)."""
    return db.session.scalars(select(TaskTemplate).order_by(TaskTemplate.title, TaskTemplate.id)).all()
