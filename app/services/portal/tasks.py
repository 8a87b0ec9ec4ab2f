"""What a contact does on a task in the portal, and what the task page shows them.

Everything shown goes through app.security.access: staff-only documents and internal or deleted
messages never reach the page. Uploads need the Entity Collaborator right (CONTRIBUTE).
"""
import io
from flask_appbuilder.security.sqla.models import User
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.extensions import db
from app.models import ActivityEvent, Contact, Document, Message, MessageKind
from app.models.documents import Direction, Visibility
from app.models.messages import message_attachments
from app.models.tasks import ClientStatus, StaffStatus, TaskKind, task_attachments
from app.security import access
from app.security import roles as R
from app.services import activity, documents, file_requests, messages, tasks
from app.services.filetypes import clean_filename
from app.services.firm import get_settings
from app.storage import TooLarge

TASK_OPENED = "task.opened"
TASK_COMPLETED = "work.client_completed"


def check_size(file_storage):
    """Refuse a file over the firm's limit before anything is stored (the storage checks again
    while streaming; this spares a half-done multi-file action)."""
    stream = getattr(file_storage, "stream", None)
    try:
        here = stream.tell()
        size = stream.seek(0, io.SEEK_END)
        stream.seek(here)
    except (AttributeError, OSError, ValueError):  # not seekable: the streaming check decides
        return
    if size > get_settings().max_upload_bytes:
        error = TooLarge()
        error.filename = file_storage.filename
        raise error


def record_opened(task, user):
    """Log that `user` opened the task, at most once per user, task and day (keeps the list readable)."""
    # "Today" by the database's clock, the one that stamps created_on.
    seen = db.session.scalar(select(ActivityEvent.id).where(
        ActivityEvent.actor_id == user.id, ActivityEvent.verb == TASK_OPENED, ActivityEvent.object_type == "Task",
        ActivityEvent.object_id == task.id, ActivityEvent.created_on >= func.current_date()).limit(1))
    if seen is None:
        activity.record(TASK_OPENED, task.entity, task, summary=task.title, actor=user)


def complete(task, contact, user):
    """The contact marks the task done. The activity log always gets a "client completed" line
    (tasks.client_complete writes one only when staff have not closed the task yet)."""
    if task.client_status is ClientStatus.done:
        raise tasks.TaskError(_("This task is already done."))
    if task.staff_status is StaffStatus.done:  # no event is emitted then: record the client's act here
        activity.record(TASK_COMPLETED, task.entity, task, summary=task.title, actor=user, commit=False)
    try:
        tasks.client_complete(task, contact, user)
    except tasks.TaskError:
        db.session.rollback()
        raise


def upload(task, contact, user, file_storage):
    """One file for the task: the answer to a file request, or a shared document from the client
    attached to the task. Raises PermissionError without the right to add files."""
    if not access.can(user, R.CONTRIBUTE, task.entity):
        raise PermissionError(_("Only contacts who may add files can upload here."))
    check_size(file_storage)
    if task.kind is TaskKind.file_request:
        doc = file_requests.answer(task, contact, user, file_storage)
    else:  # the same file name again on this task is its next version, not a second document
        doc = documents.upload(task.entity, file_storage, user, direction=Direction.from_client,
                               visibility=Visibility.portal, document=_same_name_attachment(task, file_storage),
                               same_name_versions=False)
    if doc not in task.attachments:
        task.attachments.append(doc)
        db.session.commit()
    return doc


def _same_name_attachment(task, file_storage):
    """The task's shared attachment with the upload's (cleaned) name, if any; staff-only files never."""
    name = clean_filename(file_storage.filename or "")
    return next((d for d in task.attachments if d.name == name and d.visibility is Visibility.portal), None)


def reply(task, user, body, files):
    """A portal message from the contact, with optional files (those need the right to add files).
    Raises PermissionError, TooLarge or messages.MessageError; a refused reply keeps nothing."""
    files = [f for f in files if f and f.filename]
    if files and not access.can(user, R.CONTRIBUTE, task.entity):
        raise PermissionError(_("Only contacts who may add files can attach them; send the text alone."))
    for storage in files:
        check_size(storage)
    return messages.post_with_files(task, user, body, MessageKind.portal, files)


def page(task, user, before=None):
    """What the task page shows `user`: checklist, visible attachments, one page of the thread (the
    latest messages, or those older than message `before`) with each message's visible files, and
    the cursor of the older page — a fixed number of queries whatever the number of rows."""
    thread, older = messages.thread_page(task, user, before)
    ids = [message.id for message in thread]
    _load_authors(ids)
    return {
        "checklist": list(task.checklist),
        "attachments": db.session.scalars(
            access.visible(user, Document)
            .where(Document.id.in_(select(task_attachments.c.document_id).where(task_attachments.c.task_id == task.id)))
            .order_by(Document.created_on, Document.id)
        ).all(),
        "messages": thread,
        "older": older,
        "paged": before is not None,
        "message_files": _message_files(ids, user),
        "done_by": task.client_done_by,
    }


def _message_files(message_ids, user):
    """{message id: [documents the user may see]} for the shown messages (one query)."""
    rows = db.session.execute(
        select(message_attachments.c.message_id, Document)
        .join(Document, Document.id == message_attachments.c.document_id)
        .where(message_attachments.c.message_id.in_(message_ids), access.scope(user, Document))
        .order_by(Document.name, Document.id)
    ).all()
    files = {}
    for message_id, doc in rows:
        files.setdefault(message_id, []).append(doc)
    return files


def _load_authors(message_ids):
    """Load the authors of the shown messages in two queries, so each message's author comes from
    the session (no query per message)."""
    shown = select(Message).where(Message.id.in_(message_ids)).subquery()
    db.session.scalars(select(User).where(User.id.in_(select(shown.c.author_user_id)))).all()
    db.session.scalars(select(Contact).where(Contact.id.in_(select(shown.c.author_contact_id)))).all()


def author_name(message):
    """Who wrote a message, for the client: a contact's or staff member's name."""
    if message.author_contact is not None:
        return message.author_contact.full_name
    if message.author_user is not None:
        return f"{message.author_user.first_name} {message.author_user.last_name}".strip()
    return _("The firm")
