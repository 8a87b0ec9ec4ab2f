"""File requests (CaseWare's flow): ask contacts for files; each answer may update a document."""
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import FileRequestAnswer
from app.models.documents import Direction, Visibility
from app.models.tasks import ClientStatus, PortalState, TaskKind
from app.security import access
from app.security import roles as R
from app.services import documents, events, tasks
from app.services.entities import contacts_with_access
from app.services.firm import get_settings


def recipients(entity):
    """Every contact with access, with whether they may be chosen and, if not, why."""
    rows = []
    for contact, _role in contacts_with_access(entity):
        can_upload = R.CONTRIBUTE in access.contact_actions(contact, entity)
        reason = None if can_upload else _("Needs the Entity Collaborator role to upload files.")
        rows.append((contact, can_upload, reason))
    return rows


def uploaders(entity):
    """The contacts with access who may upload (the recipients a file request may have)."""
    return [contact for contact, can_upload, _reason in recipients(entity) if can_upload]


def create(entity, user, recipient_contacts, subject, description=None, additional_message=None,
           update_document=None, new_file=None, deadline=None, batch_id=None, commit=True):
    """Send a file request to the chosen recipients (all must be Entity Collaborators)."""
    allowed = {c.id for c in uploaders(entity)}
    refused = [c for c in recipient_contacts if c.id not in allowed]
    if not recipient_contacts or refused:
        raise tasks.TaskError(_("Choose recipients who may upload files (Entity Collaborators)."))
    if update_document is not None and update_document.entity_id != entity.id:
        raise tasks.TaskError(_("That document belongs to another entity."))
    if update_document is not None and update_document.visibility is not Visibility.portal:
        raise tasks.TaskError(_("Share the document to the portal before asking the client to update it."))
    if new_file is not None:
        update_document = documents.upload(entity, new_file, user, direction=Direction.from_firm,
                                           visibility=Visibility.portal)
    detailed = get_settings().detailed_notifications
    task = tasks.create_task(entity, subject, user, description=description, assignees=recipient_contacts,
                             kind=TaskKind.file_request, deadline=deadline, batch_id=batch_id, commit=False)
    task.additional_message = additional_message if detailed else None
    task.update_document = update_document
    task.portal_state, task.assigned_on = PortalState.assigned, datetime.now()
    db.session.flush()
    events.emit(events.FILE_REQUEST_CREATED, entity, task, actor=user, recipients=list(recipient_contacts))
    if commit:
        db.session.commit()
    return task


def answer(task, contact, user, file_storage):
    """A recipient's upload: a new version of the attached document, or a new document."""
    if task.kind is not TaskKind.file_request or not access.can(user, R.VIEW, task) \
            or not access.can(user, R.CONTRIBUTE, task.entity):
        raise tasks.TaskError(_("You cannot answer this file request."))
    target = task.update_document
    if target is not None and target.visibility is not Visibility.portal:
        target = None  # made staff-only after the request was sent: the answer becomes a new shared file
    doc = documents.upload(task.entity, file_storage, user, direction=Direction.from_client,
                           visibility=Visibility.portal, document=target, same_name_versions=False)
    try:
        db.session.add(FileRequestAnswer(task_id=task.id, contact_id=contact.id, document_id=doc.id))
        db.session.commit()
    except IntegrityError:  # a second file from the same recipient: the answer stands
        db.session.rollback()
    if outstanding(task) == []:
        task.client_status, task.client_done_on, task.client_done_by_id = ClientStatus.done, datetime.now(), contact.id
        db.session.commit()
    return doc


def outstanding(task):
    """Recipients who have not answered yet."""
    answered = set(db.session.scalars(select(FileRequestAnswer.contact_id).where(FileRequestAnswer.task_id == task.id)))
    return [c for c in task.assignees if c.id not in answered]
