"""What roles grant, read once per request (and across requests through the versioned cache):
entity-role permissions, a user's global roles and FAB screen permissions, who is a contact.

Only app.security.access and its helpers use this module; everyone else asks access.
"""
from flask import g, has_request_context, request
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_group_role,
    assoc_permissionview_role,
    assoc_user_group,
    assoc_user_role,
)
from sqlalchemy import select, union
from werkzeug.local import LocalProxy

from app.extensions import db
from app.models import Contact
from app.security import grants_cache
from app.security import roles as R


def cached(key, compute):
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


def role_grants():
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

    return cached("grants", lambda: grants_cache.cached("grants", _grants_version(), load))


def role_ids_by_name():
    """{role name: id} for the entity roles, to tell contact roles from staff roles."""

    def load():
        rows = db.session.execute(select(Role.name, Role.id).where(Role.name.in_(R.ENTITY_ROLES)))
        return dict(rows.all())

    return cached("role_ids", lambda: grants_cache.cached("role_ids", _grants_version(), load))


def config_row(name, load):
    """A configuration row (the firm's settings) in this session, read once per change per process, and
    held for the request (the session's identity map keeps rows only while someone holds them)."""
    row = grants_cache.attached(name, _grants_version(), db.session, load)
    if has_request_context():
        g.setdefault("_portico_rows", {})[name] = row
    return row


def _grants_version():
    """The roles-and-permissions version, read once per request."""
    return cached("grants_version", grants_cache.version)


def user_id_of(user):
    """The id of an authenticated user, or None for anonymous / missing users."""
    if isinstance(user, LocalProxy):  # current_user: resolved once, not on each attribute read
        user = user._get_current_object()
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return user.id


def contact_id_of(user):
    """The contact a user account belongs to, or None for staff and anonymous users."""
    uid = user_id_of(user)
    if uid is None:
        return None

    def load():
        loaded = getattr(request, "portico_contacts", {}) if has_request_context() else {}
        if uid in loaded:
            return None if loaded[uid] is None else loaded[uid].id
        return db.session.scalar(select(Contact.id).where(Contact.user_id == uid))

    return cached(("contact", uid), load)


def remember_contact(user_id, contact):
    """Answer contact_id_of from a row read anyway (the user loader joins it), and keep the contact in
    the session's identity map (a later get needs no query). Kept on the request object, which no
    other request shares (`g` outlives a request when a test holds an app context)."""
    if has_request_context():
        request._get_current_object().portico_contacts = {user_id: contact}


def global_role_ids(user):
    """Ids of the global roles a staff user holds directly or through a FAB group."""
    uid = user_id_of(user)

    def load():
        direct = select(assoc_user_role.c.role_id).where(assoc_user_role.c.user_id == uid)
        grouped = (
            select(assoc_group_role.c.role_id)
            .join(assoc_user_group, assoc_user_group.c.group_id == assoc_group_role.c.group_id)
            .where(assoc_user_group.c.user_id == uid)
        )
        return frozenset(db.session.scalars(union(direct, grouped)).all())

    return cached(("roles", uid), load)


def entity_role_ids(action, contact):
    """Ids of the entity roles of one side (contact or staff) that grant `action`."""
    names = R.CONTACT_ENTITY_ROLES if contact else R.STAFF_ENTITY_ROLES
    allowed = R.CONTACT_ACTIONS if contact else R.STAFF_ACTIONS
    if action not in allowed:
        return []
    grants = role_grants()
    ids = role_ids_by_name()
    return [ids[n] for n in names if n in ids and action in grants.get(ids[n], frozenset())]


def owner_grants(action):
    """Whether the Owner role grants `action` (the responsible member counts as an Owner)."""
    owner_id = role_ids_by_name().get(R.OWNER)
    return owner_id is not None and action in role_grants().get(owner_id, frozenset())


def permission_pairs(user):
    """Every (permission, view) pair the user's roles (direct or through FAB groups) hold: the user's
    roles are read per request, what a set of roles grants is kept across requests per grants version."""
    role_ids = global_role_ids(user)

    def load():
        rows = db.session.execute(
            select(Permission.name, ViewMenu.name)
            .join(PermissionView, PermissionView.permission_id == Permission.id)
            .join(ViewMenu, ViewMenu.id == PermissionView.view_menu_id)
            .join(assoc_permissionview_role, assoc_permissionview_role.c.permission_view_id == PermissionView.id)
            .where(assoc_permissionview_role.c.role_id.in_(role_ids))
        ).all()
        return frozenset(rows)

    return cached(("pairs", role_ids), lambda: grants_cache.cached(("pairs", role_ids), _grants_version(), load))


def role_names_by_id():
    return cached("role_names", lambda: dict(db.session.execute(select(Role.id, Role.name)).all()))
