"""Flask's signed-cookie session, re-signed for an unchanged session at most once a minute.

Flask re-signs a permanent session's cookie on every response (SESSION_REFRESH_EACH_REQUEST), which
costs each page a serialization, an HMAC and a Set-Cookie header, and makes every answer differ.
The cookie's expiry is only a backstop: staff and portal sessions idle out on the server (their
registries in Redis), so a cookie refreshed when older than REFRESH_AFTER seconds expires at most
that much earlier than one refreshed each time. A changed session is written at once, as before.

As the same cookie now comes back for a minute, its checked content is kept per process: the exact
cookie text (and the secret it was checked with) gives the same content as checking it again, and
its age is checked against the lifetime each time, as itsdangerous would.
"""
import copy
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

REFRESH_AFTER = 60  # seconds
CHECKED = 4096  # cookies whose checked content is kept per process
_lock = threading.Lock()
_checked = OrderedDict()  # (secret, cookie text) -> (content, signed at as a UNIX time)


class LazyRefreshSessionInterface(SecureCookieSessionInterface):
    """Flask's session, remembering when its cookie was signed so an unchanged one is re-signed late."""

    def open_session(self, app, request):
        """The session from the cookie (as Flask's), with the time it was signed."""
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        checked = _checked_content(app.secret_key, value, serializer, max_age)
        if checked is None:
            return self.session_class()
        session = self.session_class(copy.deepcopy(checked[0]))  # the request may change it in place
        session.signed_at = datetime.fromtimestamp(checked[1], timezone.utc)
        return session

    def should_set_cookie(self, app, session):
        """Changed sessions always; unchanged permanent ones once their cookie is a minute old."""
        if session.modified:
            return True
        if not super().should_set_cookie(app, session):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or \
            (datetime.now(timezone.utc) - signed_at).total_seconds() >= REFRESH_AFTER


def _checked_content(secret, value, serializer, max_age):
    """(content, signed at) of a cookie whose signature holds and whose age is within max_age, or None."""
    key = (secret, value)
    with _lock:
        kept = _checked.get(key)
        if kept is not None:
            _checked.move_to_end(key)
    if kept is None:
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:  # SignatureExpired included
            return None
        kept = (data, signed_at.timestamp())
        with _lock:
            _checked[key] = kept
            while len(_checked) > CHECKED:
                _checked.popitem(last=False)
    age = time.time() - kept[1]
    return kept if 0 <= age <= max_age else None


def register(app):
    """Use the lazily refreshed cookie session."""
    app.session_interface = LazyRefreshSessionInterface()
