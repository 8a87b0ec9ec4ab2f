"""Task screens: scope (404/403), lifecycle buttons, the composer, the wizard, query counts."""
import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import Contact, Entity, Message, MessageKind, Task
from app.models.tasks import PortalState, StaffStatus
from app.security import roles as R
from app.services import messages, tasks
from tests import factories as f
from tests.conftest import csrf_token


@pytest.fixture
def desk(app):
    """An accountant's own entity (with a collaborator and a reader), a foreign entity with a task."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        own, foreign = f.entity("Own Co", responsible=accountant), f.entity("Foreign Co")
        cora, rhea = f.contact(first="Cora", with_user=True), f.contact(first="Rhea", with_user=True)
        f.share(own, R.ENTITY_COLLABORATOR, contact=cora)
        f.share(own, R.ENTITY_ACCESS, contact=rhea)
        mine = tasks.create_task(own, "Own task", accountant, checklist=["One"],
                                 deadline=date.today() - timedelta(days=2))
        theirs = tasks.create_task(foreign, "Foreign task", None, checklist=["Secret"])
        return SimpleNamespace(accountant=accountant.id, own=own.id, foreign=foreign.id, mine=mine.id,
                               theirs=theirs.id, theirs_item=theirs.checklist[0].id, cora=cora.id, rhea=rhea.id,
                               cora_user=cora.user.id, staff_admin=f.staff(R.STAFF_ADMIN).id)


def test_foreign_task_ids_are_404_on_every_route(app, client, login, desk):
    """Show, edit, delete, lifecycle actions, messages and checklist of a foreign task: 404."""
    login(client, desk.accountant)
    token = csrf_token(client, "/taskview/new")
    assert client.get(f"/taskview/show/{desk.theirs}").status_code == 404
    assert client.get(f"/taskview/edit/{desk.theirs}").status_code == 404
    for path in (f"/taskview/delete/{desk.theirs}", f"/taskview/{desk.theirs}/act/assign",
                 f"/taskview/{desk.theirs}/message", f"/taskview/checklist/{desk.theirs_item}"):
        assert client.post(path, data={"csrf_token": token, "body": "x", "kind": "portal", "done": "1"}).status_code == 404
    with app.app_context():
        theirs = db.session.get(Task, desk.theirs)
        assert theirs.portal_state is PortalState.not_assigned and not theirs.checklist[0].done
        assert db.session.query(Message).count() == 0


def test_view_only_staff_admin_gets_403_on_work(app, client, login, desk):
    """A Staff Admin sees every task but cannot assign, post or tick (no work right): 403."""
    login(client, desk.staff_admin)
    assert client.get(f"/taskview/show/{desk.mine}").status_code == 200
    token = csrf_token(client, "/resetmypassword/form")
    assert client.post(f"/taskview/{desk.mine}/act/assign", data={"csrf_token": token}).status_code == 403


def test_lifecycle_buttons_and_overdue_in_red(app, client, login, desk):
    """Assign → withdraw → complete → reopen through the page; the list shows the overdue deadline in red."""
    login(client, desk.accountant)
    token = csrf_token(client, "/taskview/new")
    for name in ("assign", "withdraw", "assign", "complete"):
        assert client.post(f"/taskview/{desk.mine}/act/{name}", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        task = db.session.get(Task, desk.mine)
        assert task.portal_state is PortalState.assigned and task.staff_status is StaffStatus.done
    client.post(f"/taskview/{desk.mine}/act/reopen", data={"csrf_token": token})
    listing = client.get("/taskview/list/").get_data(as_text=True)
    assert 'class="text-danger"' in listing and "overdue" in listing and "Foreign task" not in listing


def test_composer_kinds_and_crafted_kind(app, client, login, desk):
    """The three kinds post; an unknown kind is refused; the client never sees the internal one."""
    login(client, desk.accountant)
    token = csrf_token(client, "/taskview/new")
    client.post(f"/taskview/{desk.mine}/act/assign", data={"csrf_token": token})
    for kind in ("internal", "portal", "email", "superuser", "__class__"):
        client.post(f"/taskview/{desk.mine}/message", data={"csrf_token": token, "body": f"{kind} note", "kind": kind})
    with app.app_context():
        assert sorted(m.kind.name for m in db.session.query(Message)) == ["email", "internal", "portal"]
        task = db.session.get(Task, desk.mine)
        cora = app.appbuilder.sm.get_user_by_id(desk.cora_user)
        assert sorted(m.kind.name for m in messages.thread_messages(task, cora)) == ["email", "portal"]
    page = client.get(f"/taskview/show/{desk.mine}").get_data(as_text=True)
    assert "portico-msg-internal" in page and "Post internal comment (staff only)" in page
    assert re.findall(r'name="kind" value="(\w+)" class="btn (btn-\w+)"', page) == [
        ("internal", "btn-warning"), ("portal", "btn-success"), ("email", "btn-primary")]  # as on a request


def test_new_recurring_task_through_the_form(app, client, login, desk):
    """The new-task form creates a monthly series with its checklist, assigned at once."""
    login(client, desk.accountant)
    token = csrf_token(client, "/taskview/new")
    response = client.post("/taskview/new", data={
        "csrf_token": token, "entity": desk.own, "title": "Monthly bookkeeping", "deadline": "2026-01-31",
        "checklist": "Bank feed\nReceipts\n", "frequency": "monthly", "interval": "1", "assign_now": "y"})
    assert response.status_code == 302
    with app.app_context():
        task = db.session.query(Task).filter_by(title="Monthly bookkeeping").one()
        assert task.series is not None and [i.text for i in task.checklist] == ["Bank feed", "Receipts"]
        assert task.portal_state is PortalState.assigned
        assert tasks.spawn_next(task.id).deadline == date(2026, 2, 28)
    foreign = client.post("/taskview/new", data={"csrf_token": token, "entity": desk.foreign, "title": "Sneaky",
                                                "frequency": "once"})
    assert foreign.status_code == 200 and "This field is required." in foreign.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Task).filter_by(title="Sneaky").count() == 0


def test_file_request_wizard_refuses_readers_and_sends_to_collaborators(app, client, login, desk):
    """A crafted post naming an Entity Access contact is refused; a collaborator gets the request."""
    login(client, desk.accountant)
    page = client.get(f"/file-requests/new?entity={desk.own}").get_data(as_text=True)
    assert "Needs the Entity Collaborator role" in page
    token = csrf_token(client, "/taskview/new")
    url = f"/file-requests/new?entity={desk.own}"
    refused = client.post(url, data={"csrf_token": token, "recipients": [desk.rhea], "subject": "Bank statements"})
    assert refused.status_code == 200
    sent = client.post(url, data={"csrf_token": token, "recipients": [desk.cora], "subject": "Bank statements"})
    assert sent.status_code == 302
    with app.app_context():
        request = db.session.query(Task).filter_by(title="Bank statements").one()
        assert [c.id for c in request.assignees] == [desk.cora]
    assert client.get(f"/file-requests/new?entity={desk.foreign}").status_code == 404


def _add_tasks(app, entity_id, n):
    with app.app_context():
        entity = db.session.get(Entity, entity_id)
        for i in range(n):
            db.session.add(Task(entity=entity, title=f"T{i}", deadline=date.today() + timedelta(days=i % 40)))
        db.session.commit()


def _add_messages(app, task_id, n, author_id):
    with app.app_context():
        for i in range(n):
            db.session.add(Message(task_id=task_id, kind=list(MessageKind)[i % 3], body=f"m{i}",
                                   author_user_id=author_id))
        db.session.commit()


def test_task_list_and_page_have_fixed_query_counts(app, client, login, count_queries, desk):
    """The task list (10 vs 1,000 tasks) and a task page (10 vs 1,000 messages) run fixed queries."""
    login(client, desk.accountant)
    counts = {}
    for label, tasks_n, messages_n in (("small", 10, 10), ("large", 990, 990)):
        _add_tasks(app, desk.own, tasks_n)
        _add_messages(app, desk.mine, messages_n, desk.accountant)
        client.get("/taskview/list/")
        with count_queries() as listing:
            assert client.get("/taskview/list/").status_code == 200
        with count_queries() as page:
            assert client.get(f"/taskview/show/{desk.mine}").status_code == 200
        counts[label] = (listing(), page())
    assert counts["small"] == counts["large"], counts


def test_my_work_page_lists_my_tasks_and_requests_with_fixed_queries(app, client, login, count_queries, desk):
    """The staff home shows overdue, awaiting-me and new requests, with the same queries for 1 or 30 rows."""
    from app.services import requests as request_service

    login(client, desk.accountant)
    with app.app_context():
        task = db.session.get(Task, desk.mine)
        tasks.assign(task, app.appbuilder.sm.get_user_by_id(desk.accountant))
        cora_user, cora = app.appbuilder.sm.get_user_by_id(desk.cora_user), db.session.get(Contact, desk.cora)
        tasks.client_complete(task, cora, cora_user)
        request_service.create_request(db.session.get(Entity, desk.own), cora, cora_user, "Payroll question", "Hi")
    client.get("/")
    with count_queries() as few:
        page = client.get("/").get_data(as_text=True)
    assert "My work" in page and "Payroll question" in page and "Foreign task" not in page
    assert page.count(">Own task<") == 3  # overdue, done by client awaiting me, my open tasks
    _add_tasks(app, desk.own, 30)
    with app.app_context():
        db.session.query(Task).update({Task.responsible_id: desk.accountant})
        db.session.commit()
    with count_queries() as many:
        client.get("/")
    assert few() == many()


def test_attach_a_document_of_the_same_entity_only(app, client, login, desk):
    """A document of the task's entity can be attached; one of another entity is 404."""
    from app.models import Document

    with app.app_context():
        own_doc = Document(entity_id=desk.own, name="own.pdf", file_type="pdf", mime="application/pdf", size=1,
                           sha256="0" * 64)
        foreign_doc = Document(entity_id=desk.foreign, name="foreign.pdf", file_type="pdf",
                               mime="application/pdf", size=1, sha256="0" * 64)
        db.session.add_all([own_doc, foreign_doc])
        db.session.commit()
        ids = (own_doc.id, foreign_doc.id)
    login(client, desk.accountant)
    token = csrf_token(client, "/taskview/new")
    assert client.post(f"/taskview/{desk.mine}/attach", data={"csrf_token": token, "document_id": ids[1]}).status_code == 404
    assert client.post(f"/taskview/{desk.mine}/attach", data={"csrf_token": token, "document_id": ids[0]}).status_code == 302
    with app.app_context():
        assert [d.name for d in db.session.get(Task, desk.mine).attachments] == ["own.pdf"]


def test_task_page_shows_series_and_outstanding_recipients_and_assignees_can_be_edited(app, client, login, desk):
    """The page lists the series' occurrences and who still has to answer; a foreign assignee is refused."""
    from app.services import file_requests
    from app.models.tasks import Frequency
    from app.services.recurrence import Rule

    with app.app_context():
        accountant = app.appbuilder.sm.get_user_by_id(desk.accountant)
        own = db.session.get(Entity, desk.own)
        series = tasks.create_series(own, "VAT", Rule(Frequency.quarterly), date(2026, 3, 31), accountant)
        tasks.spawn_next(series.id)
        request = file_requests.create(own, accountant, [db.session.get(Contact, desk.cora)], "Statements")
        ids = SimpleNamespace(series=series.id, request=request.id, stranger=f.contact(last="Stranger").id)
    login(client, desk.accountant)
    page = client.get(f"/taskview/show/{ids.series}").get_data(as_text=True)
    assert "Every quarter" in page and "2026-06-30" in page
    assert "Still to answer" in client.get(f"/taskview/show/{ids.request}").get_data(as_text=True)
    token = csrf_token(client, f"/taskview/edit/{desk.mine}")
    client.post(f"/taskview/edit/{desk.mine}", data={"csrf_token": token, "title": "Own task",
                                                     "assignees": [desk.cora, ids.stranger]})
    with app.app_context():
        assert {c.id for c in db.session.get(Task, desk.mine).assignees} == {desk.cora, desk.rhea}


def test_message_attachments_follow_the_kind_and_a_refused_file_keeps_nothing(app, client, login, desk):
    """An internal comment's file is staff only, a portal message's is shared; an HTML file posts nothing."""
    import io

    from app.models import Document
    from app.models.documents import Visibility

    login(client, desk.accountant)
    token = csrf_token(client, "/taskview/new")
    url = f"/taskview/{desk.mine}/message"
    for kind in ("internal", "portal"):
        client.post(url, data={"csrf_token": token, "body": kind, "kind": kind,
                               "files": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), f"{kind}.pdf")},
                    content_type="multipart/form-data")
    client.post(url, data={"csrf_token": token, "body": "bad", "kind": "portal",
                           "files": [(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "ok.pdf"),
                                     (io.BytesIO(b"<html><script>x</script></html>"), "evil.pdf")]},
                content_type="multipart/form-data")
    with app.app_context():
        docs = {d.name: d.visibility for d in db.session.query(Document)}
        assert docs == {"internal.pdf": Visibility.staff_only, "portal.pdf": Visibility.portal}
        assert sorted(m.body for m in db.session.query(Message)) == ["internal", "portal"]
        assert all(len(m.attachments) == 1 for m in db.session.query(Message))


def test_editing_the_series_screen_changes_future_occurrences_only(app, client, login, desk):
    """The series form renames future occurrences; a foreign series is 404; a bad rule is refused."""
    from app.models.tasks import Frequency
    from app.services.recurrence import Rule

    with app.app_context():
        accountant = app.appbuilder.sm.get_user_by_id(desk.accountant)
        first = tasks.create_series(db.session.get(Entity, desk.own), "Payroll", Rule(Frequency.monthly),
                                    date(2026, 1, 31), accountant)
        foreign = tasks.create_series(db.session.get(Entity, desk.foreign), "Theirs", Rule(Frequency.monthly),
                                      date(2026, 1, 31), None)
        ids = SimpleNamespace(first=first.id, series=first.series_id, foreign_series=foreign.series_id)
    login(client, desk.accountant)
    assert client.get(f"/taskseriesview/edit/{ids.foreign_series}").status_code == 404
    token = csrf_token(client, f"/taskseriesview/edit/{ids.series}")
    form = {"csrf_token": token, "title": "Payroll run", "frequency": "monthly", "interval": "1"}
    assert client.post(f"/taskseriesview/edit/{ids.series}", data=form).status_code == 302
    client.post(f"/taskseriesview/edit/{ids.series}", data=dict(form, frequency="monthly", interval="5",
                                                                 title="Broken"))
    with app.app_context():
        nxt = tasks.spawn_next(ids.first)
        assert db.session.get(Task, ids.first).title == "Payroll" and nxt.title == "Payroll run"


def test_a_long_thread_on_the_task_page_is_paged(app, client, login, count_queries, desk):
    """1,000 messages: the task page shows the latest page, links to older pages (no JavaScript), fixed queries."""
    from app.services.messages import THREAD_PAGE

    login(client, desk.accountant)
    _add_messages(app, desk.mine, 1000, desk.accountant)
    latest = client.get(f"/taskview/show/{desk.mine}").get_data(as_text=True)
    assert "m999" in latest and f"m{999 - THREAD_PAGE}<" not in latest
    older = re.search(r'href="([^"]+\?before=\d+)#thread"', latest).group(1).replace("&amp;", "&")
    with count_queries() as first:
        page = client.get(older).get_data(as_text=True)
    assert f"m{999 - THREAD_PAGE}<" in page and "m999<" not in page and "Latest messages" in page
    deeper = re.search(r'href="([^"]+\?before=\d+)#thread"', page).group(1).replace("&amp;", "&")
    with count_queries() as second:
        assert client.get(deeper).status_code == 200
    assert first() == second()
