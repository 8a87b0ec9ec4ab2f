"""The shared world of the access tests: the cast (tests.factories.cast) built once per module and
put back before each test, signed-in clients for every actor, and what a response amounts to."""
import os
import tempfile

import pytest
from flask_appbuilder.security.sqla.models import Group, Permission, PermissionView, User, ViewMenu
from itsdangerous import URLSafeTimedSerializer

from app.extensions import db
from app.models import Contact, TaskTemplate
from app.security import roles as R
from tests import db_snapshot
from tests import factories as f

STAFF_ACTORS = ("admin", "staff_admin", "entities_admin", "staff", "owner", "viewer")
CONTACT_ACTORS = ("access", "collaborator", "disabled")
ACTORS = ("anonymous",) + STAFF_ACTORS + CONTACT_ACTORS


@pytest.fixture(scope="module")
def world(app):
    """The cast, built once for this module, and a snapshot to put it back from."""
    with app.test_request_context():
        ids = f.cast()
        fab_group = Group(name="Matrix group")
        template = TaskTemplate(title="Matrix template")
        db.session.add_all([fab_group, template])
        db.session.commit()
        ids.update(firm=1, fab_group=fab_group.id, template=template.id, role=f.role(R.VIEWER).id,
                   permission=db.session.query(Permission.id).first()[0],
                   view_menu=db.session.query(ViewMenu.id).first()[0],
                   permission_view=db.session.query(PermissionView.id).first()[0])
        snapshot = db_snapshot.Snapshot(app.config["STORAGE_DIR"], tempfile.mkdtemp(prefix="portico-matrix-"))
        db.session.remove()
    return ids, snapshot


@pytest.fixture
def cast(app, world):
    """The world as built, for one test."""
    ids, snapshot = world
    with app.app_context():
        snapshot.restore()
    return ids


def csrf(app, test_client):
    """Put a CSRF secret in the client's session; the signed token forms send with it."""
    raw = os.urandom(20).hex()
    with test_client.session_transaction() as session:
        session["csrf_token"] = raw
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def signed_in(app, ids, actor, portal_login, login):
    """A test client signed in as `actor` (contacts through the portal), and its CSRF token."""
    test_client = app.test_client()
    if actor in CONTACT_ACTORS:
        portal_login(test_client, ids[actor])
    elif actor != "anonymous":
        login(test_client, ids[actor])
    return test_client, csrf(app, test_client)


def user_of(ids, actor):
    if actor == "anonymous":
        return None
    if actor in CONTACT_ACTORS:
        return db.session.get(Contact, ids[actor]).user
    return db.session.get(User, ids[actor])


def outcome_of(response):
    """What a response amounts to: ok, login, signin, or the error status."""
    if response.status_code in (301, 302, 303):
        location = response.headers.get("Location", "")
        if "/login/" in location:
            return "login"
        if location.split("?")[0].endswith("/portal/sign-in"):
            return "signin"
        return "ok"
    return "ok" if response.status_code < 300 else str(response.status_code)


def put_back_changes(app, snapshot):
    """The tables the last request changed (the world is put back if any)."""
    with app.app_context():
        touched = db_snapshot.changed(snapshot.digest, db_snapshot.digest())
        if touched:
            snapshot.restore()
    return touched
