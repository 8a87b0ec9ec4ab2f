"""Staff and people screens under attack: contact groups, sharing, who may grant which role, password
changes, malformed ids, single-row actions — each refused."""
from types import SimpleNamespace

import pytest
from flask_appbuilder.security.sqla.models import Group, User
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import Contact
from app.security import roles as R
from tests import factories as f
from tests.conftest import csrf_token


@pytest.fixture
def world(app):
    """A Staff Owner of Own Co; Foreign Co's contact sits in a group only shared on Foreign Co."""
    with app.app_context():
        acc = f.staff(R.STAFF)
        own, foreign = f.entity("Own Co", responsible=acc), f.entity("Foreign Co")
        mine = f.contact(last="Mine")
        theirs = f.contact(last="Secretperson", email="secret@victim.example")
        f.share(own, R.ENTITY_ACCESS, contact=mine)
        group = f.group("VIP clients", members=[theirs])
        f.share(foreign, R.ENTITY_ACCESS, group=group)
        return SimpleNamespace(acc=acc.id, own=own.id, foreign=foreign.id, mine=mine.id, theirs=theirs.id,
                               group=group.id, staff_admin=f.staff(R.STAFF_ADMIN).id)


def test_contact_groups_do_not_show_out_of_scope_contacts(client, login, world):
    """Groups of entities outside a Staff member's scope are 404, absent from lists and filters."""
    login(client, world.acc)
    assert "Secretperson" not in client.get("/contactgroupview/list/").get_data(as_text=True)
    assert client.get(f"/contactgroupview/show/{world.group}").status_code == 404
    filtered = client.get(f"/contactgroupview/list/?_flt_0_members={world.theirs}").get_data(as_text=True)
    assert "VIP clients" not in filtered


def test_owner_cannot_share_with_a_group_outside_their_scope(app, client, login, world):
    """The share form does not accept a group the Owner cannot see, so no contact details leak."""
    login(client, world.acc)
    token = csrf_token(client, "/entityshareview/add")
    with app.app_context():
        role_id = f.role(R.ENTITY_ACCESS).id
    response = client.post("/entityshareview/add", data={
        "csrf_token": token, "entity": world.own, "group": world.group, "role": role_id})
    assert response.status_code == 200
    assert client.get(f"/contactview/show/{world.theirs}").status_code == 404


def test_staff_admin_cannot_grant_entity_access_through_contact_groups(app, client, login, world):
    """The contact form has no group field: membership (which grants access) is an Entities Admin's."""
    login(client, world.staff_admin)
    token = csrf_token(client, f"/contactview/edit/{world.mine}")
    client.post(f"/contactview/edit/{world.mine}", data={
        "csrf_token": token, "first_name": "Mia", "last_name": "Mine", "username": "mine.contact",
        "primary_email": "mine@client.example", "language": "en", "portal_state": "not_invited",
        "groups": world.group})
    with app.app_context():
        assert db.session.get(Contact, world.mine).groups == []


def _admin_through_group(app):
    with app.app_context():
        boss = f.staff(R.STAFF, username="boss")
        db.session.add(Group(name="admins", label="Admins", roles=[f.role(R.ADMIN)], users=[boss]))
        db.session.commit()
        return boss.id


def test_admin_through_a_fab_group_is_protected_from_a_staff_admin(app, client, login, world):
    """A Staff Admin can neither reset the password of nor edit an Admin who is one through a group."""
    boss = _admin_through_group(app)
    login(client, world.staff_admin)
    assert client.get(f"/resetpassword/form?pk={boss}").status_code == 403
    token = csrf_token(client, "/resetmypassword/form")
    response = client.post(f"/resetpassword/form?pk={boss}", data={
        "csrf_token": token, "password": "Attacker-Pass-123!", "conf_password": "Attacker-Pass-123!"})
    assert response.status_code == 403
    assert client.get(f"/users/edit/{boss}").status_code == 403
    with app.app_context():
        assert not check_password_hash(db.session.get(User, boss).password, "Attacker-Pass-123!")


def test_staff_admin_cannot_give_themselves_entities_admin(app, client, login, world):
    """Entities Admin (and Admin) are not offered to, nor accepted from, a Staff Admin."""
    login(client, world.staff_admin)
    token = csrf_token(client, f"/users/edit/{world.staff_admin}")
    with app.app_context():
        roles = [f.role(R.STAFF_ADMIN).id, f.role(R.ENTITIES_ADMIN).id]
        me = db.session.get(User, world.staff_admin)
        form = {"csrf_token": token, "first_name": me.first_name, "last_name": me.last_name,
                "username": me.username, "email": me.email, "active": "y", "roles": roles}
    assert ">Entities Admin<" not in client.get(f"/users/edit/{world.staff_admin}").get_data(as_text=True)
    client.post(f"/users/edit/{world.staff_admin}", data=form)
    with app.app_context():
        assert R.ENTITIES_ADMIN not in [r.name for r in db.session.get(User, world.staff_admin).roles]


def test_changing_ones_own_password_needs_the_current_one(app, client, login, world):
    """/resetmypassword/form refuses a wrong current password and accepts the right one."""
    login(client, world.acc)
    token = csrf_token(client, "/resetmypassword/form")
    new = {"csrf_token": token, "password": "a-brand-new-password", "conf_password": "a-brand-new-password"}
    wrong = client.post("/resetmypassword/form", data=dict(new, current_password="not my password"))
    assert "This is not your current password." in wrong.get_data(as_text=True)
    with app.app_context():
        assert check_password_hash(db.session.get(User, world.acc).password, f.PASSWORD)
    client.post("/resetmypassword/form", data=dict(new, current_password=f.PASSWORD))
    with app.app_context():
        assert check_password_hash(db.session.get(User, world.acc).password, "a-brand-new-password")


ODD_URLS = [
    "/entityview/list/?_flt_2_kind=x", "/entityshareview/list/?_flt_5_entity=1",
    "/contactview/list/?_flt_1_groups=1", "/contactgroupview/list/?_flt_1_members=1",
    "/entityview/list/?_oc_EntityView=foo&_od_EntityView=asc", "/entityview/list/?page_EntityView=abc",
    "/entityview/list/?psize_EntityView=abc", "/entityview/list/?page_EntityView=99999999999999999999",
    "/entityview/list/?psize_EntityView=99999999999999999999", "/entityview/show/99999999999999999999",
    "/entityview/show/abc", "/contactview/show/99999999999999999999", "/users/show/99999999999999999999",
    "/users/show/abc", "/resetpassword/form?pk=%C2%B2", "/resetpassword/form?pk=99999999999999999999999",
    "/entityview/list/?_flt_0_responsible=abc", "/documentview/show/-1",
]


@pytest.mark.parametrize("url", ODD_URLS)
def test_malformed_ids_filters_and_pages_are_never_a_500(app, client, login, url):
    """Odd filter numbers, sort columns, page sizes and ids answer 4xx (or a normal page)."""
    with app.app_context():
        user = f.staff(R.STAFF_ADMIN)
        f.entity("E1", responsible=user)
        uid = user.id
    login(client, uid)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = client.get(url)
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code in (200, 302, 400, 403, 404), (url, response.status_code)


def test_single_row_actions_refuse_lists_and_bad_row_ids(app, client, login, world):
    """resetpasswords with two rows, or a non-numeric row id, is a 4xx, not a 500."""
    with app.app_context():
        other = f.staff(R.STAFF).id
    login(client, world.staff_admin)
    token = csrf_token(client, "/resetmypassword/form")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        two = client.post("/users/action_post", data={"csrf_token": token, "action": "resetpasswords",
                                                      "rowid": [other, world.acc]})
        bad = client.post("/entityshareview/action_post", data={"csrf_token": token, "action": "muldelete",
                                                                "rowid": ["abc"]})
        one = client.post("/users/action_post", data={"csrf_token": token, "action": "resetpasswords",
                                                      "rowid": [other]})
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert two.status_code == 400 and bad.status_code in (403, 404)
    assert one.status_code == 302 and "/resetpassword/form" in one.headers["Location"]


def test_generated_screens_read_as_words_not_python(app, client, login, world):
    """A member's page says Yes/No and a dash for no groups, never True, False or []; a save says "Saved."."""
    with app.app_context():
        admin = f.staff(R.ADMIN).id
    login(client, admin)
    page = client.get(f"/users/show/{world.acc}").get_data(as_text=True)
    assert client.get(f"/users/show/{world.acc}").status_code == 200
    for raw in (">True<", ">False<", "[]", "[<"):
        assert raw not in page.replace(" ", "").replace("\n", ""), raw
    assert "Yes" in page
    token = csrf_token(client, "/contactgroupview/add")
    saved = client.post("/contactgroupview/add", data={"name": "Quarterly filers", "csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    assert "Saved." in saved and "Added Row" not in saved


def test_no_list_or_add_screen_shows_python_values(app, client, login, world):
    """Every staff list and add page, as an Admin with rows on screen: no None, True, False, [] or __None as text."""
    import re

    with app.app_context():
        admin = f.staff(R.ADMIN).id
    login(client, admin)
    pages = sorted({str(r) for r in app.url_map.iter_rules() if "GET" in r.methods and "<" not in str(r)
                    and ("/list/" in str(r) or str(r).endswith("/add"))})
    assert len(pages) > 15
    shown = {}
    for page in pages:
        body = re.sub(r"<script.*?</script>", "", client.get(page).get_data(as_text=True), flags=re.S)
        raw = re.findall(r">\s*(None|True|False|\[\]|__None)\s*<", body)
        if raw:
            shown[page] = raw
    assert shown == {}
