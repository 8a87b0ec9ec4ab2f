"""Passkeys (WebAuthn) as a second factor: the member's list (add, rename, remove) and the sign-in step.

The screens hold the permissions of the two-factor view (class_permission_name), so the roles that
may enrol and give a second factor may do the same with passkeys. The ceremonies talk JSON to
static/portico/passkeys.js, with the CSRF token in the X-CSRFToken header.
"""
from urllib.parse import urlsplit

from flask import abort, current_app, flash, jsonify, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from app.security import second_factor as gate
from app.services import passkeys, staff_sessions, two_factor
from app.services.staff_sessions import FULL
from app.views.base import parse_pk
from app.views.two_factor import ConfirmForm, next_url, refused


class RenameForm(FlaskForm):
    """Which passkey (in the body, never in the address) and its new name."""

    item = HiddenField()
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=passkeys.NAME_LENGTH)])


class ItemForm(FlaskForm):
    """Which passkey a button is about."""

    item = HiddenField()


def relying_party():
    """The relying party of this request: WEBAUTHN_RP_ID / WEBAUTHN_ORIGIN, else this request's host."""
    config = current_app.config
    origin = (config.get("WEBAUTHN_ORIGIN") or request.host_url).rstrip("/")
    rp_id = config.get("WEBAUTHN_RP_ID") or urlsplit(origin).hostname
    return passkeys.RelyingParty(id=rp_id, origin=origin, name=current_app.appbuilder.app_name)


def _payload():
    """The JSON body of a ceremony answer: (credential dict, extra fields), or a 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        abort(400)
    return body["credential"], body


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


class PasskeyView(BaseView):
    """The member's passkeys, and signing in with one at the second step."""

    route_base = "/passkeys"
    default_view = "index"
    class_permission_name = "TwoFactorView"
    base_permissions = ["can_verify", "can_enrol"]
    method_permission_name = {"index": "enrol", "confirm": "enrol", "register_options": "enrol",
                              "register": "enrol", "rename": "enrol", "remove": "enrol",
                              "sign_in_options": "verify", "sign_in": "verify"}

    @expose("/")
    @has_access
    def index(self):
        """The member's passkeys, with rename and remove, and "Add a passkey" (after a recent second factor)."""
        enrolled = two_factor.is_enrolled(current_user.id)
        return _no_store(make_response(self.render_template(
            "portico/passkeys/index.html", title=_("Passkeys"), rows=passkeys.passkeys_of(current_user.id),
            enrolled=enrolled, fresh=gate.factor_is_fresh(), confirm_form=ConfirmForm(), form=RenameForm(),
            limit=passkeys.MAX_PASSKEYS)))

    @expose("/confirm", methods=["POST"])
    @has_access
    def confirm(self):
        """Give an authenticator code again, so that passkeys may be added or removed for a while."""
        form = ConfirmForm()
        result = two_factor.check_code(current_user, form.code.data, request.remote_addr) \
            if form.validate_on_submit() else two_factor.WRONG
        if result == two_factor.OK:
            gate.complete()
        else:
            flash(refused(result), "danger")
        return redirect(url_for("PasskeyView.index"))

    def _may_change(self):
        return two_factor.is_enrolled(current_user.id) and gate.factor_is_fresh()

    @expose("/register/options", methods=["POST"])
    @has_access
    def register_options(self):
        """Options for the browser to create a passkey (needs a recent second factor)."""
        if not self._may_change():
            return jsonify(error=_("Confirm with a code from your authenticator app first.")), 403
        if passkeys.count_of(current_user.id) >= passkeys.MAX_PASSKEYS:
            return jsonify(error=_("You have the most passkeys allowed. Remove one first.")), 409
        return _no_store(jsonify(passkeys.registration_options(current_user, relying_party(), gate.session_key())))

    @expose("/register", methods=["POST"])
    @has_access
    def register(self):
        """Keep the passkey the browser created, under the name the member gave."""
        if not self._may_change():
            return jsonify(error=_("Confirm with a code from your authenticator app first.")), 403
        credential, body = _payload()
        name = passkeys.clean_name(body.get("name") if isinstance(body.get("name"), str) else "")
        name = name or _("Passkey %(n)d", n=passkeys.count_of(current_user.id) + 1)
        row = passkeys.register(current_user, relying_party(), gate.session_key(), credential, name)
        if row is None:
            return jsonify(error=_("The passkey could not be added. Try again.")), 400
        flash(_("Passkey added: %(name)s.", name=row.name), "success")
        return jsonify(redirect=url_for("PasskeyView.index"))

    @expose("/rename", methods=["POST"])
    @has_access
    def rename(self):
        """Rename one of one's own passkeys."""
        form = RenameForm()
        if not form.validate_on_submit():
            abort(400)
        if passkeys.rename(current_user, parse_pk(form.item.data or ""), form.name.data) is None:
            abort(404)
        flash(_("The passkey was renamed."), "success")
        return redirect(url_for("PasskeyView.index"))

    @expose("/remove", methods=["POST"])
    @has_access
    def remove(self):
        """Remove one of one's own passkeys (needs a recent second factor)."""
        form = ItemForm()
        if not form.validate_on_submit():
            abort(400)
        if not self._may_change():
            abort(403)
        if not passkeys.remove(current_user, parse_pk(form.item.data or "")):
            abort(404)
        flash(_("The passkey was removed."), "success")
        return redirect(url_for("PasskeyView.index"))

    @expose("/sign-in/options", methods=["POST"])
    @has_access
    def sign_in_options(self):
        """Options for the browser to sign in with one of the member's passkeys (second step)."""
        if gate.current_record()["state"] == FULL or not passkeys.count_of(current_user.id):
            abort(409)
        return _no_store(jsonify(passkeys.authentication_options(current_user, relying_party(), gate.session_key())))

    @expose("/sign-in", methods=["POST"])
    @has_access
    def sign_in(self):
        """Check the browser's passkey answer; a good one completes the sign-in (limited like codes)."""
        if gate.current_record()["state"] == FULL:
            abort(409)
        credential, body = _payload()
        result = passkeys.authenticate(current_user, relying_party(), gate.session_key(), credential,
                                       request.remote_addr)
        if result != passkeys.OK:
            message = (_("Too many wrong codes. Wait a few minutes and try again.") if result == passkeys.LIMITED
                       else _("The passkey was not accepted. Try again or use a code."))
            return jsonify(error=message), 429 if result == passkeys.LIMITED else 400
        gate.complete()
        response = jsonify(redirect=next_url())
        if body.get("remember") is True:
            key = staff_sessions.remember_browser(current_user.id, request.user_agent.string)
            gate.set_browser_cookie(response, current_user.id, key)
        return response
