"""Entity rules: who an entity may be shared with, and who can see it."""
from flask_babel import gettext as _
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Contact, EntityShare
from app.models.contacts import contact_group_members
from app.security import roles as R

TAX_ID_PATTERN = r"^[0-9]([0-9 -]{2,18})[0-9]$"


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
