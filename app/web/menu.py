"""The staff menu, rendered once per set of permissions, language and mount point instead of on every
page: FAB asks `has_access` for each of its ~40 items and translates each label (a fifth of a list
page's time). What the menu shows depends on nothing else: each item's visibility is a (menu_access,
name) permission pair of the user's roles, its link is the app's own URL."""
from flask import current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from app.security import access

_KEEP = 64  # distinct role sets × languages a firm has are few; more means something churns


def staff_menu():
    """The menu's <li> items for the signed-in staff member (anyone else: rendered as FAB does)."""
    key = _key()
    rendered = current_app.extensions["portico_menu"]  # (permission pairs, locale, script root) -> Markup
    html = rendered.get(key) if key is not None else None
    if html is None:
        html = Markup(render_template("portico/_staff_menu.html", menu=current_app.appbuilder.menu))
        if key is not None:
            if len(rendered) >= _KEEP:
                rendered.clear()
            rendered[key] = html
    return html


def _key():
    user = current_user._get_current_object()
    if not user.is_authenticated or access.is_contact(user) or current_app.appbuilder.sm.builtin_roles:
        return None
    return access.permission_pairs(user), str(get_locale()), request.script_root


def register(app):
    """Offer `staff_menu()` to templates (each app keeps its own renderings)."""
    app.extensions["portico_menu"] = {}
    app.jinja_env.globals["staff_menu"] = staff_menu
