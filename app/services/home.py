"""Figures for the staff home page ("My work")."""
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import ActivityEvent, ClientRequest, Contact, Entity, Message, RequestStatus, Task
from app.models.tasks import ClientStatus, PortalState, StaffStatus
from app.security import access
from app.services.firm import get_settings

LIMIT = 10


def overview(user):
    """The firm, counts of what `user` can see, their work lists and the 5 latest events."""
    entities = db.session.scalar(select(func.count(Entity.id)).where(access.scope(user, Entity)))
    contacts = _contact_count(user)
    recent = db.session.scalars(
        select(ActivityEvent).where(access.scope(user, ActivityEvent, per_row=True))
        .options(joinedload(ActivityEvent.actor), joinedload(ActivityEvent.entity))
        .order_by(ActivityEvent.created_on.desc()).limit(5)
    ).all()
    return {"firm": get_settings(), "entities": entities, "contacts": contacts, "recent": recent,
            "work": my_work(user)}


def _contact_count(user):
    """How many contacts `user` sees: for a scoped staff member, counted on the ids their entities' shares
    name (each contact row exists: the shares reference it), without joining the contact table."""
    ids = access.visible_contact_ids(user)
    if ids is None:
        return db.session.scalar(select(func.count(Contact.id)).where(access.scope(user, Contact)))
    return db.session.scalar(select(func.count()).select_from(ids.subquery()))


def _my_tasks(user, *conditions):
    return db.session.scalars(
        select(Task).where(access.scope(user, Task, per_row=True), Task.responsible_id == user.id,
                           Task.staff_status == StaffStatus.open, *conditions)
        # This order walks ix_task_responsible_open (no deadline first is last) and stops at LIMIT.
        .options(joinedload(Task.entity)).order_by(Task.deadline.asc().nulls_last(), Task.id).limit(LIMIT)
    ).all()


def my_work(user):
    """The signed-in staff member's lists: open, overdue, waiting for the client, done by the client,
    the latest client messages and the new client requests (each at most LIMIT rows)."""
    return {
        "open": _my_tasks(user),
        "overdue": _my_tasks(user, Task.deadline < date.today()),
        "waiting": _my_tasks(user, Task.portal_state == PortalState.assigned, Task.client_status == ClientStatus.pending),
        "awaiting_me": _my_tasks(user, Task.client_status == ClientStatus.done),
        "client_messages": db.session.scalars(
            select(Message).where(access.scope(user, Message, per_row=True), Message.author_contact_id.is_not(None))
            .options(joinedload(Message.author_contact), joinedload(Message.task), joinedload(Message.request))
            .order_by(Message.created_on.desc()).limit(LIMIT)
        ).all(),
        "new_requests": db.session.scalars(
            select(ClientRequest).where(access.scope(user, ClientRequest, per_row=True), ClientRequest.status == RequestStatus.new)
            .options(joinedload(ClientRequest.entity), joinedload(ClientRequest.contact))
            .order_by(ClientRequest.created_on.desc()).limit(LIMIT)
        ).all(),
    }
