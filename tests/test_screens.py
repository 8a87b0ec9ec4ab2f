"""Back-office screens: who reaches which screen, row scope (404/403), bulk actions, choices."""
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import Entity, EntityShare
from app.security import roles as R
from tests import factories as f
from tests.conftest import csrf_token

SCREENS = {
    "entities": "/entityview/list/",
    "shares": "/entityshareview/list/",
    "activity": "/activityeventview/list/",
    "contacts": "/contactview/list/",
    "groups": "/contactgroupview/list/",
    "staff": "/users/list/",
    "firm": "/firmsettingsview/list/",
    "roles": "/roles/list/",
}
OK, FIRM_OK = 200, 302
EXPECTED = {
    R.ADMIN: dict.fromkeys(SCREENS, OK) | {"firm": FIRM_OK},
    R.STAFF_ADMIN: dict.fromkeys(SCREENS, OK) | {"firm": 403, "roles": 403},
    R.ENTITIES_ADMIN: dict.fromkeys(SCREENS, OK) | {"staff": 403, "firm": 403, "roles": 403},
    R.STAFF: dict.fromkeys(SCREENS, OK) | {"staff": 403, "firm": 403, "roles": 403},
    R.CLIENT: dict.fromkeys(SCREENS, 403),
}


@pytest.fixture
def firm(app):
    """An accountant who owns `own`, views `viewed`, and never sees `foreign`; plus a contact."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        own, viewed, foreign = f.entity("Own Co", responsible=accountant), f.entity("Viewed Co"), f.entity("Foreign Co")
        f.share(viewed, R.VIEWER, user=accountant)
        mine, theirs = f.contact(last="Mine"), f.contact(last="Theirs")
        own_share = f.share(own, R.ENTITY_ACCESS, contact=mine)
        viewed_share = f.share(viewed, R.ENTITY_ACCESS, contact=f.contact(last="Viewed"))
        foreign_share = f.share(foreign, R.ENTITY_ACCESS, contact=theirs)
        return SimpleNamespace(
            accountant=accountant.id, own=own.id, viewed=viewed.id, foreign=foreign.id,
            mine=mine.id, theirs=theirs.id, own_share=own_share.id, viewed_share=viewed_share.id,
            foreign_share=foreign_share.id,
        )


def _user(app, role_name):
    with app.app_context():
        if role_name == R.CLIENT:
            return f.contact(with_user=True).user.id
        return f.staff(role_name).id


@pytest.mark.parametrize("role_name", list(EXPECTED))
def test_each_screen_is_reachable_by_its_roles_only(app, client, login, role_name):
    """Every screen answers its roles and is 403 for the others (clients reach none)."""
    login(client, _user(app, role_name))
    got = {name: client.get(path).status_code for name, path in SCREENS.items()}
    assert got == EXPECTED[role_name]


def test_anonymous_visitors_are_sent_to_the_login(client):
    """No screen is open without signing in."""
    for path in SCREENS.values():
        response = client.get(path)
        assert response.status_code == 302
        assert "/login/" in response.headers["Location"]


def test_out_of_scope_rows_answer_404(client, login, firm):
    """show/edit/delete of an entity or share outside the user's scope is 404, inside it works."""
    login(client, firm.accountant)
    token = csrf_token(client, "/entityshareview/add")
    assert client.get(f"/entityview/show/{firm.own}").status_code == 200
    assert client.get(f"/entityview/show/{firm.foreign}").status_code == 404
    assert client.get(f"/entityview/edit/{firm.foreign}").status_code == 404
    assert client.post(f"/entityview/delete/{firm.foreign}", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/entityshareview/show/{firm.foreign_share}").status_code == 404
    assert client.get(f"/contactview/show/{firm.theirs}").status_code == 404
    assert client.get(f"/contactview/show/{firm.mine}").status_code == 200
    assert client.get("/entityview/show/999999").status_code == 404


def test_known_rows_without_the_right_answer_403(app, client, login, firm):
    """A Viewer may see the entity but neither edit, delete nor re-share it."""
    login(client, firm.accountant)
    token = csrf_token(client, "/entityshareview/add")
    assert client.get(f"/entityview/show/{firm.viewed}").status_code == 200
    assert client.get(f"/entityview/edit/{firm.viewed}").status_code == 403
    assert client.post(f"/entityview/delete/{firm.viewed}", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/entityshareview/delete/{firm.viewed_share}", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        assert db.session.get(Entity, firm.viewed) is not None
        assert db.session.get(EntityShare, firm.viewed_share) is not None


@pytest.mark.parametrize("target", ["foreign_share", "viewed_share"])
def test_bulk_delete_of_rows_out_of_reach_changes_nothing(app, client, login, firm, target):
    """A bulk action naming a foreign (404) or view-only (403) share deletes nothing, not even own rows."""
    login(client, firm.accountant)
    token = csrf_token(client, "/entityshareview/add")
    response = client.post(
        "/entityshareview/action_post",
        data={"csrf_token": token, "action": "muldelete", "rowid": [firm.own_share, getattr(firm, target)]},
    )
    assert response.status_code in (403, 404)
    with app.app_context():
        assert db.session.get(EntityShare, firm.own_share) is not None
        assert db.session.get(EntityShare, getattr(firm, target)) is not None


def test_bulk_delete_in_scope_works(app, client, login, firm):
    """The same bulk action on the user's own shares does delete them."""
    login(client, firm.accountant)
    token = csrf_token(client, "/entityshareview/add")
    response = client.post(
        "/entityshareview/action_post",
        data={"csrf_token": token, "action": "muldelete", "rowid": [firm.own_share]},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(EntityShare, firm.own_share) is None


def test_single_row_action_rechecks_scope(app, client, login, firm):
    """The single-row action route refuses an out-of-scope id as well."""
    login(client, firm.accountant)
    token = csrf_token(client, "/entityshareview/add")
    response = client.post(f"/entityshareview/action/muldelete/{firm.foreign_share}", data={"csrf_token": token})
    assert response.status_code in (400, 404)  # a bulk-only action on one foreign row: refused either way
    with app.app_context():
        assert db.session.get(EntityShare, firm.foreign_share) is not None


def test_bulk_action_without_csrf_token_is_refused(app, client, login, firm):
    """State changes need the CSRF token."""
    login(client, firm.accountant)
    response = client.post("/entityshareview/action_post", data={"action": "muldelete", "rowid": [firm.own_share]})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(EntityShare, firm.own_share) is not None


def test_related_field_choices_list_only_rows_in_scope(client, login, firm):
    """The share form offers only entities the user may share and contacts they may see."""
    login(client, firm.accountant)
    page = client.get("/entityshareview/add").get_data(as_text=True)
    assert "Own Co" in page
    assert "Viewed Co" not in page  # a Viewer may not share
    assert "Foreign Co" not in page
    assert "Mine" in page
    assert "Theirs" not in page


def test_contact_filter_of_the_email_list_holds_only_contacts_in_scope(client, login, firm):
    """A scoped accountant's contact e-mail list never names a foreign contact, not even in FAB's filter script,
    and its contact filter offers the accountant's own contacts only."""
    login(client, firm.accountant)
    page = client.get("/contactemailview/list/").get_data(as_text=True)
    assert "Theirs" not in page
    offered = client.get("/contactemailview/api/choices/contact?form=search").get_json()["results"]
    names = " ".join(row["text"] for row in offered)
    assert "Mine" in names and "Theirs" not in names


def test_no_staff_screen_names_a_foreign_row_in_its_choices(app, client, login, firm):
    """Every list (with its search filters), add and edit form of a scoped accountant: the foreign
    entity's and the foreign contact's names appear nowhere."""
    from flask import url_for

    login(client, firm.accountant)
    leaks = []
    for view in _model_views(app):
        paths = []
        with app.test_request_context():
            for method in ("list", "add"):
                if f"{view.endpoint}.{method}" in {r.endpoint for r in app.url_map.iter_rules()}:
                    paths.append(url_for(f"{view.endpoint}.{method}"))
        for path in paths:
            response = client.get(path)
            body = response.get_data(as_text=True)
            if response.status_code == 200 and ("Theirs" in body or "Foreign Co" in body):
                leaks.append(path)
    assert leaks == []


def test_crafted_choice_outside_scope_is_refused(app, client, login, firm):
    """Posting a foreign entity id in the share form fails validation and saves nothing."""
    login(client, firm.accountant)
    token = csrf_token(client, "/entityshareview/add")
    with app.app_context():
        before = db.session.query(EntityShare).count()
        role_id = f.role(R.ENTITY_ACCESS).id
    response = client.post(
        "/entityshareview/add",
        data={"csrf_token": token, "entity": firm.foreign, "contact": firm.mine, "role": role_id},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "This field is required." in body or "Not a valid choice" in body  # the entity is unknown here
    with app.app_context():
        assert db.session.query(EntityShare).count() == before


def test_staff_screen_hides_client_accounts_and_protects_admins(app, client, login):
    """Staff Admin: no client accounts in Staff, no Admin role to hand out, no editing an Admin."""
    with app.app_context():
        staff_admin, admin = f.staff(R.STAFF_ADMIN), f.staff(R.ADMIN, username="the.admin")
        person = f.contact(with_user=True)
        ids = SimpleNamespace(staff_admin=staff_admin.id, admin=admin.id, portal=person.user.id,
                              portal_name=person.user.username)
    login(client, ids.staff_admin)
    listing = client.get("/users/list/").get_data(as_text=True)
    assert "the.admin" in listing and ids.portal_name not in listing
    assert client.get(f"/users/show/{ids.portal}").status_code == 404
    assert client.get(f"/users/edit/{ids.admin}").status_code == 403
    assert client.get(f"/resetpassword/form?pk={ids.admin}").status_code == 403
    add_form = client.get("/users/add").get_data(as_text=True)
    assert ">Staff Admin<" in add_form and ">Admin<" not in add_form and ">Client<" not in add_form


def test_long_lists_show_a_capped_count_and_stop_paging_at_the_cap(app, client, login, monkeypatch):
    """Past the cap a list shows "N+" (no full count) and pages beyond the cap come back empty."""
    from app.views import base

    monkeypatch.setattr(base, "COUNT_CAP", 6)
    with app.app_context():
        admin = f.staff(R.ADMIN).id
        for i in range(9):
            f.entity(f"Capped {i}")
    login(client, admin)
    first = client.get("/entityview/list/?psize_EntityView=3").get_data(as_text=True)
    assert "6+" in first and "Capped 0" in first
    assert "Capped 3" in client.get("/entityview/list/?psize_EntityView=3&page_EntityView=1").get_data(as_text=True)
    beyond = client.get("/entityview/list/?psize_EntityView=3&page_EntityView=2").get_data(as_text=True)
    assert "Capped" not in beyond
    exact = client.get("/entityview/list/?_flt_0_name=Capped 1").get_data(as_text=True)
    assert "Capped 1" in exact and "6+" not in exact


def _model_views(app):
    from flask_appbuilder import ModelView

    return [v for v in app.appbuilder.baseviews if isinstance(v, ModelView)]


def _status(call):
    """The response status, or 500 when the app raised (the test client re-raises instead of answering 500)."""
    try:
        return call().status_code
    except Exception:  # noqa: BLE001 (any exception here is the 500 being looked for)
        return 500


def test_sorting_any_list_by_any_of_its_columns_is_never_a_500(app, client, login, firm):
    """Every list view × every list column (relations included), both directions: sorted or ignored, never 500."""
    from flask import url_for

    with app.app_context():
        admin = f.staff(R.ADMIN).id
    login(client, admin)
    failures = []
    for view in _model_views(app):
        with app.test_request_context():
            url = url_for(f"{view.endpoint}.list")
        name = type(view).__name__
        for column in list(view.list_columns) + ["no_such_column"]:
            for direction in ("asc", "desc"):
                status = _status(lambda: client.get(f"{url}?_oc_{name}={column}&_od_{name}={direction}"))
                if status >= 500:
                    failures.append((name, column, direction))
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize("who", ["anonymous", R.ADMIN])
def test_unknown_action_names_posted_to_any_model_view_are_refused_not_500(app, client, login, firm, who):
    """An unknown action name to every ModelView's bulk and single-row action routes answers 4xx,
    anonymously (with /login/'s CSRF token) as well as for an Admin."""
    from flask import url_for

    if who != "anonymous":
        with app.app_context():
            login(client, f.staff(who).id)
    token = csrf_token(client, "/login/") if who == "anonymous" else csrf_token(client, "/notifications/preferences")
    failures = []
    for view in _model_views(app):
        routes = {r.endpoint for r in app.url_map.iter_rules()}
        if f"{view.endpoint}.action_post" not in routes:
            continue
        with app.test_request_context():
            bulk = url_for(f"{view.endpoint}.action_post")
            single = url_for(f"{view.endpoint}.action", name="no_such_action", pk="1")
        for url, data in ((bulk, {"action": "no_such_action", "rowid": "1"}), (bulk, {"rowid": "1"}), (single, {})):
            if _status(lambda: client.post(url, data={"csrf_token": token, **data})) >= 500:
                failures.append((type(view).__name__, url, data.get("action")))
    assert failures == [], "\n".join(map(str, failures))
