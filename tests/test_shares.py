"""The sharing page of one entity: many grants at once, effective roles, removal, a new contact."""
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ActivityEvent, Contact, ContactGroup, Entity, EntityShare
from app.models.contacts import PortalState
from app.security import roles as R
from tests import factories as f
from tests.conftest import csrf_token

pytestmark = pytest.mark.usefixtures("fresh_redis")


@pytest.fixture
def desk(app):
    """Alpha (shared) and Beta (foreign to the Owner), their staff, contacts and a group."""
    with app.app_context():
        f.no_second_factor_policy()
        owner, viewer, other = f.staff(R.STAFF), f.staff(R.STAFF), f.staff(R.STAFF)
        admin, entities_admin, staff_admin = f.staff(R.ADMIN), f.staff(R.ENTITIES_ADMIN), f.staff(R.STAFF_ADMIN)
        alpha, beta = f.entity("Alpha Co"), f.entity("Beta Co", responsible=other)
        f.share(alpha, R.OWNER, user=owner)
        f.share(alpha, R.VIEWER, user=viewer)
        ann = f.contact(first="Ann", last="Able")
        bob = f.contact(first="Bob", last="Birch")
        f.share(alpha, R.ENTITY_ACCESS, contact=ann)
        f.share(alpha, R.ENTITY_ACCESS, contact=bob)
        stranger = f.contact(first="Sid", last="Stranger")
        f.share(beta, R.ENTITY_ACCESS, contact=stranger)
        family = f.group("Able family", members=[ann, bob])
        beta_group = f.group("Beta board", members=[stranger])
        f.share(beta, R.ENTITY_ACCESS, group=beta_group)
        gamma = f.entity("Gamma Co")  # staff see the groups shared on their entities: the family is one
        f.share(gamma, R.VIEWER, user=owner)
        f.share(gamma, R.ENTITY_ACCESS, group=family)
        return SimpleNamespace(owner=owner.id, viewer=viewer.id, other=other.id, admin=admin.id,
                               entities_admin=entities_admin.id, staff_admin=staff_admin.id, a=alpha.id, b=beta.id,
                               ann=ann.id, bob=bob.id, stranger=stranger.id, family=family.id,
                               beta_group=beta_group.id)


def _shares(app):
    with app.app_context():
        return sorted(db.session.execute(select(EntityShare.id, EntityShare.entity_id, EntityShare.user_id,
                                                EntityShare.contact_id, EntityShare.group_id,
                                                EntityShare.role_id)).all())


def _role_of(app, entity_id, **grantee):
    with app.app_context():
        share = db.session.scalar(select(EntityShare).filter_by(entity_id=entity_id, **grantee))
        return share.role.name if share else None


def _post(client, path, data, page):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def _share(client, desk, pairs, entity_id=None):
    entity_id = entity_id or desk.a
    data = {"grantee": [g for g, _r in pairs], "role": [r for _g, r in pairs]}
    return _post(client, f"/shares/{entity_id}/add", data, f"/shares/{desk.a}")


def test_an_owner_shares_with_a_group_and_a_colleague_at_once(app, client, login, desk):
    """One submission grants a group and a staff member their roles, and keeps both in the activity."""
    login(client, desk.owner)
    response = _share(client, desk, [(f"g:{desk.family}", R.ENTITY_COLLABORATOR), (f"u:{desk.other}", R.VIEWER)])
    assert response.status_code == 302
    assert _role_of(app, desk.a, group_id=desk.family) == R.ENTITY_COLLABORATOR
    assert _role_of(app, desk.a, user_id=desk.other) == R.VIEWER
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(ActivityEvent.verb == "share.granted")) == 2


def test_a_second_share_of_the_same_person_changes_the_role(app, client, login, desk):
    """Sharing again with someone who has a share updates its role; no second row appears."""
    login(client, desk.owner)
    before = len(_shares(app))
    assert _share(client, desk, [(f"c:{desk.ann}", R.ENTITY_COLLABORATOR)]).status_code == 302
    assert _role_of(app, desk.a, contact_id=desk.ann) == R.ENTITY_COLLABORATOR
    assert len(_shares(app)) == before


def test_a_staff_member_who_may_not_share_gets_403(app, client, login, desk):
    """A Viewer of the entity and a Staff Admin (no Shares add permission) are refused; nothing changes."""
    before = _shares(app)
    login(client, desk.viewer)
    assert client.get(f"/shares/{desk.a}").status_code == 403
    token = csrf_token(client, "/resetmypassword/form")
    response = client.post(f"/shares/{desk.a}/add", data={"csrf_token": token, "grantee": f"c:{desk.stranger}",
                                                          "role": R.ENTITY_ACCESS})
    assert response.status_code == 403
    login(client, desk.staff_admin)
    assert client.get(f"/shares/{desk.a}").status_code == 403
    assert _shares(app) == before


def test_a_foreign_entity_is_404(app, client, login, desk):
    """An entity outside the user's scope (or unknown, or malformed) answers 404 and nothing is written."""
    login(client, desk.owner)
    before = _shares(app)
    assert client.get(f"/shares/{desk.b}").status_code == 404
    assert client.get(f"/shares/{desk.b}/search?q=a").status_code == 404
    assert client.get("/shares/99999999").status_code == 404
    assert client.get("/shares/x1").status_code == 404
    assert _share(client, desk, [(f"c:{desk.ann}", R.ENTITY_ACCESS)], entity_id=desk.b).status_code == 404
    assert _shares(app) == before


@pytest.mark.parametrize("foreign", ["c:stranger", "g:beta_group", "c:999999", "u:999999"])
def test_a_foreign_contact_group_or_user_is_404_and_nothing_is_written(app, client, login, desk, foreign):
    """One foreign id among good rows refuses the whole submission with 404; no share is written."""
    kind, name = foreign.split(":")
    pk = getattr(desk, name) if not name.isdigit() else name
    role = R.VIEWER if kind == "u" else R.ENTITY_ACCESS
    login(client, desk.owner)
    before = _shares(app)
    response = _share(client, desk, [(f"g:{desk.family}", R.ENTITY_ACCESS), (f"{kind}:{pk}", role)])
    assert response.status_code == 404
    assert _shares(app) == before


def test_a_role_the_user_may_not_grant_is_refused(app, client, login, desk):
    """An entity Owner may not make another Owner (privileged): 403, nothing written; an Entities Admin may."""
    login(client, desk.owner)
    page = client.get(f"/shares/{desk.a}").get_data(as_text=True)
    assert f'value="{R.OWNER}"' not in page and f'value="{R.VIEWER}"' in page
    before = _shares(app)
    response = _share(client, desk, [(f"g:{desk.family}", R.ENTITY_ACCESS), (f"u:{desk.other}", R.OWNER)])
    assert response.status_code == 403
    assert _shares(app) == before
    login(client, desk.entities_admin)
    assert _share(client, desk, [(f"u:{desk.other}", R.OWNER)]).status_code == 302
    assert _role_of(app, desk.a, user_id=desk.other) == R.OWNER


def test_an_owner_may_not_downgrade_or_remove_an_owner_share(app, client, login, desk):
    """Changing or removing a share of a role the user cannot grant is 403 and leaves it as it was."""
    with app.app_context():
        colleague = f.staff(R.STAFF)
        share = f.share(db.session.get(Entity, desk.a), R.OWNER, user=colleague)
        colleague_id, share_id = colleague.id, share.id
    login(client, desk.owner)
    assert _share(client, desk, [(f"u:{colleague_id}", R.VIEWER)]).status_code == 403
    response = _post(client, f"/shares/{desk.a}/remove", {"share_id": share_id}, f"/shares/{desk.a}")
    assert response.status_code == 403
    assert _role_of(app, desk.a, user_id=colleague_id) == R.OWNER


@pytest.mark.parametrize("pairs, message", [
    ([], "Choose at least one"),
    ([("c:abc", R.ENTITY_ACCESS)], "Pick people and groups"),
    ([("c:{ann}", "Superuser")], "Choose a role"),
    ([("u:{other}", R.ENTITY_ACCESS)], "Staff members can only"),
    ([("c:{ann}", R.VIEWER)], "Contacts and contact groups can only"),
    ([("c:{ann}", R.ENTITY_ACCESS), ("c:{ann}", R.ENTITY_COLLABORATOR)], "only once"),
])
def test_bad_input_gives_a_form_error_and_writes_nothing(app, client, login, desk, pairs, message):
    """Malformed picks, unknown or mismatched roles and duplicates re-show the page with the reason."""
    login(client, desk.owner)
    before = _shares(app)
    pairs = [(g.format(ann=desk.ann, other=desk.other), r) for g, r in pairs]
    response = _share(client, desk, pairs)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _shares(app) == before


def test_the_page_shows_effective_roles_through_a_group(app, client, login, desk):
    """A contact with Entity Access directly and Collaborator through a group shows Collaborator, both sources."""
    with app.app_context():
        f.share(db.session.get(Entity, desk.a), R.ENTITY_COLLABORATOR, group=db.session.get(ContactGroup, desk.family))
    login(client, desk.owner)
    body = client.get(f"/shares/{desk.a}").get_data(as_text=True)
    table = body.split('id="effective-access"')[1].split("</table>")[0]
    ann_row = table.split("Ann Able")[1].split("</tr>")[0]
    assert "<strong>Entity Collaborator</strong>" in ann_row
    assert "Direct: Entity Access" in ann_row and "Group Able family: Entity Collaborator" in ann_row
    assert "Stranger" not in body and "Beta board" not in body


def test_the_page_runs_a_fixed_number_of_queries(app, client, login, desk, count_queries):
    """The page costs the same number of SQL statements with 2 or 30 people and groups."""
    with app.app_context():
        alpha = db.session.get(Entity, desk.a)
        f.share(alpha, R.ENTITY_ACCESS, group=db.session.get(ContactGroup, desk.family))
    login(client, desk.owner)
    client.get(f"/shares/{desk.a}")

    def measure():
        with count_queries() as n:
            assert client.get(f"/shares/{desk.a}").status_code == 200
        return n()

    small = measure()
    with app.app_context():
        alpha = db.session.get(Entity, desk.a)
        members = [f.contact() for _ in range(10)]
        for _ in range(5):
            f.share(alpha, R.ENTITY_ACCESS, contact=f.contact())
            f.share(alpha, R.VIEWER, user=f.staff(R.STAFF))
        for i in range(3):
            f.share(alpha, R.ENTITY_COLLABORATOR, group=f.group(members=members[i * 3:i * 3 + 4]))
    large = measure()
    assert large == small, (small, large)
    assert small <= 25


def test_remove_takes_a_share_back_and_checks_its_entity(app, client, login, desk):
    """Remove deletes the share of this entity; a share of another entity (or nonsense) is 404."""
    with app.app_context():
        ann_share = db.session.scalar(select(EntityShare.id).filter_by(entity_id=desk.a, contact_id=desk.ann))
        beta_share = db.session.scalar(select(EntityShare.id).filter_by(entity_id=desk.b, contact_id=desk.stranger))
    login(client, desk.owner)
    page = f"/shares/{desk.a}"
    assert _post(client, f"{page}/remove", {"share_id": beta_share}, page).status_code == 404
    assert _post(client, f"{page}/remove", {"share_id": "1x"}, page).status_code == 404
    assert _role_of(app, desk.b, contact_id=desk.stranger) == R.ENTITY_ACCESS
    assert _post(client, f"{page}/remove", {"share_id": ann_share}, page).status_code == 302
    assert _role_of(app, desk.a, contact_id=desk.ann) is None


def test_search_offers_only_people_in_scope(app, client, login, desk):
    """The picker finds contacts and groups of the user's entities and staff, never a foreign contact."""
    login(client, desk.owner)
    found = client.get(f"/shares/{desk.a}/search?q=b").get_json()
    ids = {child["id"] for group in found["results"] for child in group["children"]}
    assert f"c:{desk.bob}" in ids and f"g:{desk.family}" in ids
    assert f"c:{desk.stranger}" not in ids and f"g:{desk.beta_group}" not in ids
    staff = client.get(f"/shares/{desk.a}/search?q=Member").get_json()
    assert any(child["id"] == f"u:{desk.other}" for group in staff["results"] for child in group["children"])


def _new_contact(client, desk, **fields):
    data = {"first_name": "Nora", "last_name": "New", "email": "nora.new@client.example", "language": "et",
            "role": R.ENTITY_COLLABORATOR, **fields}
    return _post(client, f"/shares/{desk.a}/contact", data, f"/shares/{desk.a}")


def test_an_admin_adds_a_contact_with_its_role_and_invites_them(app, client, login, desk):
    """One form creates the contact, its share of the entity and queues the invitation."""
    from app.jobs import queue

    login(client, desk.admin)
    response = _new_contact(client, desk, invite="y")
    assert response.status_code == 302
    with app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.last_name == "New"))
        assert contact.primary_email == "nora.new@client.example" and contact.language == "et"
        assert contact.portal_state is PortalState.invited
        assert any(job_id.startswith(f"invite-{contact.id}-") for job_id in queue().job_ids)
        contact_id = contact.id
    assert _role_of(app, desk.a, contact_id=contact_id) == R.ENTITY_COLLABORATOR


def test_a_new_contact_with_a_taken_email_is_a_form_error(app, client, login, desk):
    """An address another contact has (in any case) re-shows the form; no contact and no share are written."""
    login(client, desk.admin)
    with app.app_context():
        taken = db.session.get(Contact, desk.stranger).primary_email.upper()
        contacts = db.session.scalar(select(func.count(Contact.id)))
    before = _shares(app)
    response = _new_contact(client, desk, email=taken)
    assert response.status_code == 200
    assert "already belongs to a contact" in response.get_data(as_text=True)
    bad = _new_contact(client, desk, email="not an address", first_name="")
    assert bad.status_code == 200 and "has-error" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Contact.id))) == contacts
    assert _shares(app) == before


def test_adding_a_contact_needs_the_contact_add_right_and_a_grantable_role(app, client, login, desk):
    """An Owner without the Contacts add permission gets 403; a staff role for a contact is a form error."""
    login(client, desk.owner)
    assert 'id="contact-form"' not in client.get(f"/shares/{desk.a}").get_data(as_text=True)
    token = csrf_token(client, f"/shares/{desk.a}")
    response = client.post(f"/shares/{desk.a}/contact", data={"csrf_token": token, "first_name": "X",
                                                              "last_name": "Y", "email": "x@y.example",
                                                              "language": "en", "role": R.ENTITY_ACCESS})
    assert response.status_code == 403
    login(client, desk.admin)
    assert _new_contact(client, desk, role=R.OWNER).status_code == 200
    login(client, desk.entities_admin)  # may share, may not create contacts
    assert _new_contact(client, desk).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Contact.id).where(Contact.last_name == "New")) is None


def _sign_in(page, base, username):
    page.goto(base + "/login/")
    page.fill("#username", username)
    page.fill("#password", f.PASSWORD)
    with page.expect_navigation():
        page.press("#password", "Enter")


def test_sharing_many_in_chromium(app):
    """In a real browser an Admin picks a group and a colleague by search, shares, sees the effective roles,
    then adds and invites a new contact from the same page."""
    from tests import browser

    browser.require_chromium()
    with app.app_context():
        f.no_second_factor_policy()
        f.staff(R.ADMIN, username="sharer")
        colleague = f.staff(R.STAFF, username="colleague")
        colleague.first_name, colleague.last_name = "Cleo", "Colleague"
        alpha = f.entity("Alpha Co")
        ann, bob = f.contact(first="Ann", last="Able"), f.contact(first="Bob", last="Birch")
        f.share(alpha, R.ENTITY_ACCESS, contact=ann)
        f.group("Able family", members=[ann, bob])
        db.session.commit()
        entity_id = alpha.id
    problems = []
    with browser.live_server(app) as base, browser.chromium() as chrome:
        page = browser.watch(chrome.new_page(viewport=browser.DESKTOP), problems)
        _sign_in(page, base, "sharer")
        page.goto(f"{base}/shares/{entity_id}")
        for row, (text, option, role) in enumerate([("Able", "Able family", R.ENTITY_COLLABORATOR),
                                                    ("Colleague", "Cleo Colleague", R.VIEWER)]):
            page.click(f"#grantee-{row} + .select2 .select2-selection")
            page.fill(".select2-search__field", text)
            page.click(f'.select2-results__option:has-text("{option}")')
            page.select_option(f"#role-{row}", role)
        with page.expect_navigation():
            page.click("#share-form button[type=submit]")
        table = page.inner_text("#effective-access")
        assert "Cleo Colleague" in table and "Bob Birch" in table and "Group Able family" in table
        page.get_by_label("First name").fill("Nora")
        page.get_by_label("Last name").fill("New")
        page.get_by_label("E-mail").fill("nora.new@client.example")
        page.select_option("#contact-form #role", R.ENTITY_ACCESS)
        page.get_by_label("Invite to the portal now").check()
        with page.expect_navigation():
            page.click("#contact-form button[type=submit]")
        assert "Nora New" in page.inner_text("#effective-access")
        assert "Invited" in page.inner_text("#effective-access")
        browser.screenshot(page, "shares-entity")
    assert problems == []
