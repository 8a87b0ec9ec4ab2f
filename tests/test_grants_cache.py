"""Role grants are cached across requests and reloaded as soon as a role's permissions change."""
import pytest
from flask import current_app

from app.extensions import db
from app.security import access, grants_cache
from app.security import roles as R
from tests import factories as f


@pytest.fixture(autouse=True)
def grants_cache_on(app):
    """The suite runs with GRANTS_CACHE off (stable query counts); these tests turn it on."""
    app.config["GRANTS_CACHE"] = True
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
