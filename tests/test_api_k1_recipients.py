"""/api/v1/k1-recipients: the access matrix of tokens (foreign ids 404, wrong right 403, read-only 403), the
K-1 rules (entities that issue K-1s, documents of the same entity, shares 0–100), ETag / If-Match, keyset
pages, bad input and statement counts."""
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ActivityEvent, K1Recipient
from app.models.entities import EntityKind
from app.security import roles as R
from app.services import documents, k1
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for, walk
from tests.documents_helpers import PDF, Upload

URL = "/api/v1/k1-recipients/"


@pytest.fixture
def world(app):
    """Partnerships A and B with a partner each, a company C, a document of A and of B; tokens of an Admin, a
    Staff Admin, an Owner and a Viewer of A (and Owner of C), a Staff member without shares, a read-only token."""
    with app.app_context():
        a, b = f.entity("Alpha LP", kind=EntityKind.partnership), f.entity("Beta LP", kind=EntityKind.partnership)
        c = f.entity("Gamma Inc", kind=EntityKind.company)
        users = {name: f.staff(role) for name, role in (
            ("admin", R.ADMIN), ("staff_admin", R.STAFF_ADMIN), ("owner", R.STAFF), ("viewer", R.STAFF),
            ("staff", R.STAFF))}
        f.share(a, R.OWNER, user=users["owner"])
        f.share(c, R.OWNER, user=users["owner"])
        f.share(a, R.VIEWER, user=users["viewer"])
        doc_a = documents.upload(a, Upload("k1-a.pdf", PDF), users["admin"])
        doc_b = documents.upload(b, Upload("k1-b.pdf", PDF), users["admin"])
        ra = k1.add_recipient(a, users["admin"], name="Pat Partner", email="pat@example.com")
        rb = k1.add_recipient(b, users["admin"], name="Bo Partner", email="bo@example.com")
        tokens = {name: token_for(user) for name, user in users.items()}
        return SimpleNamespace(a=a.id, b=b.id, c=c.id, ra=ra.id, rb=rb.id, doc_a=doc_a.id, doc_b=doc_b.id,
                               read_only=token_for(users["owner"], scope="read"), **tokens)


def _snapshot(app):
    with app.app_context():
        return sorted((r.id, r.entity_id, r.name, r.email, r.share, r.document_id)
                      for r in db.session.scalars(select(K1Recipient)))


def _etag(client, token, pk):
    return call(client, "GET", f"{URL}{pk}", token).headers.get("ETag", '"none"')


@pytest.mark.parametrize("who", ["owner", "viewer", "staff"])
def test_scoped_token_gets_404_on_foreign_partners_and_changes_nothing(app, client, world, who):
    """A scoped member's token × B's partner: read, change, delete 404; adding one to B 422; the list leaves it out."""
    token, before = getattr(world, who), _snapshot(app)
    etag = _etag(client, world.admin, world.rb)
    for method, body in (("GET", None), ("PATCH", {"name": "Hijacked"}), ("DELETE", None)):
        assert is_problem(call(client, method, f"{URL}{world.rb}", token, json=body, headers={"If-Match": etag}), 404)
    assert is_problem(call(client, "POST", URL, token, json={"entity_id": world.b, "name": "X", "email": "x@example.com"}), 422)
    assert world.rb not in [r["id"] for r in call(client, "GET", URL, token).get_json()["items"]]
    assert _snapshot(app) == before


def test_wrong_right_and_read_only_token_are_403(app, client, world):
    """A Staff Admin (the screen read-only) and the Owner's read-only token read A's partner; adding, changing
    and deleting are 403 with nothing changed."""
    before = _snapshot(app)
    for token in (world.staff_admin, world.read_only):
        assert call(client, "GET", f"{URL}{world.ra}", token).status_code == 200
        etag = _etag(client, token, world.ra)
        assert is_problem(call(client, "PATCH", f"{URL}{world.ra}", token, json={"name": "X"}, headers={"If-Match": etag}), 403)
        assert is_problem(call(client, "DELETE", f"{URL}{world.ra}", token, headers={"If-Match": etag}), 403)
        assert is_problem(call(client, "POST", URL, token, json={"entity_id": world.a, "name": "X", "email": "x@example.com"}), 403)
    assert _snapshot(app) == before


def test_owner_adds_changes_and_removes_a_partner(app, client, world):
    """An Owner adds a partner with a share and the entity's document, changes the share with If-Match (412
    stale), removes them; each step is in the entity's activity."""
    created = call(client, "POST", URL, world.owner, json={"entity_id": world.a, "name": "Lee", "email": "lee@example.com",
                                                           "share": "12.5", "document_id": world.doc_a})
    assert created.status_code == 201, created.get_data(as_text=True)
    body, path = created.get_json(), created.headers["Location"]
    assert (body["share"], body["document_id"], body["status"]) == ("12.5000", world.doc_a, "not_sent")
    changed = call(client, "PATCH", path, world.owner, json={"share": 40, "document_id": None},
                   headers={"If-Match": created.headers["ETag"]})
    assert changed.status_code == 200 and (changed.get_json()["share"], changed.get_json()["document_id"]) == ("40.0000", None)
    assert is_problem(call(client, "DELETE", path, world.owner, headers={"If-Match": created.headers["ETag"]}), 412)
    assert call(client, "DELETE", path, world.owner, headers={"If-Match": changed.headers["ETag"]}).status_code == 204
    with app.app_context():
        verbs = db.session.scalars(select(ActivityEvent.verb).where(ActivityEvent.verb.like("k1.partner_%"))).all()
        assert sorted(verbs).count("k1.partner_added") == 3 and {"k1.partner_changed", "k1.partner_removed"} <= set(verbs)


@pytest.mark.parametrize("change", [
    {"entity_id": "c"}, {"document_id": "doc_b"}, {"document_id": 10**9}, {"share": "101"}, {"share": "-1"},
    {"share": "12.34567"}, {"share": "NaN"}, {"email": "not-an-address"}, {"name": ""}, {"status": "sent"},
    {"email": "x@example.com" + "m" * 300},
])
def test_bad_partner_input_is_422_and_changes_nothing(app, client, world, change):
    """A company, a document of another entity or unknown, shares outside 0–100 or over-precise, bad e-mails,
    blank names, the delivery status: 422."""
    names = {"c": world.c, "doc_b": world.doc_b}
    change = {k: names.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    before = _snapshot(app)
    body = {"entity_id": world.a, "name": "Lee", "email": "lee@example.com", **change}
    assert is_problem(call(client, "POST", URL, world.owner, json=body), 422)
    if "entity_id" not in change:
        assert is_problem(call(client, "PATCH", f"{URL}{world.ra}", world.owner, json=change,
                               headers={"If-Match": _etag(client, world.owner, world.ra)}), 422)
    assert _snapshot(app) == before


def test_partner_list_filters_keyset_and_fixed_statements(app, client, world, count_queries):
    """entity_id and name narrow the list; a page of 2 or 30 partners runs the same statements; pages of 4 walk
    the Owner's once."""
    assert [r["id"] for r in call(client, "GET", URL, world.admin, query_string={
        "entity_id": str(world.a), "name": "pat"}).get_json()["items"]] == [world.ra]
    assert is_problem(call(client, "GET", URL, world.admin, query_string={"status": "lost"}), 400)
    with count_queries() as n:
        call(client, "GET", URL, world.admin)
    few = n()
    with app.app_context():
        db.session.add_all(K1Recipient(entity_id=world.a, name=f"P{k}", email=f"p{k}@example.com") for k in range(28))
        db.session.commit()
    with count_queries() as n:
        assert len(call(client, "GET", URL, world.admin).get_json()["items"]) == 30
    assert n() == few
    ids = [row["id"] for row in walk(client, URL, world.owner, 4)[0]]
    assert len(ids) == len(set(ids)) == 29 and world.rb not in ids
