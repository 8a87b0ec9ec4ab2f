"""The one place that decides who may see and do what.

`can(user, action, obj)` answers for one object; `scope(user, Model, action)` gives the SQL
clause of the rows a user may reach, used by every view's base filter, related-field choices,
the portal and the API. Deny by default: anything not granted here is refused.
"""
from flask import g, has_request_context
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    Role,
    User,
    ViewMenu,
    assoc_group_role,
    assoc_permissionview_role,
    assoc_user_group,
    assoc_user_role,
)
from sqlalchemy import false, select, true, tuple_, union
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Contact, ContactEmail, ContactGroup, Entity, EntityShare, FirmSettings, ImportRun
from app.models.contacts import PortalState, contact_group_members
from app.security import grants_cache
from app.security import roles as R
from app.security.scopes import ENTITY_SCOPED

def memo(key, compute):
    """Memoise `compute()` for the rest of this request (never across requests)."""
    return _cached(key, compute)


def _cached(key, compute):
    """Memoise per request (never across requests, so a revoked share counts at once)."""
    if not has_request_context():
        return compute()
    cache = g.setdefault("_portico_access", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def reset_cache():
    """Forget what this request learnt (called before each request and after share changes)."""
    if has_request_context():
        g.pop("_portico_access", None)


def _role_grants():
    """{role_id: frozenset(permission names on the Entity view-menu)} for every role."""

    def load():
        rows = db.session.execute(
            select(assoc_permissionview_role.c.role_id, Permission.name)
            .join(PermissionView, PermissionView.id == assoc_permissionview_role.c.permission_view_id)
            .join(Permission, Permission.id == PermissionView.permission_id)
            .join(ViewMenu, ViewMenu.id == PermissionView.view_menu_id)
            .where(ViewMenu.name == R.ENTITY_PERMISSION_VIEW)
        ).all()
        grants = {}
        for role_id, name in rows:
            grants.setdefault(role_id, set()).add(name)
        return {k: frozenset(v) for k, v in grants.items()}

    return _cached("grants", lambda: grants_cache.cached("grants", _grants_version(), load))


def _role_ids_by_name():
    """{role name: id} for the entity roles, to tell contact roles from staff roles."""

    def load():
        rows = db.session.execute(select(Role.name, Role.id).where(Role.name.in_(R.ENTITY_ROLES)))
        return dict(rows.all())

    return _cached("role_ids", lambda: grants_cache.cached("role_ids", _grants_version(), load))


def _grants_version():
    """The roles-and-permissions version, read once per request."""
    return _cached("grants_version", grants_cache.version)


def _uid(user):
    """The id of an authenticated user, or None for anonymous / missing users."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return user.id


def contact_id_of(user):
    """The contact a user account belongs to, or None for staff and anonymous users."""
    uid = _uid(user)
    if uid is None:
        return None
    return _cached(
        ("contact", uid),
        lambda: db.session.scalar(select(Contact.id).where(Contact.user_id == uid)),
    )


def may_use_portal(contact):
    """Whether a contact may sign in and act in the portal: active, with an enabled account."""
    return (contact is not None and contact.portal_state is PortalState.active
            and contact.user is not None and bool(contact.user.active))


def may_be_mailed(contact):
    """Whether the firm may write to a contact at all (a disabled contact hears nothing more)."""
    return contact is not None and contact.portal_state is not PortalState.disabled


def is_contact(user):
    """True when the account is a client's (it never holds staff permissions)."""
    return contact_id_of(user) is not None


def _global_role_ids(user):
    """Ids of the global roles a staff user holds directly or through a FAB group."""
    uid = _uid(user)

    def load():
        direct = select(assoc_user_role.c.role_id).where(assoc_user_role.c.user_id == uid)
        grouped = (
            select(assoc_group_role.c.role_id)
            .join(assoc_user_group, assoc_user_group.c.group_id == assoc_group_role.c.group_id)
            .where(assoc_user_group.c.user_id == uid)
        )
        return frozenset(db.session.scalars(union(direct, grouped)).all())

    return _cached(("roles", uid), load)


def global_actions(user):
    """Actions a staff user may take on every entity (empty for contacts and anonymous)."""
    if _uid(user) is None or is_contact(user):
        return frozenset()
    grants = _role_grants()
    names = set()
    for role_id in _global_role_ids(user):
        names |= grants.get(role_id, frozenset())
    return frozenset(n[: -len(R.ALL_SUFFIX)] for n in names if n.endswith(R.ALL_SUFFIX)) & R.STAFF_ACTIONS


def _entity_role_ids(action, contact):
    """Ids of the entity roles of one side (contact or staff) that grant `action`."""
    names = R.CONTACT_ENTITY_ROLES if contact else R.STAFF_ENTITY_ROLES
    allowed = R.CONTACT_ACTIONS if contact else R.STAFF_ACTIONS
    if action not in allowed:
        return []
    grants = _role_grants()
    ids = _role_ids_by_name()
    return [ids[n] for n in names if n in ids and action in grants.get(ids[n], frozenset())]


def _owner_grants(action):
    """Whether the Owner role grants `action` (the responsible member counts as an Owner)."""
    owner_id = _role_ids_by_name().get(R.OWNER)
    return owner_id is not None and action in _role_grants().get(owner_id, frozenset())


def entity_ids(user, action=R.VIEW):
    """SQL select of the entity ids where `user` may take `action` (a clause, not a list)."""
    uid = _uid(user)
    if uid is None:
        return None
    cid = contact_id_of(user)
    if cid is not None:
        return contact_entity_ids(cid, action)
    shared = select(EntityShare.entity_id).where(
        EntityShare.user_id == uid, EntityShare.role_id.in_(_entity_role_ids(action, contact=False))
    )
    if _owner_grants(action):
        return union(shared, select(Entity.id).where(Entity.responsible_id == uid))
    return shared


def contact_entity_ids(contact_id, action=R.VIEW, role_ids=None):
    """SQL select of the entity ids where a contact may take `action` through its shares (with or
    without a portal account: mails reach contacts who have not signed up yet)."""
    role_ids = _entity_role_ids(action, contact=True) if role_ids is None else role_ids
    groups = select(contact_group_members.c.group_id).where(contact_group_members.c.contact_id == contact_id)
    # A UNION, not an OR: each half uses its own index on entity_share (an OR scans the table).
    return union(
        select(EntityShare.entity_id).where(EntityShare.contact_id == contact_id, EntityShare.role_id.in_(role_ids)),
        select(EntityShare.entity_id).where(EntityShare.group_id.in_(groups), EntityShare.role_id.in_(role_ids)),
    )


def contact_visible_ids(contact_id, model, ids, action=R.VIEW):
    """The ids among `ids` of `model` rows the contact reaches in the portal (one query)."""
    return {i for _, _, i in contacts_visible({(contact_id, model): ids}, action)}


def contacts_visible(wanted, action=R.VIEW):
    """Batch check for many contacts: `wanted` maps (contact_id, Model) to ids; returns the
    (contact_id, Model, id) the portal shows each contact. The portal's own scope() clause, with
    the contact as a column instead of a value: one query per model, whatever the number of contacts."""
    found, by_model, role_ids = set(), {}, _entity_role_ids(action, contact=True)
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
    grants = _role_grants()
    contact_roles = {_role_ids_by_name().get(name) for name in R.CONTACT_ENTITY_ROLES}
    actions = set()
    for role_id in role_ids:
        if role_id in contact_roles:
            actions |= grants.get(role_id, frozenset())
    return frozenset(actions) & R.CONTACT_ACTIONS


def is_scoped(model):
    """Whether `scope` knows `model` (its rows depend on who asks); other models (roles) it refuses."""
    return model in ENTITY_SCOPED or model in (Contact, ContactEmail, FirmSettings, ContactGroup, User, ImportRun)


def scope(user, model, action=R.VIEW, listed=False):
    """A WHERE clause limiting `model` to the rows `user` may take `action` on.

    listed=True spells the user's entities out as values (read once per request, up to LISTED_MAX)
    instead of a subquery: for "the latest N rows in scope" the planner then filters a walk down the
    time index through a hash of the values, where a subquery led it to a nested loop (seconds)."""
    if _uid(user) is None:
        return false()
    if model in ENTITY_SCOPED:
        ids = None if action in global_actions(user) else entity_ids(user, action)
        if listed and ids is not None:
            ids = _listed(user, action, ids)
        return ENTITY_SCOPED[model](ids, contact_id_of(user))
    if model is Contact:
        return _contact_scope(user)
    if model is ContactEmail:
        return ContactEmail.contact_id.in_(select(Contact.id).where(_contact_scope(user)))
    if model is FirmSettings:
        return false() if is_contact(user) else true()
    if model is ContactGroup:
        return _group_scope(user)
    if model is ImportRun:  # an import holds a whole client list: only its author sees it
        return false() if is_contact(user) else ImportRun.created_by_id == _uid(user)
    if model is User:
        return false() if is_contact(user) else User.id.not_in(
            select(Contact.user_id).where(Contact.user_id.is_not(None))
        )
    return false()


LISTED_MAX = 10_000  # beyond this many entities, the subquery (bind parameters have limits)


def _listed(user, action, ids):
    """The entity ids of `ids` as a list (memoised per request), or `ids` itself when there are many."""
    values = _cached(("listed", _uid(user), action), lambda: db.session.scalars(ids.limit(LISTED_MAX + 1)).all())
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
    if R.VIEW in global_actions(user):
        return true()
    visible = entity_ids(user, R.VIEW)
    direct = select(EntityShare.contact_id).where(EntityShare.entity_id.in_(visible))
    grouped = (
        select(contact_group_members.c.contact_id)
        .join(EntityShare, EntityShare.group_id == contact_group_members.c.group_id)
        .where(EntityShare.entity_id.in_(visible))
    )
    return Contact.id.in_(union(direct, grouped))


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
    Contact: "ContactView",
    ContactEmail: "ContactEmailView",
    ContactGroup: "ContactGroupView",
    User: "StaffUserView",
}


def permission_pairs(user):
    """Every (permission, view) pair the user's roles (direct or through FAB groups) hold."""
    rows = db.session.execute(
        select(Permission.name, ViewMenu.name)
        .join(PermissionView, PermissionView.permission_id == Permission.id)
        .join(ViewMenu, ViewMenu.id == PermissionView.view_menu_id)
        .join(assoc_permissionview_role, assoc_permissionview_role.c.permission_view_id == PermissionView.id)
        .where(assoc_permissionview_role.c.role_id.in_(_global_role_ids(user)))
    ).all()
    return frozenset(rows)


def manages_roles(user):
    """Whether the user may edit FAB roles (only Admins): the bar for handing out privileged roles."""
    return has_screen_permission(user, "can_edit", "RoleModelView")


def has_screen_permission(user, permission, view_name):
    """Whether one of a staff user's global roles holds FAB `permission` on `view_name`."""
    if _uid(user) is None or is_contact(user):
        return False
    return (permission, view_name) in _cached(("fab-pairs", _uid(user)), lambda: permission_pairs(user))


def _holds_privileged_role(user):
    """Whether an account holds Admin or Entities Admin, directly or through a FAB group."""
    names = _role_names_by_id()
    return any(names.get(role_id) in R.PRIVILEGED_ROLES for role_id in _global_role_ids(user))


def _role_names_by_id():
    return _cached("role_names", lambda: dict(db.session.execute(select(Role.id, Role.name)).all()))


def can(user, action, obj):
    """Whether `user` may take `action` on `obj`; anything unknown is refused."""
    if obj is None or _uid(user) is None:
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
