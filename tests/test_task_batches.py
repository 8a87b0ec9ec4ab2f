"""Work for many clients: task templates, "assign to many" by filter or group (a real worker creates one
task or file request per client, idempotently), progress, and who may use it."""
import json
from types import SimpleNamespace

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import queue
from app.models import Notification, Task, TaskBatch, TaskTemplate
from app.models.entities import EntityKind
from app.models.task_batches import BatchState
from app.models.tasks import PortalState, TaskKind
from app.redis_conn import get_redis
from app.security import roles as R
from app.services import task_batches
from tests import factories as f
from tests.conftest import csrf_token

NEW = "/task-batches/new"


@pytest.fixture
def firm(app):
    """An accountant working on three companies (two with a collaborator), one trust, and a foreign company."""
    with app.app_context():
        me = f.staff(R.STAFF)
        other = f.staff(R.STAFF)
        mine = [f.entity(f"Acme {i}", responsible=me) for i in range(3)]
        trust = f.entity("Birch Trust", kind=EntityKind.trust, responsible=me)
        foreign = f.entity("Acme Foreign", responsible=other)
        f.share(mine[0], R.ENTITY_COLLABORATOR, contact=f.contact())
        f.share(mine[1], R.ENTITY_COLLABORATOR, contact=f.contact())
        group = f.group(members=[f.contact()])
        f.share(trust, R.ENTITY_ACCESS, group=group)
        return SimpleNamespace(me=me.id, other=other.id, mine=[e.id for e in mine], trust=trust.id,
                               foreign=foreign.id, group=group.id, admin=f.staff(R.STAFF_ADMIN).id)


def _work(app):
    with app.app_context():
        SimpleWorker([queue()], connection=get_redis()).work(burst=True)


def _post(client, data, go="create"):
    token = csrf_token(client, NEW)
    return client.post(NEW, data={"csrf_token": token, "go": go, "kind": "task", "frequency": "once",
                                  "interval": "1", "status": "", "entity_kind": "", "responsible": "", **data})


def _tasks(app, **where):
    with app.app_context():
        rows = db.session.scalars(select(Task).filter_by(**where).order_by(Task.entity_id)).all()
        return [(t.entity_id, t.title, t.kind, t.portal_state, [c.text for c in t.checklist]) for t in rows]


def test_preview_counts_only_the_clients_i_work_on(app, client, login, firm):
    """A name filter previews the matching clients in the user's scope, never a foreign one."""
    login(client, firm.me)
    page = _post(client, {"title": "Engagement letter", "name": "Acme"}, go="preview").get_data(as_text=True)
    assert "3 clients match" in page and "Acme 0" in page and "Acme Foreign" not in page
    assert _tasks(app) == []


def test_assign_to_many_creates_one_task_each_in_a_worker(app, client, login, firm):
    """Create starts a batch; a real worker makes one task per chosen client with the checklist, and assigns them."""
    login(client, firm.me)
    response = _post(client, {"title": "Engagement letter", "name": "Acme", "checklist": "Sign\nReturn",
                              "assign_now": "y"})
    assert response.status_code == 302 and "/task-batches/" in response.headers["Location"]
    _work(app)
    got = _tasks(app)
    assert [e for e, *_ in got] == firm.mine[:2]  # the third has no contact: it cannot be assigned
    assert all(t[1:] == ("Engagement letter", TaskKind.task, PortalState.assigned, ["Sign", "Return"]) for t in got)
    status = client.get(response.headers["Location"] + "/status").get_json()
    assert status == {"state": "done", "label": "Done", "done": 2, "failed": 1, "total": 3}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Acme 2" in page and "cannot be assigned" in page


def test_a_group_chooses_the_clients_shared_with_it(app, client, login, firm):
    """Choosing a contact group takes the entities shared with the group (or its members)."""
    login(client, firm.me)
    _post(client, {"title": "Trust return", "group": str(firm.group), "status": ""})
    _work(app)
    assert [t[0] for t in _tasks(app)] == [firm.trust]


def test_file_requests_go_to_each_clients_collaborators(app, client, login, firm):
    """A file-request batch asks every Entity Collaborator; a client without one is reported, not half-made."""
    login(client, firm.me)
    location = _post(client, {"title": "Bank statements", "kind": "file_request", "name": "Acme"}).headers["Location"]
    _work(app)
    got = _tasks(app)
    assert [(t[0], t[2], t[3]) for t in got] == [(firm.mine[0], TaskKind.file_request, PortalState.assigned),
                                                (firm.mine[1], TaskKind.file_request, PortalState.assigned)]
    assert "Entity Collaborator" in client.get(location).get_data(as_text=True)


def test_the_job_is_idempotent(app, client, login, firm):
    """Running the batch's job again (or a second job for it) creates nothing more."""
    login(client, firm.me)
    location = _post(client, {"title": "Engagement letter", "name": "Acme"}).headers["Location"]
    batch_id = int(location.rsplit("/", 1)[1])
    with app.app_context():
        queue().enqueue("app.jobs.run_task_batch", batch_id)
    _work(app)
    assert len(_tasks(app)) == 3
    with app.app_context():
        db.session.execute(db.update(TaskBatch).values(state=BatchState.running))  # as if killed mid-run
        db.session.commit()
        assert task_batches.run(batch_id) == "done"
        assert task_batches.run(batch_id) == "skipped"
        batch = db.session.get(TaskBatch, batch_id)
        assert (batch.done, batch.failed, batch.total) == (3, 0, 3)
    assert len(_tasks(app)) == 3


def test_entities_out_of_reach_by_run_time_are_reported(app, client, login, firm):
    """An entity the author no longer works on when the job runs gets no task and is named."""
    login(client, firm.me)
    location = _post(client, {"title": "Engagement letter", "name": "Acme"}).headers["Location"]
    with app.app_context():
        from app.models import Entity

        db.session.get(Entity, firm.mine[2]).responsible_id = firm.other
        db.session.commit()
    _work(app)
    assert [t[0] for t in _tasks(app)] == firm.mine[:2]
    assert "no longer work on this client" in client.get(location).get_data(as_text=True)


def test_a_recurring_batch_makes_a_series_per_client(app, client, login, firm):
    """A repeat rule gives each client a series whose first occurrence has the deadline."""
    login(client, firm.me)
    _post(client, {"title": "Payroll", "name": "Acme 0", "frequency": "monthly", "deadline": "2030-01-31"})
    _work(app)
    with app.app_context():
        task = db.session.scalar(select(Task))
        assert task.series is not None and task.deadline.isoformat() == "2030-01-31"


def test_bad_input_is_a_form_error_and_nothing_is_queued(app, client, login, firm):
    """No title, a repeat without a deadline, or no match: the form says why and no batch is made."""
    login(client, firm.me)
    assert "This field is required" in _post(client, {"title": ""}).get_data(as_text=True)
    page = _post(client, {"title": "X", "frequency": "monthly", "name": "Acme"}).get_data(as_text=True)
    assert "needs a first deadline" in page
    assert "No client you work on" in _post(client, {"title": "X", "name": "Nobody"}).get_data(as_text=True)
    assert "Not a valid choice" in _post(client, {"title": "X", "kind": "bogus"}).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(TaskBatch.id))) == 0


def test_only_the_author_follows_a_batch_and_only_task_workers_start_one(app, client, login, firm):
    """Another member's batch is 404; a Staff Admin (no task work) gets 403; anonymous goes to the login."""
    assert client.get(NEW).status_code == 302
    login(client, firm.me)
    location = _post(client, {"title": "Engagement letter", "name": "Acme"}).headers["Location"]
    login(client, firm.other)
    assert client.get(location).status_code == 404
    assert client.get(location + "/status").status_code == 404
    assert client.get("/task-batches/abc").status_code == 404
    login(client, firm.admin)
    assert client.get(NEW).status_code == 403


def test_a_template_prefills_the_form(app, client, login, firm):
    """?template= fills the form from a task template (deadline = today + its days); a foreign id is 404."""
    with app.app_context():
        template = TaskTemplate(title="Year-end close", checklist="Trial balance", deadline_days=14)
        db.session.add(template)
        db.session.commit()
        template_id = template.id
    login(client, firm.me)
    page = client.get(f"{NEW}?template={template_id}").get_data(as_text=True)
    assert 'value="Year-end close"' in page and "Trial balance" in page
    assert client.get(f"{NEW}?template=999999").status_code == 404


def test_templates_are_managed_in_a_staff_screen(app, client, login, firm):
    """Staff add a template in the Task templates screen; a Staff Admin may read but not add."""
    login(client, firm.me)
    token = csrf_token(client, "/tasktemplateview/add")
    response = client.post("/tasktemplateview/add", data={
        "csrf_token": token, "title": "Quarterly VAT", "kind": "task", "frequency": "quarterly", "interval": "1",
        "deadline_days": "10", "checklist": "Collect invoices"})
    assert response.status_code == 302
    with app.app_context():
        template = db.session.scalar(select(TaskTemplate))
        assert (template.title, template.deadline_days, template.created_by_id) == ("Quarterly VAT", 10, firm.me)
    assert "Quarterly VAT" in client.get("/tasktemplateview/list/").get_data(as_text=True)
    login(client, firm.admin)
    assert client.get("/tasktemplateview/add").status_code == 403


def test_batch_notifications_are_written_once_per_client(app, client, login, firm):
    """Assigning in a batch tells each client's contacts once (one in-app and one e-mail row each)."""
    login(client, firm.me)
    _post(client, {"title": "Engagement letter", "name": "Acme", "assign_now": "y"})
    _work(app)
    with app.app_context():
        rows = db.session.scalars(select(Notification.event).where(Notification.recipient_contact_id.is_not(None)))
        assert sorted(rows) == ["task_assigned"] * 4
        assert json.loads(db.session.scalar(select(TaskBatch.failures)))


def test_a_waiting_batch_can_be_started_again_by_its_author_only(app, client, login, firm):
    """Start again re-queues a batch that is not done (the job then creates its tasks once); another
    member gets 404, no CSRF token 400, a done batch is refused."""
    login(client, firm.me)
    location = _post(client, {"title": "Engagement letter", "name": "Acme"}).headers["Location"]
    token = csrf_token(client, NEW)
    assert client.post(location + "/restart").status_code == 400
    assert client.post(location + "/restart", data={"csrf_token": token}).status_code == 302
    login(client, firm.other)
    assert client.post(location + "/restart", data={"csrf_token": csrf_token(client, NEW)}).status_code == 404
    _work(app)
    assert len(_tasks(app)) == 3
    login(client, firm.me)
    page = client.post(location + "/restart", data={"csrf_token": token}, follow_redirects=True)
    assert "This batch is done." in page.get_data(as_text=True)
