"""What every ops view shares: only Admins (those who manage roles) reach them; the outbox labels."""

from flask import abort, current_app, redirect, request, url_for
from flask_admin.contrib.sqla import ModelView
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from app.models.notifications import Channel
from app.security import access


STATE_LABELS = {  # by name: the outbox may gain states (e.g. "sending") before this console knows them
    "pending": _l("Pending"),
    "sending": _l("Sending"),
    "cancelled": _l("Cancelled"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
}
CHANNEL_LABELS = {Channel.in_app: _l("In the portal"), Channel.email: _l("E-mail")}


class AdminOnlyMixin:
    """Firm Admins only, through FAB's own login: anonymous → the login page, anybody else → 403."""

    def is_accessible(self):
        return bool(current_user.is_authenticated and access.manages_roles(current_user))

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            login = current_app.appbuilder.sm.auth_view.endpoint + ".login"
            return redirect(url_for(login, next=request.url))
        abort(403)


class OpsModelView(AdminOnlyMixin, ModelView):
    """A read-mostly SQLAlchemy list: no create, edit or delete; forms carry Flask-WTF CSRF tokens."""

    list_template = "ops/list.html"
    form_base_class = FlaskForm
    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True
    named_filter_urls = True
    page_size = 50
