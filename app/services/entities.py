"""Entity rules: create, change and delete one; who it may be shared with, who can see it, and the
client page's contents."""
from datetime import date

from flask_babel import gettext as _
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import and_, case, func, literal, or_, select, true, union, union_all
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import (ActivityEvent, ClientRequest, Contact, Document, Entity, EntityShare, K1Recipient, Message,
                        Task, TaxVoucher, VoucherStatus)
from app.models.tasks import StaffStatus
from app.models.contacts import contact_group_members
from app.security import access
from app.security import roles as R
from app.services import activity, saving

TAX_ID_PATTERN = r"^[0-9]([0-9 -]{2,18})[0-9]$"
EDITABLE = ("name", "kind", "tax_id", "status", "responsible", "address")  # what the Entities screen edits


class EntityError(ValueError):
    """A change the database refused (a concurrent change); nothing was saved."""


def create(actor, **values):
    """A new entity from the screen's fields (`EDITABLE`), its creation in the activity trail."""
    entity = Entity(**{name: values.get(name) for name in EDITABLE if name in values})
    db.session.add(entity)
    db.session.flush()
    activity.record("entity.created", entity, entity, actor=actor, commit=False)
    saving.commit_or(EntityError)
    return entity


def update(entity, actor, **changes):
    """Change the given `EDITABLE` fields of `entity`; the change is kept in its activity."""
    for name, value in changes.items():
        if name not in EDITABLE:
            raise ValueError(f"{name} is not an editable field")
        setattr(entity, name, value)
    activity.record("entity.updated", entity, entity, actor=actor, commit=False)
    saving.commit_or(EntityError)
    return entity


def delete(entity, actor):
    """Delete `entity` (and what hangs on it, as the screen does); recorded without a link."""
    activity.record("entity.deleted", summary=entity.name, actor=actor, commit=False)
    db.session.delete(entity)
    saving.commit_or(EntityError)


def share_errors(entity, role, user=None, contact=None, group=None, share_id=None):
    """Why a share cannot be saved (a list of messages; empty when it can)."""
    grantees = [g for g in (user, contact, group) if g is not None]
    if len(grantees) != 1:
        return [_("Choose exactly one of: a staff member, a contact or a contact group.")]
    if role is None or role.name not in R.ENTITY_ROLES:
        return [_("Choose an entity role.")]
    if user is not None and role.name not in R.STAFF_ENTITY_ROLES:
        return [_("Staff members can only be given the Owner or Viewer role.")]
    if user is None and role.name not in R.CONTACT_ENTITY_ROLES:
        return [_("Contacts and contact groups can only be given Entity Access or Entity Collaborator.")]
    if entity is not None and find_share(entity, user, contact, group, exclude_id=share_id) is not None:
        return [_("This entity is already shared with them; change that share instead.")]
    return []


def find_share(entity, user=None, contact=None, group=None, exclude_id=None):
    """The id of the share of `entity` with this grantee (other than `exclude_id`), or None."""
    query = select(EntityShare.id).where(EntityShare.entity_id == entity.id)
    if user is not None:
        query = query.where(EntityShare.user_id == user.id)
    elif contact is not None:
        query = query.where(EntityShare.contact_id == contact.id)
    else:
        query = query.where(EntityShare.group_id == group.id)
    if exclude_id is not None:
        query = query.where(EntityShare.id != int(exclude_id))
    return db.session.scalar(query)


def contacts_with_access(entity):
    """Contacts who can see `entity`, directly or through a group, with the role that gives it."""
    direct = (
        select(Contact, Role.name)
        .join(EntityShare, EntityShare.contact_id == Contact.id)
        .join(Role, Role.id == EntityShare.role_id)
        .where(EntityShare.entity_id == entity.id)
    )
    grouped = (
        select(Contact, Role.name)
        .join(contact_group_members, contact_group_members.c.contact_id == Contact.id)
        .join(EntityShare, EntityShare.group_id == contact_group_members.c.group_id)
        .join(Role, Role.id == EntityShare.role_id)
        .where(EntityShare.entity_id == entity.id)
    )
    seen = {}
    for query in (direct, grouped):
        rows = db.session.execute(query.options(selectinload(Contact.emails))).all()
        for contact, role_name in rows:
            seen.setdefault(contact.id, (contact, role_name))
    return sorted(seen.values(), key=lambda pair: (pair[0].last_name, pair[0].first_name))


def shared_contacts(entity_ids):
    """A SELECT of (entity_id, contact_id): the contacts who see these entities, directly or through a
    group (each pair once)."""
    direct = select(EntityShare.entity_id, EntityShare.contact_id.label("contact_id")).where(
        EntityShare.entity_id.in_(entity_ids), EntityShare.contact_id.is_not(None))
    grouped = (select(EntityShare.entity_id, contact_group_members.c.contact_id.label("contact_id"))
               .join(contact_group_members, contact_group_members.c.group_id == EntityShare.group_id)
               .where(EntityShare.entity_id.in_(entity_ids)))
    return union(direct, grouped)


def contact_ids_with_access(entity_id):
    """Ids of the contacts who can see the entity, directly or through a group (one query)."""
    return {contact_id for _entity_id, contact_id in db.session.execute(shared_contacts([entity_id]))}


# The client page ------------------------------------------------------------------------------------

WORKSPACE_LIMIT = 10  # rows per section; each section links to its full, filtered list


def _latest(query, limit=WORKSPACE_LIMIT):
    """(the first `limit` rows, whether there are more): one query, LIMIT + 1."""
    rows = db.session.scalars(query.limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def _task_sections(entity_id, today):
    """Overdue, open (not overdue) and done tasks, each latest first, with the count of each."""
    is_open = Task.staff_status == StaffStatus.open
    overdue = and_(is_open, Task.deadline < today)
    upcoming = and_(is_open, or_(Task.deadline.is_(None), Task.deadline >= today))
    counts = db.session.execute(select(
        func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        func.coalesce(func.sum(case((upcoming, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Task.staff_status == StaffStatus.done, 1), else_=0)), 0),
    ).where(Task.entity_id == entity_id)).one()
    base = select(Task).where(Task.entity_id == entity_id).options(joinedload(Task.responsible))
    return {
        "overdue": _latest(base.where(overdue).order_by(Task.deadline, Task.id)),
        "open": _latest(base.where(upcoming).order_by(Task.deadline.is_(None), Task.deadline, Task.id)),
        "done": _latest(base.where(Task.staff_status == StaffStatus.done)
                        .order_by(Task.staff_done_on.desc(), Task.id.desc())),
        "counts": {"overdue": counts[0], "open": counts[1], "done": counts[2]},
    }


def _latest_messages(entity_id):
    """The latest messages across the entity's task and request threads: each thread's newest few through
    its (thread, time) index, so a client with few messages never walks the firm's whole message index.
    Each part keeps one row more than the section shows, so `_latest` can tell there are more."""
    lateral, keep = db.session.get_bind().dialect.name == "postgresql", WORKSPACE_LIMIT + 1
    newest_first = (Message.created_on.desc(), Message.id.desc())

    def newest(parent, thread_id):
        if not lateral:  # SQLite has no LATERAL; at its sizes the plain join is cheap
            return select(Message.id, Message.created_on).join(
                parent, and_(parent.id == thread_id, parent.entity_id == entity_id)) \
                .order_by(*newest_first).limit(keep).subquery()
        threads = select(parent.id).where(parent.entity_id == entity_id).subquery()
        per_thread = select(Message.id, Message.created_on).where(thread_id == threads.c.id) \
            .order_by(*newest_first).limit(keep).lateral()
        return select(per_thread.c.id, per_thread.c.created_on).select_from(threads).join(per_thread, true()) \
            .order_by(per_thread.c.created_on.desc(), per_thread.c.id.desc()).limit(keep).subquery()

    halves = [newest(Task, Message.task_id), newest(ClientRequest, Message.request_id)]
    ids = union_all(*(select(half.c.id) for half in halves))
    return _latest(select(Message).where(Message.id.in_(ids)).options(
        joinedload(Message.author_user), joinedload(Message.author_contact), joinedload(Message.task),
        joinedload(Message.request)).order_by(Message.created_on.desc(), Message.id.desc()))


def _contacts(entity_id, limit=WORKSPACE_LIMIT * 2):
    """((contact, role name) of the first `limit` contacts who see the entity, directly or through a
    group — a direct share named first —, whether there are more): two queries whatever the group sizes."""
    direct = select(EntityShare.contact_id.label("contact_id"), EntityShare.role_id.label("role_id"),
                    literal(0).label("via_group")).where(EntityShare.entity_id == entity_id,
                                                         EntityShare.contact_id.is_not(None))
    grouped = select(contact_group_members.c.contact_id, EntityShare.role_id, literal(1)).join(
        EntityShare, EntityShare.group_id == contact_group_members.c.group_id).where(EntityShare.entity_id == entity_id)
    grants = union_all(direct, grouped).subquery()
    rows = db.session.execute(
        select(Contact, Role.name).join(grants, grants.c.contact_id == Contact.id).join(Role, Role.id == grants.c.role_id)
        .options(selectinload(Contact.emails))
        .order_by(Contact.last_name, Contact.first_name, Contact.id, grants.c.via_group).limit(2 * limit + 1)).all()
    seen = {}
    for contact, role_name in rows:
        seen.setdefault(contact.id, (contact, role_name))
    found = list(seen.values())
    return found[:limit], len(found) > limit or len(rows) > 2 * limit


def _rights(user, entity):
    """What the page offers `user` on `entity` (a fixed number of small queries)."""
    return {"view": access.can(user, R.VIEW, entity), "work": access.can(user, R.WORK, entity),
            "edit": access.can(user, R.EDIT, entity), "share": access.can(user, R.SHARE, entity),
            "invite": access.has_screen_permission(user, "can_invite", "ContactView")}


def workspace(entity_id, user, today=None):
    """Everything the client page shows about one entity, in a fixed number of queries whatever the
    number of rows; None when `user` may not see it. Sections are (rows, more) pairs."""
    today = today or date.today()
    entity = db.session.scalar(select(Entity).where(Entity.id == entity_id).options(joinedload(Entity.responsible)))
    rights = _rights(user, entity) if entity is not None else {}
    if not rights.get("view"):
        return None
    tasks = _task_sections(entity_id, today)
    vouchers = _latest(select(TaxVoucher).where(TaxVoucher.entity_id == entity_id).order_by(
        case((TaxVoucher.status == VoucherStatus.unpaid, 0), else_=1), TaxVoucher.due_date, TaxVoucher.id))
    messages = _latest_messages(entity_id)
    return {
        "entity": entity, "rights": rights, "tasks": tasks, "messages": messages, "vouchers": vouchers,
        "contacts": _contacts(entity_id),
        "staff": db.session.scalars(select(EntityShare).where(
            EntityShare.entity_id == entity_id, EntityShare.user_id.is_not(None))
            .options(joinedload(EntityShare.user), joinedload(EntityShare.role))).all(),
        "requests": _latest(select(ClientRequest).where(ClientRequest.entity_id == entity_id)
                            .options(joinedload(ClientRequest.contact))
                            .order_by(ClientRequest.created_on.desc(), ClientRequest.id.desc())),
        "documents": _latest(select(Document).where(Document.entity_id == entity_id)
                             .order_by(Document.created_on.desc(), Document.id.desc())),
        "k1": _latest(select(K1Recipient).where(K1Recipient.entity_id == entity_id)
                      .order_by(K1Recipient.name, K1Recipient.id)),
        "activity": _latest(select(ActivityEvent).where(ActivityEvent.entity_id == entity_id)
                            .options(joinedload(ActivityEvent.actor))
                            .order_by(ActivityEvent.created_on.desc(), ActivityEvent.id.desc())),
        "dates": _key_dates(entity, tasks, vouchers, messages),
    }


def _key_dates(entity, tasks, vouchers, messages):
    """Client since, the next open deadline, the next unpaid tax payment and the last message."""
    pending = tasks["overdue"][0] or [t for t in tasks["open"][0] if t.deadline is not None]
    unpaid = [v for v in vouchers[0] if v.status is VoucherStatus.unpaid]
    return {"since": entity.created_on, "next_deadline": pending[0] if pending else None,
            "next_payment": unpaid[0] if unpaid else None,
            "last_message": messages[0][0] if messages[0] else None}
