"""App-wide web concerns, one module each: node status, file downloads, response headers,
per-request hooks and errors. `register(app)` wires them."""
from flask import Blueprint, current_app

bp = Blueprint("portico", __name__)


def register(app):
    """Attach the blueprint, headers, error pages and per-request hooks to `app`."""
    from app.security import access
    from app.web import cookie_session, downloads, menu, status, translations  # noqa: F401  (routes join `bp`)
    from app.web.headers import csp_nonce, security_headers
    from app.web.requests import actor_address, block_fab_downloads, session_lifetimes, too_large

    app.register_blueprint(bp)
    cookie_session.register(app)
    translations.register(app)
    menu.register(app)
    app.register_error_handler(413, too_large)
    block_fab_downloads(app)
    app.before_request(access.reset_cache)
    app.before_request(session_lifetimes)
    app.before_request(actor_address)
    app.after_request(security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["page_language"] = page_language


def page_language():
    """The language of the page being rendered, for `<html lang>` (FAB's locale: ?_l_, session, default)."""
    from flask_babel import get_locale

    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
