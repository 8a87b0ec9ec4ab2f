"""/api/v1/requests: the access matrix of tokens (foreign ids 404, wrong right 403, read-only 403), the
inbox's work (answer, close, reopen, convert) with its refusals, keyset pages, bad input, statement counts."""
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ClientRequest, Message, MessageKind, Task
from app.security import roles as R
from app.services import messages, requests
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for, walk

URL = "/api/v1/requests/"


@pytest.fixture
def world(app):
    """A request raised by a contact of A and one of B (each with a staff internal note); tokens of an Admin,
    a Staff Admin, an Owner and a Viewer of A, a Staff member without shares, and a read-only Owner token."""
    with app.app_context():
        a, b = f.entity("Alpha Co"), f.entity("Beta Co")
        users = {name: f.staff(role) for name, role in (
            ("admin", R.ADMIN), ("staff_admin", R.STAFF_ADMIN), ("owner", R.STAFF), ("viewer", R.STAFF),
            ("staff", R.STAFF))}
        f.share(a, R.OWNER, user=users["owner"])
        f.share(a, R.VIEWER, user=users["viewer"])
        cora, fred = f.portal_contact(a), f.portal_contact(b, first="Fred")
        ra = requests.create_request(a, cora, cora.user, "VAT question", "Please help")
        rb = requests.create_request(b, fred, fred.user, "Foreign question", "Secret")
        for item in (ra, rb):
            messages.post(item, users["admin"], f"internal {item.subject}", MessageKind.internal)
        tokens = {name: token_for(user) for name, user in users.items()}
        return SimpleNamespace(a=a.id, b=b.id, ra=ra.id, rb=rb.id, read_only=token_for(users["owner"], scope="read"),
                               **tokens)


def _snapshot(app):
    with app.app_context():
        return (sorted((r.id, r.status.value, r.task_id) for r in db.session.scalars(select(ClientRequest))),
                db.session.scalar(select(db.func.count(Message.id))), db.session.scalar(select(db.func.count(Task.id))))


def _writes(pk):
    return [("POST", f"{URL}{pk}/messages", {"body": "Hello", "kind": "portal"}), ("POST", f"{URL}{pk}/close", None),
            ("POST", f"{URL}{pk}/reopen", None), ("POST", f"{URL}{pk}/convert", None)]


@pytest.mark.parametrize("who", ["owner", "viewer", "staff"])
def test_scoped_token_gets_404_on_every_foreign_id_and_changes_nothing(app, client, world, who):
    """A scoped member's token × B's request: read, thread and every work route are 404; the list leaves it out."""
    token, before = getattr(world, who), _snapshot(app)
    for path in (f"{URL}{world.rb}", f"{URL}{world.rb}/messages"):
        assert is_problem(call(client, "GET", path, token), 404)
    for method, path, body in _writes(world.rb):
        assert is_problem(call(client, method, path, token, json=body), 404), path
    assert world.rb not in [r["id"] for r in call(client, "GET", URL, token).get_json()["items"]]
    assert _snapshot(app) == before


def test_wrong_right_and_read_only_token_are_403(app, client, world):
    """A Staff Admin (the inbox read-only) and the Owner's read-only token read A's request and its thread,
    and every work route is 403 with nothing changed; there is no create, change or delete at all."""
    before = _snapshot(app)
    for token in (world.staff_admin, world.read_only):
        assert call(client, "GET", f"{URL}{world.ra}", token).status_code == 200
        for method, path, body in _writes(world.ra):
            assert is_problem(call(client, method, path, token, json=body), 403), path
    for method in ("PATCH", "DELETE"):
        assert is_problem(call(client, method, f"{URL}{world.ra}", world.admin, json={}, headers={"If-Match": "*"}), 405)
    assert is_problem(call(client, "POST", URL, world.admin, json={"subject": "x"}), 405)
    assert _snapshot(app) == before


def test_owner_answers_closes_reopens_and_converts(app, client, world):
    """An answer opens a new request; close, reopen (409 twice), and convert move the thread to a new task;
    a converted request refuses answers and status changes (409)."""
    path = f"{URL}{world.ra}"
    assert call(client, "GET", path, world.owner).get_json()["status"] == "new"
    posted = call(client, "POST", f"{path}/messages", world.owner, json={"body": "We are on it", "kind": "portal"})
    assert posted.status_code == 201 and call(client, "GET", path, world.owner).get_json()["status"] == "open"
    assert call(client, "POST", f"{path}/close", world.owner).get_json()["status"] == "closed"
    assert is_problem(call(client, "POST", f"{path}/close", world.owner), 409)
    assert call(client, "POST", f"{path}/reopen", world.owner).get_json()["status"] == "open"
    assert is_problem(call(client, "POST", f"{path}/reopen", world.owner), 409)
    converted = call(client, "POST", f"{path}/convert", world.owner).get_json()
    assert converted["status"] == "converted" and converted["task_id"]
    thread = call(client, "GET", f"/api/v1/tasks/{converted['task_id']}/messages", world.owner).get_json()["items"]
    assert [m["body"] for m in thread] == ["internal VAT question", "We are on it"]
    before = _snapshot(app)
    assert is_problem(call(client, "POST", f"{path}/messages", world.owner, json={"body": "x", "kind": "portal"}), 409)
    assert is_problem(call(client, "POST", f"{path}/close", world.owner), 409)
    assert _snapshot(app) == before


@pytest.mark.parametrize("body", [{"body": "", "kind": "portal"}, {"body": "x", "kind": "secret"}, {"body": "x"},
                                  {"body": "x" * 10001, "kind": "portal"}, {"body": 5, "kind": "portal"},
                                  {"body": "x", "kind": "portal", "author_user_id": 1}])
def test_bad_answers_are_422_and_write_nothing(app, client, world, body):
    """Empty, too long or non-text bodies, unknown kinds, read-only fields: 422; the status stays new."""
    before = _snapshot(app)
    assert is_problem(call(client, "POST", f"{URL}{world.ra}/messages", world.owner, json=body), 422)
    assert _snapshot(app) == before


def test_request_list_filters_keyset_and_fixed_statements(app, client, world, count_queries):
    """status and entity_id narrow the list; pages of 4 walk every request once; a page of 2 or 30 requests
    runs the same statements."""
    assert [r["id"] for r in call(client, "GET", URL, world.admin, query_string={"entity_id": str(world.a),
                                                                                 "status": "new"}).get_json()["items"]] == [world.ra]
    assert is_problem(call(client, "GET", URL, world.admin, query_string={"status": "lost"}), 400)
    with count_queries() as n:
        call(client, "GET", URL, world.admin)
    few = n()
    with app.app_context():
        item = db.session.get(ClientRequest, world.ra)
        for k in range(28):
            requests.create_request(item.entity, item.contact, item.contact.user, f"Question {k}", "Body")
    with count_queries() as n:
        assert len(call(client, "GET", URL, world.admin).get_json()["items"]) == 30
    assert n() == few
    ids = [row["id"] for row in walk(client, URL, world.viewer, 4)[0]]
    assert len(ids) == len(set(ids)) == 29 and world.rb not in ids
