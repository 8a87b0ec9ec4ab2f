"""Files of an organizer's file questions: each upload is a document of the entity from the client
(the same upload rules and limit as every upload), attached to the organizer's task and linked to its
question; a file can be taken off its question again while the organizer is open.

Taking a file off a question never loses the document by default: contacts hold no delete right on
documents (roles.CONTACT_ACTIONS, DESIGN.md §3), so it stays in the entity's documents, where the firm
sees what was sent; it is deleted only if the access module lets the remover delete it.
"""
from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import Document
from app.models.documents import Direction, Visibility
from app.models.organizers import QuestionKind
from app.security import access
from app.security import roles as R
from app.services import activity, documents
from app.services.organizers import StaleAnswer, check_open, current_answer, question_of, save_answer
from app.services.organizer_values import OrganizerError
from app.services.portal.tasks import check_size

ATTEMPTS = 3  # a change of the file list never loses to a concurrent save: retried on the newer version


def _file_question(organizer, question_id, user):
    """The open organizer's file question that `user` may change the files of."""
    check_open(organizer)
    question = question_of(organizer, question_id)
    if question.kind is not QuestionKind.file_upload:
        raise OrganizerError(_("This question does not take files."))
    if not access.can(user, R.CONTRIBUTE, organizer.entity):
        raise PermissionError(_("Your access lets you read and reply, not add files."))
    return question


def _relink(organizer, question, user, change):
    """Save the question's document ids as `change(current ids)` makes them, retrying a stale version."""
    for _attempt in range(ATTEMPTS):
        current = current_answer(organizer, question)
        try:
            return save_answer(organizer, question.id, user, current.version if current else 0, value=None,
                               documents=change(current.documents() if current else []))
        except StaleAnswer:
            continue
    raise OrganizerError(_("The files could not be linked to the question; try again."))


def add_upload(organizer, question_id, user, file_storage):
    """One file for a file question (answer, document)."""
    question = _file_question(organizer, question_id, user)
    current = current_answer(organizer, question)
    if current is not None and len(current.documents()) >= question.max_files:
        raise OrganizerError(_("This question takes at most %(max)d files.", max=question.max_files))
    check_size(file_storage)
    doc = documents.upload(organizer.entity, file_storage, user, direction=Direction.from_client,
                           visibility=Visibility.portal, same_name_versions=False)
    if organizer.task is not None and doc not in organizer.task.attachments:
        organizer.task.attachments.append(doc)
    return _relink(organizer, question, user, lambda ids: ids + [doc.id]), doc


def remove_upload(organizer, question_id, user, document_id):
    """Take one file off its question (and off the organizer's task); the answer (LookupError when the
    question does not hold that file)."""
    question = _file_question(organizer, question_id, user)
    current = current_answer(organizer, question)
    if current is None or document_id not in current.documents():
        raise LookupError(document_id)
    answer = _relink(organizer, question, user, lambda ids: [i for i in ids if i != document_id])
    doc = db.session.get(Document, document_id)
    if doc is None:
        return answer
    if organizer.task is not None and doc in organizer.task.attachments:
        organizer.task.attachments.remove(doc)
    activity.record("organizer.file_removed", organizer.entity, doc, summary=f"{organizer}: {doc.name}",
                    actor=user, commit=False)
    db.session.commit()
    if access.can(user, R.DELETE, doc):
        documents.delete_document(doc, user)
    return answer


def uploaded(user, answer_map):
    """{document id: Document} of the files linked in `answer_map` that `user` may see (one query): a file
    the firm has since made staff-only is not named to a contact."""
    ids = {i for answer in answer_map.values() for i in answer.documents()}
    if not ids:
        return {}
    return {d.id: d for d in db.session.scalars(select(Document).where(Document.id.in_(ids),
                                                                      access.scope(user, Document)))}
