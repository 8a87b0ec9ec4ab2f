"""What a contact reaches, asked without a signed-in session: the mail path re-checks with it
(contacts who have not signed up yet get mail too), in batches, through the portal's own clauses."""
from sqlalchemy import select, true, tuple_, union
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Contact, EntityShare
from app.models.contacts import PortalState, contact_group_members
from app.security import roles as R
from app.security.grants import entity_role_ids, role_grants, role_ids_by_name
from app.security.scopes import ENTITY_SCOPED


def contact_entity_ids(contact_id, action=R.VIEW, role_ids=None):
    """SQL select of the entity ids where a contact may take `action` through its shares (with or
    without a portal account: mails reach contacts who have not signed up yet)."""
    role_ids = entity_role_ids(action, contact=True) if role_ids is None else role_ids
    member = contact_group_members.c
    # A UNION, not an OR: each half uses its own index on entity_share (an OR scans the table). The
    # group half is a join, not `group_id IN (subquery)`: correlated to many contacts (the mail
    # re-check), the IN form hashed every group share once per contact.
    return union(
        select(EntityShare.entity_id).where(EntityShare.contact_id == contact_id, EntityShare.role_id.in_(role_ids)),
        select(EntityShare.entity_id).join(contact_group_members, member.group_id == EntityShare.group_id)
        .where(member.contact_id == contact_id, EntityShare.role_id.in_(role_ids)),
    )


def contact_visible_ids(contact_id, model, ids, action=R.VIEW):
    """The ids among `ids` of `model` rows the contact reaches in the portal (one query)."""
    return {i for _, _, i in contacts_visible({(contact_id, model): ids}, action)}


def contacts_visible(wanted, action=R.VIEW):
    """Batch check for many contacts: `wanted` maps (contact_id, Model) to ids; returns the
    (contact_id, Model, id) the portal shows each contact. The portal's own scope() clause, with
    the contact as a column instead of a value: one query per model, whatever the number of contacts."""
    found, by_model, role_ids = set(), {}, entity_role_ids(action, contact=True)
    for (contact_id, model), ids in wanted.items():
        if model in ENTITY_SCOPED:
            by_model.setdefault(model, set()).update((contact_id, i) for i in ids)
    who = aliased(Contact, name="recipient")
    for model, pairs in by_model.items():
        pk = model.__mapper__.primary_key[0]
        for chunk in _chunks(sorted(pairs), 500):
            statement = select(who.id, pk).select_from(who).join(model, true()).where(  # pairs filter the product
                who.id.in_({c for c, _ in chunk}), pk.in_({i for _, i in chunk}), tuple_(who.id, pk).in_(chunk),
                ENTITY_SCOPED[model](contact_entity_ids(who.id, action, role_ids), who.id))
            found |= {(cid, model, oid) for cid, oid in db.session.execute(statement)}
    return found


def _chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def can_contact_see(contact, obj):
    """Whether a usable contact sees `obj` in the portal (mails re-check with this before sending)."""
    return may_be_mailed(contact) and obj is not None and obj.id in contact_visible_ids(contact.id, type(obj), [obj.id])


def contact_actions(contact, entity):
    """What a contact may do on an entity through its shares (whether or not it has an account)."""
    groups = select(contact_group_members.c.group_id).where(contact_group_members.c.contact_id == contact.id)
    role_ids = db.session.scalars(select(EntityShare.role_id).where(
        EntityShare.entity_id == entity.id,
        (EntityShare.contact_id == contact.id) | EntityShare.group_id.in_(groups),
    )).all()
    grants = role_grants()
    contact_roles = {role_ids_by_name().get(name) for name in R.CONTACT_ENTITY_ROLES}
    actions = set()
    for role_id in role_ids:
        if role_id in contact_roles:
            actions |= grants.get(role_id, frozenset())
    return frozenset(actions) & R.CONTACT_ACTIONS




def may_use_portal(contact):
    """Whether a contact may sign in and act in the portal: active, with an enabled account."""
    return (contact is not None and contact.portal_state is PortalState.active
            and contact.user is not None and bool(contact.user.active))


def may_be_mailed(contact):
    """Whether the firm may write to a contact at all (a disabled contact hears nothing more)."""
    return contact is not None and contact.portal_state is not PortalState.disabled
