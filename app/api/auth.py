"""Who is calling: a bearer token only (session cookies never authenticate the API), its rate limit,
read-only enforcement, and the audit row of every call."""
import logging
import math
import time

from flask import current_app, g, request, session
from limits import parse as parse_limit

from app.api.problems import ApiError
from app.services import api_tokens

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BEARER = "bearer "


def bearer_text():
    """The token text of `Authorization: Bearer …`, or None."""
    header = request.headers.get("Authorization", "")
    if header[: len(BEARER)].lower() != BEARER:
        return None
    return header[len(BEARER):].strip() or None


def authenticate():
    """before_request of every API blueprint: the caller is the token's owner, or the answer is 401,
    429 (over the token's rate) or 403 (a write with a read-only token)."""
    g.api_token = None
    token = api_tokens.authenticate(bearer_text())
    if token is None:
        raise ApiError(401, "Send a valid API token: Authorization: Bearer <token>.",
                       headers={"WWW-Authenticate": 'Bearer realm="api"'})
    g.api_token = token
    user = token.user
    user.client_address = request.remote_addr  # services record the actor's address from it
    g._login_user = user  # current_user is the token's owner for this request, whatever cookie came along
    g.user = user
    _check_rate(token)
    if request.method not in SAFE_METHODS and token.scope.value != "write":
        raise ApiError(403, "This token is read-only.")


def current_user_of_api():
    """The staff member the calling token belongs to."""
    return g.api_token.user


def _check_rate(token):
    """Count the call against the token's window (Flask-Limiter's storage, Redis): 429 past it."""
    limiter = getattr(current_app.appbuilder.sm, "limiter", None)
    if limiter is None or not limiter.enabled:
        return
    item = parse_limit(current_app.config["API_RATE_LIMIT"])
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    strategy = limiter.limiter
    if not strategy.hit(item, prefix, "api-token", str(token.id)):
        reset_at, _remaining = strategy.get_window_stats(item, prefix, "api-token", str(token.id))
        retry = max(1, math.ceil(reset_at - time.time()))
        raise ApiError(429, "Too many requests with this token; retry later.", headers={"Retry-After": str(retry)})


def record(response):
    """after_request: the call goes to the audit trail (token, owner, method, path, status, address), and
    no session cookie is ever set by an API answer."""
    token = g.get("api_token")
    if token is not None:
        try:
            api_tokens.record_call(token, request.method, request.path, response.status_code, request.remote_addr)
        except Exception:  # the trail must not turn an answer into a 500; the failure is logged
            log.exception("could not record an API call")
            from app.extensions import db

            db.session.rollback()
    # Emptied and unmodified, the session is not saved: a browser's cookie is left exactly as it was.
    session.clear()
    session.modified = False
    return response
