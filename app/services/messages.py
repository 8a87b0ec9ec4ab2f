"""Message threads on tasks and client requests. A message's kind is fixed when it is posted."""
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select

from app.extensions import db
from app.models import Message, MessageKind, Task
from app.models.documents import Visibility
from app.security import access
from app.security import roles as R
from app.services import events

MAX_BODY = 10000
THREAD_PAGE = 50  # messages per page of a thread; older ones are a link away


class MessageError(ValueError):
    """A refused message; the message text is for the user."""


def post(thread, user, body, kind=MessageKind.portal, attachments=()):
    """Add a message to a task or request. Contacts always post portal messages on threads they see;
    staff need to work on the entity and choose the kind."""
    body = (body or "").strip()
    if not body:
        raise MessageError(_("Write a message first."))
    if len(body) > MAX_BODY:
        raise MessageError(_("A message can be at most %(n)d characters long.", n=MAX_BODY))
    contact_id = access.contact_id_of(user)
    if contact_id is not None:
        if not access.can(user, R.VIEW, thread):
            raise MessageError(_("You cannot write in this thread."))
        kind = MessageKind.portal  # whatever the form said: clients never post internal notes
    elif not access.can(user, R.WORK, thread):
        raise MessageError(_("You cannot write in this thread."))
    if not isinstance(kind, MessageKind):
        raise MessageError(_("Choose who the message is for."))
    message = Message(kind=kind, body=body, attachments=list(attachments),
                      author_user_id=None if contact_id else user.id, author_contact_id=contact_id)
    if kind is MessageKind.email:
        message.mail_state = "pending"  # mailed at once by a job after the commit
    if isinstance(thread, Task):
        message.task = thread
    else:
        message.request = thread
    db.session.add(message)
    db.session.flush()
    events.emit(events.MESSAGE_POSTED, thread.entity, message, actor=user, kind=kind, thread=thread,
                summary=f"{kind.name}: {thread}")
    db.session.commit()
    if kind is MessageKind.email:
        from app import jobs

        jobs.enqueue_message_mail(message.id)
    return message


def post_with_files(thread, user, body, kind, files):
    """Post a message with uploaded files: each becomes a document of the entity (staff only for an
    internal comment, shared otherwise); if one file is refused, nothing is kept."""
    from app.models.documents import Direction, Visibility
    from app.services import documents
    from app.services.filetypes import UploadRefused

    files = [f for f in files if f and f.filename]
    if not (body or "").strip():
        raise MessageError(_("Write a message first."))
    visibility = Visibility.staff_only if kind is MessageKind.internal else Visibility.portal
    direction = Direction.from_client if access.is_contact(user) else Direction.from_firm
    uploaded = []
    try:
        for storage in files:
            uploaded.append(documents.upload(thread.entity, storage, user, direction=direction,
                                             visibility=visibility, same_name_versions=False))
        return post(thread, user, body, kind, attachments=uploaded)
    except BaseException as exc:  # refused, too large (413) or failed: none of the files stays
        db.session.rollback()
        for doc in uploaded:
            documents.delete_document(doc, user)
        if isinstance(exc, (UploadRefused, documents.DocumentError, MessageError)):
            raise MessageError(str(exc)) from exc
        raise


def delete(message, user):
    """Withdraw a message (kept, marked deleted, hidden from clients; its mail is not sent)."""
    if not access.can(user, R.WORK, message):
        raise MessageError(_("You cannot delete this message."))
    message.deleted_on = datetime.now()
    for doc in message.attachments:
        if doc.visibility is Visibility.portal and not _used_elsewhere(doc, message):
            doc.visibility = Visibility.staff_only  # the file goes with its (withdrawn) message
    db.session.commit()


def _used_elsewhere(doc, message):
    """Whether `doc` is also on a live message, a task or a request (then it stays shared)."""
    from sqlalchemy import exists, select

    from app.models.messages import message_attachments
    from app.models.requests import request_attachments
    from app.models.tasks import task_attachments

    return db.session.scalar(select(
        exists().where(message_attachments.c.document_id == doc.id, message_attachments.c.message_id != message.id,
                       message_attachments.c.message_id.in_(select(Message.id).where(Message.deleted_on.is_(None))))
        | exists().where(task_attachments.c.document_id == doc.id)
        | exists().where(request_attachments.c.document_id == doc.id)))


def thread_page(thread, user, before=None, size=THREAD_PAGE, options=()):
    """The latest `size` messages of a thread that `user` may read, oldest first — only those older
    than message `before` when given — and the `before` id of the next older page (None if none).
    One query, whatever the length of the thread."""
    column = Message.task_id if isinstance(thread, Task) else Message.request_id
    # per_row: the thread's own messages are tested one by one as the walk goes (51 of 3,000), not
    # matched against every message a scoped member may read.
    query = select(Message).where(access.scope(user, Message, per_row=True), column == thread.id)
    if before is not None:
        anchor = select(Message.created_on).where(Message.id == before).scalar_subquery()
        query = query.where(or_(Message.created_on < anchor, and_(Message.created_on == anchor, Message.id < before)))
    query = query.order_by(Message.created_on.desc(), Message.id.desc()).limit(size + 1).options(*options)
    rows = db.session.scalars(query).unique().all()
    older = rows[size - 1].id if len(rows) > size else None
    return list(reversed(rows[:size])), older


def thread_messages(thread, user):
    """The messages of a thread that `user` may read, oldest first (one query)."""
    column = Message.task_id if isinstance(thread, Task) else Message.request_id
    return db.session.scalars(
        select(Message).where(access.scope(user, Message, per_row=True), column == thread.id)
        .order_by(Message.created_on, Message.id)
    ).all()
