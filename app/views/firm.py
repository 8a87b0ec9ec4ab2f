"""The firm's settings screen: one row, edited in place."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget
from flask import current_app
from wtforms import BooleanField, SelectMultipleField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.validators import URL, DataRequired, Email, Length, NumberRange, Optional, ValidationError

from app.models import FirmSettings
from app.security import access
from app.security import roles as R
from app.services.filetypes import UploadRefused
from app.services import firm as firm_service
from app.services import payment_hosts
from app.views.base import SafeInterface, ScopedModelView, in_scope


def _host_lines(text):
    """One trimmed, lower-case host per line, blank lines dropped (the column is NOT NULL: never None)."""
    return "\n".join(payment_hosts.normalize_host(line) for line in (text or "").splitlines()
                     if line.strip())


def _hosts_valid(form, field):
    """Each line must be a bare host name: no scheme, path, port, user or wildcard."""
    bad = payment_hosts.parse_hosts(field.data)[1]
    if bad:
        raise ValidationError(_("Not a bare host name (like irs.gov): %(lines)s", lines=", ".join(bad[:5])))


class RoleChecklistField(SelectMultipleField):
    """Global staff roles as checkboxes, stored as one role name per line."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def process_data(self, value):
        """Accept the stored text (one name per line) as well as a list."""
        super().process_data(value.splitlines() if isinstance(value, str) else value)

    def populate_obj(self, obj, name):
        """Store the ticked roles as text, in the order of the choices."""
        setattr(obj, name, "\n".join(role for role in R.STAFF_GLOBAL_ROLES if role in (self.data or [])))


def _within_server_limit(setting, unit_seconds):
    """A validator: at most the server's own limit (`setting`, in seconds), counted in `unit_seconds`."""

    def check(form, field):
        limit = int(current_app.config[setting]) // unit_seconds
        if field.data is None or not 1 <= field.data <= limit:
            raise ValidationError(_("Enter a number from 1 to %(limit)d.", limit=limit))

    return check


class FirmSettingsView(ScopedModelView):
    """Firm name, the contact block clients see, and firm-wide switches."""

    datamodel = SafeInterface(FirmSettings)
    base_permissions = ["can_list", "can_edit", "can_show"]
    method_permission_name = {"logo": "edit"}
    edit_title = _l("Firm settings")
    show_title = _l("Firm settings")
    label_columns = {
        "firm_name": _l("Firm name"),
        "contact_person": _l("Contact person"),
        "contact_phone": _l("Contact phone"),
        "contact_email": _l("Contact e-mail"),
        "address": _l("Address"),
        "portal_base_url": _l("Portal address"),
        "notification_delay": _l("Notification delay (seconds)"),
        "max_upload_bytes": _l("Largest upload (bytes)"),
        "detailed_notifications": _l("Detailed notifications"),
        "owner": _l("Firm owner"),
        "payment_hosts": _l("Payment hosts"),
        "second_factor_roles": _l("Two-step sign-in required for"),
        "idle_timeout_minutes": _l("Staff idle timeout (minutes)"),
        "absolute_timeout_hours": _l("Staff session length (hours)"),
        "signature_consent": _l("Consent to sign electronically"),
    }
    edit_columns = [
        "firm_name", "contact_person", "contact_phone", "contact_email", "address",
        "portal_base_url", "notification_delay", "max_upload_bytes", "detailed_notifications", "owner",
        "payment_hosts", "second_factor_roles", "idle_timeout_minutes", "absolute_timeout_hours",
        "signature_consent",
    ]
    show_columns = edit_columns
    description_columns = {
        "notification_delay": _l("Mails about assigned tasks wait this long, so a quick withdrawal sends nothing."),
        "detailed_notifications": _l("Adds the additional message of a file request to its mail."),
        "portal_base_url": _l("The address clients use, e.g. https://portal.example.com"),
        "payment_hosts": _l("Where the portal's Pay may send clients: one host name per line (e.g. irs.gov); "
                            "a host also allows its subdomains (www.irs.gov)."),
        "second_factor_roles": _l("Members of these roles must sign in with an authenticator code as well as "
                                  "their password; they set it up right after their next password sign-in."),
        "idle_timeout_minutes": _l("A staff session without a request for this long ends (at most the server's limit)."),
        "absolute_timeout_hours": _l("A staff session ends this long after sign-in, whatever happens (at most the "
                                     "server's limit)."),
        "signature_consent": _l("What each signer agrees to before signing electronically (the text of a request "
                                "is kept with it). Empty: Portico's default text."),
    }
    validators_columns = {
        "firm_name": [DataRequired(), Length(max=200)],
        "contact_email": [Optional(), Email(), Length(max=254)],
        "contact_phone": [Optional(), Length(max=50)],
        "portal_base_url": [Optional(), URL(require_tld=False), Length(max=500)],
        "notification_delay": [NumberRange(min=0, max=86400)],
        "max_upload_bytes": [NumberRange(min=1024, max=100 * 1024 * 1024)],
        "idle_timeout_minutes": [_within_server_limit("PERMANENT_SESSION_LIFETIME", 60)],
        "absolute_timeout_hours": [_within_server_limit("SESSION_ABSOLUTE_LIFETIME", 3600)],
    }
    edit_form_query_rel_fields = {"owner": in_scope(R.VIEW)}
    edit_form_extra_fields = {
        "detailed_notifications": BooleanField(_l("Detailed notifications")),
        "payment_hosts": TextAreaField(_l("Payment hosts"), widget=BS3TextAreaFieldWidget(),
                                      filters=[_host_lines], validators=[Optional(), Length(max=4000), _hosts_valid]),
        "signature_consent": TextAreaField(_l("Consent to sign electronically"), widget=BS3TextAreaFieldWidget(),
                                           validators=[Optional(), Length(max=4000)]),
        "second_factor_roles": RoleChecklistField(_l("Two-step sign-in required for"),
                                                  choices=[(r, R.ROLE_LABELS[r]) for r in R.STAFF_GLOBAL_ROLES]),
    }

    show_template = "portico/firm_show.html"

    @expose("/logo", methods=["POST"])
    @has_access
    def logo(self):
        """Upload the firm's logo (shown in mails and, later, the portal)."""
        if not access.can(current_user, R.EDIT, firm_service.get_settings()):
            abort(403)
        storage = request.files.get("logo")
        if not storage or not storage.filename:
            flash(_("Choose an image file."), "danger")
        else:
            try:
                firm_service.set_logo(storage)
                flash(_("The logo was saved."), "success")
            except UploadRefused as exc:
                flash(str(exc), "danger")
        return redirect(url_for(f"{self.endpoint}.show", pk=1))

    @expose("/list/")
    @has_access
    def list(self):
        """There is one row: go straight to its form."""
        return redirect(url_for(f"{self.endpoint}.edit", pk=firm_service.get_settings().id))
