"""Client requests: raised by a contact, worked in the staff inbox, convertible into a task."""
from flask_babel import gettext as _

from app.extensions import db
from app.models import ClientRequest, Message, RequestStatus
from app.models.documents import Direction, Visibility
from app.security import access
from app.security import roles as R
from app.services import documents, events, messages, tasks


class RequestError(ValueError):
    """A refused request operation; the message is for the user."""


def create_request(entity, contact, user, subject, body, files=()):
    """A contact's new request; uploading files with it needs Entity Collaborator."""
    if not access.can(user, R.CONTRIBUTE, entity):
        raise RequestError(_("Only Entity Collaborators can create requests."))
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject or not body:
        raise RequestError(_("Write a subject and a message."))
    uploaded = []
    try:  # each upload commits its document: a refused or too large file takes the earlier ones along
        for storage in files:
            uploaded.append(documents.upload(entity, storage, user, direction=Direction.from_client,
                                             visibility=Visibility.portal, same_name_versions=False))
    except BaseException:
        db.session.rollback()
        for doc in uploaded:
            documents.delete_document(doc, user)
        raise
    request = ClientRequest(entity=entity, contact=contact, subject=subject[:200], body=body, attachments=uploaded)
    db.session.add(request)
    db.session.flush()
    events.emit(events.REQUEST_CREATED, entity, request, actor=user)
    db.session.commit()
    return request


def set_status(request, status, user):
    """Open or close a request (converting goes through convert())."""
    _check_changeable(request, user)
    if status is RequestStatus.converted:
        raise RequestError(_("Use “Convert to task” to convert a request."))
    request.status = status
    db.session.commit()


def close(request, user):
    """Close a new or open request."""
    _check_changeable(request, user)
    if request.status is RequestStatus.closed:
        raise RequestError(_("The request is already closed."))
    set_status(request, RequestStatus.closed, user)


def reopen(request, user):
    """Open a closed request again."""
    _check_changeable(request, user)
    if request.status is not RequestStatus.closed:
        raise RequestError(_("Only a closed request can be reopened."))
    set_status(request, RequestStatus.open, user)


def answer(request, user, body, kind, files=()):
    """The firm's message on a request's thread; a staff answer takes the request out of "New".

    Raises RequestError for a converted request and messages.MessageError for a refused message
    (then nothing is saved, the status change included)."""
    if request.status is RequestStatus.converted:
        raise RequestError(_("This request was converted to a task; continue the conversation there."))
    if request.status is RequestStatus.new and not access.is_contact(user):
        request.status = RequestStatus.open
    return messages.post_with_files(request, user, body, kind, files)


def _check_changeable(request, user):
    if not access.can(user, R.WORK, request):
        raise RequestError(_("You cannot change this request."))
    if request.status is RequestStatus.converted:
        raise RequestError(_("This request was converted to a task; work on the task instead."))


def convert(request, user):
    """Turn a request into a task of its entity; its messages and files move with it."""
    if not access.can(user, R.WORK, request):
        raise RequestError(_("You cannot change this request."))
    if request.status is RequestStatus.converted:
        return request.task
    # The requester follows the firm's answer on the task in the portal, while they still see the entity.
    allowed = {c.id for c in tasks.default_assignees(request.entity)}
    assignees = [request.contact] if request.contact is not None and request.contact.id in allowed else []
    task = tasks.create_task(request.entity, request.subject, user, description=request.body,
                             assignees=assignees, commit=False)
    task.attachments = list(request.attachments)
    db.session.flush()
    db.session.query(Message).filter(Message.request_id == request.id).update(
        {Message.request_id: None, Message.task_id: task.id}, synchronize_session=False)
    request.status, request.task = RequestStatus.converted, task
    if task.assignees:
        tasks.assign(task, user, commit=False)
    db.session.commit()
    return task
