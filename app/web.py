"""App-wide web concerns: /health, security headers, per-request resets."""
import secrets
import time

from flask import Blueprint, abort, current_app, g, jsonify, request, session
from flask_login import current_user, logout_user
from sqlalchemy import text

from app.extensions import db
from app.redis_conn import get_redis
from app.security import access

bp = Blueprint("portico", __name__)


@bp.route("/health")
def health():
    """Database and Redis status as JSON: 200 when both answer, 503 otherwise."""
    status = {"database": _check(lambda: db.session.execute(text("SELECT 1"))),
              "redis": _check(lambda: get_redis(socket_connect_timeout=1, socket_timeout=1).ping())}
    healthy = all(v == "ok" for v in status.values())
    status["status"] = "ok" if healthy else "unavailable"
    return jsonify(status), 200 if healthy else 503


def _check(probe):
    try:
        probe()
        return "ok"
    except Exception:  # any failure of the probe means "not answering"; details stay in the log
        db.session.rollback()
        return "error"


def csp_nonce():
    """A per-request nonce for inline scripts (FAB's templates ask for csp_nonce())."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _security_headers(response):
    nonce = csp_nonce()
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint and request.endpoint.endswith(".login"):
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _block_fab_downloads(app):
    """FAB's generic ModelView.download serves UPLOAD_FOLDER, which Portico never uses: 404."""
    blocked = {
        f"{view.endpoint}.download"
        for view in app.appbuilder.baseviews
        if f"{view.endpoint}.download" in app.view_functions
    }

    def refuse():
        if request.endpoint in blocked:
            abort(404)

    app.before_request(refuse)


def _session_lifetimes():
    """Idle timeout via a permanent, refreshed cookie; absolute lifetime counted from sign-in."""
    session.permanent = True
    if not current_user.is_authenticated:
        session.pop("_started", None)
        return
    now = int(time.time())
    started = session.setdefault("_started", now)
    if now - started > current_app.config["SESSION_ABSOLUTE_LIFETIME"]:
        logout_user()
        session.clear()


def register(app):
    """Attach the blueprint, headers and per-request hooks to `app`."""
    app.register_blueprint(bp)
    _block_fab_downloads(app)
    app.before_request(access.reset_cache)
    app.before_request(_session_lifetimes)
    app.after_request(_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
