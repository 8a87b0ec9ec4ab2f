"""The object-level access matrix, generated from app.url_map: which model each id in a route names,
which right the route needs, and what the access module says each actor should get.

Used by tests/test_access_matrix.py. A route with an id that cannot be mapped here makes the matrix
test fail: add its model (or its right) below and say why.
"""
from dataclasses import dataclass, field

from flask_appbuilder.security.sqla.models import Group, Permission, PermissionView, Role, User, ViewMenu

from app.extensions import db
from app.models import (
    ChecklistItem,
    ClientRequest,
    Contact,
    ContactEmail,
    Document,
    Entity,
    Folder,
    K1Recipient,
    Notification,
    Task,
    TaxVoucher,
    TrustedDevice,
)
from app.api import API_RESOURCES
from app.security import access
from app.security import roles as R
from app.services.invitations import INVITE

# Arguments that are not object ids (action names, locales, file names, chart groupings, dates).
NOT_IDS = {"name", "filename", "group_by", "locale", "export_type", "day", "path", "field", "ext"}
# Id routes whose rows have no place in the cast (one person's own records), proved by their own tests.
COVERED_ELSEWHERE = {
    "ImportView.show": "tests/test_imports.py (another importer's run is 404)",
    "ImportView.run": "tests/test_imports.py", "ImportView.status": "tests/test_imports.py",
    "TaskBatchView.show": "tests/test_task_batches.py (another member's batch is 404)",
    "TaskBatchView.status": "tests/test_task_batches.py", "TaskBatchView.restart": "tests/test_task_batches.py",
    "StaffSignInView.member": "tests/test_staff_sessions.py (Admins only; others 403)",
    "StaffSignInView.end_sessions": "tests/test_staff_sessions.py",
    "StaffSignInView.reset": "tests/test_two_factor.py (Staff Admin and Staff get 403)",
    "SharesView.new_contact": "tests/test_shares.py (also needs the Contacts add permission: Owners get 403)",
}
# Webhook endpoints are firm-wide and Admin-only (no entity): every other role gets 403, unknown ids 404.
COVERED_ELSEWHERE.update({
    f"WebhookView.{name}": "tests/test_webhooks.py (Admins only; others 403, unknown ids 404)"
    for name in ("edit", "rotate", "test", "delete")})
# E-signature: a signer's own rows and the staff screens of a request, swept by id in their own tests.
COVERED_ELSEWHERE.update({
    f"portal.{name}": "tests/test_portal_signatures.py (contacts not asked and of other entities: 404)"
    for name in ("signature", "signature_page", "signature_pdf_file", "signature_verify", "signature_sign",
                 "signature_decline")})
COVERED_ELSEWHERE.update({
    f"SignatureRequestView.{name}": "tests/test_signatures_screens.py (Viewers 403, other entities 404)"
    for name in ("new", "show", "fields", "page", "send", "void", "resend", "delete_field")})
# The REST API: each resource's own tests sweep a scoped token over every foreign id (404, nothing changed).
COVERED_ELSEWHERE.update({
    f"{resource.__name__}.{name}": f"tests/test_api_{resource.resource_name.replace('-', '_')}.py (foreign ids: 404)"
    for resource in API_RESOURCES for name in dir(resource) if hasattr(getattr(resource, name), "_urls")})
# Organizers: templates are firm-wide (Staff Admin edits), organizers ride on their task's scope; swept by id there.
COVERED_ELSEWHERE.update({
    f"OrganizerTemplateView.{name}": "tests/test_organizers_screens.py (only the Staff Admin and Admin edit: 403)"
    for name in ("edit", "change")})
COVERED_ELSEWHERE.update({
    f"OrganizerView.{name}": "tests/test_organizers_screens.py (other entities' organizers 404, Staff Admin 403)"
    for name in ("family", "show", "review", "reopen", "export_csv", "export_pdf")})
COVERED_ELSEWHERE["OrganizerView.send"] = ("tests/test_organizer_sending.py (other entities never chosen, "
                                           "Staff Admin 403, Staff Admin + Staff sends)")
COVERED_ELSEWHERE.update({
    f"portal.{name}": "tests/test_organizers_portal.py (other entities' and unassigned organizers: 404)"
    for name in ("organizer", "organizer_answer", "organizer_same", "organizer_upload", "organizer_submit",
                 "organizer_file_remove")})
# Ids of custom routes, by argument name: what the route's code loads with them.
ARG_MODELS = {
    "entity_id": Entity, "folder_id": Folder, "doc_id": Document, "task_id": Task, "item_id": ChecklistItem,
    "request_id": ClientRequest, "voucher_id": TaxVoucher, "recipient_id": K1Recipient,
    "notification_id": Notification, "email_id": ContactEmail, "device_id": TrustedDevice,
}
# `<pk>` of a FAB view names its datamodel's model, except where the route says otherwise.
PK_MODELS = {"TaskView.tick": ChecklistItem, "NotificationsView.open": Notification}
# The FAB security screens: only the screen permission decides (Admin only).
SECURITY_MODELS = (Role, Permission, ViewMenu, PermissionView, Group)
# Personal rows: only their owner reaches them (the bells and trusted-browser services decide).
OWN = "own"

# Rights of the routes that are not FAB's show/edit/delete/action.
CUSTOM_RIGHTS = {
    "TaskView.act": R.WORK, "TaskView.post_message": R.WORK, "TaskView.attach": R.WORK, "TaskView.tick": R.WORK,
    "ClientRequestView.convert": R.WORK, "ClientRequestView.close": R.WORK, "ClientRequestView.reopen": R.WORK,
    "ClientRequestView.post_message": R.WORK, "ContactView.portal_access": INVITE,
    "DocumentBrowserView.entity": R.VIEW, "DocumentBrowserView.upload": R.WORK,
    "DocumentBrowserView.new_version": R.WORK, "DocumentBrowserView.create_folder": R.WORK,
    "DocumentBrowserView.rename_folder": R.WORK, "DocumentBrowserView.move_folder": R.WORK,
    "DocumentBrowserView.delete_folder": R.WORK, "SharesView.entity": R.SHARE, "SharesView.search": R.SHARE,
    "SharesView.add": R.SHARE, "SharesView.remove": R.SHARE, "DocumentFilesView.download": R.VIEW,
    "DocumentFilesView.view": R.VIEW, "NotificationsView.open": OWN,
    "portal.task": R.VIEW, "portal.task_done": R.VIEW, "portal.task_reply": R.VIEW, "portal.task_tick": R.VIEW,
    "portal.task_upload": R.CONTRIBUTE, "portal.request": R.VIEW, "portal.request_reply": R.VIEW,
    "portal.document": R.VIEW, "portal.document_download": R.VIEW, "portal.document_view": R.VIEW,
    "portal.payment_pay": R.VIEW, "portal.payment_mark_paid": R.VIEW, "portal.k1_resend": R.VIEW,
    "portal.k1_revoke": R.VIEW, "portal.open_notification": OWN, "portal.settings_remove_email": R.VIEW,
    "portal.settings_revoke_browser": OWN,
}
# Routes that first check a right on the portal's current entity, whatever the id (403 without it).
ENTITY_GATES = {"portal.k1_resend": R.CONTRIBUTE, "portal.k1_revoke": R.CONTRIBUTE}
# FAB's self-service actions on the staff screen act on the signed-in user, never on the row.
SELF_ACTIONS = {"resetmypassword", "userinfoedit"}
# Action-like name arguments of custom routes.
ROUTE_NAMES = {"TaskView.act": ("assign", "withdraw", "complete", "reopen"),
               "ContactView.portal_access": ("invite", "disable")}


@dataclass
class Route:
    """One (endpoint, method, action name) of the matrix."""

    endpoint: str
    rule: str
    method: str
    models: dict  # id argument -> model
    view: object = None  # the FAB view, for screen permissions
    action: str | None = None  # FAB action name (action and action_post routes)
    name: str | None = None  # a custom route's <name> argument
    right: str | None = None
    form_ids: dict = field(default_factory=dict)  # id fields posted in the form (action_post rowid)

    @property
    def label(self):
        """How failures name the route."""
        extra = f"[{self.action or self.name}]" if (self.action or self.name) else ""
        return f"{self.method} {self.endpoint}{extra}"


def _views(app):
    return {view.endpoint: view for view in app.appbuilder.baseviews}


def _model_of(endpoint, arg, view):
    if arg == "pk":
        return PK_MODELS.get(endpoint) or getattr(getattr(view, "datamodel", None), "obj", None)
    return ARG_MODELS.get(arg)


def _right(endpoint, method_name, view, action):
    """The object right a route needs (None: screen permission only)."""
    if endpoint in CUSTOM_RIGHTS:
        return CUSTOM_RIGHTS[endpoint]
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    if model in SECURITY_MODELS or action in SELF_ACTIONS:
        return None
    if method_name == "show":
        return R.VIEW
    if model is User and method_name in ("edit", "delete", "action", "action_post"):
        return R.EDIT  # staff accounts: one bar for every change (check_user_target)
    if method_name == "edit":
        return getattr(view, "edit_right", R.EDIT)
    if method_name == "delete":
        return getattr(view, "delete_right", R.DELETE)
    if method_name in ("action", "action_post"):
        rights = getattr(view, "action_rights", {})
        return rights.get(action, getattr(view, "edit_right", R.EDIT))
    return "unmapped"


def routes(app):
    """Every (route, method, action) of app.url_map that names an object, and the ids it could not map."""
    views, found, unmapped = _views(app), [], []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint.startswith(("k1.", "ops")) or endpoint.endswith("static") or endpoint in COVERED_ELSEWHERE:
            continue  # guest K-1 and /ops have their own tests below; statics name no object
        prefix, _dot, method_name = endpoint.rpartition(".")
        view = views.get(prefix)
        args = sorted(a for a in rule.arguments if a not in NOT_IDS)
        models = {a: _model_of(endpoint, a, view) for a in args}
        unmapped += [f"{endpoint}<{a}>" for a, m in models.items() if m is None]
        actions = sorted(getattr(view, "actions", {}) or {}) if method_name in ("action", "action_post") else [None]
        if method_name == "action_post":
            models = {"rowid": view.datamodel.obj}
        elif not models or any(m is None for m in models.values()):
            continue
        for action in actions:
            right = _right(endpoint, method_name, view, action)
            if right == "unmapped":
                unmapped.append(f"{endpoint}: no right")
                continue
            for method in sorted(rule.methods & {"GET", "POST"}):
                for name in ROUTE_NAMES.get(endpoint, (None,)):
                    found.append(Route(endpoint, rule.rule, method, dict(models), view, action, name, right))
    return found, unmapped


# ---- what the access module says ----------------------------------------------------------------

def _owns(user, contact_id, row):
    if isinstance(row, Notification):
        return (row.recipient_user_id == user.id) if contact_id is None else row.recipient_contact_id == contact_id
    if isinstance(row, TrustedDevice):
        return contact_id is not None and row.contact_id == contact_id
    return False


def screen_permitted(user, route):
    """Whether the user's global roles hold the FAB permission the route's view asks for."""
    view = route.view
    if route.action:
        permission = view.get_action_permission_name(route.action)
    else:
        method = route.endpoint.rpartition(".")[2]
        name = (view.method_permission_name or {}).get(method) or getattr(getattr(type(view), method),
                                                                         "_permission_name", method)
        permission = name if name.startswith("can_") else f"can_{name}"
        if permission not in view.base_permissions:
            return False
    return access.has_screen_permission(user, permission, view.class_permission_name)


def _guarded(route):
    """Whether FAB's has_access decorator guards the route (anonymous → login page, else 403)."""
    method = route.endpoint.rpartition(".")[2]
    return hasattr(getattr(type(route.view), method, None), "_permission_name")


def _object_outcome(user, contact_id, route, rows):
    """404 when an object is out of the user's scope, 403 without the right, else ok."""
    for row in rows.values():
        if route.right == OWN:
            if not _owns(user, contact_id, row):
                return "404"
        elif not access.can(user, R.VIEW, row):
            return "404"
    if route.endpoint == "portal.task_tick" and rows["item_id"].task_id != rows["task_id"].id:
        return "404"
    if route.right in (OWN, R.VIEW, None):
        return "ok"
    return "ok" if all(access.can(user, route.right, row) for row in rows.values()) else "403"


def _portal_outcome(user, contact, route, rows):
    entity_gate = ENTITY_GATES.get(route.endpoint)
    if entity_gate:
        current = db.session.scalars(access.visible(user, Entity).order_by(Entity.name, Entity.id)).first()
        if current is None or not access.can(user, entity_gate, current):
            return "403"
        if any(getattr(row, "entity_id", current.id) != current.id for row in rows.values()):
            return "404"
    return _object_outcome(user, contact.id, route, rows)


def gate(user, route):
    """The answer given before any object is looked up (no portal session, no screen permission), or None."""
    if route.endpoint.startswith("portal."):
        contact = db.session.scalar(db.select(Contact).where(Contact.user_id == user.id)) if user else None
        if contact is None or not user.is_active or contact.portal_state.name != "active":
            return "signin"
        return None
    if user is None or not user.is_active:
        return "login" if _guarded(route) else ("denied" if _fab_native(route) else "403")
    if not screen_permitted(user, route):
        return "denied" if _fab_native(route) else "403"
    return None


def expected(user, route, rows):
    """The outcome the access module predicts for `user` (None = anonymous) on `route` with `rows`."""
    refused = gate(user, route)
    if refused:
        return refused
    if route.endpoint.startswith("portal."):
        contact = db.session.scalar(db.select(Contact).where(Contact.user_id == user.id))
        return _portal_outcome(user, contact, route, rows)
    if route.method == "GET" and route.endpoint.rpartition(".")[2] in ("delete", "action"):
        return "ok"  # FAB refuses a GET mutation with a redirect, whatever the id (nothing changes)
    if route.action and not route.view.actions[route.action].single and route.endpoint.endswith(".action"):
        return "400"  # a bulk-only action offered on one row
    if route.right is None:
        return "ok"
    return _object_outcome(user, None, route, rows)


def _fab_native(route):
    """FAB's own action routes (not ours from app.views.base) refuse by redirecting back, not with 403."""
    method = getattr(type(route.view), route.endpoint.rpartition(".")[2], None)
    return route.action is not None and getattr(method, "__module__", "").startswith("flask_appbuilder")
