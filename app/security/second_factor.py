"""The staff session gate: one server-side session per sign-in, and nothing but the second step
until the second factor is given (or, where the firm requires one, set up).

The password login (FAB's AuthDBView) signs the user in; Flask-Login's `user_logged_in` signal
registers the server-side session in the state that login earned. A before_request hook then
checks every request of a signed-in staff member: a session Redis does not vouch for (ended, idle,
too old, from before this mechanism) is signed out, and a session still owing its second factor
is sent to the code page (or enrolment) from every route, the ops console included.
"""
from flask import current_app, redirect, request, session, url_for
from flask_login import current_user, logout_user, user_logged_in, user_logged_out
from itsdangerous import BadSignature, URLSafeSerializer

from app.security import access
from app.services import staff_sessions, two_factor
from app.services.staff_sessions import ENROL, FULL, PASSWORD

SESSION_TOKEN = "staff_session"
BROWSER_COOKIE = "portico_staff_browser"
# Reachable in every state: assets, the language switch and signing out.
ALWAYS = {"static", "appbuilder.static", "ops.static", "LocaleView.index", "StaffAuthDBView.logout",
          "portico.health", "portico.firm_logo"}
STEP = {PASSWORD: ("TwoFactorView.verify", {"TwoFactorView.verify", "TwoFactorView.recovery",
                                             "PasskeyView.sign_in_options", "PasskeyView.sign_in"}),
        ENROL: ("TwoFactorView.enrol", {"TwoFactorView.enrol"})}


def timeouts(settings):
    """(idle, absolute) seconds for staff sessions: the firm's settings, within the server's bounds."""
    config = current_app.config
    idle = min(settings.idle_timeout_minutes * 60, int(config["PERMANENT_SESSION_LIFETIME"]))
    return idle, min(settings.absolute_timeout_hours * 3600, config["SESSION_ABSOLUTE_LIFETIME"])


def _browser_serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portico-staff-browser")


def remembered_key(user_id):
    """The remembered-browser key this browser's signed cookie holds for `user_id`, or None."""
    try:
        value = _browser_serializer().loads(request.cookies.get(BROWSER_COOKIE, ""))
    except BadSignature:
        return None
    return value.get("k") if isinstance(value, dict) and value.get("u") == user_id else None


def set_browser_cookie(response, user_id, key):
    """Give this browser the signed cookie that lets it skip the second factor for 30 days."""
    response.set_cookie(BROWSER_COOKIE, _browser_serializer().dumps({"u": user_id, "k": key}),
                        max_age=int(staff_sessions.BROWSER_LIFETIME.total_seconds()), httponly=True,
                        samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])


def start(user, state):
    """Register a server-side session for `user` in `state` and put its token in the cookie session."""
    idle, _absolute = timeouts(two_factor.firm_settings())
    session[SESSION_TOKEN] = staff_sessions.register(user.id, state, request.remote_addr,
                                                     request.user_agent.string, idle)


def state_after_password(user):
    """What a correct password earns: the full session, the code step or the enrolment step."""
    if two_factor.is_enrolled(user.id):
        remembered = staff_sessions.is_remembered(user.id, remembered_key(user.id))
        return FULL if remembered else PASSWORD
    return ENROL if two_factor.required(user, two_factor.firm_settings()) else FULL


def _on_login(sender, user, **extra):
    """Flask-Login signal: a staff password login starts a session in the state it earned."""
    if access.is_contact(user):
        return  # portal sign-ins have their own server-side sessions (services/portal/auth.py)
    start(user, state_after_password(user))


def _on_logout(sender, user, **extra):
    """Flask-Login signal: signing out ends the server-side session, so a copied cookie is worthless."""
    token = session.get(SESSION_TOKEN)
    if token and user is not None and getattr(user, "id", None) is not None:
        staff_sessions.end(user.id, staff_sessions.digest(token))


def complete():
    """The second step is done: this session becomes a full one, with a second factor given now."""
    staff_sessions.set_state(session[SESSION_TOKEN], FULL, factor_given=True)


def factor_is_fresh():
    """Whether this session gave a second factor within FRESH_FACTOR_SECONDS (a remembered browser did not)."""
    age = staff_sessions.factor_age(current_record())
    return age is not None and age <= current_app.config["FRESH_FACTOR_SECONDS"]


def session_key():
    """The digest this session's server-side record is kept under (ceremony challenges are bound to it)."""
    token = session.get(SESSION_TOKEN)
    return staff_sessions.digest(token) if token else None


def owe_code():
    """This session must give a code now (its member has a second factor)."""
    staff_sessions.set_state(session[SESSION_TOKEN], PASSWORD)


def current_record():
    """The server-side record of this request's staff session (checked by the gate), or None."""
    from flask import g

    return g.get("staff_session")


def gate():
    """before_request: sign out staff sessions Redis does not vouch for; hold back half-signed-in ones."""
    from flask import g

    if not current_user.is_authenticated or access.is_contact(current_user):
        return None
    idle, absolute = timeouts(two_factor.firm_settings())
    record = staff_sessions.check(session.get(SESSION_TOKEN), current_user.id, idle, absolute)
    if record is None:
        logout_user()
        session.clear()
        return None
    g.staff_session = record
    state = record["state"]
    if state == FULL or request.endpoint in ALWAYS:
        return None
    if state not in STEP:
        logout_user()
        session.clear()
        return None
    target, allowed = STEP[state]
    if request.endpoint in allowed:
        return None
    return redirect(url_for(target, next=request.full_path if request.method == "GET" else None))


def register(app):
    """Attach the gate and the login signal to `app`."""
    app.before_request(gate)
    user_logged_in.connect(_on_login, app)
    user_logged_out.connect(_on_logout, app)
