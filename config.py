"""Portico configuration: one environment-driven Config and its three flavours."""
import os
import warnings

from flask_appbuilder.const import AUTH_DB

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSECURE_KEYS = {"", "dev", "change-me", "dev-insecure-key"}


def _env_bool(name, default):
    """Read a boolean environment variable (1/true/yes/on)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url(default_file):
    """DATABASE_URL if set (postgres:// is normalised for SQLAlchemy 2), else a SQLite file."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(BASE_DIR, "instance", default_file)
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    """Settings shared by every environment; each may be overridden by an environment variable."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-insecure-key")
    SQLALCHEMY_DATABASE_URI = _database_url("portico.db")
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "")
    STORAGE_DIR = os.environ.get("STORAGE_DIR", os.path.join(BASE_DIR, "instance", "storage"))
    # Where blobs live: "local" (STORAGE_DIR) or "s3" (S3_BUCKET; STORAGE_DIR then only holds spool files).
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    S3_BUCKET = os.environ.get("S3_BUCKET", "")
    S3_PREFIX = os.environ.get("S3_PREFIX", "")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL", "")
    S3_REGION = os.environ.get("S3_REGION", "")
    S3_ADDRESSING_STYLE = os.environ.get("S3_ADDRESSING_STYLE", "")
    # Downloads as presigned links valid this many seconds (S3 only; 0 = stream through Portico).
    S3_PRESIGNED_DOWNLOAD_SECONDS = int(os.environ.get("S3_PRESIGNED_DOWNLOAD_SECONDS", 0))
    PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000")
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", 0))  # reverse-proxy hops in front of Portico
    # The whole request (several files at once); each file is held to the firm's max_upload_bytes.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 64 * 1024 * 1024))

    # Flask-AppBuilder
    APP_NAME = os.environ.get("APP_NAME", "Portico")
    CURRENCY = os.environ.get("CURRENCY", "USD")  # ISO 4217 code of the amounts shown (tax payments)
    APP_THEME = ""
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = False  # `flask portico init` writes permissions; never at start-up
    FAB_ADD_SECURITY_VIEWS = True
    FAB_ADD_SECURITY_API = False  # FAB's user/role REST APIs
    # FAB's JWT login API (/api/v1/security/login, refresh), which FAB 5.3 adds with the screens
    # whatever FAB_ADD_SECURITY_API says: off until a REST API needs tokens.
    TOKEN_LOGIN_API = _env_bool("TOKEN_LOGIN_API", False)
    FAB_API_SWAGGER_UI = False
    FAB_SECURITY_MANAGER_CLASS = "app.security.manager.PorticoSecurityManager"
    FAB_INDEX_VIEW = "app.views.home.HomeView"
    FAB_PASSWORD_HASH_METHOD = os.environ.get("FAB_PASSWORD_HASH_METHOD", "scrypt")
    AUTH_DB_FAKE_PASSWORD_HASH_CHECK = None  # set in create_app with the same method
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    FAB_PASSWORD_COMPLEXITY_VALIDATOR = "app.security.passwords.validate_password"
    FAB_SAFE_REDIRECT_HOSTS = [h for h in os.environ.get("SAFE_REDIRECT_HOSTS", "").split(",") if h]

    # Staff login rate limiting (Flask-Limiter through FAB); storage is Redis, set in create_app.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 5 minutes")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "")
    # Calls per API token (Flask-Limiter's storage; always counted when RATELIMIT_ENABLED).
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")
    # Wrong second-factor codes, counted per account and per client network (always on: a product rule).
    TOTP_RATE_LIMIT = os.environ.get("TOTP_RATE_LIMIT", "10 per 5 minutes")
    # Key that encrypts authenticator secrets at rest (Fernet); SECRET_KEY is used when unset.
    # Changing the key in use makes existing enrolments unreadable: members then need an Admin reset.
    TOTP_ENCRYPTION_KEY = os.environ.get("TOTP_ENCRYPTION_KEY", "")
    # Passkeys (WebAuthn): the relying party id (the site's host name, e.g. portal.firm.example) and
    # the origin browsers report (e.g. https://portal.firm.example). Unset, both come from the request's
    # host — fine behind a trusted proxy; set them in production so passkeys stay bound to one name.
    WEBAUTHN_RP_ID = os.environ.get("WEBAUTHN_RP_ID", "")
    WEBAUTHN_ORIGIN = os.environ.get("WEBAUTHN_ORIGIN", "")
    # Adding or removing a passkey needs a second factor given this recently in the session.
    FRESH_FACTOR_SECONDS = int(os.environ.get("FRESH_FACTOR_SECONDS", 10 * 60))
    # The firm's certificate that seals signed PDFs (PKCS#12); `flask portico init` makes a self-signed one
    # at this path when there is none.
    SIGNING_P12_PATH = os.environ.get("SIGNING_P12_PATH", os.path.join(BASE_DIR, "instance", "signing.p12"))
    SIGNING_P12_PASSWORD = os.environ.get("SIGNING_P12_PASSWORD", "")

    # Portal PINs: a slow KDF (werkzeug's scrypt, n=32768).
    PIN_HASH_METHOD = os.environ.get("PIN_HASH_METHOD", "scrypt:32768:8:1")
    PIN_FAKE_HASH = None  # set in create_app with the same method (timing of unknown addresses)
    # Role grants kept across requests under a version in Redis (app/security/grants_cache.py).
    GRANTS_CACHE = True
    # Rendered pages served again while no row changed (app/web/page_cache.py), per process.
    PAGE_CACHE = _env_bool("PAGE_CACHE", True)
    PAGE_CACHE_BYTES = int(os.environ.get("PAGE_CACHE_BYTES", 32 * 2**20))

    # Sessions
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = 30 * 60
    SESSION_ABSOLUTE_LIFETIME = 12 * 3600
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the (30 min idle) session

    # Translations
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_TRANSLATION_DIRECTORIES = os.path.join(BASE_DIR, "translations")
    LANGUAGES = {
        "en": {"flag": "gb", "name": "English"},
        "et": {"flag": "ee", "name": "Eesti"},
    }

    # Mail
    # Without MAIL_SERVER, mails are written to instance/mail and shown at /ops/mail (never in production).
    DEV_MAIL = True
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", 25))
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "portico@localhost")
    # Seconds between retries of a failing mail delivery (then it is marked failed in /ops).
    DELIVERY_RETRY_INTERVALS = os.environ.get("DELIVERY_RETRY_INTERVALS", "30,120,600")
    # A staff e-mail attaches its files up to this many bytes in all; larger ones become portal links.
    MAIL_ATTACH_MAX_BYTES = int(os.environ.get("MAIL_ATTACH_MAX_BYTES", 5 * 1024 * 1024))
    # Outbox: sent and cancelled e-mail rows older than this many days are purged (daily job).
    OUTBOX_KEEP_DAYS = int(os.environ.get("OUTBOX_KEEP_DAYS", 30))
    # Mails sent over one SMTP connection before it is renewed.
    MAIL_MAILS_PER_CONNECTION = int(os.environ.get("MAIL_MAILS_PER_CONNECTION", 500))
    # The worker process recycles itself after this many jobs (0 = never) or past this resident memory (burst workers ignore both).
    WORKER_MAX_JOBS = int(os.environ.get("WORKER_MAX_JOBS", 1000))
    WORKER_MAX_MEMORY_MB = int(os.environ.get("WORKER_MAX_MEMORY_MB", 512))
    # Days before a deadline on which assignees are reminded (0 = on the day); weekly once overdue.
    REMINDER_DAYS_BEFORE = os.environ.get("REMINDER_DAYS_BEFORE", "3,0")

    # Webhooks: signing secrets are encrypted at rest under this key (SECRET_KEY when unset; changing the
    # key in use means rotating every endpoint's secret).
    WEBHOOK_ENCRYPTION_KEY = os.environ.get("WEBHOOK_ENCRYPTION_KEY", "")
    # Seconds to wait before each retry of a failing delivery (then it is marked failed in /ops).
    WEBHOOK_RETRY_INTERVALS = os.environ.get("WEBHOOK_RETRY_INTERVALS", "60,300,1800,7200,21600")
    # Connect and read timeout of one POST, in seconds.
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", 10))
    # Failed attempts in a row after which an endpoint is switched off.
    WEBHOOK_DISABLE_AFTER = int(os.environ.get("WEBHOOK_DISABLE_AFTER", 15))
    # Networks endpoints may resolve to although private or reserved (comma-separated CIDRs, e.g. a firm's
    # own 10.1.2.0/24; tests: 127.0.0.1/32). Empty: public addresses only.
    WEBHOOK_ALLOWED_NETWORKS = os.environ.get("WEBHOOK_ALLOWED_NETWORKS", "")
    # A PEM file of extra certificate authorities to trust for endpoints (besides the system's).
    WEBHOOK_CA_BUNDLE = os.environ.get("WEBHOOK_CA_BUNDLE", "")

    @classmethod
    def validate(cls, app):
        """Check the settings once the app has them; raise to refuse starting."""


class DevelopmentConfig(Config):
    """`make run`: SQLite file, embedded Redis, readable errors."""

    DEBUG = True


class TestingConfig(Config):
    """pytest: a separate database, fast password hashes, no rate limits unless a test asks."""

    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = _database_url("portico-test.db")
    FAB_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    PIN_HASH_METHOD = "pbkdf2:sha256:1000"
    RATELIMIT_ENABLED = False
    # Off so that query-count tests count the same whatever ran before them; tests/test_grants_cache.py turns it on.
    GRANTS_CACHE = False
    PAGE_CACHE = _env_bool("PAGE_CACHE", False)  # tests/test_page_cache.py turns it on
    STORAGE_DIR = os.environ.get("STORAGE_DIR", os.path.join(BASE_DIR, "instance", "test-storage"))
    SIGNING_P12_PATH = os.path.join(BASE_DIR, "instance", "test-signing.p12")


class ProductionConfig(Config):
    """gunicorn behind a TLS proxy: a real secret, secure cookies, PostgreSQL expected."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    DEV_MAIL = False  # sign-in codes in a folder served by the app: never in production

    @classmethod
    def validate(cls, app):
        """Refuse a missing or well-known SECRET_KEY; warn when the database is SQLite."""
        key = app.config.get("SECRET_KEY") or ""
        if key in INSECURE_KEYS or len(key) < 32:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production"
            )
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            warnings.warn("Portico is running on SQLite in production; set DATABASE_URL to PostgreSQL")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env():
    """The Config class named by PORTICO_ENV (development by default)."""
    return CONFIGS[os.environ.get("PORTICO_ENV", "development").lower()]
