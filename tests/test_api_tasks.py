"""/api/v1/tasks: the access matrix of tokens (foreign ids 404, wrong right 403, read-only 403), ETag /
If-Match, keyset pages, filters, the checklist, the thread, the lifecycle actions, bad input and statement counts."""
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ChecklistItem, Message, MessageKind, Task
from app.security import roles as R
from app.services import messages, tasks
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for, walk

URL = "/api/v1/tasks/"


@pytest.fixture
def world(app):
    """Tasks on entities A and B (each with a checklist line and an internal and a portal message); tokens of
    an Admin, a Staff Admin, an Owner and a Viewer of A, a Staff member without shares, a read-only Owner token."""
    with app.app_context():
        a, b = f.entity("Alpha Co"), f.entity("Beta Co")
        users = {name: f.staff(role) for name, role in (
            ("admin", R.ADMIN), ("staff_admin", R.STAFF_ADMIN), ("owner", R.STAFF), ("viewer", R.STAFF),
            ("staff", R.STAFF))}
        f.share(a, R.OWNER, user=users["owner"])
        f.share(a, R.VIEWER, user=users["viewer"])
        ann, bob = f.contact("Ann"), f.contact("Bob")
        f.share(a, R.ENTITY_COLLABORATOR, contact=ann)
        f.share(b, R.ENTITY_COLLABORATOR, contact=bob)
        ta = tasks.create_task(a, "Task A", users["admin"], checklist=["Sign"])
        tb = tasks.create_task(b, "Task B", users["admin"], checklist=["Pay"])
        for task in (ta, tb):
            messages.post(task, users["admin"], f"internal {task.title}", MessageKind.internal)
            messages.post(task, users["admin"], f"portal {task.title}", MessageKind.portal)
        tokens = {name: token_for(user) for name, user in users.items()}
        return SimpleNamespace(a=a.id, b=b.id, ta=ta.id, tb=tb.id, ann=ann.id, bob=bob.id,
                               item_a=ta.checklist[0].id, item_b=tb.checklist[0].id,
                               read_only=token_for(users["owner"], scope="read"), **tokens)


def _snapshot(app):
    with app.app_context():
        return (sorted((t.id, t.title, t.staff_status.value, t.portal_state.value) for t in db.session.scalars(select(Task))),
                sorted((i.id, i.task_id, i.text, i.done) for i in db.session.scalars(select(ChecklistItem))),
                db.session.scalar(select(db.func.count(Message.id))))


def _etag(client, token, pk):
    return call(client, "GET", f"{URL}{pk}", token).headers.get("ETag", '"none"')


def _writes(w, task, item):
    """Every write of the resource on `task` (and its checklist line `item`): (method, path, body)."""
    return [("PATCH", f"{URL}{task}", {"title": "Hijacked"}), ("DELETE", f"{URL}{task}", None),
            ("POST", f"{URL}{task}/assign", None), ("POST", f"{URL}{task}/withdraw", None),
            ("POST", f"{URL}{task}/complete", None), ("POST", f"{URL}{task}/reopen", None),
            ("POST", f"{URL}{task}/checklist", {"text": "More"}),
            ("PATCH", f"{URL}{task}/checklist/{item}", {"done": True}),
            ("DELETE", f"{URL}{task}/checklist/{item}", None),
            ("POST", f"{URL}{task}/messages", {"body": "Hello", "kind": "portal"})]


@pytest.mark.parametrize("who", ["owner", "viewer", "staff"])
def test_scoped_token_gets_404_on_every_foreign_id_and_changes_nothing(app, client, world, who):
    """A scoped member's token × B's task and its checklist line: every read and write is 404; the list,
    and creating on B (422), leave B alone."""
    token, before = getattr(world, who), _snapshot(app)
    etag = _etag(client, world.admin, world.tb)
    for method, path in (("GET", f"{URL}{world.tb}"), ("GET", f"{URL}{world.tb}/messages")):
        assert is_problem(call(client, method, path, token), 404), path
    for method, path, body in _writes(world, world.tb, world.item_b) + [
            ("PATCH", f"{URL}{world.ta}/checklist/{world.item_b}", {"done": True}),
            ("DELETE", f"{URL}{world.ta}/checklist/{world.item_b}", None)]:
        response = call(client, method, path, token, json=body, headers={"If-Match": etag})
        assert is_problem(response, 404), (method, path, response.status_code)
    assert is_problem(call(client, "POST", URL, token, json={"entity_id": world.b, "title": "X"}), 422)
    listed = [row["id"] for row in call(client, "GET", URL, token).get_json()["items"]]
    assert world.tb not in listed
    assert _snapshot(app) == before


def test_staff_admin_reads_but_every_write_is_403(app, client, world):
    """A Staff Admin (the Tasks screen read-only) reads A's task and thread but may change nothing (403)."""
    token, before = world.staff_admin, _snapshot(app)
    assert call(client, "GET", f"{URL}{world.ta}", token).status_code == 200
    assert call(client, "GET", f"{URL}{world.ta}/messages", token).status_code == 200
    etag = _etag(client, token, world.ta)
    for method, path, body in _writes(world, world.ta, world.item_a):
        assert is_problem(call(client, method, path, token, json=body, headers={"If-Match": etag}), 403), (method, path)
    assert is_problem(call(client, "POST", URL, token, json={"entity_id": world.a, "title": "X"}), 403)
    assert _snapshot(app) == before


def test_read_only_token_is_403_on_every_write(app, client, world):
    """The Owner's read-only token reads but every write is 403 and changes nothing."""
    before = _snapshot(app)
    assert call(client, "GET", f"{URL}{world.ta}", world.read_only).status_code == 200
    etag = _etag(client, world.read_only, world.ta)
    for method, path, body in _writes(world, world.ta, world.item_a) + [("POST", URL, {"entity_id": world.a, "title": "X"})]:
        assert is_problem(call(client, method, path, world.read_only, json=body, headers={"If-Match": etag}), 403)
    assert _snapshot(app) == before


def test_owner_creates_changes_and_deletes_with_if_match(app, client, world):
    """An Owner creates a task on A (assignees default to A's contacts), changes it with If-Match (428 without,
    412 stale) and deletes it."""
    created = call(client, "POST", URL, world.owner, json={"entity_id": world.a, "title": "Returns",
                                                           "deadline": "2030-01-31", "checklist": ["One", "Two"]})
    assert created.status_code == 201, created.get_data(as_text=True)
    body, path = created.get_json(), created.headers["Location"]
    assert body["assignee_ids"] == [world.ann] and [i["text"] for i in body["checklist"]] == ["One", "Two"]
    assert is_problem(call(client, "PATCH", path, world.owner, json={"title": "New"}), 428)
    assert is_problem(call(client, "PATCH", path, world.owner, json={"title": "New"}, headers={"If-Match": '"x"'}), 412)
    changed = call(client, "PATCH", path, world.owner, json={"title": "New", "deadline": None},
                   headers={"If-Match": created.headers["ETag"]})
    assert changed.status_code == 200 and changed.get_json()["title"] == "New" and changed.get_json()["deadline"] is None
    assert is_problem(call(client, "PATCH", path, world.owner, json={"assignee_ids": [world.bob]},
                           headers={"If-Match": changed.headers["ETag"]}), 422)
    assert is_problem(call(client, "DELETE", path, world.owner, headers={"If-Match": created.headers["ETag"]}), 412)
    assert call(client, "DELETE", path, world.owner, headers={"If-Match": changed.headers["ETag"]}).status_code == 204
    assert is_problem(call(client, "GET", path, world.owner), 404)


def test_actions_checklist_and_thread(app, client, world):
    """Assign, withdraw, complete, reopen; add, tick, untick and remove a checklist line; read the thread in
    keyset pages with internal comments and post each kind."""
    path = f"{URL}{world.ta}"
    assert call(client, "POST", f"{path}/assign", world.owner).get_json()["portal_state"] == "assigned"
    assert call(client, "POST", f"{path}/withdraw", world.owner).get_json()["portal_state"] == "withdrawn"
    assert is_problem(call(client, "POST", f"{path}/withdraw", world.owner), 409)
    assert call(client, "POST", f"{path}/complete", world.owner).get_json()["staff_status"] == "done"
    assert call(client, "POST", f"{path}/reopen", world.owner).get_json()["staff_status"] == "open"
    item = call(client, "POST", f"{path}/checklist", world.owner, json={"text": "Count"})
    assert item.status_code == 201 and item.get_json()["position"] == 1
    line = f"{path}/checklist/{item.get_json()['id']}"
    assert call(client, "PATCH", line, world.owner, json={"done": True}).get_json()["done"] is True
    assert call(client, "PATCH", line, world.owner, json={"done": False}).get_json()["done"] is False
    assert is_problem(call(client, "PATCH", line, world.owner, json={"done": "yes"}), 422)
    assert call(client, "DELETE", line, world.owner).status_code == 204
    assert is_problem(call(client, "DELETE", line, world.owner), 404)
    for kind in ("internal", "portal", "email"):
        posted = call(client, "POST", f"{path}/messages", world.owner, json={"body": f"{kind} note", "kind": kind})
        assert posted.status_code == 201 and posted.get_json()["kind"] == kind
    seen = [(m["kind"], m["body"]) for m in walk(client, f"{path}/messages", world.viewer, 2)[0]]
    assert seen == [("internal", "internal Task A"), ("portal", "portal Task A"), ("internal", "internal note"),
                    ("portal", "portal note"), ("email", "email note")]


@pytest.mark.parametrize("body", [
    {"title": "X"}, {"entity_id": "1", "title": "X"}, {"entity_id": 2**64, "title": "X"},
    {"entity_id": 1, "title": ""}, {"entity_id": 1, "title": "X", "deadline": "tomorrow"},
    {"entity_id": 1, "title": "X", "assignee_ids": [10**9]}, {"entity_id": 1, "title": "X", "staff_status": "done"},
    {"entity_id": 1, "title": "X", "checklist": [""]}, {"entity_id": 1, "title": "X" * 201},
])
def test_bad_task_bodies_are_422_and_write_nothing(app, client, world, body):
    """Missing or bad ids, blank or long titles, bad dates, strangers as assignees, read-only fields: 422."""
    body = {k: (world.a if k == "entity_id" and v == 1 else v) for k, v in body.items()}
    before = _snapshot(app)
    assert is_problem(call(client, "POST", URL, world.admin, json=body), 422)
    assert is_problem(call(client, "POST", f"{URL}{world.ta}/messages", world.admin, json={"body": "", "kind": "x"}), 422)
    assert is_problem(call(client, "POST", URL, world.admin, data="nope", content_type="text/plain"), 415)
    assert _snapshot(app) == before


def test_task_list_filters_keyset_and_fixed_statements(app, client, world, count_queries):
    """entity_id and staff_status narrow the list; pages of 2 walk every task once; a page of 2 or 40 tasks
    (each with a checklist and assignees) runs the same statements, and so does a thread page."""
    open_a = call(client, "GET", URL, world.admin, query_string={"entity_id": str(world.a), "staff_status": "open"})
    assert [t["id"] for t in open_a.get_json()["items"]] == [world.ta]
    assert is_problem(call(client, "GET", URL, world.admin, query_string={"staff_status": "half"}), 400)
    assert is_problem(call(client, "GET", URL, world.admin, query_string={"nonsense": "1"}), 400)
    assert is_problem(call(client, "GET", f"{URL}{world.ta}/messages", world.admin, query_string={"cursor": "zz"}), 400)
    with count_queries() as n:
        call(client, "GET", URL, world.admin)
    few = n()
    with count_queries() as n:
        call(client, "GET", f"{URL}{world.ta}/messages", world.admin)
    thread_few = n()
    with app.app_context():
        a = db.session.get(Task, world.ta)
        for k in range(40):
            tasks.create_task(a.entity, f"More {k}", None, checklist=["x", "y"])
            messages.post(a, _admin(), f"m{k}", MessageKind.internal)
    with count_queries() as n:
        walked = call(client, "GET", URL, world.admin).get_json()
    assert n() == few and len(walked["items"]) == 42
    with count_queries() as n:
        assert len(call(client, "GET", f"{URL}{world.ta}/messages", world.admin).get_json()["items"]) == 42
    assert n() == thread_few
    ids = [row["id"] for row in walk(client, URL, world.owner, 7)[0]]
    assert len(ids) == len(set(ids)) == 41 and world.tb not in ids


def _admin():
    from flask_appbuilder.security.sqla.models import User

    return db.session.scalars(select(User).order_by(User.id)).first()
