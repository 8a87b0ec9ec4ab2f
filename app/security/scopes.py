"""How rows of each entity-owned model belong to entities, and what contacts may see of them.

Each clause takes `ids` (a select of the entity ids in scope, or None for every entity) and the
contact id of the user (None for staff) — or a contact id column, to check many contacts at once. Used only by app.security.access.
"""
from sqlalchemy import and_, false, literal, literal_column, or_, select, true, union
from sqlalchemy.orm import aliased

from app.models import (
    ActivityEvent,
    ChecklistItem,
    ClientRequest,
    Contact,
    Document,
    DocumentVersion,
    Entity,
    EntityShare,
    Folder,
    K1Recipient,
    Message,
    Organizer,
    SignatureRequest,
    Signer,
    Task,
    TaskSeries,
    TaxVoucher,
)
from app.models.documents import Visibility
from app.models.messages import CLIENT_VISIBLE
from app.models.tasks import PortalState as TaskPortalState
from app.models.signatures import RequestStatus
from app.models.tasks import task_assignees


class RowCheck:
    """The user's entities as a test of each row's entity id (EXISTS lookups), instead of a set joined
    first: for "the first N rows of an index walk" the planner then filters the walk and stops early."""

    def __init__(self, test):
        self.test = test  # column -> clause


def _within(column, ids):
    if isinstance(ids, RowCheck):
        return ids.test(column)
    return true() if ids is None else column.in_(ids)


def _activity_clause(ids, contact):
    """Staff see the entity's log; a contact only the events of its own account (never staff work)."""
    if contact is None:
        return _within(ActivityEvent.entity_id, ids)
    own = select(Contact.user_id).where(Contact.id == contact, Contact.user_id.is_not(None))
    return and_(_within(ActivityEvent.entity_id, ids), ActivityEvent.actor_id.in_(own))


def _document_clause(ids, contact):
    shared = Document.visibility == Visibility.portal if contact is not None else true()
    return and_(_within(Document.entity_id, ids), shared)


def _task_clause(ids, contact):
    """Contacts see tasks assigned to them in the portal and not withdrawn."""
    if contact is None:
        return _within(Task.entity_id, ids)
    mine = select(task_assignees.c.task_id).where(task_assignees.c.contact_id == contact)
    return and_(_within(Task.entity_id, ids), Task.portal_state == TaskPortalState.assigned, Task.id.in_(mine))


def _request_clause(ids, contact):
    """Contacts see the requests they raised."""
    own = ClientRequest.contact_id == contact if contact is not None else true()
    return and_(_within(ClientRequest.entity_id, ids), own)


def _message_clause(ids, contact):
    """Messages of visible tasks and requests; never internal or deleted ones for contacts."""
    if ids is None and contact is None:
        return true()  # every message belongs to a task or a request (ck_message_one_thread)
    # One UNION of message ids, not an OR of two IN lists: the planner walks each half by its index.
    if isinstance(ids, RowCheck):  # each message's thread looked up, its entity tested: a time walk stops early
        task, request = aliased(Task), aliased(ClientRequest)
        # OFFSET 0 keeps each lookup per row: without it PostgreSQL hashes every task in scope first.
        thread = or_(select(literal(1)).where(task.id == Message.task_id, ids.test(task.entity_id))
                     .offset(literal_column("0")).exists(),
                     select(literal(1)).where(request.id == Message.request_id, ids.test(request.entity_id))
                     .offset(literal_column("0")).exists())
    elif isinstance(ids, list):  # a few thousand entities spelt out: both halves hash, the time index is walked
        thread = or_(Message.task_id.in_(select(Task.id).where(_task_clause(ids, contact))),
                     Message.request_id.in_(select(ClientRequest.id).where(_request_clause(ids, contact))))
    else:
        inner = aliased(Message)  # never correlated with the outer query's message table
        thread = Message.id.in_(union(
            select(inner.id).join(Task, Task.id == inner.task_id).where(_task_clause(ids, contact)),
            select(inner.id).join(ClientRequest, ClientRequest.id == inner.request_id)
            .where(_request_clause(ids, contact)),
        ))
    if contact is None:
        return thread
    return and_(thread, Message.kind.in_(CLIENT_VISIBLE), Message.deleted_on.is_(None))


def _organizer_clause(ids, contact):
    """Contacts see the organizers of the tasks they see (assigned to them, not withdrawn)."""
    if contact is None:
        return _within(Organizer.entity_id, ids)
    return and_(_within(Organizer.entity_id, ids), Organizer.task_id.in_(select(Task.id).where(_task_clause(ids, contact))))


def _signature_clause(ids, contact):
    """Contacts see the requests they are asked to sign (never a draft); staff the entity's requests."""
    if contact is None:
        return _within(SignatureRequest.entity_id, ids)
    mine = select(Signer.request_id).where(Signer.contact_id == contact)
    return and_(_within(SignatureRequest.entity_id, ids), SignatureRequest.status != RequestStatus.draft,
                SignatureRequest.id.in_(mine))


def _folder_clause(ids, contact):
    """Contacts see the folders holding a shared document, and their ancestors (the path to it)."""
    tree = select(Document.folder_id.label("id")).where(
        _document_clause(ids, contact), Document.folder_id.is_not(None)).cte("contact_folders", recursive=True)
    parent = aliased(Folder)
    tree = tree.union(select(parent.parent_id).join(tree, parent.id == tree.c.id).where(parent.parent_id.is_not(None)))
    return Folder.id.in_(select(tree.c.id))


ENTITY_SCOPED = {
    Entity: lambda ids, contact: _within(Entity.id, ids),
    EntityShare: lambda ids, contact: _within(EntityShare.entity_id, ids),
    ActivityEvent: _activity_clause,
    Document: _document_clause,
    DocumentVersion: lambda ids, contact: DocumentVersion.document_id.in_(
        select(Document.id).where(_document_clause(ids, contact))
    ),
    Task: _task_clause,
    ChecklistItem: lambda ids, contact: ChecklistItem.task_id.in_(select(Task.id).where(_task_clause(ids, contact))),
    TaskSeries: lambda ids, contact: false() if contact is not None else _within(TaskSeries.entity_id, ids),
    ClientRequest: _request_clause,
    Message: _message_clause,
    TaxVoucher: lambda ids, contact: _within(TaxVoucher.entity_id, ids),
    K1Recipient: lambda ids, contact: _within(K1Recipient.entity_id, ids),
    SignatureRequest: _signature_clause,
    Organizer: _organizer_clause,
    Folder: lambda ids, contact: and_(_within(Folder.entity_id, ids), _folder_clause(ids, contact) if contact is not None else true()),
}
PER_ROW = frozenset({Task, ClientRequest, TaxVoucher, K1Recipient, Document, Entity, ActivityEvent, Message})

