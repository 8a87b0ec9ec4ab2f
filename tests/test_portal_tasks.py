"""Portal task page: scope (404), what never reaches a contact, checklist, reply, uploads (rights,
size, type, mass assignment), mark as done, the "opened" log, CSRF and fixed query counts."""
import io
import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import ActivityEvent, ChecklistItem, Contact, Document, FileRequestAnswer, Message, MessageKind, Task
from app.models.documents import Direction, Visibility
from app.models.messages import message_attachments
from app.models.tasks import ClientStatus, StaffStatus
from app.security import roles as R
from app.services import documents, file_requests, messages, tasks
from app.services.firm import get_settings
from app.storage import backend
from tests import documents_helpers as h
from tests import factories as f
from tests.conftest import csrf_token
from tests.documents_helpers import HTML, PDF, PNG, stored_files

JSON = {"Accept": "application/json"}


def _doc(entity, name, visibility):
    doc = Document(entity_id=entity.id, name=name, file_type="pdf", mime="application/pdf", size=10,
                   sha256="0" * 64, visibility=visibility, direction=Direction.from_firm)
    db.session.add(doc)
    db.session.commit()
    return doc


@pytest.fixture
def desk(app):
    """Entity A: a task for Cora (collaborator) and Rhea (reader) with a checklist, files and a thread;
    tasks Cora must not reach (entity B, unassigned, withdrawn, Rhea's only)."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        a, b = f.entity("Alpha Co", responsible=accountant), f.entity("Beta Co", responsible=accountant)
        cora = f.portal_contact(a, R.ENTITY_COLLABORATOR, first="Cora")
        rhea = f.portal_contact(a, R.ENTITY_ACCESS, first="Rhea")
        f.portal_contact(b, R.ENTITY_COLLABORATOR, first="Stan")

        def assigned(entity, title, **kwargs):
            task = tasks.create_task(entity, title, accountant, **kwargs)
            tasks.assign(task, accountant)
            return task

        task = assigned(a, "Year-end papers", deadline=date.today() - timedelta(days=2), checklist=["Bank", "Payroll"],
                        description="Please send **all** statements.\n\n<script>alert(1)</script>")
        shared, secret = _doc(a, "engagement.pdf", Visibility.portal), _doc(a, "staff-notes.pdf", Visibility.staff_only)
        tasks.attach(task, shared, accountant)
        tasks.attach(task, secret, accountant)
        messages.post(task, accountant, "Internal: client is late", MessageKind.internal,
                      attachments=[_doc(a, "internal-memo.pdf", Visibility.staff_only)])
        messages.post(task, accountant, "Hello from the firm", MessageKind.portal,
                      attachments=[_doc(a, "checklist.pdf", Visibility.portal),
                                   _doc(a, "hidden-on-message.pdf", Visibility.staff_only)])
        gone = messages.post(task, accountant, "Withdrawn words", MessageKind.portal)
        messages.delete(gone, accountant)
        foreign = assigned(b, "Beta payroll")
        unassigned = tasks.create_task(a, "Not yet shown", accountant)
        withdrawn = assigned(a, "Taken back")
        tasks.withdraw(withdrawn, accountant)
        rheas = assigned(a, "Only for Rhea", assignees=[rhea])
        return SimpleNamespace(accountant=accountant.id, a=a.id, b=b.id, cora=cora.id, rhea=rhea.id,
                               cora_user=cora.user.id, rhea_user=rhea.user.id, task=task.id,
                               items=[i.id for i in task.checklist], foreign=foreign.id, unassigned=unassigned.id,
                               withdrawn=withdrawn.id, rheas=rheas.id)


def _url(task_id, tail=""):
    return f"/portal/tasks/{task_id}{tail}"


def _page(client, task_id):
    response = client.get(_url(task_id))
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _token(client, desk):
    return csrf_token(client, _url(desk.task))


def _files(*pairs):
    return [(io.BytesIO(content), name) for name, content in pairs]


def test_page_shows_the_task_and_never_internal_or_staff_only_things(client, portal_login, desk):
    """Title, safe Markdown, overdue deadline (text), checklist, shared files and portal messages only."""
    portal_login(client, desk.cora)
    body = _page(client, desk.task)
    assert "<title>Year-end papers ·" in body and "<h1>Year-end papers</h1>" in body
    assert "<strong>all</strong>" in body and "<script>alert(1)" not in body
    assert re.search(r'class="overdue"><strong>[^<]+</strong> \(overdue\)', body)
    assert "Bank" in body and "Payroll" in body and "0 of 2 done" in body
    assert "engagement.pdf" in body and "Hello from the firm" in body and "checklist.pdf" in body
    for secret in ("staff-notes.pdf", "Internal: client is late", "internal-memo.pdf", "hidden-on-message.pdf",
                   "Withdrawn words"):
        assert secret not in body
    assert "Mark as done" in body and "portal/upload.js" in body and 'data-upload-url="/portal/tasks/' in body


@pytest.mark.parametrize("which", ["foreign", "unassigned", "withdrawn", "rheas"])
def test_tasks_out_of_reach_are_404_on_every_route(app, client, portal_login, desk, which):
    """Entity B's, an unassigned, a withdrawn and another contact's task: 404 on the page and every action."""
    portal_login(client, desk.cora)
    task_id = getattr(desk, which)
    token = _token(client, desk)
    assert client.get(_url(task_id)).status_code == 404
    with app.app_context():
        item = db.session.scalar(select(ChecklistItem.id).where(ChecklistItem.task_id == task_id)) or desk.items[0]
    for tail, data in ((f"/checklist/{item}", {"done": "1"}), ("/reply", {"body": "hi"}), ("/done", {}),
                       ("/files", {"files": _files(("a.pdf", PDF))})):
        response = client.post(_url(task_id, tail), data={"csrf_token": token, **data},
                               content_type="multipart/form-data")
        assert response.status_code == 404, tail
    with app.app_context():
        assert db.session.get(Task, task_id).client_status is ClientStatus.pending
        assert db.session.query(Document).filter_by(name="a.pdf").count() == 0
        assert db.session.query(Message).filter_by(body="hi").count() == 0


def test_a_checklist_item_of_another_task_is_404(app, client, portal_login, desk):
    """Ticking through my task's URL an item of a task I cannot see is refused (404), nothing changes."""
    with app.app_context():
        other = db.session.get(Task, desk.rheas)
        other.checklist.append(ChecklistItem(position=0, text="Rhea's line"))
        db.session.commit()
        item = other.checklist[0].id
    portal_login(client, desk.cora)
    response = client.post(_url(desk.task, f"/checklist/{item}"),
                           data={"csrf_token": _token(client, desk), "done": "1"})
    assert response.status_code == 404
    with app.app_context():
        assert not db.session.get(ChecklistItem, item).done


@pytest.mark.parametrize("who", ["cora", "rhea"])
def test_tick_and_untick_work_for_every_assignee(app, client, portal_login, desk, who):
    """A collaborator and a reader can both tick and untick a line (a button with aria-pressed)."""
    portal_login(client, getattr(desk, who))
    token, url = _token(client, desk), _url(desk.task, f"/checklist/{desk.items[0]}")
    response = client.post(url, data={"csrf_token": token, "done": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#item-{desk.items[0]}")
    body = _page(client, desk.task)
    assert "1 of 2 done" in body and 'aria-pressed="true"' in body
    client.post(url, data={"csrf_token": token, "done": "0"})
    with app.app_context():
        assert not db.session.get(ChecklistItem, desk.items[0]).done


def test_reply_is_a_portal_message_whatever_extra_fields_say(app, client, portal_login, desk):
    """kind, entity_id, is_internal and author_user_id in the form are ignored: a portal message by Cora here."""
    portal_login(client, desk.cora)
    data = {"csrf_token": _token(client, desk), "body": "Here are the papers", "kind": "internal",
            "entity_id": str(desk.b), "is_internal": "1", "author_user_id": str(desk.accountant),
            "files": _files(("papers.pdf", PDF))}
    response = client.post(_url(desk.task, "/reply"), data=data, content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith("#thread")
    with app.app_context():
        message = db.session.scalar(select(Message).where(Message.body == "Here are the papers"))
        assert message.kind is MessageKind.portal and message.task_id == desk.task
        assert message.author_contact_id == desk.cora and message.author_user_id is None
        assert [(d.name, d.entity_id, d.visibility) for d in message.attachments] == [
            ("papers.pdf", desk.a, Visibility.portal)]
    body = _page(client, desk.task)
    assert "Here are the papers" in body and "papers.pdf" in body and "Your message was sent." in body


def test_reader_replies_with_text_only(app, client, portal_login, desk):
    """Rhea sees that files are not offered; her text reply is posted, a reply with a file is 403."""
    portal_login(client, desk.rhea)
    body = _page(client, desk.task)
    assert "does not include sending files" in body and 'name="files"' not in body
    token = _token(client, desk)
    with_file = client.post(_url(desk.task, "/reply"), data={"csrf_token": token, "body": "with file",
                                                             "files": _files(("x.pdf", PDF))},
                            content_type="multipart/form-data")
    assert with_file.status_code == 403
    assert client.post(_url(desk.task, "/reply"), data={"csrf_token": token, "body": "Text only"}).status_code == 302
    empty = client.post(_url(desk.task, "/reply"), data={"csrf_token": token, "body": "  "})
    assert empty.status_code == 400 and "Write a message first." in empty.get_data(as_text=True)
    with app.app_context():
        assert [m.body for m in db.session.query(Message).filter_by(author_contact_id=desk.rhea)] == ["Text only"]
        assert db.session.query(Document).filter_by(name="x.pdf").count() == 0


def test_upload_two_files_attaches_them_to_the_task(app, client, portal_login, desk):
    """The plain form sends two files: shared documents from the client, attached to the task, shown on the page."""
    portal_login(client, desk.cora)
    data = {"csrf_token": _token(client, desk), "files": _files(("one.pdf", PDF), ("two.png", PNG)),
            "entity_id": str(desk.b), "visibility": "staff_only", "direction": "from_firm"}
    response = client.post(_url(desk.task, "/files"), data=data, content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith("#files")
    assert "2 files sent." in _page(client, desk.task)
    as_json = client.post(_url(desk.task, "/files"), data={"csrf_token": _token(client, desk),
                                                           "files": _files(("three.pdf", PDF))},
                          content_type="multipart/form-data", headers=JSON)
    assert as_json.status_code == 200 and as_json.get_json()["errors"] == []
    with app.app_context():
        task = db.session.get(Task, desk.task)
        names = {d.name: d for d in task.attachments}
        for name in ("one.pdf", "two.png", "three.pdf"):
            doc = names[name]
            assert doc.entity_id == desk.a and doc.visibility is Visibility.portal
            assert doc.direction is Direction.from_client
    body = _page(client, desk.task)
    assert "one.pdf" in body and "two.png" in body and "three.pdf" in body


def test_the_same_file_name_again_is_a_new_version_of_the_task_document(app, client, portal_login, desk):
    """Uploading "one.pdf" twice to a task gives one document with two versions, not two documents."""
    portal_login(client, desk.cora)
    for content in (PDF, PDF + b"\n% second"):
        response = client.post(_url(desk.task, "/files"), data={"csrf_token": _token(client, desk),
                                                                "files": _files(("one.pdf", content))},
                               content_type="multipart/form-data")
        assert response.status_code == 302
    with app.app_context():
        docs = [d for d in db.session.get(Task, desk.task).attachments if d.name == "one.pdf"]
        assert len(docs) == 1 and docs[0].version_count == 2


def test_reader_upload_is_403_and_the_page_explains(app, client, portal_login, desk):
    """An Entity Access contact gets an explanation instead of the upload form; a crafted POST is 403."""
    portal_login(client, desk.rhea)
    body = _page(client, desk.task)
    assert "not add files" in body and "data-upload-url" not in body and "upload.js" not in body
    token = _token(client, desk)
    plain = client.post(_url(desk.task, "/files"), data={"csrf_token": token, "files": _files(("a.pdf", PDF))},
                        content_type="multipart/form-data")
    scripted = client.post(_url(desk.task, "/files"), data={"csrf_token": token, "files": _files(("a.pdf", PDF))},
                           content_type="multipart/form-data", headers=JSON)
    assert plain.status_code == 403 and scripted.status_code == 403 and scripted.get_json()["errors"]
    with app.app_context():
        assert db.session.query(Document).filter_by(name="a.pdf").count() == 0


def test_oversize_and_disguised_uploads_are_refused_with_nothing_left(app, client, portal_login, desk):
    """Over the limit → 413 JSON with a clear message; HTML named .pdf → 400 JSON; no document, no blob."""
    portal_login(client, desk.cora)
    with app.app_context():
        settings = get_settings()
        settings.max_upload_bytes = 4096
        db.session.commit()
        before = stored_files(backend().root)
        documents_before = db.session.query(Document).count()
    page = _page(client, desk.task)
    assert 'data-max-bytes="4096"' in page and 'data-allowed="csv,doc,docx,gif,heic,heif,jpeg,jpg' in page
    token = _token(client, desk)
    big = client.post(_url(desk.task, "/files"),
                      data={"csrf_token": token, "files": _files(("big.pdf", PDF + b"0" * 8000))},
                      content_type="multipart/form-data", headers=JSON)
    assert big.status_code == 413
    assert big.get_json()["errors"] == ["big.pdf: the file is larger than the 4.0 kB limit and was not saved."]
    fake = client.post(_url(desk.task, "/files"), data={"csrf_token": token, "files": _files(("invoice.pdf", HTML))},
                       content_type="multipart/form-data", headers=JSON)
    assert fake.status_code == 400 and fake.get_json()["errors"][0].startswith("invoice.pdf: ")
    reply = client.post(_url(desk.task, "/reply"), data={"csrf_token": token, "body": "big one", "files": _files(
        ("ok.pdf", PDF), ("big.pdf", PDF + b"0" * 8000))}, content_type="multipart/form-data")
    assert reply.status_code == 413 and "larger than the 4.0 kB limit" in reply.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Document).count() == documents_before
        assert db.session.query(Message).filter_by(body="big one").count() == 0
        assert [p for p in stored_files(backend().root) if p not in before] == []


def test_mark_as_done_shows_who_and_when_and_is_logged(app, client, portal_login, desk):
    """Mark as done: client status done, "Done by Cora on …" on the page, a completed event; twice is refused."""
    portal_login(client, desk.cora)
    token = _token(client, desk)
    assert client.post(_url(desk.task, "/done"), data={"csrf_token": token}).status_code == 302
    body = _page(client, desk.task)
    assert re.search(r"Done by Cora \S+ on ", body) and "Mark as done" not in body and "(overdue)" not in body
    client.post(_url(desk.task, "/done"), data={"csrf_token": token})
    assert "This task is already done." in _page(client, desk.task)
    with app.app_context():
        task = db.session.get(Task, desk.task)
        assert task.client_status is ClientStatus.done and task.client_done_by_id == desk.cora
        verbs = db.session.scalars(select(ActivityEvent.verb).where(ActivityEvent.actor_id == desk.cora_user)).all()
        assert verbs.count("work.client_completed") == 1
    assert "You marked the task “Year-end papers” as done." in client.get("/portal/").get_data(as_text=True)


def test_completing_a_task_staff_closed_already_is_still_logged(app, client, portal_login, desk):
    """When staff closed the task first no staff event is emitted, yet the contact's activity shows it."""
    with app.app_context():
        tasks.complete(db.session.get(Task, desk.task), app.appbuilder.sm.get_user_by_id(desk.accountant))
    portal_login(client, desk.rhea)
    assert client.post(_url(desk.task, "/done"), data={"csrf_token": _token(client, desk)}).status_code == 302
    with app.app_context():
        events = db.session.scalars(select(ActivityEvent).where(ActivityEvent.verb == "work.client_completed")).all()
        assert [(e.actor_id, e.object_id) for e in events] == [(desk.rhea_user, desk.task)]


def test_opening_a_task_is_logged_once_a_day(app, client, portal_login, desk):
    """Opening the page three times records one "task.opened" event for this contact and task."""
    portal_login(client, desk.cora)
    for _ in range(3):
        _page(client, desk.task)
    with app.app_context():
        events = db.session.scalars(select(ActivityEvent).where(ActivityEvent.verb == "task.opened")).all()
        assert [(e.actor_id, e.object_id, e.entity_id) for e in events] == [(desk.cora_user, desk.task, desk.a)]
    assert "You opened the task “Year-end papers”." in client.get("/portal/").get_data(as_text=True)


def test_posts_without_csrf_are_refused(app, client, portal_login, desk):
    """Tick, reply, upload and done without a CSRF token: 400 and nothing changes."""
    portal_login(client, desk.cora)
    for tail, data in ((f"/checklist/{desk.items[0]}", {"done": "1"}), ("/reply", {"body": "no token"}),
                       ("/done", {}), ("/files", {"files": _files(("a.pdf", PDF))})):
        response = client.post(_url(desk.task, tail), data=data, content_type="multipart/form-data")
        assert response.status_code == 400, tail
    with app.app_context():
        assert not db.session.get(ChecklistItem, desk.items[0]).done
        assert db.session.get(Task, desk.task).client_status is ClientStatus.pending
        assert db.session.query(Message).filter_by(body="no token").count() == 0


def test_file_request_upload_answers_the_request(app, client, portal_login, desk):
    """On a file request the upload is Cora's answer: recorded, attached, and the request is done."""
    with app.app_context():
        request = file_requests.create(db.session.get(Task, desk.task).entity,
                                       app.appbuilder.sm.get_user_by_id(desk.accountant),
                                       [db.session.get(Contact, desk.cora)], "Bank statements")
        request_id = request.id
    portal_login(client, desk.cora)
    assert "The firm asks you for files" in _page(client, request_id)
    response = client.post(_url(request_id, "/files"), data={"csrf_token": _token(client, desk),
                                                             "files": _files(("march.pdf", PDF))},
                           content_type="multipart/form-data", headers=JSON)
    assert response.status_code == 200 and response.get_json()["saved"][0]["name"] == "march.pdf"
    with app.app_context():
        answer = db.session.scalar(select(FileRequestAnswer).where(FileRequestAnswer.task_id == request_id))
        assert answer.contact_id == desk.cora and answer.document.name == "march.pdf"
        task = db.session.get(Task, request_id)
        assert task.client_status is ClientStatus.done and [d.name for d in task.attachments] == ["march.pdf"]


def _grow(app, desk, n):
    """n more messages (every kind, some with shared and staff-only files) and n checklist lines."""
    with app.app_context():
        shared = _doc(db.session.get(Task, desk.task).entity, f"bulk-shared-{n}.pdf", Visibility.portal)
        hidden = _doc(db.session.get(Task, desk.task).entity, f"bulk-hidden-{n}.pdf", Visibility.staff_only)
        kinds = list(MessageKind)
        rows = [{"task_id": desk.task, "kind": kinds[i % 3], "body": f"bulk {n} {i}",
                 "author_user_id": desk.accountant if i % 2 else None,
                 "author_contact_id": None if i % 2 else desk.cora, "created_on": datetime.now()}
                for i in range(n)]
        db.session.execute(insert(Message), rows)
        # Ordered: without ORDER BY PostgreSQL may return any 50 as the "last", so which messages
        # carry files (and the page's shape) changed from run to run.
        ids = db.session.scalars(select(Message.id).where(Message.body.like(f"bulk {n} %")).order_by(Message.id)).all()
        db.session.execute(insert(message_attachments), [
            {"message_id": m, "document_id": shared.id if i % 2 else hidden.id} for i, m in enumerate(ids[-50:])])
        db.session.execute(insert(ChecklistItem), [
            {"task_id": desk.task, "position": 10 + i, "text": f"line {n} {i}", "done": bool(i % 2)} for i in range(n)])
        db.session.commit()


def test_task_page_runs_a_fixed_number_of_queries(app, client, portal_login, count_queries, desk):
    """10 or 1,000 messages and checklist lines: the same number of SQL statements, no staff-only file shown."""
    portal_login(client, desk.cora)
    counts = []
    for n in (10, 990):
        _grow(app, desk, n)
        _page(client, desk.task)
        with count_queries() as queries:
            body = _page(client, desk.task)
        counts.append(queries())
        assert f"bulk-shared-{n}.pdf" in body and "bulk-hidden" not in body
    assert counts[0] == counts[1], counts
    with app.app_context():
        assert db.session.get(Task, desk.task).staff_status is StaffStatus.open


def _thread(app, desk, n):
    """n portal messages on the desk's task, numbered from the oldest, in one statement."""
    with app.app_context():
        start = datetime.now() - timedelta(days=1)
        db.session.execute(insert(Message), [
            {"task_id": desk.task, "kind": MessageKind.portal, "body": f"note {i:05d}", "author_contact_id": desk.cora,
             "created_on": start + timedelta(seconds=i)} for i in range(n)])
        db.session.commit()


def test_a_long_thread_is_paged_with_older_messages_links(app, client, portal_login, count_queries, desk):
    """3,000 messages: the page shows the latest ones (< 200 KB) and links to older pages without JavaScript."""
    from app.services.messages import THREAD_PAGE

    _thread(app, desk, 3000)
    portal_login(client, desk.cora)
    latest = _page(client, desk.task)
    assert len(latest.encode()) < 200_000
    assert "note 02999" in latest and f"note {2999 - THREAD_PAGE:05d}" not in latest
    older = re.search(r'href="([^"]+\?before=\d+)#thread"', latest).group(1).replace("&amp;", "&")
    with count_queries() as queries:
        page = client.get(older).get_data(as_text=True)
    assert f"note {2999 - THREAD_PAGE:05d}" in page and "note 02999" not in page and "Latest messages" in page
    deeper = re.search(r'href="([^"]+\?before=\d+)#thread"', page).group(1).replace("&amp;", "&")
    with count_queries() as next_queries:
        assert client.get(deeper).status_code == 200
    assert queries() == next_queries()
    steps, url = 0, older
    while url and steps < 100:
        body = client.get(url).get_data(as_text=True)
        found = re.search(r'href="([^"]+\?before=\d+)#thread"', body)
        url, steps = found.group(1).replace("&amp;", "&") if found else None, steps + 1
    assert "note 00000" in body and steps <= 3003 // THREAD_PAGE
    assert client.get(_url(desk.task, "?before=99999999999999999999999")).status_code == 200


def test_upload_in_chromium_checks_before_sending_and_shows_progress(app, client, portal_login, desk):
    """Real Chromium under the CSP: a too-big file and a refused type are flagged before sending, a
    disguised file gets the server's message, a good one reaches 100 % and appears after a drop."""
    from tests.browser import PHONE, chromium, live_server, require_chromium, screenshot, watch

    require_chromium()
    with app.app_context():
        get_settings().max_upload_bytes = 4096
        db.session.commit()
    portal_login(client, desk.cora)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    problems = []
    files = [{"name": n, "mimeType": "application/octet-stream", "buffer": c}
             for n, c in (("good.pdf", PDF), ("big.pdf", PDF + b"0" * 8000), ("tool.exe", b"MZ"), ("fake.pdf", HTML))]
    with live_server(app) as base, chromium() as browser:
        context = browser.new_context(viewport=PHONE)
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base}])
        page = watch(context.new_page(), problems)
        page.goto(base + _url(desk.task))
        page.set_input_files("#task-files", files)
        rows = page.locator(".uploads li")
        assert rows.count() == 4
        assert "larger than the 4.0 kB limit" in rows.nth(1).inner_text()
        assert "not a type of file we accept" in rows.nth(2).inner_text()
        page.click("form.upload-form button[type=submit]")
        page.wait_for_selector(".upload-status:has-text('Some files were not sent')")
        assert "Sent" in rows.nth(0).inner_text() and rows.nth(0).locator("progress").get_attribute("value") == "100"
        assert "fake.pdf: " in rows.nth(3).inner_text()
        screenshot(page, "portal-task-upload-phone")
        page.evaluate("""() => {
            const data = new DataTransfer();
            data.items.add(new File(["%PDF-1.4\\n%%EOF\\n"], "dropped.pdf", {type: "application/pdf"}));
            const drop = new DragEvent("drop", {dataTransfer: data, bubbles: true});
            document.querySelector("[data-dropzone]").dispatchEvent(drop);
        }""")
        with page.expect_navigation():
            page.click("form.upload-form button[type=submit]")
        page.wait_for_selector("#files a:has-text('dropped.pdf')")
        context.close()
    assert problems == []
    with app.app_context():
        names = sorted(d.name for d in db.session.get(Task, desk.task).attachments)
        assert names == ["dropped.pdf", "engagement.pdf", "good.pdf", "staff-notes.pdf"]


def test_an_open_logged_yesterday_does_not_count_today(app, client, portal_login, desk):
    """An "opened" event from yesterday does not stop today's one from being recorded."""
    with app.app_context():
        db.session.add(ActivityEvent(actor_id=desk.cora_user, entity_id=desk.a, verb="task.opened",
                                     object_type="Task", object_id=desk.task, summary="Year-end papers",
                                     created_on=datetime.now() - timedelta(days=2)))
        db.session.commit()
    portal_login(client, desk.cora)
    _page(client, desk.task)
    _page(client, desk.task)
    with app.app_context():
        assert db.session.query(ActivityEvent).filter_by(verb="task.opened").count() == 2


# 2 --------------------------------------------------------------------------------------------------
def test_file_request_answer_never_versions_a_document_made_staff_only(app, client, portal_login, world):
    """Answer to a file request on a doc made staff-only later: now a new shared file, never a version of it."""
    with app.app_context():
        acc = app.appbuilder.sm.get_user_by_id(world.acc)
        alpha = db.session.get(Task, world.task).entity
        doc = documents.upload(alpha, h.Upload("statement.pdf", PDF), acc, visibility=Visibility.portal)
        request_task = file_requests.create(alpha, acc, [db.session.get(Contact, world.cora)],
                                            "Update the statement", update_document=doc)
        documents.update(doc, None, visibility=Visibility.staff_only, name="CONFIDENTIAL fraud referral.pdf")
        fr_id, doc_id = request_task.id, doc.id
    portal_login(client, world.cora)
    token = csrf_token(client, f"/portal/tasks/{fr_id}")
    response = client.post(f"/portal/tasks/{fr_id}/files",
                           data={"csrf_token": token, "files": (io.BytesIO(PDF), "mine.pdf")},
                           content_type="multipart/form-data", headers=JSON)
    assert response.status_code == 200
    saved = response.get_json()["saved"]
    assert len(saved) == 1 and saved[0]["id"] != doc_id
    assert "CONFIDENTIAL" not in response.get_data(as_text=True)
    with app.app_context():
        secret = db.session.get(Document, doc_id)
        assert secret.visibility is Visibility.staff_only and secret.version_count == 1
        assert db.session.get(Document, saved[0]["id"]).visibility is Visibility.portal


# 3 --------------------------------------------------------------------------------------------------
def test_deleting_a_message_makes_its_files_staff_only_unless_used_elsewhere(app, client, portal_login, world):
    """Deleted message's files stayed shared: now staff-only, unless also attached elsewhere (here: the task)."""
    with app.app_context():
        acc = app.appbuilder.sm.get_user_by_id(world.acc)
        task = db.session.get(Task, world.task)
        msg = messages.post_with_files(task, acc, "Here is your return", MessageKind.portal,
                                       [h.Upload("OTHER-CLIENT-return.pdf", PDF), h.Upload("checklist.pdf", PDF)])
        wrong, kept = (d.id for d in sorted(msg.attachments, key=lambda d: d.name != "OTHER-CLIENT-return.pdf"))
        task.attachments.append(db.session.get(Document, kept))
        db.session.commit()
        messages.delete(msg, acc)
        assert db.session.get(Document, wrong).visibility is Visibility.staff_only
        assert db.session.get(Document, kept).visibility is Visibility.portal
    portal_login(client, world.cora)
    assert "Here is your return" not in client.get(f"/portal/tasks/{world.task}").get_data(as_text=True)
    listing = client.get("/portal/documents").get_data(as_text=True)
    assert "OTHER-CLIENT-return.pdf" not in listing and "checklist.pdf" in listing
    assert client.get(f"/portal/documents/{wrong}/download").status_code == 404
    assert client.get(f"/portal/documents/{kept}/download").status_code == 200


# 11 -------------------------------------------------------------------------------------------------
def test_an_empty_upload_is_refused(app, client, portal_login, world):
    """Empty (0-byte) uploads were stored as documents: now refused, nothing kept."""
    portal_login(client, world.cora)
    token = csrf_token(client, "/portal/")
    response = client.post("/portal/send-files", data={
        "csrf_token": token, "entity_id": str(world.a), "note": "", "files": (io.BytesIO(b""), "empty.txt")},
        content_type="multipart/form-data", headers=JSON)
    assert response.status_code == 400
    assert response.get_json()["saved"] == [] and response.get_json()["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Document.id))) == 0
