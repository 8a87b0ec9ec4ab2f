"""Portico: the application factory."""
import logging
import os
from urllib.parse import urlparse

from flask import Flask
from flask_appbuilder import AppBuilder
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter
from werkzeug.security import generate_password_hash
from werkzeug.utils import import_string

from app.extensions import csrf, db, migrate
from app.security.guard import MAX_PK

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PkConverter(IntegerConverter):
    """`<int:…>` in every route: at most a 64-bit id, so a bigger number is a 404, not a database overflow."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_PK, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(config_class=None):
    """Build a Portico app from a Config class (PORTICO_ENV picks one when none is given)."""
    from config import config_from_env

    config_class = config_class or config_from_env()
    app = Flask(__name__, instance_path=os.path.join(BASE_DIR, "instance"))
    app.url_map.converters["int"] = PkConverter  # before any route is added
    app.config.from_object(config_class)
    config_class.validate(app)
    os.makedirs(app.instance_path, exist_ok=True)
    _derived_settings(app)
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from app import models  # noqa: F401  (tables must be on the metadata before FAB starts)

    # CSRF first: FAB exempts its API blueprints only when CSRFProtect already exists.
    csrf.init_app(app)
    appbuilder = AppBuilder(update_perms=app.config["FAB_UPDATE_PERMS"], base_template="portico/layout.html")
    with app.app_context():
        db.init_app(app)
        appbuilder.init_app(app, db.session)
        from app.views import register_views

        register_views(appbuilder)
        from app import api

        api.register(appbuilder, app)
        from app.views.bells import unread_for_current_user

        app.jinja_env.globals["unread_notifications"] = unread_for_current_user
    migrate.init_app(app, db, directory=os.path.join(BASE_DIR, "migrations"), render_as_batch=True)

    from app import cli, data_version, formats, markdown, web
    from app.mailer import init_mail
    from app.security import grants_cache
    from app.services import notifications, webhooks

    init_mail(app)
    notifications.register()
    webhooks.register()
    grants_cache.register()
    data_version.register()
    cli.register(app)
    web.register(app)
    from app.security import second_factor

    second_factor.register(app)
    from app.web import page_cache

    page_cache.register(app)  # after the gate: a kept page is looked up only for a vouched-for session
    from app.views import portal

    portal.register(app)
    from app.views import guest_k1

    guest_k1.register(app)
    markdown.register(app)
    formats.register(app)
    from app.ops import init_ops

    init_ops(app)
    logging.getLogger("flask_appbuilder").setLevel(app.config.get("FAB_LOG_LEVEL", logging.WARNING))
    return app


def _derived_settings(app):
    """Settings computed from others: the fake login hash, validators named by path, rate-limit store."""
    if not app.config.get("FAB_SAFE_REDIRECT_HOSTS"):
        # Without a list FAB trusts whatever Host header arrives; the portal's own address is ours.
        app.config["FAB_SAFE_REDIRECT_HOSTS"] = [urlparse(app.config["PORTAL_BASE_URL"]).netloc]
    validator = app.config.get("FAB_PASSWORD_COMPLEXITY_VALIDATOR")
    if isinstance(validator, str):
        app.config["FAB_PASSWORD_COMPLEXITY_VALIDATOR"] = import_string(validator)
    if not app.config.get("AUTH_DB_FAKE_PASSWORD_HASH_CHECK"):
        app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"] = generate_password_hash(
            "not-a-real-password", method=app.config["FAB_PASSWORD_HASH_METHOD"]
        )
    if not app.config.get("PIN_FAKE_HASH"):
        app.config["PIN_FAKE_HASH"] = generate_password_hash("not-a-pin", method=app.config["PIN_HASH_METHOD"])
    if app.config["RATELIMIT_ENABLED"] and not app.config.get("RATELIMIT_STORAGE_URI"):
        from app.redis_conn import redis_url

        url = redis_url(app)
        app.config["RATELIMIT_STORAGE_URI"] = "redis+" + url if url.startswith("unix://") else url
