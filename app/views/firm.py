"""The firm's settings screen: one row, edited in place."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget
from wtforms import BooleanField, TextAreaField
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
    }
    edit_columns = [
        "firm_name", "contact_person", "contact_phone", "contact_email", "address",
        "portal_base_url", "notification_delay", "max_upload_bytes", "detailed_notifications", "owner",
        "payment_hosts",
    ]
    show_columns = edit_columns
    description_columns = {
        "notification_delay": _l("Mails about assigned tasks wait this long, so a quick withdrawal sends nothing."),
        "detailed_notifications": _l("Adds the additional message of a file request to its mail."),
        "portal_base_url": _l("The address clients use, e.g. https://portal.example.com"),
        "payment_hosts": _l("Where the portal's Pay may send clients: one host name per line (e.g. irs.gov); "
                            "a host also allows its subdomains (www.irs.gov)."),
    }
    validators_columns = {
        "firm_name": [DataRequired(), Length(max=200)],
        "contact_email": [Optional(), Email(), Length(max=254)],
        "contact_phone": [Optional(), Length(max=50)],
        "portal_base_url": [Optional(), URL(require_tld=False), Length(max=500)],
        "notification_delay": [NumberRange(min=0, max=86400)],
        "max_upload_bytes": [NumberRange(min=1024, max=100 * 1024 * 1024)],
    }
    edit_form_query_rel_fields = {"owner": in_scope(R.VIEW)}
    edit_form_extra_fields = {
        "detailed_notifications": BooleanField(_l("Detailed notifications")),
        "payment_hosts": TextAreaField(_l("Payment hosts"), widget=BS3TextAreaFieldWidget(),
                                      filters=[_host_lines], validators=[Optional(), Length(max=4000), _hosts_valid]),
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
