"""/api/v1/shares: the access matrix of tokens, who may grant which role, validation and statement counts."""
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import EntityShare
from app.security import roles as R
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for

URL = "/api/v1/shares/"


@pytest.fixture
def people(app):
    """Entities A and B, each shared with a contact; staff of each global role, an Owner and a Viewer of A."""
    with app.app_context():
        a, b = f.entity("Alpha Co"), f.entity("Beta Co")
        ann, bob, cy = f.contact("Ann"), f.contact("Bob"), f.contact("Cy")
        users = {name: f.staff(role) for name, role in (
            ("admin", R.ADMIN), ("entities_admin", R.ENTITIES_ADMIN), ("staff_admin", R.STAFF_ADMIN),
            ("owner", R.STAFF), ("viewer", R.STAFF), ("colleague", R.STAFF))}
        share_a = f.share(a, R.ENTITY_ACCESS, contact=ann)
        share_b = f.share(b, R.ENTITY_ACCESS, contact=bob)
        f.share(a, R.OWNER, user=users["owner"])
        f.share(a, R.VIEWER, user=users["viewer"])
        f.share(b, R.ENTITY_ACCESS, contact=cy)  # Cy is visible to A's staff only through B: not at all
        tokens = {name: token_for(user) for name, user in users.items()}
        return SimpleNamespace(a=a.id, b=b.id, ann=ann.id, bob=bob.id, cy=cy.id, share_a=share_a.id,
                               share_b=share_b.id, ids={n: u.id for n, u in users.items()}, **tokens)


def _shares(app):
    with app.app_context():
        return sorted((s.id, s.entity_id, s.user_id, s.contact_id, s.group_id, s.role.name)
                      for s in db.session.scalars(select(EntityShare)))


def _etag(client, token, pk):
    return call(client, "GET", f"{URL}{pk}", token).headers.get("ETag", '"none"')


@pytest.mark.parametrize("who", ["owner", "viewer", "colleague"])
def test_scoped_token_gets_404_on_foreign_shares_and_changes_nothing(app, client, people, who):
    """A scoped member's token × B's share: read, change, delete 404; granting on B is 422; nothing changes."""
    token, before = getattr(people, who), _shares(app)
    etag = _etag(client, people.admin, people.share_b)
    for method, body in (("GET", None), ("PATCH", {"role": R.ENTITY_COLLABORATOR}), ("DELETE", None)):
        assert is_problem(call(client, method, f"{URL}{people.share_b}", token, json=body,
                               headers={"If-Match": etag}), 404), method
    response = call(client, "POST", URL, token, json={"entity_id": people.b, "role": R.ENTITY_ACCESS,
                                                        "contact_id": people.ann})
    assert response.status_code in (403, 422)
    listed = {r["entity_id"] for r in call(client, "GET", URL, token).get_json()["items"]}
    assert people.b not in listed
    assert _shares(app) == before


def test_owner_shares_with_contacts_but_not_as_owner(app, client, people):
    """An Owner grants Entity Collaborator to a contact they see, may not make an Owner (403), and may not
    reach a contact they cannot see (422)."""
    ok = call(client, "POST", URL, people.owner, json={"entity_id": people.a, "role": R.VIEWER,
                                                       "user_id": people.ids["colleague"]})
    assert ok.status_code == 201, ok.get_data(as_text=True)
    assert ok.get_json()["role"] == R.VIEWER and ok.get_json()["user_id"] == people.ids["colleague"]
    assert is_problem(call(client, "POST", URL, people.owner, json={
        "entity_id": people.a, "role": R.OWNER, "user_id": people.ids["staff_admin"]}), 403)
    assert is_problem(call(client, "POST", URL, people.owner, json={
        "entity_id": people.a, "role": R.ENTITY_ACCESS, "contact_id": people.cy}), 422)
    duplicate = call(client, "POST", URL, people.owner, json={"entity_id": people.a, "role": R.ENTITY_COLLABORATOR,
                                                              "contact_id": people.ann})
    assert is_problem(duplicate, 422) and "contact_id" in duplicate.get_json()["errors"]


@pytest.mark.parametrize("who, status", [("viewer", 403), ("staff_admin", 403), ("owner", 200),
                                         ("entities_admin", 200)])
def test_changing_and_revoking_need_the_share_right(app, client, people, who, status):
    """A Viewer and a Staff Admin see A's shares but may not change them (403); an Owner and an Entities Admin may."""
    token, before = getattr(people, who), _shares(app)
    path = f"{URL}{people.share_a}"
    changed = call(client, "PATCH", path, token, json={"role": R.ENTITY_COLLABORATOR},
                   headers={"If-Match": _etag(client, token, people.share_a)})
    assert changed.status_code == status
    if status == 403:
        assert _shares(app) == before
        assert is_problem(call(client, "DELETE", path, token, headers={"If-Match": _etag(client, token, people.share_a)}),
                          403)
    else:
        assert changed.get_json()["role"] == R.ENTITY_COLLABORATOR
        assert call(client, "DELETE", path, token, headers={"If-Match": changed.headers["ETag"]}).status_code == 204
        assert is_problem(call(client, "GET", path, token), 404)


@pytest.mark.parametrize("body", [
    {"entity_id": 1, "role": R.ENTITY_ACCESS},
    {"entity_id": 1, "role": R.ENTITY_ACCESS, "contact_id": 1, "group_id": 1},
    {"entity_id": 1, "role": "Emperor", "contact_id": 1},
    {"entity_id": "1", "role": R.ENTITY_ACCESS, "contact_id": 1},
    {"entity_id": 2**64, "role": R.ENTITY_ACCESS, "contact_id": 1},
    {"entity_id": 1, "role": R.OWNER, "contact_id": 1},
    {"entity_id": 1, "role": R.ENTITY_ACCESS, "contact_id": 1, "created_on": "2020-01-01"},
])
def test_bad_share_bodies_are_422_and_write_nothing(app, client, people, body):
    """No grantee or two, unknown roles, ids as strings or too big, a staff role for a contact, extra fields: 422."""
    body = {k: (people.a if k == "entity_id" and v == 1 else people.ann if k == "contact_id" else v)
            for k, v in body.items()}
    before = _shares(app)
    assert is_problem(call(client, "POST", URL, people.admin, json=body), 422)
    assert _shares(app) == before


def test_share_list_filters_and_fixed_statements(app, client, people, count_queries):
    """entity_id and role narrow the list; a page of 5 or 40 shares runs the same statements."""
    ids = lambda **q: sorted(r["id"] for r in call(client, "GET", URL, people.admin, query_string=q).get_json()["items"])  # noqa: E731
    assert ids(entity_id=str(people.b), role=R.ENTITY_ACCESS) == sorted(
        [people.share_b, ids(entity_id=str(people.b), contact_id=str(people.cy))[0]])
    assert is_problem(call(client, "GET", URL, people.admin, query_string={"role": "Nonsense"}), 400)
    with count_queries() as n:
        call(client, "GET", URL, people.admin)
    few = n()
    with app.app_context():
        for k in range(35):
            f.share(f.entity(f"More {k}"), R.ENTITY_ACCESS, contact=f.contact(f"M{k}"))
    with count_queries() as n:
        call(client, "GET", URL, people.admin)
    assert n() == few
