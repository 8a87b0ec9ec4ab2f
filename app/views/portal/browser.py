"""What the portal keeps in the browser: the signed-in session and the trusted-browser cookie.

The services decide (tokens, trusted devices); this module only moves their answers in and out of
Flask's session and cookies.
"""
import time

from flask import current_app, g, has_request_context, request, session
from flask_login import login_user, logout_user

from app import data_version
from app.services.portal import auth as portal_auth


def device_key():
    """This browser's device key from its signed cookie, or None."""
    return portal_auth.device_key(request.cookies.get(portal_auth.DEVICE_COOKIE))


def trust_this_browser(contact, response):
    """Remember this browser for `contact` after a full sign-in (a row and a signed cookie)."""
    value = portal_auth.trust_browser(contact, request.user_agent.string)
    response.set_cookie(portal_auth.DEVICE_COOKIE, value,
                        max_age=int(portal_auth.DEVICE_LIFETIME.total_seconds()), httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])


def start_session(contact):
    """Sign the contact in: a fresh session (nothing kept from before) with a server-side token."""
    session.clear()
    login_user(contact.user, force=True)
    session["portal_session"] = portal_auth.register_session(contact.id)
    session["_started"] = int(time.time())
    session["locale"] = contact.language


def session_contact_id():
    """The contact this browser's portal session belongs to, or None."""
    token = session.get("portal_session")
    early = g.pop("portal_session_read", None)  # read on the data version's round trip
    return portal_auth.session_contact_id(token, early[1] if early and early[0] == token else None)


def _read_with_the_data_version(pipe):
    """Queue this request's session token check on the data version's round trip (one, not two)."""
    # Portal pages only: the read refreshes the session's idle timer, which other requests (static
    # files, staff screens) must not do; portal requests elsewhere read it themselves.
    token = session.get("portal_session") if has_request_context() and request.blueprint == "portal" else None
    if not token:
        return None
    portal_auth.queue_session_read(pipe, token)

    def take(replies):
        g.portal_session_read = (token, replies[0])

    return 1, take


data_version.ride_along(_read_with_the_data_version)


def replace_session_token(token):
    """Carry on with a new server-side token (after the contact's other sessions were ended)."""
    session["portal_session"] = token


def end_session():
    """Sign out: the server-side token is gone, so a copied cookie no longer works."""
    portal_auth.end_session(session.get("portal_session"))
    logout_user()
    session.clear()
