"""The staff menu is rendered once per set of permissions and language, and follows both at once."""
import pytest
from flask import current_app

from app.security import grants_cache
from app.security import roles as R
from tests import factories as f

PAGE = "/entityview/list/"
ROLES_LINK = 'href="/roles/list/"'
ROLES_MENU = ("Security", "List Roles")


def _menu(client):
    """The HTML of the navbar's menu (left part) on a staff page."""
    response = client.get(PAGE)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    start = body.index('<ul class="nav navbar-nav">')
    return body[start:body.index('<ul class="nav navbar-nav navbar-right">', start)]


def _users(app):
    with app.app_context():
        return f.staff(R.ADMIN).id, f.staff(R.STAFF).id


def _grant_roles_menu(sm):
    """Give the Staff role the menu entries of the roles screen and of its category."""
    for menu in ROLES_MENU:
        sm.add_permission_role(sm.find_role(R.STAFF), sm.find_permission_view_menu("menu_access", menu))


@pytest.fixture
def roles_menu_revoked(app):
    """Roles outlive a test: take the entries back from Staff afterwards."""
    yield
    with app.app_context():
        sm = current_app.appbuilder.sm
        for menu in ROLES_MENU:
            sm.del_permission_role(sm.find_role(R.STAFF), sm.find_permission_view_menu("menu_access", menu))


def test_each_set_of_roles_sees_its_own_menu(app, login):
    """An Admin's menu holds the roles screen, a staff member's does not, whichever was rendered first,
    and a menu served again is the same menu."""
    admin_id, staff_id = _users(app)
    staff_first = _menu(login(app.test_client(), staff_id))
    admin = _menu(login(app.test_client(), admin_id))
    staff_again = _menu(login(app.test_client(), staff_id))
    assert ROLES_LINK in admin and 'href="/entityview/list/"' in admin
    assert ROLES_LINK not in staff_first and 'href="/entityview/list/"' in staff_first
    assert staff_again == staff_first


def test_a_granted_menu_shows_on_the_next_page(app, login, roles_menu_revoked):
    """Giving the Staff role the roles screen's menu entries shows them on the member's very next page."""
    _, staff_id = _users(app)
    client = login(app.test_client(), staff_id)
    assert ROLES_LINK not in _menu(client)
    with app.app_context():
        _grant_roles_menu(current_app.appbuilder.sm)
    assert ROLES_LINK in _menu(client)


def test_a_granted_menu_shows_with_the_grants_cache_on(app, login, roles_menu_revoked):
    """With role grants cached across requests (production), the change still shows at once."""
    _, staff_id = _users(app)
    app.config["GRANTS_CACHE"] = True
    try:
        with app.app_context():
            grants_cache.bump()
        client = login(app.test_client(), staff_id)
        assert ROLES_LINK not in _menu(client)
        with app.app_context():
            _grant_roles_menu(current_app.appbuilder.sm)
        assert ROLES_LINK in _menu(client)
    finally:
        app.config["GRANTS_CACHE"] = False


def test_the_menu_speaks_the_pages_language(app, login):
    """The same member gets the English menu, then the Estonian one after switching, then English again."""
    _, staff_id = _users(app)
    client = login(app.test_client(), staff_id)
    english = _menu(client)
    with client.session_transaction() as session:
        session["locale"] = "et"
    estonian = _menu(client)
    with client.session_transaction() as session:
        session["locale"] = "en"
    assert "Clients" in english and "Clients" not in estonian and "Kliendid" in estonian
    assert _menu(client) == english

