"""The portal home page: the contact's recent activity, pending and completed tasks, and "Send files
to the firm" (uploads into the entity's Inbox folder). Every query goes through app.security.access."""
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import ActivityEvent, Folder, Task
from app.models.documents import Direction, Visibility
from app.models.tasks import ClientStatus
from app.security import access
from app.security import roles as R
from app.services import documents
from app.services.portal.tasks import check_size

# What "Recent activity" shows of the contact's own doings (never payments, K-1s or staff work).
TASK_OPENED = "task.opened"
TASK_COMPLETED = "work.client_completed"
DOWNLOADED = "document.downloaded"
RECENT_VERBS = (TASK_OPENED, TASK_COMPLETED, DOWNLOADED)
RECENT_LIMIT = 5
PENDING_LIMIT = 50
COMPLETED_LIMIT = 10
INBOX = "Inbox"  # the folder "Send files to the firm" fills; a fixed name staff know to look in


def recent_activity(user, entity):
    """The RECENT_LIMIT latest events of `user`'s own account in `entity` with a verb of RECENT_VERBS."""
    return db.session.scalars(
        access.visible(user, ActivityEvent)
        .where(ActivityEvent.entity_id == entity.id, ActivityEvent.actor_id == user.id,
               ActivityEvent.verb.in_(RECENT_VERBS))
        .order_by(ActivityEvent.created_on.desc(), ActivityEvent.id.desc()).limit(RECENT_LIMIT)
    ).all()


def describe(event):
    """One readable line for an event of RECENT_VERBS, in the reader's language."""
    name = event.summary or ""
    if event.verb == TASK_OPENED:
        return _("You opened the task “%(name)s”.", name=name)
    if event.verb == TASK_COMPLETED:
        return _("You marked the task “%(name)s” as done.", name=name)
    return _("You downloaded “%(name)s”.", name=name)


def _my_tasks(user, entity, status):
    return access.visible(user, Task).where(Task.entity_id == entity.id, Task.client_status == status)


def busiest_entity(user, entities):
    """Where a contact of several entities starts: the one with the most tasks waiting for them
    (the first by name when none waits). One query."""
    if len(entities) < 2:
        return entities[0] if entities else None
    waiting = dict(db.session.execute(
        select(Task.entity_id, func.count(Task.id)).where(access.scope(user, Task), Task.client_status == ClientStatus.pending,
                                                          Task.entity_id.in_([e.id for e in entities]))
        .group_by(Task.entity_id)).all())
    return max(entities, key=lambda e: waiting.get(e.id, 0)) if waiting else entities[0]


def task_lists(user, entity):
    """Pending tasks (soonest deadline first) and completed ones (newest first), each limited, with
    the full counts: {"pending": [...], "completed": [...], "pending_total": n, "completed_total": n}."""
    pending = db.session.scalars(
        _my_tasks(user, entity, ClientStatus.pending)
        .order_by(Task.deadline.is_(None), Task.deadline, Task.id).limit(PENDING_LIMIT)
    ).all()
    completed = db.session.scalars(
        _my_tasks(user, entity, ClientStatus.done).options(joinedload(Task.client_done_by))
        .order_by(Task.client_done_on.desc(), Task.id.desc()).limit(COMPLETED_LIMIT)
    ).all()
    if len(pending) < PENDING_LIMIT and len(completed) < COMPLETED_LIMIT:  # both lists whole: they are the counts
        counts = {ClientStatus.pending: len(pending), ClientStatus.done: len(completed)}
    else:
        counts = dict(db.session.execute(
            select(Task.client_status, func.count(Task.id))
            .where(access.scope(user, Task), Task.entity_id == entity.id).group_by(Task.client_status)
        ).all())
    return {"pending": pending, "completed": completed, "pending_total": counts.get(ClientStatus.pending, 0),
            "completed_total": counts.get(ClientStatus.done, 0)}


def inbox_folder(entity, user):
    """The entity's top-level Inbox folder, created when missing."""
    query = select(Folder).where(Folder.entity_id == entity.id, Folder.parent_id.is_(None),
                                 func.lower(Folder.name) == INBOX.lower())
    folder = db.session.scalar(query)
    if folder is None:
        try:
            folder = documents.create_folder(entity, INBOX, user=user)
        except (IntegrityError, documents.DocumentError):  # created by a concurrent upload
            db.session.rollback()
            folder = db.session.scalar(query)
    return folder


def send_file(entity, user, file_storage, note=None):
    """One file sent to the firm: a shared document from the client in the Inbox, with the note.
    Raises PermissionError without the Entity Collaborator right; UploadRefused, DocumentError or
    TooLarge when the file is refused (nothing is kept then)."""
    if not access.can(user, R.CONTRIBUTE, entity):
        raise PermissionError(_("Only contacts who may add files can send files to the firm."))
    check_size(file_storage)
    doc = documents.upload(entity, file_storage, user, folder=inbox_folder(entity, user), direction=Direction.from_client,
                           visibility=Visibility.portal, same_name_versions=False)
    note = (note or "").strip()
    if note:
        doc.note = note
        db.session.commit()
    return doc
