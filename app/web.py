"""App-wide web concerns: /health, security headers, per-request resets."""
import secrets
import time
from urllib.parse import quote

from flask import (Blueprint, Response, abort, current_app, g, jsonify, redirect, render_template, request,
                   send_file, session)
from flask_login import current_user, logout_user
from sqlalchemy import text
from werkzeug.wsgi import wrap_file

from app.extensions import db
from app.redis_conn import get_redis
from app.security import access
from app.storage import CHUNK, backend

bp = Blueprint("portico", __name__)


@bp.route("/health")
def health():
    """Database and Redis status as JSON: 200 when both answer, 503 otherwise."""
    status = {"database": _check(lambda: db.session.execute(text("SELECT 1"))),
              "redis": _check(lambda: get_redis(socket_connect_timeout=1, socket_timeout=1).ping())}
    healthy = all(v == "ok" for v in status.values())
    status["status"] = "ok" if healthy else "unavailable"
    return jsonify(status), 200 if healthy else 503


@bp.route("/ready")
def ready():
    """Readiness for a load balancer: database, migrations at head, Redis and storage (200 or 503)."""
    from app.services.readiness import run_checks

    status = {part: "ok" if ok else "error" for part, ok, _ in run_checks()}
    healthy = all(v == "ok" for v in status.values())
    status["status"] = "ok" if healthy else "unavailable"
    return jsonify(status), 200 if healthy else 503


@bp.route("/firm-logo")
def firm_logo():
    """The firm's logo (public: it appears in mails and on the sign-in page)."""
    from app.services.firm import logo

    found = logo()
    if found is None:
        abort(404)
    response = blob_response(found[0], found[1], size=None, etag=found[0].rsplit("/", 1)[-1], max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _check(probe):
    try:
        probe()
        return "ok"
    except Exception:  # any failure of the probe means "not answering"; details stay in the log
        db.session.rollback()
        return "error"


def content_disposition(kind, filename):
    """An RFC 6266 Content-Disposition: an ASCII fallback plus the exact UTF-8 name in filename*."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%' else "_" for ch in filename) or "file"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# Inline views of documents run in a sandbox: no scripts, no forms, nothing loaded from elsewhere.
SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'"


def blob_response(key, mime, size, etag, max_age=0):
    """A stored blob as a streamed response with conditional GET (ETag). The local backend goes
    through send_file (byte ranges too); others stream the store's body with Content-Length from
    the recorded size (no ranges)."""
    store = backend()
    if store.kind == "local":
        return send_file(store.path(key), mimetype=mime, conditional=True, etag=etag, max_age=max_age)
    response = Response(mimetype=mime)
    response.set_etag(etag)
    response.cache_control.max_age = max_age
    response.make_conditional(request)
    if response.status_code == 304 or request.method == "HEAD":
        return response
    response.response = wrap_file(request.environ, store.open(key), buffer_size=CHUNK)
    response.direct_passthrough = True
    if size is not None:
        response.content_length = size
    else:  # make_conditional counted the empty placeholder body: let the server stream it chunked
        response.headers.pop("Content-Length", None)
    return response


def send_version(version, filename, inline=False):
    """A stored document version as a response with the safe headers: RFC 6266 name, nosniff,
    private no-store, and the sandbox CSP when shown inline. A download (not an inline view) is a
    redirect to a short-lived presigned link when S3_PRESIGNED_DOWNLOAD_SECONDS is set."""
    seconds = current_app.config.get("S3_PRESIGNED_DOWNLOAD_SECONDS") or 0
    # CSV always goes through Portico: its formula cells are neutralised on the way out.
    direct = seconds and not inline and version.mime != "text/csv"
    url = backend().presigned_url(version.storage_key, filename, version.mime, seconds) if direct else None
    if url:
        response = redirect(url, 303)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    if version.mime == "text/csv":
        from app.services.filetypes import csv_without_formulas

        # Served with formula cells neutralised, so these are not the stored bytes: no ETag (the
        # sha256 names the stored file), no length, no ranges. Streamed row by row.
        response = Response(csv_without_formulas(backend().open(version.storage_key)), mimetype="text/csv")
    else:
        response = blob_response(version.storage_key, version.mime, version.size, version.sha256)
    response.headers["Content-Disposition"] = content_disposition("inline" if inline else "attachment", filename)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if inline:
        response.headers["Content-Security-Policy"] = SANDBOX_CSP
    return response


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
    # Staff and portal pages hold client data: never cached (by the browser's back button or a proxy).
    # Responses that chose their own caching (static files, the public logo) keep it.
    response.headers.setdefault("Cache-Control", "no-store")
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):  # production is HTTPS only
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _block_fab_downloads(app):
    """FAB's generic ModelView.download serves UPLOAD_FOLDER, which Portico never uses: 404."""
    from flask_appbuilder import ModelView

    blocked = {
        f"{view.endpoint}.download"
        for view in app.appbuilder.baseviews
        if getattr(type(view), "download", None) is ModelView.download
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


def _actor_address():
    """Services take the actor as an argument and record its address from it: attach it once here."""
    if current_user.is_authenticated:
        current_user._get_current_object().client_address = request.remote_addr


def _too_large(error):
    """413 with a message people understand (the per-file limit or the whole request's)."""
    from flask_babel import gettext as _

    from app.models.documents import human_size
    from app.services.firm import get_settings

    message = _("The file is larger than the %(size)s limit and was not saved.",
                size=human_size(get_settings().max_upload_bytes))
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"errors": [message]}), 413
    if request.blueprint == "portal":
        return render_template("portal/error.html", code=413, title=_("File too large"), message=message), 413
    appbuilder = current_app.appbuilder
    return render_template("portico/error.html", code=413, message=message, appbuilder=appbuilder,
                           base_template=appbuilder.base_template), 413


def register(app):
    """Attach the blueprint, headers, error pages and per-request hooks to `app`."""
    app.register_blueprint(bp)
    app.register_error_handler(413, _too_large)
    _block_fab_downloads(app)
    app.before_request(access.reset_cache)
    app.before_request(_session_lifetimes)
    app.before_request(_actor_address)
    app.after_request(_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
