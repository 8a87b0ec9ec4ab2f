"""Portal sign-in (e-mail → PIN on a new browser → access code), sign-up for invited contacts,
sign-out and the language switch. Unknown and known addresses get the same pages and messages."""
import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.extensions import db
from app.models import AccessCode, CodePurpose
from app.models.contacts import PortalState
from app.security import access
from app.services import access_codes, invitations
from app.services.portal import auth as portal_auth
from app.views.portal import bp, browser, code_wait_message, safe_next, signed_in_contact
from app.views.portal.forms import BlankForm, CodeForm, EmailForm, NewPinForm, PinForm, SignUpForm

SIGNUP_WINDOW = 1800  # seconds between a verified sign-up code and choosing the PIN
LOGIN_WINDOW = 900  # seconds from the e-mail or PIN step to the code


def _issue(purpose, email, contact):
    """Send a code; the resend limits answer with a message, never with a different page."""
    try:
        access_codes.issue(purpose, email, contact, ip=request.remote_addr)
        return True
    except access_codes.TooSoon as error:
        flash(code_wait_message(error), "warning")
        return False


def _local(target):
    """`target` when it is a path inside the portal, else the home page: never another host, and
    never control characters (a CR/LF in a Location header would be a 500)."""
    inside = target == "/portal" or target.startswith(("/portal/", "/portal?"))
    if not inside or "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return url_for("portal.home")
    return target


def _start_step(email, step):
    """Remember the sign-in in progress; it ends LOGIN_WINDOW after the e-mail or PIN step, so a copy
    of this cookie does not skip the PIN for ever."""
    session["portal_login"] = {"email": email, "step": step, "until": int(time.time()) + LOGIN_WINDOW}


def _login_state():
    state = session.get("portal_login") or {}
    return state if state.get("until", 0) > time.time() else {}


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Step 1: the e-mail address."""
    if signed_in_contact() is not None:
        return redirect(url_for("portal.home"))
    form = EmailForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        contact = portal_auth.find_contact(email, PortalState.active)
        _start_step(email, "pin")
        if portal_auth.is_trusted(contact, browser.device_key()):
            _start_step(email, "code")
            _issue(CodePurpose.sign_in, email, contact)
            return redirect(url_for("portal.sign_in_code"))
        return redirect(url_for("portal.sign_in_pin"))
    return render_template("portal/auth/sign_in.html", form=form, title=_("Sign in"))


@bp.route("/sign-in/pin", methods=["GET", "POST"])
def sign_in_pin():
    """Step 2 (only on a browser not trusted yet): the PIN."""
    state = _login_state()
    if not state.get("email"):
        return redirect(url_for("portal.sign_in"))
    email, form = state["email"], PinForm()
    if form.validate_on_submit():
        locked = portal_auth.pin_lock_seconds(email, request.remote_addr)
        contact = portal_auth.find_contact(email, PortalState.active)
        if locked:
            form.pin.errors.append(_lock_message(locked))
        elif portal_auth.check_pin(email, contact, form.pin.data, request.remote_addr):
            _start_step(email, "code")
            _issue(CodePurpose.sign_in, email, contact)
            return redirect(url_for("portal.sign_in_code"))
        else:
            locked = portal_auth.pin_lock_seconds(email, request.remote_addr)
            form.pin.errors.append(_lock_message(locked) if locked else _("That PIN is not right."))
    return render_template("portal/auth/pin.html", form=form, email=email, title=_("Enter your PIN"))


def _lock_message(seconds):
    return portal_auth.lock_message(seconds)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def sign_in_code():
    """Step 3: the access code from the mail; signs in and trusts this browser."""
    state = _login_state()
    if state.get("step") != "code":
        return redirect(url_for("portal.sign_in"))
    form = CodeForm()
    if form.validate_on_submit():
        row = access_codes.verify(CodePurpose.sign_in, state["email"], form.code.data)
        contact = row.contact if row is not None else None
        if access.may_use_portal(contact):
            target = _local(safe_next())
            browser.start_session(contact)
            response = redirect(target)
            browser.trust_this_browser(contact, response)
            return response
        form.code.errors.append(_("That code is not valid. Check the latest mail, or ask for a new code."))
    return render_template("portal/auth/code.html", form=form, email=state["email"], resend=BlankForm(),
                           action=url_for("portal.sign_in_code"), title=_("Enter the code from your mail"))


@bp.route("/sign-in/resend", methods=["POST"])
def resend_code():
    """Ask for a new sign-in code (the old one stops working)."""
    state = _login_state()
    if state.get("step") != "code" or not BlankForm().validate_on_submit():
        return redirect(url_for("portal.sign_in"))
    if _issue(CodePurpose.sign_in, state["email"], portal_auth.find_contact(state["email"], PortalState.active)):
        flash(_("A new code is on its way. The previous one no longer works."), "info")
    return redirect(url_for("portal.sign_in_code"))


@bp.route("/sign-up", methods=["GET", "POST"])
def sign_up():
    """Sign-up step 1: name and the invited e-mail address."""
    form = SignUpForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        contact = portal_auth.find_contact(email, PortalState.invited)
        session["portal_signup"] = {"email": email, "first": form.first_name.data.strip(),
                                    "last": form.last_name.data.strip()}
        _issue(CodePurpose.sign_up, email, contact)
        return redirect(url_for("portal.sign_up_verify"))
    return render_template("portal/auth/sign_up.html", form=form, title=_("Sign up"))


@bp.route("/sign-up/verify", methods=["GET", "POST"])
def sign_up_verify():
    """Sign-up step 2: the code proves the address."""
    state = session.get("portal_signup") or {}
    if not state.get("email"):
        return redirect(url_for("portal.sign_up"))
    form = CodeForm()
    if form.validate_on_submit():
        row = access_codes.verify(CodePurpose.sign_up, state["email"], form.code.data)
        if row is not None and row.contact is not None and row.contact.portal_state is PortalState.invited:
            session["portal_signup"] = dict(state, code_id=row.id)
            return redirect(url_for("portal.sign_up_pin"))
        form.code.errors.append(_("That code is not valid. Check the latest mail, or start again for a new code."))
    return render_template("portal/auth/code.html", form=form, email=state["email"], resend=None,
                           action=url_for("portal.sign_up_verify"), title=_("Verify your e-mail address"))


@bp.route("/sign-up/pin", methods=["GET", "POST"])
def sign_up_pin():
    """Sign-up step 3: choose a PIN; the account is created and signed in."""
    state = session.get("portal_signup") or {}
    row = db.session.get(AccessCode, state.get("code_id") or 0)
    if row is None or row.email != state.get("email") or row.used_on is None or row.contact is None \
            or (access_codes._now() - row.used_on).total_seconds() > SIGNUP_WINDOW \
            or row.contact.portal_state is not PortalState.invited:
        return redirect(url_for("portal.sign_up"))
    form = NewPinForm()
    if form.validate_on_submit():
        problem = portal_auth.pin_problem(form.pin.data, form.confirm.data)
        if problem is None:
            contact = row.contact
            try:
                invitations.create_account(contact, state["first"], state["last"], form.pin.data)
            except invitations.InvitationError as exc:
                flash(str(exc), "danger")
                return redirect(url_for("portal.sign_up"))
            browser.start_session(contact)
            flash(_("Welcome, %(name)s! Your account is ready.", name=contact.first_name), "success")
            response = redirect(url_for("portal.home"))
            browser.trust_this_browser(contact, response)
            return response
        form.pin.errors.append(problem)
    return render_template("portal/auth/new_pin.html", form=form, title=_("Choose your PIN"))


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    """End the portal session (server-side too)."""
    if BlankForm().validate_on_submit():
        browser.end_session()
        flash(_("You are signed out."), "info")
    return redirect(url_for("portal.sign_in"))


@bp.route("/language", methods=["POST"])
def language():
    """Switch the portal's language; a signed-in contact keeps it (mails follow it too)."""
    code = request.form.get("language", "")
    if BlankForm().validate_on_submit() and code in current_app.config["LANGUAGES"]:
        session["locale"] = code
        contact = signed_in_contact()
        if contact is not None:
            contact.language = code
            db.session.commit()
    return redirect(_local(request.form.get("next", "")))
