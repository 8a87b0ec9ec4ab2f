"""Portal home: pending and completed tasks, recent activity (own, allowed verbs, 5 latest), the
firm's contact block, "Send files to the firm" (Inbox, note, rights, refusals) and fixed query counts."""
import io
import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import insert, literal, select

from app.extensions import db
from app.models import ActivityEvent, Contact, Document, Entity, Folder, MessageKind, Task
from app.models.documents import Direction, Visibility
from app.models.tasks import ClientStatus, PortalState, StaffStatus, TaskKind, task_assignees
from app.security import access
from app.security import roles as R
from app.services import documents, messages, tasks
from app.services.firm import get_settings
from app.storage import backend
from tests import documents_helpers as h
from tests import factories as f
from tests.conftest import csrf_token
from tests.documents_helpers import HTML, PDF, PNG, stored_files

HOME = "/portal/"
SEND = "/portal/send-files"
JSON = {"Accept": "application/json"}


@pytest.fixture
def office(app):
    """Entity A with a collaborator (Cora) and a reader (Rhea); entity B with Stan; a few tasks."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        a, b = f.entity("Alpha Co", responsible=accountant), f.entity("Beta Co", responsible=accountant)
        cora = f.portal_contact(a, R.ENTITY_COLLABORATOR, first="Cora")
        rhea = f.portal_contact(a, R.ENTITY_ACCESS, first="Rhea")
        stan = f.portal_contact(b, R.ENTITY_COLLABORATOR, first="Stan")
        settings = get_settings()
        settings.firm_name, settings.contact_person = "Ledger & Co", "Paula Partner"
        settings.contact_phone = "+372 555 0101"
        settings.contact_email, settings.address = "desk@ledger.example", "1 Main Street\nTallinn"
        db.session.commit()

        def assigned(entity, title, assignees=None, **kwargs):
            task = tasks.create_task(entity, title, accountant, assignees=assignees, **kwargs)
            tasks.assign(task, accountant)
            return task

        overdue = assigned(a, "Send receipts", deadline=date.today() - timedelta(days=3))
        upcoming = assigned(a, "Sign engagement letter", deadline=date.today() + timedelta(days=10))
        finished = assigned(a, "Confirm address")
        tasks.client_complete(finished, cora, cora.user)
        tasks.create_task(a, "Draft for staff only", accountant)  # never assigned
        assigned(a, "Only for Rhea", assignees=[rhea])
        assigned(b, "Beta payroll")
        return SimpleNamespace(accountant=accountant.id, a=a.id, b=b.id, cora=cora.id, rhea=rhea.id, stan=stan.id,
                               cora_user=cora.user.id, rhea_user=rhea.user.id, stan_user=stan.user.id,
                               overdue=overdue.id, upcoming=upcoming.id, finished=finished.id)


def _home(client):
    response = client.get(HOME)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _section(body, heading_id):
    """The HTML of the card whose heading has `heading_id`."""
    start = body.index(f'id="{heading_id}"')
    return body[start:body.index("</section>", start)]


def test_home_shows_pending_tasks_with_get_started_completed_tasks_and_the_firm(client, portal_login, office):
    """Pending tasks link to their page (overdue in red with text), completed ones are listed, the firm card shows."""
    portal_login(client, office.cora)
    body = _home(client)
    pending, completed = _section(body, "pending-heading"), _section(body, "completed-heading")
    assert "Send receipts" in pending and "Sign engagement letter" in pending and "Confirm address" not in pending
    assert f'href="/portal/tasks/{office.overdue}"' in pending and pending.count("Get started") == 2
    assert re.search(r'class="small overdue">\s*<strong>Overdue:</strong>', pending)
    assert "Confirm address" in completed and "Done by Cora" in completed
    assert '<span class="muted small">(2)</span>' in pending and '<span class="muted small">(1)</span>' in completed
    for hidden in ("Draft for staff only", "Only for Rhea", "Beta payroll"):
        assert hidden not in body
    firm = _section(body, "firm-heading")
    for text in ("Paula Partner", "+372 555 0101", "desk@ledger.example", "Tallinn", "Ledger &amp; Co"):
        assert text in firm
    assert "<title>Home · Ledger &amp; Co</title>" in body and "<h1>Home" in body


def test_home_without_shared_entities_is_a_friendly_page(app, client, portal_login):
    """A contact with no entity sees an explanation (200), not an error."""
    with app.app_context():
        loner = f.portal_contact(None).id
    portal_login(client, loner)
    body = _home(client)
    assert "Nothing is shared with you yet" in body and "Send files" not in body


def _event(user_id, entity_id, verb, summary, minutes_ago, object_type=None, object_id=None):
    return {"actor_id": user_id, "entity_id": entity_id, "verb": verb, "summary": summary,
            "created_on": datetime.now() - timedelta(minutes=minutes_ago), "object_type": object_type,
            "object_id": object_id}


def test_recent_activity_lists_only_my_allowed_events_at_most_five(app, client, portal_login, office):
    """Only the contact's own opened/completed/downloaded events in this entity, newest 5, as readable lines."""
    with app.app_context():
        db.session.query(ActivityEvent).delete()  # the fixture's own events are not what this test reads
        db.session.execute(insert(ActivityEvent), [
            _event(office.cora_user, office.a, "task.opened", "Old task", 60, "Task", office.upcoming),
            _event(office.cora_user, office.a, "task.opened", "Opened task", 9, "Task", office.overdue),
            _event(office.cora_user, office.a, "work.client_completed", "Completed task", 8, "Task", office.finished),
            _event(office.cora_user, office.a, "document.downloaded", "statement.pdf (v1)", 7),
            _event(office.cora_user, office.a, "document.downloaded", "invoice.pdf (v2)", 6),
            _event(office.cora_user, office.a, "document.downloaded", "ledger.csv (v1)", 5),
            _event(office.cora_user, office.a, "voucher.paid", "Tax payment 1200", 1),
            _event(office.cora_user, office.a, "k1.distributed", "K-1 for partner", 1),
            _event(office.cora_user, office.a, "document.uploaded", "upload.pdf", 1),
            _event(office.rhea_user, office.a, "task.opened", "Rhea opened", 1),
            _event(office.accountant, office.a, "work.task_assigned", "Staff assigned", 1),
            _event(office.cora_user, office.b, "task.opened", "In entity B", 1),
        ])
        db.session.commit()
    portal_login(client, office.cora)
    recent = _section(_home(client), "recent-heading")
    lines = re.findall(r"<li><div class=\"main\">\s*(.*?)\s*<p", recent, re.S)
    assert len(lines) == 5
    assert "You downloaded “ledger.csv (v1)”." in lines[0]
    assert "You marked the task “Completed task” as done." in lines[3]
    assert f'<a href="/portal/tasks/{office.overdue}">You opened the task “Opened task”.</a>' == lines[4]
    for absent in ("Old task", "Tax payment", "K-1", "upload.pdf", "Rhea opened", "Staff assigned", "In entity B"):
        assert absent not in recent


def test_reader_sees_why_sending_files_is_not_offered_and_a_post_is_403(app, client, portal_login, office):
    """An Entity Access contact gets an explanation instead of the form; a crafted POST is 403, nothing saved."""
    portal_login(client, office.rhea)
    send = _section(_home(client), "send-heading")
    assert "not send new files" in send and 'type="file"' not in send
    token = csrf_token(client, "/portal/settings/profile")
    data = {"csrf_token": token, "note": "x", "files": (io.BytesIO(PDF), "a.pdf")}
    assert client.post(SEND, data=data, content_type="multipart/form-data").status_code == 403
    data["files"] = (io.BytesIO(PDF), "a.pdf")
    response = client.post(SEND, data=data, content_type="multipart/form-data", headers=JSON)
    assert response.status_code == 403 and response.get_json()["errors"]
    with app.app_context():
        assert db.session.query(Document).count() == 0


def _send(client, files, note="", accept="text/html", **extra):
    token = csrf_token(client, HOME)
    data = {"csrf_token": token, "note": note, "files": [(io.BytesIO(c), n) for n, c in files], **extra}
    return client.post(SEND, data=data, content_type="multipart/form-data", headers={"Accept": accept})


def test_send_files_land_in_the_inbox_with_the_note(app, client, portal_login, office):
    """Two files and a note: shared documents from the client in "Inbox" (created once), note on each, logged."""
    portal_login(client, office.cora)
    assert 'type="file"' in _section(_home(client), "send-heading")
    response = _send(client, [("receipts.pdf", PDF), ("photo.png", PNG)], note="Receipts for March")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/#send-files")
    assert "2 files sent." in _home(client)
    again = _send(client, [("receipts.pdf", PDF)], note="", accept="application/json")
    assert again.status_code == 200 and again.get_json()["saved"][0]["name"] == "receipts.pdf"
    with app.app_context():
        folders = db.session.scalars(select(Folder).where(Folder.entity_id == office.a)).all()
        assert [(x.name, x.parent_id) for x in folders] == [("Inbox", None)]
        docs = db.session.scalars(select(Document).order_by(Document.id)).all()
        assert [d.name for d in docs] == ["receipts.pdf", "photo.png", "receipts.pdf"]
        assert all(d.folder_id == folders[0].id and d.entity_id == office.a for d in docs)
        assert all(d.direction is Direction.from_client and d.visibility is Visibility.portal for d in docs)
        assert [d.note for d in docs] == ["Receipts for March", "Receipts for March", None]
        uploads = db.session.scalars(select(ActivityEvent).where(ActivityEvent.verb == "document.uploaded")).all()
        assert len(uploads) == 3 and {e.actor_id for e in uploads} == {office.cora_user}


def test_send_files_refuses_bad_files_and_keeps_nothing(app, client, portal_login, office):
    """A disguised HTML file is 400 and an over-size file 413 (JSON, clear message); no document, no blob."""
    portal_login(client, office.cora)
    with app.app_context():
        get_settings().max_upload_bytes = 2048
        db.session.commit()
        before = stored_files(backend().root)
    refused = _send(client, [("invoice.pdf", HTML)], accept="application/json")
    assert refused.status_code == 400 and "invoice.pdf" in refused.get_json()["errors"][0]
    too_big = _send(client, [("big.pdf", PDF + b"0" * 4096)], accept="application/json")
    assert too_big.status_code == 413 and "larger than the 2.0 kB limit" in too_big.get_json()["errors"][0]
    plain = _send(client, [("big.pdf", PDF + b"0" * 4096)])
    assert plain.status_code == 302 and "larger than the 2.0 kB limit" in _home(client)
    assert _send(client, [], accept="application/json").status_code == 400
    with app.app_context():
        assert db.session.query(Document).count() == 0
        assert [p for p in stored_files(backend().root) if p not in before] == []


def test_send_files_to_an_entity_of_someone_else_is_404_and_needs_csrf(app, client, portal_login, office):
    """The form's entity must be one of the contact's (entity B → 404); a POST without CSRF is 400."""
    portal_login(client, office.cora)
    assert _send(client, [("a.pdf", PDF)], entity_id=str(office.b)).status_code == 404
    no_token = client.post(SEND, data={"files": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data")
    assert no_token.status_code == 400
    with app.app_context():
        assert db.session.query(Document).count() == 0


def _bulk(app, office, n):
    """n pending and n completed tasks for Cora, and n of her activity events, inserted at once."""
    with app.app_context():
        rows = [{"entity_id": office.a, "title": f"Bulk {status.name} {i}", "kind": TaskKind.task,
                 "staff_status": StaffStatus.open, "portal_state": PortalState.assigned, "client_status": status,
                 "client_done_on": datetime.now() if status is ClientStatus.done else None,
                 "client_done_by_id": office.cora if status is ClientStatus.done else None,
                 "deadline": date.today() + timedelta(days=i % 30), "auto_complete": False}
                for status in ClientStatus for i in range(n)]
        db.session.execute(insert(Task), rows)
        db.session.execute(insert(task_assignees).from_select(
            ["task_id", "contact_id"],
            select(Task.id, literal(office.cora)).where(Task.title.like("Bulk%"), Task.id.not_in(
                select(task_assignees.c.task_id).where(task_assignees.c.contact_id == office.cora)))))
        verbs = ("task.opened", "work.client_completed", "document.downloaded")
        db.session.execute(insert(ActivityEvent), [
            _event(office.cora_user, office.a, verbs[i % 3], f"e{i}", i % 500, "Task", office.overdue)
            for i in range(n)])
        db.session.commit()


def test_home_runs_a_fixed_number_of_queries(app, client, portal_login, count_queries, office):
    """10 or 1,000 tasks and events: the same number of SQL statements; lists are limited with counts."""
    portal_login(client, office.cora)
    counts = []
    for n in (10, 990):
        _bulk(app, office, n)
        _home(client)
        with count_queries() as queries:
            body = _home(client)
        counts.append(queries())
    assert counts[0] == counts[1], counts
    assert "Showing the latest 10 of 1001 completed tasks." in body
    assert "Showing the first 50 of 1002 tasks." in body


# 1 --------------------------------------------------------------------------------------------------
def test_contact_on_staff_home_is_sent_to_portal_and_sees_only_own_activity(app, client, portal_login, world):
    """Contact on staff home "/" saw staff activity: now redirected to /portal/, scope gives only its own events."""
    with app.app_context():
        acc = app.appbuilder.sm.get_user_by_id(world.acc)
        alpha = db.session.get(Task, world.task).entity
        secret = tasks.create_task(alpha, "Plan: drop this client in Q3", acc)
        messages.post(secret, acc, "internal only", MessageKind.internal)
        documents.upload(alpha, h.Upload("IRS-audit-findings.pdf", PDF), acc, visibility=Visibility.staff_only)
    portal_login(client, world.cora)
    assert client.get(f"/portal/tasks/{world.task}").status_code == 200  # an event of Cora's own
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    assert "IRS-audit-findings.pdf" not in response.get_data(as_text=True)
    with app.test_request_context():
        cora_user = app.appbuilder.sm.get_user_by_id(world.cora_user)
        seen = db.session.scalars(access.visible(cora_user, ActivityEvent)).all()
        assert seen and {event.actor_id for event in seen} == {world.cora_user}
    with app.test_request_context():
        staff_seen = db.session.scalars(access.visible(app.appbuilder.sm.get_user_by_id(world.acc),
                                                       ActivityEvent)).all()
        assert world.acc in {event.actor_id for event in staff_seen}


def test_the_firm_card_names_the_clients_own_accountant_first(app, client, portal_login, office):
    """The responsible staff member of the contact's entity is named with their address, above the firm's desk."""
    with app.app_context():
        accountant = db.session.get(User, office.accountant)
        name, email = f"{accountant.first_name} {accountant.last_name}", accountant.email
    portal_login(client, office.cora)
    firm = _section(_home(client), "firm-heading")
    assert "Your accountant" in firm and name in firm and f'href="mailto:{email}"' in firm
    assert firm.index("Your accountant") < firm.index("Paula Partner")


def test_a_contact_of_several_entities_starts_where_work_waits_for_them(app, client, portal_login, office):
    """Cora also shares Aaron Co (first by name, nothing for her): the portal opens on Alpha Co, which has her tasks."""
    with app.app_context():
        aaron = f.entity("Aaron Co")
        f.share(aaron, R.ENTITY_COLLABORATOR, contact=db.session.get(Contact, office.cora))
    portal_login(client, office.cora)
    body = _home(client)
    assert "Send receipts" in body and "Sign engagement letter" in body
    assert "Send receipts" in _home(client)  # and stays there


def test_sending_files_is_offered_per_entity_by_the_contacts_role_there(app, client, portal_login, office):
    """Rhea reads Alpha Co and collaborates on Beta Co: the form shows on Beta only, a POST naming Alpha is 403."""
    with app.app_context():
        f.share(db.session.get(Entity, office.b), R.ENTITY_COLLABORATOR, contact=db.session.get(Contact, office.rhea))
    portal_login(client, office.rhea)
    for entity_id, offered in ((office.a, False), (office.b, True), (office.a, False)):
        with client.session_transaction() as session:
            session["portal_entity"] = entity_id
        send = _section(_home(client), "send-heading")
        assert ('type="file"' in send) is offered and ("not send new files" in send) is not offered
    token = csrf_token(client, "/portal/settings/profile")
    data = {"csrf_token": token, "entity_id": str(office.a), "files": (io.BytesIO(PDF), "a.pdf")}
    assert client.post(SEND, data=data, content_type="multipart/form-data").status_code == 403
    with app.app_context():
        assert db.session.query(Document).count() == 0
