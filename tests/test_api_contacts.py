"""/api/v1/contacts, /contact-emails, /contact-groups: the access matrix of tokens, the screens'
permissions, validation, pages and statement counts."""
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Contact, ContactEmail, ContactGroup
from app.security import roles as R
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for

CONTACTS, EMAILS, GROUPS = "/api/v1/contacts/", "/api/v1/contact-emails/", "/api/v1/contact-groups/"


@pytest.fixture
def people(app):
    """Entities A (contact Ann, group GA) and B (contact Bob, group GB); tokens of each global role and of
    an Owner of A."""
    with app.app_context():
        a, b = f.entity("Alpha Co"), f.entity("Beta Co")
        ann, bob = f.contact("Ann"), f.contact("Bob")
        f.share(a, R.ENTITY_ACCESS, contact=ann)
        f.share(b, R.ENTITY_ACCESS, contact=bob)
        ga, gb = f.group("GA", members=[ann]), f.group("GB", members=[bob])
        f.share(a, R.ENTITY_ACCESS, group=ga)
        f.share(b, R.ENTITY_ACCESS, group=gb)
        users = {name: f.staff(role) for name, role in (
            ("admin", R.ADMIN), ("entities_admin", R.ENTITIES_ADMIN), ("staff_admin", R.STAFF_ADMIN),
            ("owner", R.STAFF), ("staff", R.STAFF))}
        f.share(a, R.OWNER, user=users["owner"])
        tokens = {name: token_for(user) for name, user in users.items()}
        return SimpleNamespace(ann=ann.id, bob=bob.id, ann_email=ann.emails[0].id, bob_email=bob.emails[0].id,
                               ga=ga.id, gb=gb.id, **tokens)


def _state(app):
    with app.app_context():
        return (sorted((c.id, c.first_name, c.phone) for c in db.session.scalars(select(Contact))),
                sorted((e.id, e.email, e.is_primary) for e in db.session.scalars(select(ContactEmail))),
                sorted((g.id, g.name, tuple(sorted(m.id for m in g.members)))
                       for g in db.session.scalars(select(ContactGroup))))


def _etag(client, token, path):
    return call(client, "GET", path, token).headers.get("ETag", '"none"')


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_scoped_token_gets_404_on_foreign_contacts_addresses_and_groups(app, client, people, who):
    """A scoped member's token × Bob, his address and group GB: read, change, delete are 404; nothing changes."""
    token, before = getattr(people, who), _state(app)
    for path in (f"{CONTACTS}{people.bob}", f"{EMAILS}{people.bob_email}", f"{GROUPS}{people.gb}"):
        etag = _etag(client, people.admin, path)
        for method, body in (("GET", None), ("PATCH", {}), ("DELETE", None)):
            response = call(client, method, path, token, json=body, headers={"If-Match": etag})
            assert is_problem(response, 404), (path, method, response.status_code)
    listed = {path: [r["id"] for r in call(client, "GET", path, token).get_json()["items"]]
              for path in (CONTACTS, EMAILS, GROUPS)}
    own = who == "owner"
    assert listed == {CONTACTS: [people.ann] if own else [], EMAILS: [people.ann_email] if own else [],
                      GROUPS: [people.ga] if own else []}
    assert _state(app) == before


@pytest.mark.parametrize("who, path, body, status", [
    ("owner", CONTACTS + "{ann}", {"phone": "+372 5555 1234"}, 403),  # Staff read contacts only
    ("entities_admin", CONTACTS + "{ann}", {"phone": "+372 5555 1234"}, 403),
    ("staff_admin", CONTACTS + "{ann}", {"phone": "+372 5555 1234"}, 200),
    ("owner", GROUPS + "{ga}", {"name": "Renamed"}, 403),  # groups: Entities Admin writes
    ("staff_admin", GROUPS + "{ga}", {"name": "Renamed"}, 403),
    ("entities_admin", GROUPS + "{ga}", {"name": "Renamed"}, 200),
    ("owner", EMAILS + "{ann_email}", {"email": "new@client.example"}, 403),
    ("staff_admin", EMAILS + "{ann_email}", {"email": "new@client.example"}, 200),
])
def test_changes_follow_the_people_screens_permissions(app, client, people, who, path, body, status):
    """In scope without the screen's edit permission is 403 and changes nothing; with it, 200."""
    path = path.format(**vars(people))
    token, before = getattr(people, who), _state(app)
    response = call(client, "PATCH", path, token, json=body, headers={"If-Match": _etag(client, token, path)})
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 403:
        assert is_problem(response, 403) and _state(app) == before


def test_create_contact_then_address_then_group(app, client, people):
    """A Staff Admin creates a contact (its address primary) and a merged address; an Entities Admin a group."""
    made = call(client, "POST", CONTACTS, people.staff_admin, json={
        "first_name": "Cy", "last_name": "New", "username": "cy.new", "primary_email": "CY@Client.example"})
    assert made.status_code == 201, made.get_data(as_text=True)
    contact = made.get_json()
    assert contact["primary_email"] == "cy@client.example" and contact["portal_state"] == "not_invited"
    extra = call(client, "POST", EMAILS, people.staff_admin, json={"contact_id": contact["id"], "email": "cy2@x.example"})
    assert extra.status_code == 201 and extra.get_json()["is_primary"] is False
    second_primary = call(client, "POST", EMAILS, people.staff_admin,
                          json={"contact_id": contact["id"], "email": "cy3@x.example", "is_primary": True})
    assert is_problem(second_primary, 422) and "is_primary" in second_primary.get_json()["errors"]
    group = call(client, "POST", GROUPS, people.entities_admin, json={"name": "Family", "member_ids": [contact["id"]]})
    assert group.status_code == 201 and group.get_json()["member_ids"] == [contact["id"]]
    assert is_problem(call(client, "POST", GROUPS, people.staff_admin, json={"name": "No"}), 403)
    assert is_problem(call(client, "POST", CONTACTS, people.owner, json={
        "first_name": "N", "last_name": "O", "username": "nope", "primary_email": "no@x.example"}), 403)


@pytest.mark.parametrize("body, field", [
    ({"first_name": "A", "last_name": "B", "username": "ab", "primary_email": "ab@x.example"}, "username"),
    ({"first_name": "A", "last_name": "B", "username": "a b!", "primary_email": "ab@x.example"}, "username"),
    ({"first_name": "A", "last_name": "B", "username": "abc", "primary_email": "not-an-email"}, "primary_email"),
    ({"first_name": "A", "last_name": "B", "username": "abc", "primary_email": "ab@x.example", "language": "xx"},
     "language"),
    ({"first_name": "A", "last_name": "B", "username": "abc", "primary_email": "ab@x.example", "phone": "call me"},
     "phone"),
    ({"first_name": "A", "last_name": "B", "username": "abc", "primary_email": "ab@x.example", "portal_state": "active"},
     "portal_state"),
    ({"first_name": "A", "last_name": "B", "username": "abc", "primary_email": "ab@x.example", "user_id": 1},
     "user_id"),
])
def test_contact_bodies_are_validated(app, client, people, body, field):
    """Short or odd user names, bad addresses, languages and phones, and owner fields (mass assignment): 422."""
    before = _state(app)
    response = call(client, "POST", CONTACTS, people.staff_admin, json=body)
    assert is_problem(response, 422) and field in response.get_json()["errors"]
    assert _state(app) == before


def test_taken_address_and_username_are_422(app, client, people):
    """Another contact's address (any case) or user name: 422 on the field, nothing written."""
    with app.app_context():
        ann = db.session.get(Contact, people.ann)
        address, username = ann.primary_email.upper(), ann.username
    before = _state(app)
    taken = call(client, "POST", CONTACTS, people.staff_admin, json={
        "first_name": "A", "last_name": "B", "username": "fresh", "primary_email": address})
    assert is_problem(taken, 422) and "primary_email" in taken.get_json()["errors"]
    taken = call(client, "POST", CONTACTS, people.staff_admin, json={
        "first_name": "A", "last_name": "B", "username": username, "primary_email": "fresh@x.example"})
    assert is_problem(taken, 422) and "username" in taken.get_json()["errors"]
    assert _state(app) == before


def test_group_members_must_be_contacts_in_scope(app, client, people):
    """Unknown member ids, strings and huge numbers are 422 (the group is unchanged)."""
    path = f"{GROUPS}{people.ga}"
    for members in ([999999], ["1"], [2**63], [people.ann, None]):
        response = call(client, "PATCH", path, people.entities_admin, json={"member_ids": members},
                        headers={"If-Match": _etag(client, people.entities_admin, path)})
        assert is_problem(response, 422), members


def test_filters_of_contacts_and_groups(client, people):
    """name, email (primary or merged) and member_id narrow the lists."""
    ids = lambda path, **q: [r["id"] for r in call(client, "GET", path, people.admin, query_string=q).get_json()["items"]]  # noqa: E731
    assert ids(CONTACTS, name="ANN") == [people.ann]
    assert ids(GROUPS, member_id=str(people.bob)) == [people.gb]
    assert ids(EMAILS, contact_id=str(people.bob)) == [people.bob_email]
    with_address = call(client, "GET", f"{CONTACTS}{people.bob}", people.admin).get_json()["primary_email"]
    assert ids(CONTACTS, email=with_address.upper()) == [people.bob]


def test_delete_contact_needs_if_match_and_the_delete_permission(app, client, people):
    """A Staff Admin deletes a contact with its ETag; the Entities Admin (read-only on contacts) gets 403."""
    path = f"{CONTACTS}{people.ann}"
    etag = _etag(client, people.staff_admin, path)
    assert is_problem(call(client, "DELETE", path, people.entities_admin, headers={"If-Match": etag}), 403)
    assert call(client, "DELETE", path, people.staff_admin, headers={"If-Match": etag}).status_code == 204
    with app.app_context():
        assert db.session.get(Contact, people.ann) is None


def test_contact_pages_run_a_fixed_number_of_statements(app, client, people, count_queries):
    """A page of contacts with their addresses, and of groups with members: the same statements for 2 or 30 rows."""
    def listing(path):
        with count_queries() as n:
            assert call(client, "GET", path, people.admin).status_code == 200
        return n()

    few = listing(CONTACTS), listing(GROUPS)
    with app.app_context():
        extra = [f.contact(f"Extra{n}") for n in range(28)]
        for n in range(5):
            f.group(f"Bulk {n}", members=extra[n * 5:(n + 1) * 5])
    assert (listing(CONTACTS), listing(GROUPS)) == few
