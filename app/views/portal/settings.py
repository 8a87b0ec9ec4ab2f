"""Portal settings: profile, notification preferences, security (e-mail addresses, PIN, trusted
browsers). The rules live in app.services.portal.settings; these views only read forms and delegate.

Proving an address takes two requests: the address is mailed a code, then the code is entered. What
is pending (purpose and address, never the code) waits in the Flask session between them.
"""
from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.models import CodePurpose
from app.services import access_codes
from app.services.portal import settings as service
from app.views.portal import bp, browser, code_wait_message
from app.views.portal.forms import BlankForm, ChangePinForm, CodeForm
from app.views.portal.settings_forms import NewEmailForm, PreferencesForm, ProfileForm

PENDING = "portal_address_check"


def _fail(form, error):
    """Show a SettingsError under its form field (or as a flash when the form has no such field)."""
    field = getattr(form, error.field or "", None)
    if field is None:
        flash(str(error), "danger")
    else:
        field.errors = list(field.errors) + [str(error)]


@bp.route("/settings")
def settings():
    """The settings overview: where each setting lives."""
    return render_template("portal/settings/index.html", title=_("Settings"),
                           preferences=service.email_preferences(g.contact))


@bp.route("/settings/profile", methods=["GET", "POST"])
def settings_profile():
    """Name, phone and language; saved to the contact the firm sees."""
    form = ProfileForm(obj=g.contact)
    if form.validate_on_submit():
        try:
            service.update_profile(g.contact, form.first_name.data, form.last_name.data, form.phone.data,
                                   form.language.data)
        except service.SettingsError as error:
            _fail(form, error)
        else:
            session["locale"] = g.contact.language
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("portal.settings_profile"))
    return render_template("portal/settings/profile.html", form=form, title=_("Profile"))


@bp.route("/settings/notifications", methods=["GET", "POST"])
def settings_notifications():
    """Which events also come by e-mail (in-app notifications are always on)."""
    contact = g.contact
    form = PreferencesForm(data=dict(service.email_preferences(contact), notify_by_email=contact.notify_by_email))
    if form.validate_on_submit():
        service.set_email_preferences(contact, {event: form[event].data for event in service.CONTACT_EVENTS},
                                      notify_by_email=form.notify_by_email.data)
        flash(_("Your notification preferences are saved."), "success")
        return redirect(url_for("portal.settings_notifications"))
    return render_template("portal/settings/notifications.html", form=form, events=service.CONTACT_EVENTS,
                           title=_("Notification preferences"))


@bp.route("/settings/security")
def settings_security():
    """Addresses, PIN and trusted browsers."""
    browsers = service.trusted_browsers(g.contact)
    return render_template("portal/settings/security.html", merged=service.merged_emails(g.contact),
                           browsers=browsers, this_browser=service.this_browser_id(browsers, browser.device_key()),
                           title=_("Security"))


def _address_page(purpose, template, title):
    """Step 1 of adding or changing an address: mail a code to it."""
    form = NewEmailForm()
    if form.validate_on_submit():
        try:
            address = service.send_address_code(purpose, g.contact, form.email.data, ip=request.remote_addr)
        except service.SettingsError as error:
            _fail(form, error)
        except access_codes.TooSoon as error:
            form.email.errors = [code_wait_message(error)]
        else:
            session[PENDING] = {"purpose": purpose.value, "email": address, "contact": g.contact.id}
            return redirect(url_for("portal.settings_verify_email"))
    return render_template(template, form=form, title=title)


@bp.route("/settings/emails/add", methods=["GET", "POST"])
def settings_add_email():
    """Add another address: documents and mails may reach it, but it cannot sign in."""
    return _address_page(CodePurpose.add_email, "portal/settings/add_email.html", _("Add an e-mail address"))


@bp.route("/settings/email", methods=["GET", "POST"])
def settings_change_email():
    """Change the sign-in address."""
    return _address_page(CodePurpose.change_email, "portal/settings/change_email.html",
                         _("Change your sign-in address"))


def _pending():
    """(purpose, address) waiting for its code in this session, or None."""
    state = session.get(PENDING) or {}
    if state.get("contact") != g.contact.id or state.get("purpose") not in {p.value for p in service.ADDRESS_PURPOSES}:
        return None
    return CodePurpose(state["purpose"]), state["email"]


@bp.route("/settings/emails/verify", methods=["GET", "POST"])
def settings_verify_email():
    """Step 2: the code from the mail proves the address, then it is added or becomes the sign-in one."""
    pending = _pending()
    if pending is None:
        return redirect(url_for("portal.settings_security"))
    purpose, address = pending
    form = CodeForm()
    if form.validate_on_submit():
        try:
            if purpose is CodePurpose.add_email:
                service.add_email(g.contact, address, form.code.data)
                flash(_("%(email)s is added to your addresses.", email=address), "success")
            else:
                service.change_primary_email(g.contact, address, form.code.data)
                browser.replace_session_token(service.keep_only_new_session(g.contact))
                flash(_("You now sign in with %(email)s. Other browsers were signed out.", email=address), "success")
        except service.AddressRefused as error:
            session.pop(PENDING, None)  # refused for good: the flow starts again
            flash(str(error), "danger")
            return redirect(url_for("portal.settings_security"))
        except service.SettingsError as error:
            _fail(form, error)
        else:
            session.pop(PENDING, None)
            return redirect(url_for("portal.settings_security"))
    title = _("Confirm the new address") if purpose is CodePurpose.add_email else _("Confirm your new sign-in address")
    return render_template("portal/settings/verify.html", form=form, resend=BlankForm(),
                           email=address, title=title)


@bp.route("/settings/emails/resend", methods=["POST"])
def settings_resend_code():
    """Mail a new code for the pending address (the previous one stops working)."""
    if not BlankForm().validate_on_submit():
        abort(400)
    pending = _pending()
    if pending is None:
        return redirect(url_for("portal.settings_security"))
    try:
        service.send_address_code(pending[0], g.contact, pending[1], ip=request.remote_addr)
        flash(_("A new code is on its way. The previous one no longer works."), "info")
    except access_codes.TooSoon as error:
        flash(code_wait_message(error), "warning")
    except service.SettingsError as error:
        flash(str(error), "danger")
    return redirect(url_for("portal.settings_verify_email"))


@bp.route("/settings/emails/<int:email_id>/remove", methods=["POST"])
def settings_remove_email(email_id):
    """Remove one of the contact's merged addresses (another contact's or the sign-in one: 404)."""
    if not BlankForm().validate_on_submit():
        abort(400)
    if not service.remove_email(g.contact, email_id):
        abort(404)
    flash(_("The address is removed."), "success")
    return redirect(url_for("portal.settings_security"))


@bp.route("/settings/pin", methods=["GET", "POST"])
def settings_pin():
    """Change the PIN: the current one first; other browsers are signed out, this one stays."""
    form = ChangePinForm()
    if form.validate_on_submit():
        try:
            service.change_pin(g.contact, form.current.data, form.pin.data, form.confirm.data, request.remote_addr)
        except service.SettingsError as error:
            _fail(form, error)
        else:
            browser.replace_session_token(service.keep_only_new_session(g.contact))
            flash(_("Your PIN is changed. Other browsers were signed out."), "success")
            return redirect(url_for("portal.settings_security"))
    return render_template("portal/settings/pin.html", form=form, title=_("Change your PIN"))


@bp.route("/settings/browsers/<int:device_id>/revoke", methods=["POST"])
def settings_revoke_browser(device_id):
    """Stop trusting one browser: it asks for the PIN again at its next sign-in."""
    if not BlankForm().validate_on_submit():
        abort(400)
    if not service.revoke_browser(g.contact, device_id):
        abort(404)
    flash(_("That browser will ask for your PIN at its next sign-in."), "success")
    return redirect(url_for("portal.settings_security"))


@bp.route("/settings/browsers/revoke-all", methods=["POST"])
def settings_revoke_browsers():
    """Stop trusting every browser of the contact (this one too)."""
    if not BlankForm().validate_on_submit():
        abort(400)
    service.revoke_all_browsers(g.contact)
    flash(_("Every browser will ask for your PIN at its next sign-in."), "success")
    return redirect(url_for("portal.settings_security"))
