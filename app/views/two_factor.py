"""The second step of the staff sign-in: the code page, recovery codes and enrolment."""
from flask import abort, flash, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from app.security import second_factor as gate
from app.services import passkeys, staff_sessions, two_factor
from app.services.staff_sessions import FULL


class CodeForm(FlaskForm):
    """A six-digit authenticator code, and whether to remember this browser."""

    code = StringField(_l("Code from your authenticator app"), validators=[DataRequired(), Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True})
    remember = BooleanField(_l("Remember this browser for 30 days"))


class RecoveryForm(FlaskForm):
    """One of the member's recovery codes."""

    code = StringField(_l("Recovery code"), validators=[DataRequired(), Length(max=40)],
                       render_kw={"autocomplete": "off", "autofocus": True})


class ConfirmForm(FlaskForm):
    """The first code from the authenticator app, confirming the enrolment."""

    code = StringField(_l("Code from your authenticator app"), validators=[DataRequired(), Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True})


class RenewForm(FlaskForm):
    """Only the CSRF token: "make new recovery codes"."""


def refused(result):
    """The message for a refused code (wrong or used, or too many wrong ones)."""
    if result == two_factor.LIMITED:
        return _("Too many wrong codes. Wait a few minutes and try again.")
    return _("That code is not right, or it was used already.")


def next_url():
    """Where a completed second step goes: the safe `next` address, else the home page."""
    return get_safe_redirect(request.args.get("next", "")) if request.args.get("next") else url_for("HomeView.index")


class TwoFactorView(BaseView):
    """Code page and recovery codes (for a session that passed the password), and enrolment."""

    route_base = "/two-factor"
    default_view = "verify"
    base_permissions = ["can_verify", "can_enrol"]
    method_permission_name = {"verify": "verify", "recovery": "verify", "enrol": "enrol", "renew": "enrol"}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def verify(self):
        """Ask for the authenticator code; a right one completes the sign-in."""
        if gate.current_record()["state"] == FULL:
            return redirect(next_url())
        form = CodeForm()
        if form.validate_on_submit():
            result = two_factor.check_code(current_user, form.code.data, request.remote_addr)
            if result == two_factor.OK:
                return self._signed_in(form.remember.data)
            flash(refused(result), "danger")
        return self._render("portico/two_factor/verify.html", form=form, title=_("Two-step sign-in"),
                            has_passkeys=passkeys.count_of(current_user.id) > 0)

    @expose("/recovery", methods=["GET", "POST"])
    @has_access
    def recovery(self):
        """Sign in with a recovery code instead (each works once)."""
        if gate.current_record()["state"] == FULL:
            return redirect(next_url())
        form = RecoveryForm()
        if form.validate_on_submit():
            result = two_factor.use_recovery_code(current_user, form.code.data, request.remote_addr)
            if result == two_factor.OK:
                flash(_("Recovery codes left: %(n)d.", n=two_factor.recovery_codes_left(current_user.id)), "info")
                return self._signed_in(False)
            flash(refused(result), "danger")
        return self._render("portico/two_factor/recovery.html", form=form, title=_("Use a recovery code"))

    def _signed_in(self, remember):
        gate.complete()
        response = redirect(next_url())
        if remember:
            key = staff_sessions.remember_browser(current_user.id, request.user_agent.string)
            gate.set_browser_cookie(response, current_user.id, key)
        return response

    @expose("/enrol", methods=["GET", "POST"])
    @has_access
    def enrol(self):
        """Set up an authenticator app: QR code and text secret, confirmed by a first code."""
        if two_factor.is_enrolled(current_user.id) and gate.current_record()["state"] != FULL:
            gate.owe_code()  # enrolled meanwhile (elsewhere): this session now owes a code, not an enrolment
            return redirect(url_for("TwoFactorView.verify", next=request.args.get("next")))
        if two_factor.is_enrolled(current_user.id):
            flash(_("Your second factor is set up already. An Admin can reset it."), "info")
            return redirect(url_for("MySessionsView.index"))
        form = ConfirmForm()
        if form.validate_on_submit():
            result, codes = two_factor.confirm_enrolment(current_user, form.code.data, request.remote_addr)
            if result == two_factor.OK:
                gate.complete()
                return self._render("portico/two_factor/codes.html", codes=codes, next_url=next_url(),
                                    title=_("Your recovery codes"))
            flash(refused(result), "danger")
        secret = two_factor.pending_secret(current_user.id) or two_factor.begin_enrolment(current_user.id)
        if secret is None:
            abort(409)
        uri = two_factor.provisioning_uri(secret, current_user.username, self.appbuilder.app_name)
        return self._render("portico/two_factor/enrol.html", form=form, secret=secret, qr=two_factor.qr_data_uri(uri),
                            title=_("Set up two-step sign-in"))

    @expose("/recovery-codes", methods=["POST"])
    @has_access
    def renew(self):
        """Make ten new recovery codes (the old ones stop working) and show them once."""
        if not RenewForm().validate_on_submit() or not two_factor.is_enrolled(current_user.id):
            abort(400)
        codes = two_factor.new_recovery_codes(current_user)
        return self._render("portico/two_factor/codes.html", codes=codes, next_url=url_for("MySessionsView.index"),
                            title=_("Your recovery codes"))

    def _render(self, template, **context):
        response = make_response(self.render_template(template, **context))
        response.headers["Cache-Control"] = "no-store"
        return response
