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
import time
from datetime import datetime, timezone
from functools import lru_cache

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

REFRESH_AFTER = 60  # seconds
CHECKED = 4096  # cookies whose checked content is kept per process


class LazyRefreshSessionInterface(SecureCookieSessionInterface):
    """Flask's session, remembering when its cookie was signed so an unchanged one is re-signed late."""

    def open_session(self, app, request):
        """The session from the cookie (as Flask's), with the time it was signed."""
        if not app.secret_key:  # as Flask's get_signing_serializer: no session without a secret
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = _checked(app, app.secret_key, value)
        except BadSignature:
            return self.session_class()
        if not 0 <= time.time() - signed_at.timestamp() <= max_age:
            return self.session_class()  # as itsdangerous's max_age would refuse it
        session = self.session_class(copy.deepcopy(data))  # the request may change it in place
        session.signed_at = signed_at
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


@lru_cache(maxsize=CHECKED)
def _checked(app, secret, value):
    """(content, signed at) of a cookie whose signature holds (BadSignature otherwise); `secret` keys
    the cache, so a new secret checks every cookie again."""
    return app.session_interface.get_signing_serializer(app).loads(value, return_timestamp=True)


def register(app):
    """Use the lazily refreshed cookie session."""
    app.session_interface = LazyRefreshSessionInterface()
