"""The one place that decides who may see and do what.

`can(user, action, obj)` answers for one object; `scope(user, Model, action)` gives the SQL
clause of the rows a user may reach, used by every view's base filter, related-field choices,
the portal and the API. Deny by default: anything not granted here is refused.
"""
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import exists, false, func, or_, select, true, union
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import (Contact, ContactEmail, ContactGroup, Entity, EntityShare, FirmSettings, ImportRun,
                        OrganizerTemplate, TaskBatch, TaskTemplate)
from app.models.contacts import contact_group_members
from app.security import roles as R
# Re-exported: the rest of the app asks this module, whichever helper module answers.
from app.security.contact_access import (can_contact_see, contact_actions, contact_entity_ids,  # noqa: F401
                                         contact_visible_ids, contacts_visible, may_be_mailed,
                                         may_use_portal)
from app.security.grants import (cached, config_row, contact_id_of, entity_role_ids, global_role_ids,  # noqa: F401
                                 owner_grants, permission_pairs, remember_contact, reset_cache, role_grants,
                                 role_names_by_id, user_id_of)
from app.security.scopes import ENTITY_SCOPED, PER_ROW, RowCheck


def is_contact(user):
    """True when the account is a client's (it never holds staff permissions)."""
    return contact_id_of(user) is not None


def global_actions(user):
    """Actions a staff user may take on every entity (empty for contacts and anonymous)."""
    if user_id_of(user) is None or is_contact(user):
        return frozenset()
    grants = role_grants()
    names = set()
    for role_id in global_role_ids(user):
        names |= grants.get(role_id, frozenset())
    return frozenset(n[: -len(R.ALL_SUFFIX)] for n in names if n.endswith(R.ALL_SUFFIX)) & R.STAFF_ACTIONS


def entity_ids(user, action=R.VIEW):
    """SQL select of the entity ids where `user` may take `action` (a clause, not a list)."""
    uid = user_id_of(user)
    if uid is None:
        return None
    cid = contact_id_of(user)
    if cid is not None:
        return cached(("contact-entities", cid, action), lambda: contact_entity_ids(cid, action))
    shared = select(EntityShare.entity_id).where(
        EntityShare.user_id == uid, EntityShare.role_id.in_(entity_role_ids(action, contact=False))
    )
    if owner_grants(action):
        return union(shared, select(Entity.id).where(Entity.responsible_id == uid))
    return shared


def is_scoped(model):
    """Whether `scope` knows `model` (its rows depend on who asks); other models (roles) it refuses."""
    return model in ENTITY_SCOPED or model in (Contact, ContactEmail, FirmSettings, ContactGroup, User, ImportRun,
                                              TaskTemplate, TaskBatch, OrganizerTemplate)


def scope(user, model, action=R.VIEW, listed=False, per_row=False):
    """A WHERE clause limiting `model` to the rows `user` may take `action` on.

    listed=True spells the user's entities out as values (read once per request, up to LISTED_MAX)
    instead of a subquery: for "the latest N rows in scope" the planner then filters a walk down the
    time index through a hash of the values, where a subquery led it to a nested loop (seconds).
    per_row=True (staff, models in scopes.PER_ROW, at least PER_ROW_MIN entities) tests each row's
    entity with EXISTS lookups: for the first N rows of an index walk in an order, the walk stops early
    instead of gathering every row in scope (a scoped member's "my open tasks": 72 ms → 2 ms, the
    latest client messages 97 → 0.3 ms at 100,000 clients). With fewer entities a walk would pass too
    many rows of others between hits, so their ids are listed instead.
    The clause is built once per request (a page asks for the same scope several times)."""
    uid = user_id_of(user)
    if uid is None:
        return false()
    return cached(("scope", uid, model, action, listed, per_row), lambda: _scope(user, model, action, listed, per_row))


def _scope(user, model, action, listed, per_row):
    if model in ENTITY_SCOPED:
        ids = None if action in global_actions(user) else entity_ids(user, action)
        if per_row and ids is not None and model in PER_ROW and not is_contact(user) and _many(user, action, ids):
            ids = _row_check(user, action)
        elif (listed or per_row) and ids is not None:
            ids = _listed(user, action, ids)
        return ENTITY_SCOPED[model](ids, contact_id_of(user))
    if model is Contact:
        return _contact_scope(user)
    if model is ContactEmail:
        return ContactEmail.contact_id.in_(select(Contact.id).where(_contact_scope(user)))
    if model in (FirmSettings, TaskTemplate, OrganizerTemplate):  # firm-wide: every staff member reads them
        return false() if is_contact(user) else true()
    if model is ContactGroup:
        return _group_scope(user)
    if model is ImportRun:  # an import holds a whole client list: only its author sees it
        return false() if is_contact(user) else ImportRun.created_by_id == user_id_of(user)
    if model is TaskBatch:  # names the entities chosen by its author, who alone follows it
        return false() if is_contact(user) else TaskBatch.created_by_id == user_id_of(user)
    if model is User:
        return false() if is_contact(user) else User.id.not_in(
            select(Contact.user_id).where(Contact.user_id.is_not(None))
        )
    return false()


def _row_check(user, action):
    """The staff user's entities (shares with a role granting `action`, and owned ones where owners
    have it) as EXISTS lookups on a row's entity id column."""
    uid, roles, owner = user_id_of(user), entity_role_ids(action, contact=False), owner_grants(action)
    owned = aliased(Entity)  # its own alias: on the entity list itself, `entity` is the outer row

    def test(column):
        shared = exists().where(EntityShare.entity_id == column, EntityShare.user_id == uid,
                                EntityShare.role_id.in_(roles))
        return or_(shared, exists().where(owned.id == column, owned.responsible_id == uid)) if owner else shared
    return RowCheck(test)


PER_ROW_MIN = 1_000  # entities from which a walk meets the user's rows often enough (1 % of a large firm)


def _many(user, action, ids):
    """Whether `user` has at least PER_ROW_MIN entities for `action` (memoised per request)."""
    return cached(("many", user_id_of(user), action), lambda: db.session.scalar(
        select(func.count()).select_from(ids.limit(PER_ROW_MIN).subquery())) >= PER_ROW_MIN)


LISTED_MAX = 10_000  # beyond this many entities, the subquery (bind parameters have limits)


def _listed(user, action, ids):
    """The entity ids of `ids` as a list (memoised per request), or `ids` itself when there are many."""
    values = cached(("listed", user_id_of(user), action), lambda: db.session.scalars(ids.limit(LISTED_MAX + 1)).all())
    return ids if len(values) > LISTED_MAX else values


def _group_scope(user):
    """Groups a staff user may see: all for those who see every entity, else the groups shared on
    entities in their scope (whose members they can see anyway). Contacts see none."""
    if is_contact(user):
        return false()
    if R.VIEW in global_actions(user):
        return true()
    return ContactGroup.id.in_(select(EntityShare.group_id).where(EntityShare.entity_id.in_(entity_ids(user, R.VIEW))))


def _contact_scope(user):
    """Contacts a user may see: themselves; for staff, those of entities in their scope."""
    cid = contact_id_of(user)
    if cid is not None:
        return Contact.id == cid
    ids = visible_contact_ids(user)
    return true() if ids is None else Contact.id.in_(ids)


def visible_contact_ids(user):
    """SQL select of the distinct ids of the contacts `user` may see — a contact: themselves; staff:
    those of entities in their scope, directly or through a group —, or None when they see every contact."""
    cid = contact_id_of(user)
    if cid is not None:
        return select(Contact.id).where(Contact.id == cid)
    if R.VIEW in global_actions(user):
        return None
    visible = entity_ids(user, R.VIEW)
    direct = select(EntityShare.contact_id).where(EntityShare.entity_id.in_(visible),
                                                  EntityShare.contact_id.is_not(None))
    grouped = (
        select(contact_group_members.c.contact_id)
        .join(EntityShare, EntityShare.group_id == contact_group_members.c.group_id)
        .where(EntityShare.entity_id.in_(visible))
    )
    return union(direct, grouped)


def visible(user, model, action=R.VIEW):
    """A select of the `model` rows `user` may take `action` on."""
    return select(model).where(scope(user, model, action))


def in_scope(user, obj, action=R.VIEW):
    """Whether one loaded object lies in `user`'s scope for `action` (one small query)."""
    model = type(obj)
    pk = model.__mapper__.primary_key[0]
    clause = scope(user, model, action)
    with db.session.no_autoflush:  # a check must not flush a half-built form object
        return db.session.scalar(select(pk).where(pk == obj.id, clause)) is not None


# People and firm objects are firm-wide: the row scope says who may see them, the screen permission of
# the user's global roles says who may change them.
_PEOPLE_SCREENS = {
    FirmSettings: "FirmSettingsView",
    TaskTemplate: "TaskTemplateView",
    OrganizerTemplate: "OrganizerTemplateView",
    Contact: "ContactView",
    ContactEmail: "ContactEmailView",
    ContactGroup: "ContactGroupView",
    User: "StaffUserView",
}


def manages_roles(user):
    """Whether the user may edit FAB roles (only Admins): the bar for handing out privileged roles."""
    return has_screen_permission(user, "can_edit", "RoleModelView")


def grantable_roles(user, entity):
    """The entity roles `user` may grant, change or take back on `entity` (in R.ENTITY_ROLES order).

    None without the share right; the privileged Owner role only for those who share every entity
    (Admin, Entities Admin), so an entity's Owner cannot make more Owners."""
    if not can(user, R.SHARE, entity):
        return ()
    if R.SHARE in global_actions(user):
        return R.ENTITY_ROLES
    return tuple(name for name in R.ENTITY_ROLES if name not in R.PRIVILEGED_ENTITY_ROLES)


def may_add_contacts(user):
    """Whether a staff user may create contacts (the Contacts screen's add permission)."""
    return has_screen_permission(user, "can_add", "ContactView")


def may_manage_webhooks(user):
    """Whether a staff user may register, change and test webhook endpoints (roles.WEBHOOKS: Admins)."""
    return has_screen_permission(user, *R.WEBHOOKS)


def may_send_organizers(user):
    """Whether a staff user may send organizers (to the entities they work on): client work, so the
    Organizers screen's send permission (Staff, Entities Admin, Admin), not the Staff Admin's template
    editing (DESIGN.md §3: a Staff Admin runs people, not client work)."""
    return has_screen_permission(user, "can_send", "OrganizerView")


def may_review_organizer(user, organizer):
    """Whether a staff user may mark an organizer reviewed or reopen it: the Organizers screen's review
    permission and the right to work on its entity (a Staff Admin alone has neither)."""
    return has_screen_permission(user, "can_review", "OrganizerView") and can(user, R.WORK, organizer)


def has_screen_permission(user, permission, view_name):
    """Whether one of a staff user's global roles holds FAB `permission` on `view_name`."""
    if user_id_of(user) is None or is_contact(user):
        return False
    return (permission, view_name) in permission_pairs(user)


def _holds_privileged_role(user):
    """Whether an account holds Admin or Entities Admin, directly or through a FAB group."""
    names = role_names_by_id()
    return any(names.get(role_id) in R.PRIVILEGED_ROLES for role_id in global_role_ids(user))


def can(user, action, obj):
    """Whether `user` may take `action` on `obj`; anything unknown is refused."""
    if obj is None or user_id_of(user) is None:
        return False
    model = type(obj)
    if model in _PEOPLE_SCREENS:
        if not in_scope(user, obj, R.VIEW):
            return False
        if action == R.VIEW:
            return True
        if model is User and _holds_privileged_role(obj) and not manages_roles(user):
            return False  # only those who manage roles may change an Admin's account
        return has_screen_permission(user, f"can_{action}", _PEOPLE_SCREENS[model])
    if model in ENTITY_SCOPED:
        return in_scope(user, obj, action)
    return False


def may_request_signatures(user, entity):
    """Whether a staff user may send the entity's documents for signature, void and resend: who may
    edit the entity (its Owner, Admins, Entities Admins), or a Staff Admin who sees it."""
    if entity is None or user_id_of(user) is None or is_contact(user):
        return False
    if can(user, R.EDIT, entity):
        return True
    names = role_names_by_id()
    return any(names.get(r) == R.STAFF_ADMIN for r in global_role_ids(user)) and in_scope(user, entity, R.VIEW)


def signer_of(user, signature_request):
    """The Signer row of the contact `user` in a request it may see (its portal scope), else None."""
    cid = contact_id_of(user)
    if cid is None or signature_request is None or not in_scope(user, signature_request, R.VIEW):
        return None
    return next((s for s in signature_request.signers if s.contact_id == cid), None)
