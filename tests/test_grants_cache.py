"""Role grants and the firm's settings are cached across requests and reloaded as soon as they change."""
import pytest
from flask import current_app

from sqlalchemy import event

from app.extensions import db
from app.services.firm import get_settings
from app.security import access, grants_cache
from app.security import roles as R
from tests import factories as f


@pytest.fixture(autouse=True)
def grants_cache_on(app):
    """The suite runs with GRANTS_CACHE off (stable query counts); these tests turn it on, from a new
    version (each test's database starts afresh: nothing cached by an earlier test may count)."""
    app.config["GRANTS_CACHE"] = True
    with app.app_context():
        grants_cache.bump()
    yield
    app.config["GRANTS_CACHE"] = False


def _entity_perm(action):
    return current_app.appbuilder.sm.find_permission_view_menu(action + R.ALL_SUFFIX, R.ENTITY_PERMISSION_VIEW)


def test_grants_load_once_across_requests(app, count_queries):
    """After a version bump the first request reads the grants; the next request reads none of them."""
    with app.app_context():
        user_id = f.staff(R.STAFF_ADMIN).id
        grants_cache.bump()
    with count_queries() as cold:
        assert _view_all(app, user_id)
    with count_queries() as warm:
        assert _view_all(app, user_id)
    assert warm() == cold() - 1  # the role grants query, read once per version


def _view_all(app, user_id):
    """Whether the user sees every entity, asked in a request of its own."""
    from flask_appbuilder.security.sqla.models import User

    with app.test_request_context("/"):
        return R.VIEW in access.global_actions(db.session.get(User, user_id))


def test_a_removed_permission_counts_on_the_next_request(app):
    """Taking view_all from a role through the ORM bumps the version: the very next request sees it gone."""
    with app.app_context():
        user_id = f.staff(R.STAFF_ADMIN).id
        before = grants_cache.version()
    assert _view_all(app, user_id)
    with app.app_context():
        sm = current_app.appbuilder.sm
        sm.del_permission_role(sm.find_role(R.STAFF_ADMIN), _entity_perm(R.VIEW))
        assert grants_cache.version() == before + 1
    try:
        assert not _view_all(app, user_id)
    finally:
        with app.app_context():
            sm = current_app.appbuilder.sm
            sm.add_permission_role(sm.find_role(R.STAFF_ADMIN), _entity_perm(R.VIEW))
    assert _view_all(app, user_id)


def test_without_redis_nothing_is_cached():
    """An unknown version (Redis down) loads on every call."""
    calls = []
    for _ in range(2):
        grants_cache.cached("probe", None, lambda: calls.append(1))
    assert len(calls) == 2


def test_a_new_staff_member_does_not_invalidate_the_grants(app):
    """Giving a user a role changes no grant: the version stays (the cache stays warm)."""
    with app.app_context():
        before = grants_cache.version()
        f.staff(R.STAFF)
        assert grants_cache.version() == before


def _settings_reads(app, compute):
    """(compute()'s answer in a request of its own, the number of statements reading firm_settings)."""
    reads = []

    def before(conn, cursor, statement, *args):
        reads.extend([statement] if "FROM firm_settings" in statement else [])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        with app.test_request_context("/"):
            answer = compute()
            db.session.remove()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return answer, len(reads)


def test_settings_are_read_once_per_version_and_a_change_counts_at_once(app):
    """The first request reads the settings row, later ones none (twice in a request: still none);
    a committed change is what the very next request sees."""
    with app.app_context():
        get_settings().firm_name = "Ledger & Co"
        db.session.commit()
    assert _settings_reads(app, lambda: get_settings().firm_name) == ("Ledger & Co", 1)
    assert _settings_reads(app, lambda: (get_settings().firm_name, get_settings().max_upload_bytes)[0]) == \
        ("Ledger & Co", 0)

    def rename():
        get_settings().firm_name = "Ledger & Partners"
        db.session.commit()
    _settings_reads(app, rename)
    assert _settings_reads(app, lambda: get_settings().firm_name) == ("Ledger & Partners", 1)
    assert _settings_reads(app, lambda: get_settings().firm_name) == ("Ledger & Partners", 0)


def test_a_change_not_yet_committed_is_not_overwritten_by_the_cached_copy(app):
    """The session's own (changed) settings win over this process's copy within the request, and a
    change not committed is never what other requests get."""
    with app.app_context():
        get_settings()  # created (a new row moves the version on)
        db.session.remove()
    _settings_reads(app, lambda: get_settings().firm_name)
    assert _settings_reads(app, lambda: get_settings().firm_name)[1] == 0  # the copy is warm

    def change_then_ask():
        from app.models import FirmSettings

        db.session.get(FirmSettings, 1).firm_name = "Not committed"
        return get_settings().firm_name
    assert _settings_reads(app, change_then_ask) == ("Not committed", 1)
    assert _settings_reads(app, lambda: get_settings().firm_name)[0] == "Portico"
    with app.app_context():
        grants_cache.bump()  # cold: the changed row is what the request loads, and it must not be kept
    assert _settings_reads(app, change_then_ask) == ("Not committed", 1)
    assert _settings_reads(app, lambda: get_settings().firm_name) == ("Portico", 1)


def test_a_lost_version_starts_again_where_no_process_has_entries(app):
    """Redis losing the version (flushed, restarted empty) never brings back a number entries were kept under."""
    from app.redis_conn import get_redis

    with app.app_context():
        before = grants_cache.version()
        get_redis().delete(grants_cache.VERSION_KEY)
        after = grants_cache.version()
        assert after is not None and after != before and after != 0 and grants_cache.version() == after


def test_an_entry_serves_at_most_max_age_seconds(app, monkeypatch):
    """A change whose bump Redis missed is seen once the entries age out."""
    clock = [1000.0]
    monkeypatch.setattr(grants_cache.time, "monotonic", lambda: clock[0])
    calls = []
    with app.app_context():
        for _ in range(2):
            grants_cache.cached("probe-age", 7, lambda: calls.append(1))
        clock[0] += grants_cache.MAX_AGE
        grants_cache.cached("probe-age", 7, lambda: calls.append(1))
    assert len(calls) == 2


def test_what_a_transaction_changing_grants_reads_is_not_kept(app):
    """Settings read after a flushed, uncommitted change are not kept for other requests (it rolls back)."""
    from app.models import FirmSettings

    with app.app_context():
        get_settings()
        db.session.remove()
        grants_cache.bump()  # cold: the first read of the settings comes after the flush
    with app.test_request_context("/"):
        db.session.get(FirmSettings, 1).firm_name = "Flushed only"
        db.session.flush()
        assert get_settings().firm_name == "Flushed only"
        db.session.rollback()
        db.session.remove()
    assert _settings_reads(app, lambda: get_settings().firm_name)[0] == "Portico"


def test_deleting_an_account_moves_the_version(app):
    """The database unlinks a deleted account from the settings by itself: the version moves so no copy keeps it."""
    with app.app_context():
        user = f.staff(R.STAFF)
        before = grants_cache.version()
        db.session.delete(user)
        db.session.commit()
        assert grants_cache.version() == before + 1
