"""/api/v1/entities: the access matrix of tokens, ETag / If-Match, keyset pages, filters, bad input and
statement counts."""
from types import SimpleNamespace

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app.extensions import db
from app.models import ActivityEvent, Entity
from app.models.entities import EntityKind
from app.security import roles as R
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for, walk

URL = "/api/v1/entities/"
BIG = str(2**64)


@pytest.fixture
def people(app):
    """Entities A and B; a token for an Admin, Entities Admin, Staff Admin, an Owner and a Viewer of A,
    and a Staff member with no share."""
    with app.app_context():
        a, b = f.entity("Alpha Co", tax_id="123-45-6789"), f.entity("Beta Co")
        users = {name: f.staff(role) for name, role in (
            ("admin", R.ADMIN), ("entities_admin", R.ENTITIES_ADMIN), ("staff_admin", R.STAFF_ADMIN),
            ("owner", R.STAFF), ("viewer", R.STAFF), ("staff", R.STAFF))}
        f.share(a, R.OWNER, user=users["owner"])
        f.share(a, R.VIEWER, user=users["viewer"])
        tokens = {name: token_for(user) for name, user in users.items()}
        return SimpleNamespace(a=a.id, b=b.id, ids={n: u.id for n, u in users.items()}, **tokens)


def _snapshot(app):
    with app.app_context():
        return sorted((e.id, e.name, e.status.value, e.tax_id) for e in db.session.scalars(select(Entity)))


def _etag(client, token, pk):
    return call(client, "GET", f"{URL}{pk}", token).headers["ETag"]


@pytest.mark.parametrize("who", ["owner", "viewer", "staff"])
def test_scoped_token_gets_404_on_every_foreign_id_and_changes_nothing(app, client, people, who):
    """A scoped member's token × entity B: read, change and delete are 404; the list leaves B out."""
    token, before = getattr(people, who), _snapshot(app)
    admin_etag = _etag(client, people.admin, people.b)
    for method, body in (("GET", None), ("PATCH", {"name": "Hijacked"}), ("DELETE", None)):
        response = call(client, method, f"{URL}{people.b}", token, json=body, headers={"If-Match": admin_etag})
        assert is_problem(response, 404), (method, response.status_code)
    listed = [row["id"] for row in call(client, "GET", URL, token).get_json()["items"]]
    assert people.b not in listed and listed == ([people.a] if who != "staff" else [])
    assert _snapshot(app) == before


@pytest.mark.parametrize("who, method, status", [
    ("viewer", "PATCH", 403), ("viewer", "DELETE", 403), ("staff_admin", "PATCH", 403),
    ("staff_admin", "DELETE", 403), ("owner", "PATCH", 200), ("entities_admin", "PATCH", 200),
])
def test_in_scope_without_the_right_is_403(app, client, people, who, method, status):
    """Viewers and Staff Admins read A but may not change or delete it (403); Owners and Entities Admins may."""
    token = getattr(people, who)
    etag = _etag(client, token, people.a)
    response = call(client, method, f"{URL}{people.a}", token, json={"name": "Alpha Two"} if method == "PATCH" else None,
                    headers={"If-Match": etag})
    assert response.status_code == status
    if status == 403:
        assert is_problem(response, 403)
        assert _snapshot(app)[0][1] == "Alpha Co"


@pytest.mark.parametrize("who, status", [("entities_admin", 201), ("admin", 201), ("staff", 403),
                                         ("staff_admin", 403), ("owner", 403)])
def test_create_needs_the_entities_screen_add_permission(app, client, people, who, status):
    """Creating follows the Entities screen: Admin and Entities Admin may, Staff and Staff Admin may not."""
    response = call(client, "POST", URL, getattr(people, who), json={"name": "Gamma", "kind": "trust"})
    assert response.status_code == status
    if status == 201:
        body = response.get_json()
        assert body["name"] == "Gamma" and body["kind"] == "trust" and body["status"] == "active"
        assert response.headers["Location"].endswith(f"{URL}{body['id']}") and response.headers["ETag"]
        with app.app_context():
            assert db.session.scalar(select(ActivityEvent.verb).where(ActivityEvent.entity_id == body["id"])) \
                == "entity.created"


def test_responsible_must_be_a_staff_member_in_scope(app, client, people):
    """responsible_id of an unknown user, a contact's account or a huge number is 422; a staff id is kept."""
    with app.app_context():
        portal_user = f.contact(with_user=True).user_id
    for bad in (999999, portal_user, 2**31, 2**64, "12", True):
        response = call(client, "POST", URL, people.entities_admin,
                        json={"name": "G", "kind": "trust", "responsible_id": bad})
        assert is_problem(response, 422) and "responsible_id" in response.get_json()["errors"], bad
    ok = call(client, "POST", URL, people.entities_admin,
              json={"name": "G", "kind": "trust", "responsible_id": people.ids["owner"]})
    assert ok.status_code == 201 and ok.get_json()["responsible_id"] == people.ids["owner"]


def test_etag_and_if_match(app, client, people):
    """A change needs If-Match: 428 without, 412 with a stale tag, 200 with the current one (new tag)."""
    path = f"{URL}{people.a}"
    etag = _etag(client, people.admin, people.a)
    assert is_problem(call(client, "PATCH", path, people.admin, json={"name": "X"}), 428)
    assert is_problem(call(client, "PATCH", path, people.admin, json={"name": "X"}, headers={"If-Match": '"stale"'}), 412)
    changed = call(client, "PATCH", path, people.admin, json={"status": "inactive"}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["status"] == "inactive"
    assert changed.headers["ETag"] != etag
    assert is_problem(call(client, "DELETE", path, people.admin, headers={"If-Match": etag}), 412)
    assert is_problem(call(client, "DELETE", path, people.admin), 428)
    deleted = call(client, "DELETE", path, people.admin, headers={"If-Match": changed.headers["ETag"]})
    assert deleted.status_code == 204
    assert is_problem(call(client, "GET", path, people.admin), 404)


def test_single_read_shows_the_tax_id_lists_mask_it(client, people):
    """The full tax id is in a single read only; lists carry the masked one."""
    one = call(client, "GET", f"{URL}{people.a}", people.admin).get_json()
    listed = call(client, "GET", URL, people.admin).get_json()["items"][0]
    assert one["tax_id"] == "123-45-6789" and "tax_id" not in listed and listed["tax_id_masked"].endswith("6789")


def test_keyset_pages_walk_every_row_exactly_once(app, client, people):
    """Pages of 7 over 27 entities give each id once, in order; the last page has no cursor."""
    with app.app_context():
        for n in range(25):
            f.entity(f"Bulk {n:02d}")
        expected = sorted(db.session.scalars(select(Entity.id)))
    items, pages = walk(client, URL, people.admin, 7)
    assert [row["id"] for row in items] == expected and pages == 4


def test_filters(app, client, people):
    """name (contains, any case), kind, status and responsible_id narrow the list; combined they intersect."""
    with app.app_context():
        f.entity("alphabet soup", kind=EntityKind.trust)
    names = lambda **q: [r["name"] for r in call(client, "GET", URL, people.admin, query_string=q).get_json()["items"]]  # noqa: E731
    assert names(name="ALPHA") == ["Alpha Co", "alphabet soup"]
    assert names(name="alpha", kind="trust") == ["alphabet soup"]
    assert names(status="archived") == []
    assert names(name="%") == [] and names(name="_") == []


@pytest.mark.parametrize("query", [{"cursor": "zzz"}, {"cursor": "djE6LTE"}, {"cursor": "x" * 100}, {"limit": "0"},
                                   {"limit": "1000"}, {"limit": "abc"}, {"kind": "spaceship"}, {"unknown": "1"},
                                   {"responsible_id": BIG}, {"responsible_id": str(2**31)}, {"responsible_id": "-1"}, {"name": ""}])
def test_bad_list_parameters_are_400(client, people, query):
    """Bad cursors, limits, filter values and unknown parameters: 400 problem details."""
    assert is_problem(call(client, "GET", URL, people.admin, query_string=query), 400)


@pytest.mark.parametrize("body, kwargs, status", [
    (None, {"data": "{not json", "content_type": "application/json"}, 400),
    (None, {"data": "[1, 2]", "content_type": "application/json"}, 400),
    (None, {"data": "name=x", "content_type": "application/x-www-form-urlencoded"}, 415),
    ({"name": "X", "kind": "company", "is_admin": True}, {}, 422),
    ({"name": 12, "kind": "company"}, {}, 422),
    ({"name": "X", "kind": "spaceship"}, {}, 422),
    ({"name": "", "kind": "company"}, {}, 422),
    ({"name": "X" * 201, "kind": "company"}, {}, 422),
    ({"kind": "company"}, {}, 422),
    ({"name": "X", "kind": "company", "tax_id": "abc"}, {}, 422),
    ({"name": "X", "kind": "company", "status": None}, {}, 422),
])
def test_bad_bodies_are_4xx_and_write_nothing(app, client, people, body, kwargs, status):
    """Malformed JSON, non-objects, form posts, unknown fields, wrong types and invalid values: 4xx, nothing saved."""
    before = _snapshot(app)
    response = call(client, "POST", URL, people.admin, json=body, **kwargs)
    assert is_problem(response, status), response.get_data(as_text=True)
    assert _snapshot(app) == before


def test_huge_and_odd_ids_in_paths_are_404(client, people):
    """2**64, negative and non-numeric ids, and unknown paths under /api/v1: 404 problem details, never 500."""
    for path in (f"{URL}{BIG}", f"{URL}{2**31}", f"{URL}{2**40}", f"{URL}-1", f"{URL}abc", "/api/v1/nothing-here",
                 f"{URL}{people.a}/x"):
        assert is_problem(call(client, "GET", path, people.admin), 404), path
    assert is_problem(call(client, "PUT", f"{URL}{people.a}", people.admin, json={}), 405)


def test_list_and_read_run_a_fixed_number_of_statements(app, client, people, count_queries):
    """A page of 3 rows and a page of 40 rows run the same number of SQL statements."""
    def listing():
        with count_queries() as n:
            assert call(client, "GET", URL, people.admin, query_string={"limit": "50"}).status_code == 200
        return n()

    few = listing()
    with app.app_context():
        responsible = db.session.get(User, people.ids["owner"])
        for n in range(38):
            f.entity(f"More {n}", responsible=responsible)
    assert listing() == few
    with count_queries() as n:
        call(client, "GET", f"{URL}{people.a}", people.admin)
    assert n() <= few


def test_no_session_cookie_is_set_by_the_api(client, people):
    """API answers never set a cookie."""
    response = call(client, "GET", URL, people.admin)
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("data", ['{"name": "A\\u0000B", "kind": "company"}', '{"name": "A\\ud800", "kind": "company"}',
                                  '{"name": "X", "kind": "company", "address": ["\\u0000"]}',
                                  "[" * 100_000 + "]" * 100_000])
def test_nul_characters_lone_surrogates_and_deep_nesting_are_4xx(app, client, people, data):
    """Text no database stores (NUL, a lone surrogate) is 422, JSON nested past the parser 400: never a 500."""
    before = _snapshot(app)
    response = call(client, "POST", URL, people.admin, data=data, content_type="application/json")
    assert response.status_code in (400, 422) and response.mimetype == "application/problem+json"
    assert _snapshot(app) == before


def test_nul_in_a_filter_is_400(client, people):
    """?name=%00 is refused before it reaches the database."""
    assert is_problem(client.get(URL + "?name=a%00b", headers={"Authorization": f"Bearer {people.admin}"}), 400)


def test_request_too_large_is_a_problem_document(app, client, people):
    """A body past MAX_CONTENT_LENGTH is 413 problem details, not the HTML page."""
    saved = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        response = call(client, "POST", URL, people.admin, json={"name": "x" * 5000, "kind": "company"})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert is_problem(response, 413)
