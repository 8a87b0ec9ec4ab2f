"""/api/v1/file-requests: the access matrix of tokens (foreign ids 404, wrong right 403, read-only 403),
sending as the wizard does (Entity Collaborators only, a shared document to update), who answered,
keyset pages, bad input and statement counts."""
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Task
from app.models.documents import Visibility
from app.security import roles as R
from app.services import documents, file_requests, tasks
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for, walk
from tests.documents_helpers import PDF, Upload

URL = "/api/v1/file-requests/"


@pytest.fixture
def world(app):
    """A file request on A (to two collaborators, one answered) and one on B; a plain task on A; a shared and
    a staff-only document of A; an Entity Access contact of A; tokens of an Admin, a Staff Admin, an Owner
    and a Viewer of A, a Staff member without shares, and a read-only Owner token."""
    with app.app_context():
        a, b = f.entity("Alpha Co"), f.entity("Beta Co")
        users = {name: f.staff(role) for name, role in (
            ("admin", R.ADMIN), ("staff_admin", R.STAFF_ADMIN), ("owner", R.STAFF), ("viewer", R.STAFF),
            ("staff", R.STAFF))}
        f.share(a, R.OWNER, user=users["owner"])
        f.share(a, R.VIEWER, user=users["viewer"])
        cora, dan, fred = f.portal_contact(a), f.portal_contact(a, first="Dan"), f.portal_contact(b, first="Fred")
        reader = f.contact("Reader")
        f.share(a, R.ENTITY_ACCESS, contact=reader)
        shared = documents.upload(a, Upload("letter.pdf", PDF), users["admin"], visibility=Visibility.portal)
        hidden = documents.upload(a, Upload("notes.pdf", PDF), users["admin"])
        fa = file_requests.create(a, users["admin"], [cora, dan], "Bank statements")
        file_requests.answer(fa, cora, cora.user, Upload("bank.pdf", PDF + b"1"))
        fb = file_requests.create(b, users["admin"], [fred], "Payroll")
        plain = tasks.create_task(a, "Plain task", users["admin"])
        tokens = {name: token_for(user) for name, user in users.items()}
        return SimpleNamespace(a=a.id, b=b.id, fa=fa.id, fb=fb.id, plain=plain.id, cora=cora.id, dan=dan.id,
                               fred=fred.id, reader=reader.id, shared=shared.id, hidden=hidden.id,
                               read_only=token_for(users["owner"], scope="read"), **tokens)


def _tasks(app):
    with app.app_context():
        return sorted((t.id, t.kind.value, t.title) for t in db.session.scalars(select(Task)))


@pytest.mark.parametrize("who", ["owner", "viewer", "staff"])
def test_scoped_token_gets_404_on_foreign_requests_and_sends_nothing(app, client, world, who):
    """A scoped member's token × B's file request: read is 404, the list leaves it out; sending to B or to B's
    contact is 422; nothing is written."""
    token, before = getattr(world, who), _tasks(app)
    assert is_problem(call(client, "GET", f"{URL}{world.fb}", token), 404)
    assert world.fb not in [t["id"] for t in call(client, "GET", URL, token).get_json()["items"]]
    for body in ({"entity_id": world.b, "recipient_ids": [world.fred], "subject": "x"},
                 {"entity_id": world.a, "recipient_ids": [world.fred], "subject": "x"}):
        assert is_problem(call(client, "POST", URL, token, json=body), 422)
    assert _tasks(app) == before


def test_wrong_right_and_read_only_token_are_403(app, client, world):
    """A Staff Admin (no file request wizard) and the Owner's read-only token read A's request, and sending is
    403 with nothing written; change and delete belong to /tasks (405 here)."""
    before, body = _tasks(app), {"entity_id": world.a, "recipient_ids": [world.cora], "subject": "x"}
    for token in (world.staff_admin, world.read_only):
        assert call(client, "GET", f"{URL}{world.fa}", token).status_code == 200
        assert is_problem(call(client, "POST", URL, token, json=body), 403)
    assert is_problem(call(client, "DELETE", f"{URL}{world.fa}", world.admin, headers={"If-Match": "*"}), 405)
    assert _tasks(app) == before


def test_owner_sends_and_reads_who_answered(app, client, world):
    """An Owner sends a request updating a shared document (assigned at once); a single read names who answered
    and who has not; the plain task is not a file request (404 here, listed under /tasks)."""
    read = call(client, "GET", f"{URL}{world.fa}", world.viewer).get_json()
    assert (read["answered_contact_ids"], read["outstanding_contact_ids"]) == ([world.cora], [world.dan])
    sent = call(client, "POST", URL, world.owner, json={"entity_id": world.a, "recipient_ids": [world.dan],
                                                        "subject": "Signed letter", "update_document_id": world.shared,
                                                        "deadline": "2030-04-15"})
    assert sent.status_code == 201, sent.get_data(as_text=True)
    body = sent.get_json()
    assert (body["kind"], body["portal_state"], body["update_document_id"], body["assignee_ids"]) == (
        "file_request", "assigned", world.shared, [world.dan])
    assert call(client, "GET", f"/api/v1/tasks/{body['id']}", world.owner).status_code == 200
    assert is_problem(call(client, "GET", f"{URL}{world.plain}", world.owner), 404)
    listed = [t["id"] for t in call(client, "GET", URL, world.owner).get_json()["items"]]
    assert listed == [world.fa, body["id"]] and "outstanding_contact_ids" not in call(
        client, "GET", URL, world.owner).get_json()["items"][0]


@pytest.mark.parametrize("body", [
    {"recipient_ids": ["reader"], "subject": "x"}, {"recipient_ids": [], "subject": "x"},
    {"recipient_ids": ["cora"], "subject": ""}, {"recipient_ids": ["cora"], "subject": "   "},
    {"recipient_ids": ["cora"], "subject": "x", "update_document_id": "hidden"},
    {"recipient_ids": ["cora"], "subject": "x", "update_document_id": 10**9},
    {"recipient_ids": ["cora"]}, {"recipient_ids": ["cora"], "subject": "x", "kind": "task"},
    {"recipient_ids": [2**64], "subject": "x"},
])
def test_bad_file_requests_are_422_and_send_nothing(app, client, world, body):
    """Recipients who may not upload, none, blank subjects, a staff-only or unknown document, bad ids, extra
    fields: 422, nothing sent."""
    names = {"reader": world.reader, "cora": world.cora, "hidden": world.hidden}
    body = {k: ([names.get(x, x) for x in v] if isinstance(v, list) else names.get(v, v)) for k, v in body.items()}
    before = _tasks(app)
    assert is_problem(call(client, "POST", URL, world.owner, json={"entity_id": world.a, **body}), 422)
    assert _tasks(app) == before


def test_file_request_list_keyset_and_fixed_statements(app, client, world, count_queries):
    """A page of 1 or 30 file requests runs the same statements; pages of 4 walk them once; filters narrow."""
    assert call(client, "GET", URL, world.admin, query_string={"client_status": "done"}).get_json()["items"] == []
    assert is_problem(call(client, "GET", URL, world.admin, query_string={"kind": "task"}), 400)
    with count_queries() as n:
        call(client, "GET", URL, world.admin)
    few = n()
    with app.app_context():
        from app.models import Contact, Entity

        a, cora = db.session.get(Entity, world.a), db.session.get(Contact, world.cora)
        for k in range(28):
            file_requests.create(a, None, [cora], f"More {k}")
    with count_queries() as n:
        assert len(call(client, "GET", URL, world.admin).get_json()["items"]) == 30
    assert n() == few
    ids = [row["id"] for row in walk(client, URL, world.owner, 4)[0]]
    assert len(ids) == len(set(ids)) == 29 and world.fb not in ids
