"""Sending organizers through "assign to many": clients chosen by filter or group and previewed, a real
worker creates one assigned organizer task per client (idempotently), foreign clients never get one,
and only those who do client work may send (a Staff Admin alone: 403)."""
from types import SimpleNamespace

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import queue
from app.models import Organizer, OrganizerTemplate, Task, TaskBatch
from app.models.task_batches import BatchState
from app.redis_conn import get_redis
from app.security import roles as R
from app.services import task_batches
from tests import factories as f
from tests.conftest import csrf_token
from tests.organizer_helpers import send, template


@pytest.fixture
def firm(app):
    """Sam works on Alpha (which already has the 2026 organizer), Gamma and Delta (no contact); Beta is
    the Admin's; a group is shared on Gamma; a Staff Admin, and a Staff Admin who is also Staff on Gamma."""
    with app.app_context():
        admin, sam, boss = f.staff(R.ADMIN), f.staff(R.STAFF), f.staff(R.STAFF_ADMIN)
        both = f.staff(R.STAFF_ADMIN)
        both.roles.append(f.role(R.STAFF))
        alpha, beta = f.entity("Alpha Co", responsible=sam), f.entity("Beta Co", responsible=admin)
        gamma, delta = f.entity("Gamma Co", responsible=sam), f.entity("Delta Co", responsible=sam)
        f.share(gamma, R.VIEWER, user=both)
        for entity in (alpha, beta):
            f.portal_contact(entity, R.ENTITY_COLLABORATOR)
        group = f.group(members=[f.portal_contact(None)])
        f.share(gamma, R.ENTITY_ACCESS, group=group)
        row = template(admin)
        send(admin, row, alpha, 2026)
        return SimpleNamespace(admin=admin.id, sam=sam.id, boss=boss.id, both=both.id, alpha=alpha.id,
                               beta=beta.id, gamma=gamma.id, delta=delta.id, group=group.id, template=row.id,
                               family=row.family_id)


def _work(app):
    with app.app_context():
        SimpleWorker([queue()], connection=get_redis()).work(burst=True)


def _post(client, firm, go="create", **data):
    path = f"/organizers/send/{firm.template}"
    fields = {"csrf_token": csrf_token(client, path), "go": go, "tax_year": "2026", "deadline": "2027-03-31",
              "status": "", "entity_kind": "", "responsible": ""}
    return client.post(path, data={**fields, **data})


def _organizers(app):
    with app.app_context():
        rows = db.session.scalars(select(Organizer).order_by(Organizer.entity_id, Organizer.id)).all()
        return [(o.entity_id, o.tax_year, o.task.batch_id is not None, o.task.portal_state.name,
                 str(o.task.deadline)) for o in rows]


def test_preview_lists_only_the_clients_i_work_on(app, client, login, firm):
    """The preview counts and names Sam's matching clients, never the Admin's Beta; nothing is sent yet."""
    login(client, firm.sam)
    page = _post(client, firm, go="preview", name="Co").get_data(as_text=True)
    assert "3 clients match" in page and "Gamma Co" in page and "Beta Co" not in page
    assert 'id="batch-create"' in page
    assert len(_organizers(app)) == 1


def test_send_creates_one_assigned_organizer_per_client_in_a_worker(app, client, login, firm):
    """Create leads to the batch's progress page; the worker gives Gamma its organizer task (deadline,
    assigned), and reports Alpha (has it already) and Delta (no contact) without half-making them."""
    login(client, firm.sam)
    response = _post(client, firm, name="Co")
    assert response.status_code == 302 and "/task-batches/" in response.headers["Location"]
    _work(app)
    assert _organizers(app) == [(firm.alpha, 2026, False, "assigned", "None"),
                                (firm.gamma, 2026, True, "assigned", "2027-03-31")]
    status = client.get(response.headers["Location"] + "/status").get_json()
    assert (status["state"], status["done"], status["failed"], status["total"]) == ("done", 1, 2, 3)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "already has this organizer for 2026" in page and "no contact to send the organizer to" in page
    assert "The organizers of “Individual tax organizer”" in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Task.id)).where(Task.entity_id == firm.delta)) == 0


def test_a_group_chooses_the_clients_and_the_job_is_idempotent(app, client, login, firm):
    """A contact group takes Gamma; running the job again (or a second job) makes no second organizer."""
    login(client, firm.sam)
    location = _post(client, firm, group=str(firm.group)).headers["Location"]
    batch_id = int(location.rsplit("/", 1)[1])
    with app.app_context():
        queue().enqueue("app.jobs.run_task_batch", batch_id)
    _work(app)
    with app.app_context():
        db.session.execute(db.update(TaskBatch).values(state=BatchState.running))  # as if killed mid-run
        db.session.commit()
        assert task_batches.run(batch_id) == "done"
        batch = db.session.get(TaskBatch, batch_id)
        assert (batch.done, batch.failed, batch.organizer_template_id, batch.tax_year) == (1, 0, firm.template, 2026)
    assert [o[0] for o in _organizers(app)] == [firm.alpha, firm.gamma]


def test_foreign_clients_are_never_sent_to(app, client, login, firm):
    """Beta (the Admin's) matches no choice of Sam's, and a client Sam stops working on before the job
    runs is reported, not sent to."""
    login(client, firm.sam)
    assert "No client you work on" in _post(client, firm, name="Beta").get_data(as_text=True)
    location = _post(client, firm, name="Gamma").headers["Location"]
    with app.app_context():
        from app.models import Entity

        db.session.get(Entity, firm.gamma).responsible_id = firm.admin
        db.session.commit()
    _work(app)
    assert [o[0] for o in _organizers(app)] == [firm.alpha]
    assert "no longer work on this client" in client.get(location).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(TaskBatch.id))) == 1


def test_bad_input_and_an_old_version_are_refused_with_nothing_queued(app, client, login, firm):
    """A tax year that is not a number or out of range is a form error; an old template version is refused."""
    login(client, firm.sam)
    assert "This field is required" in _post(client, firm, tax_year="abc").get_data(as_text=True)
    assert "Number must be between" in _post(client, firm, tax_year="99999").get_data(as_text=True)
    with app.app_context():
        db.session.get(OrganizerTemplate, firm.template).is_current = False
        db.session.commit()
    assert "current version" in _post(client, firm, name="Gamma").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(TaskBatch.id))) == 0
    assert client.get("/organizers/send/999999").status_code == 404


def test_a_staff_admin_alone_cannot_send_but_with_a_staff_role_can(app, client, login, firm):
    """DESIGN.md §3: the Staff Admin runs people, not client work: 403 on send; the same role plus Staff
    sends to the clients it works on (Gamma) only."""
    login(client, firm.boss)
    path = f"/organizers/send/{firm.template}"
    assert client.get(path).status_code == 403
    token = csrf_token(client, f"/organizer-templates/{firm.template}")
    assert client.post(path, data={"csrf_token": token, "go": "create", "tax_year": "2026"}).status_code == 403
    login(client, firm.both)
    assert _post(client, firm, name="Co").status_code == 302
    _work(app)
    assert [o[0] for o in _organizers(app)] == [firm.alpha, firm.gamma]


def test_anonymous_goes_to_the_login(app, client, firm):
    """No session: the send page redirects to the login, nothing is queued."""
    assert client.get(f"/organizers/send/{firm.template}").status_code == 302
