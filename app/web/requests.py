"""Per-request hooks and errors: session lifetimes, the actor's address, FAB's unused downloads,
the 413 page."""
import time

from flask import abort, current_app, jsonify, render_template, request, session
from flask_login import current_user, logout_user



def block_fab_downloads(app):
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


def session_lifetimes():
    """Idle timeout via a permanent, refreshed cookie; absolute lifetime counted from sign-in."""
    if not session.permanent:  # assigning marks the session changed, which re-signs its cookie
        session.permanent = True
    if not current_user.is_authenticated:
        session.pop("_started", None)
        return
    now = int(time.time())
    started = session.setdefault("_started", now)
    if now - started > current_app.config["SESSION_ABSOLUTE_LIFETIME"]:
        logout_user()
        session.clear()


def actor_address():
    """Services take the actor as an argument and record its address from it: attach it once here."""
    if current_user.is_authenticated:
        current_user._get_current_object().client_address = request.remote_addr


def too_large(error):
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
