"""Kept pages (app/web/page_cache.py) are served again only to the same session while no row changed:
any commit, a revoked share, an ended session or another account gets a fresh answer."""
import re

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import event, text, update

from app import data_version
from app.extensions import db
from app.redis_conn import get_redis
from app.models import Contact, Entity, Task
from app.security import roles as R
from app.services import shares
from app.services.portal import auth as portal_auth
from app.web import page_cache
from tests import factories as f

HOME = "/portal/"
ENTITIES = "/entityview/list/"


@pytest.fixture(autouse=True)
def page_cache_on(app):
    """The suite runs with PAGE_CACHE off (each request renders); these tests turn it on."""
    app.config["PAGE_CACHE"] = True
    with app.app_context():
        data_version.bump()
    yield
    app.config["PAGE_CACHE"] = False
    data_version.bump()


def _signed_in(client, portal_login, contact_id):
    """A portal client whose session settled (the first page chooses the entity, which is not kept)."""
    portal_login(client, contact_id)
    assert client.get(HOME).status_code == 200
    return client


def _nonce(response):
    return re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)


def test_a_repeated_page_comes_from_the_cache(app, client, portal_login, world, count_queries):
    """The same portal page asked again by the same session runs fewer statements, with the same body."""
    _signed_in(client, portal_login, world.cora)
    with count_queries() as rendered:
        first = client.get(HOME)
    with count_queries() as kept:
        second = client.get(HOME)
    assert kept() < rendered()
    assert second.status_code == 200 and "Year-end papers" in second.get_data(as_text=True)
    assert first.get_data() == second.get_data()


def test_an_orm_commit_shows_on_the_next_request(app, client, portal_login, world):
    """A task renamed through the ORM (another session, as staff would) shows at once."""
    _signed_in(client, portal_login, world.cora)
    assert "Year-end papers" in client.get(HOME).get_data(as_text=True)
    with app.app_context():
        db.session.get(Task, world.task).title = "Quarterly papers"
        db.session.commit()
    body = client.get(HOME).get_data(as_text=True)
    assert "Quarterly papers" in body and "Year-end papers" not in body


def test_a_core_update_shows_on_the_next_request(app, client, portal_login, world):
    """A change written with a bare UPDATE on an engine connection (no ORM session) shows at once."""
    _signed_in(client, portal_login, world.cora)
    client.get(HOME)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(update(Task).where(Task.id == world.task).values(title="Core title"))
    assert "Core title" in client.get(HOME).get_data(as_text=True)


def test_an_autocommit_write_shows_on_the_next_request(app, client, portal_login, world):
    """A change written on an AUTOCOMMIT connection (committed by the statement, no commit event)
    shows at once."""
    _signed_in(client, portal_login, world.cora)
    client.get(HOME)
    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(update(Task).where(Task.id == world.task).values(title="Autocommitted"))
    assert "Autocommitted" in client.get(HOME).get_data(as_text=True)


def test_a_process_with_the_caches_off_still_announces_its_writes(app):
    """A worker or CLI run with PAGE_CACHE off (Redis named) moves the version on when it commits,
    so web processes with kept pages do not serve them."""
    app.config["PAGE_CACHE"] = False
    with app.app_context():
        before = get_redis().get(data_version.VERSION_KEY)
        db.session.execute(text("UPDATE task SET title = 'By the worker'"))
        db.session.commit()
        assert get_redis().get(data_version.VERSION_KEY) != before


def test_a_version_that_went_back_empties_the_kept_pages(app, client, portal_login, world):
    """Redis restored from an older snapshot gives back a version a page was kept under with older
    rows: this process drops what it kept and renders the rows as they are."""
    _signed_in(client, portal_login, world.cora)
    with app.app_context():
        old = get_redis().get(data_version.VERSION_KEY)
    assert "Year-end papers" in client.get(HOME).get_data(as_text=True)  # kept under `old`
    kept = dict(page_cache._store)
    with app.app_context():
        db.session.get(Task, world.task).title = "Renamed since"
        db.session.commit()
    page_cache._store.update(kept)  # the rename came from another process: this one's pages stay
    assert "Renamed since" in client.get(HOME).get_data(as_text=True)
    with app.app_context():
        get_redis().set(data_version.VERSION_KEY, old)  # the snapshot's number
    assert "Renamed since" in client.get(HOME).get_data(as_text=True)


def test_a_rolled_back_change_keeps_the_cache(app, client, portal_login, world):
    """A change rolled back announces nothing: the kept page still serves (and still shows the old title)."""
    _signed_in(client, portal_login, world.cora)
    client.get(HOME)
    with app.app_context():
        version = data_version.read()
        db.session.get(Task, world.task).title = "Never saved"
        db.session.flush()
        db.session.rollback()
        assert data_version.read() == version
    assert "Year-end papers" in client.get(HOME).get_data(as_text=True)


def test_a_revoked_share_counts_at_once(app, client, portal_login, world):
    """After the contact's share is revoked, a task page kept for them is not served: 404."""
    _signed_in(client, portal_login, world.cora)
    page = f"/portal/tasks/{world.task}"
    assert client.get(page).status_code == 200 and client.get(page).status_code == 200
    with app.app_context():
        entity, cora = db.session.get(Entity, world.a), db.session.get(Contact, world.cora)
        shares.revoke(entity, db.session.get(User, world.acc), f.other_share_id(entity, cora))
    assert client.get(page).status_code in (302, 404)


def test_an_ended_portal_session_is_not_served_a_kept_page(app, client, portal_login, world):
    """Ending the session only in Redis (no row changes) still signs the browser out on the next page."""
    _signed_in(client, portal_login, world.cora)
    client.get(HOME)
    with client.session_transaction() as session:
        token = session["portal_session"]
    with app.test_request_context():
        portal_auth.end_session(token)
    response = client.get(HOME)
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]


def test_each_session_gets_its_own_page(app, portal_login, world):
    """Two contacts of one entity ask the same URL: each sees their own name, never the other's page."""
    cora = _signed_in(app.test_client(), portal_login, world.cora)
    rhea = _signed_in(app.test_client(), portal_login, world.rhea)
    for _ in range(2):
        assert "Cora" in cora.get(HOME).get_data(as_text=True)
        body = rhea.get(HOME).get_data(as_text=True)
        assert "Rhea" in body and "Year-end papers" not in body  # the task is Cora's only


def test_a_staff_list_is_kept_with_a_new_nonce_and_refused_once_deactivated(app, client, login, world,
                                                                           count_queries):
    """A staff list asked again runs fewer statements; its body differs only by the CSP nonce, new each
    time and the header's. Once the account is deactivated, the kept list is not served."""
    with app.app_context():
        admin_id = f.staff(R.STAFF_ADMIN).id
    login(client, admin_id)
    assert client.get(ENTITIES).status_code == 200  # the first visit records the page in FAB's history
    with count_queries() as rendered:
        first = client.get(ENTITIES)
    with count_queries() as kept:
        second = client.get(ENTITIES)
    assert kept() < rendered()
    old, new = _nonce(first), _nonce(second)
    body = second.get_data(as_text=True)
    assert old != new and f'nonce="{new}"' in body and old not in body and "Alpha Co" in body
    assert first.get_data(as_text=True).replace(old, new) == body
    with app.app_context():
        db.session.get(User, admin_id).active = False
        db.session.commit()
    assert client.get(ENTITIES).status_code == 302


def test_a_wrong_role_never_gets_a_kept_list(app, login, world):
    """A staff member without the list right is refused even right after an admin's list was kept."""
    with app.app_context():
        admin_id, outsider_id = f.staff(R.STAFF_ADMIN).id, f.staff(R.STAFF).id
    admin, outsider = login(app.test_client(), admin_id), login(app.test_client(), outsider_id)
    assert admin.get(ENTITIES).status_code == 200 and admin.get(ENTITIES).status_code == 200
    assert "Alpha Co" not in outsider.get(ENTITIES).get_data(as_text=True)  # scoped: Alpha is not theirs


def test_a_pending_flash_is_shown_not_a_kept_page(app, client, portal_login, world):
    """A message flashed for the next page appears on it, although the page was kept before."""
    _signed_in(client, portal_login, world.cora)
    client.get(HOME)
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Thanks, all saved.")]
    assert "Thanks, all saved." in client.get(HOME).get_data(as_text=True)


def test_entries_age_out(app, client, portal_login, world, count_queries, monkeypatch):
    """An entry older than MAX_AGE is rendered again (bounding what a write Redis missed leaves unseen)."""
    _signed_in(client, portal_login, world.cora)
    client.get(HOME)
    with count_queries() as kept:
        client.get(HOME)
    monkeypatch.setattr(page_cache, "MAX_AGE", 0)
    with count_queries() as again:
        client.get(HOME)
    assert again() > kept()


@pytest.mark.parametrize("statement, writes", [
    ("SELECT 1", False), ("  select * from task", False), ("PRAGMA foreign_keys=ON", False),
    ("WITH RECURSIVE t(id) AS (SELECT 1) SELECT id FROM t", False), ("SAVEPOINT sa_1", False),
    ("INSERT INTO task VALUES (1)", True), ("UPDATE task SET title='x'", True), ("DELETE FROM task", True),
    ("WITH gone AS (DELETE FROM task RETURNING id) SELECT count(*) FROM gone", True),
    ("CREATE INDEX ix ON task (title)", True),
])
def test_what_counts_as_a_write(statement, writes):
    """Statements that change no row keep the version; anything else (DDL, DML, a CTE with DML) bumps it."""
    assert (data_version._READS.match(statement) is None) is writes


def test_a_write_in_a_request_bumps_the_version(app, client, portal_login, world):
    """A text() statement that writes, committed on the ORM session, moves the version on."""
    with app.app_context():
        before = data_version.read()
        db.session.execute(text("UPDATE entity SET name = 'Alpha Two' WHERE id = :id"), {"id": world.a})
        db.session.commit()
        assert data_version.read() > before
        assert db.session.get(Entity, world.a).name == "Alpha Two"


def test_the_account_is_read_once_while_nothing_changes(app, client, portal_login, world):
    """A kept page asked again reads no account row: the signed-in account comes from this process's
    copy (app.security.account_cache), which a deactivation through a bare UPDATE ends at once."""
    _signed_in(client, portal_login, world.cora)
    client.get(HOME)
    seen = []
    with app.app_context():
        engine = db.engine
    listener = lambda conn, cursor, statement, *args: seen.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(HOME).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert not [s for s in seen if "ab_user" in s]
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(update(User).where(User.id == world.cora_user).values(active=False))
    assert client.get(HOME).status_code == 302
