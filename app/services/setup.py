"""Roles and their permissions, written idempotently (run as often as you like)."""
from flask import current_app
from flask_appbuilder.security.sqla.models import PermissionView

from app.extensions import db
from app.security import roles as R
from app.services.firm import get_settings


def init_roles():
    """Create every permission, the global and entity roles, and grant each its permissions."""
    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    for name in R.GLOBAL_ROLES + R.ENTITY_ROLES:
        if sm.find_role(name) is None:
            sm.add_role(name)
    appbuilder.add_permissions(update_perms=True)
    for role_name, pairs in R.SCREEN_PERMISSIONS.items():
        _grant(sm, role_name, pairs)
    for role_name, menus in R.MENU_PERMISSIONS.items():
        _grant(sm, role_name, [("menu_access", menu) for menu in menus])
    for action in R.ENTITY_ACTIONS:
        sm.add_permission_view_menu(action, R.ENTITY_PERMISSION_VIEW)
        sm.add_permission_view_menu(action + R.ALL_SUFFIX, R.ENTITY_PERMISSION_VIEW)
    for role_name, actions in R.GLOBAL_ENTITY_ACTIONS.items():
        _grant(sm, role_name, [(a + R.ALL_SUFFIX, R.ENTITY_PERMISSION_VIEW) for a in actions])
    for role_name, actions in R.ENTITY_ROLE_ACTIONS.items():
        _grant(sm, role_name, [(a, R.ENTITY_PERMISSION_VIEW) for a in actions])
    _grant_all_to_admin(sm)
    get_settings()
    db.session.commit()


def _grant(sm, role_name, pairs):
    """Give `role_name` each (permission, view) pair; a pair no view declares is a bug in roles.py."""
    role = sm.find_role(role_name)
    for permission, view in pairs:
        pv = sm.find_permission_view_menu(permission, view)
        if pv is None:
            raise LookupError(f"no permission {permission} on {view}: check app/security/roles.py")
        if pv not in role.permissions:
            role.permissions.append(pv)
    db.session.commit()


def _grant_all_to_admin(sm):
    """Admin holds every permission that exists, including the entity ones."""
    role = sm.find_role(R.ADMIN)
    for pv in db.session.query(PermissionView).all():
        if pv not in role.permissions:
            role.permissions.append(pv)
    db.session.commit()

