"""Portal requests: own requests only, Entity Collaborator to create, nothing half-written, the thread
without internal notes, mass assignment, CSRF, converted requests, and a fixed number of queries."""
import io
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import insert
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import (ClientRequest, Contact, Document, Entity, EntityShare, Message, MessageKind, Notification,
                        RequestStatus, Task)
from app.models.tasks import PortalState
from app.models.documents import Direction, Visibility
from app.security import roles as R
from app.services import events, messages, requests, tasks
from tests import documents_helpers as h
from tests import factories as f
from tests.conftest import csrf_token

LIST, NEW = "/portal/requests", "/portal/requests/new"
LIMIT = 10 * 1024 * 1024


def _show(pk):
    return f"/portal/requests/{pk}"


def _reply(pk):
    return f"/portal/requests/{pk}/reply"


@pytest.fixture
def desk(app):
    """Entity A with a collaborator (Cora, one request with a thread), a reader (Rhea), another
    collaborator (Dave, his own request); entity B with Fred's request. Storage starts empty."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        own, other = f.entity("Own Co", responsible=accountant), f.entity("Other Co")
        cora = f.portal_contact(own, first="Cora")
        rhea = f.portal_contact(own, R.ENTITY_ACCESS, first="Rhea")
        dave = f.portal_contact(own, first="Dave")
        fred = f.portal_contact(other, first="Fred")
        mine = requests.create_request(own, cora, cora.user, "VAT question", "How do I file VAT?",
                                       files=[FileStorage(io.BytesIO(h.CSV), "receipts.csv")])
        messages.post(mine, accountant, "Send us the invoices", MessageKind.portal)
        messages.post(mine, accountant, "SECRET INTERNAL NOTE", MessageKind.internal)
        withdrawn = messages.post(mine, accountant, "WITHDRAWN MESSAGE", MessageKind.portal)
        messages.delete(withdrawn, accountant)
        ids = SimpleNamespace(accountant=accountant.id, own=own.id, other=other.id, cora=cora.id, rhea=rhea.id,
                              dave=dave.id, fred=fred.id, mine=mine.id,
                              rhea_req=_raw_request(own, rhea, "Reader question").id,
                              daves=requests.create_request(own, dave, dave.user, "Dave's question", "Private").id,
                              freds=requests.create_request(other, fred, fred.user, "Fred's question", "Other").id,
                              root=app.config["STORAGE_DIR"])
    return ids


def _raw_request(entity, contact, subject):
    """A request of a contact who may not create one any more (e.g. their role changed since)."""
    item = ClientRequest(entity=entity, contact=contact, subject=subject, body="Earlier question")
    db.session.add(item)
    db.session.commit()
    return item


def _counts(app):
    """(requests, documents, messages) in the database."""
    with app.app_context():
        return (db.session.query(ClientRequest).count(), db.session.query(Document).count(),
                db.session.query(Message).count())


def _files(*pairs):
    return [(io.BytesIO(content), name) for name, content in pairs]


def test_list_shows_own_requests_newest_first(client, portal_login, desk):
    """Cora sees her request with its translated status; Dave's and entity B's never; no-store."""
    portal_login(client, desk.cora)
    response = client.get(LIST)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    assert "VAT question" in body and "New" in body and f'href="{NEW}"' in body
    assert "Dave&#39;s question" not in body and "Dave's question" not in body and "Fred" not in body


def test_entity_access_contact_sees_why_and_cannot_create(app, client, portal_login, desk):
    """Rhea (Entity Access): no New button but a reason; GET and POST new are 403; nothing is created."""
    portal_login(client, desk.rhea)
    body = client.get(LIST).get_data(as_text=True)
    assert f'href="{NEW}"' not in body and "does not include creating requests" in body
    page = client.get(NEW)
    assert page.status_code == 403 and "not create new ones" in page.get_data(as_text=True)
    token = csrf_token(client, _show(desk.rhea_req))
    before = _counts(app)
    response = client.post(NEW, data={"csrf_token": token, "subject": "Hi", "body": "Let me in",
                                      "files": _files(("a.csv", h.CSV))}, content_type="multipart/form-data")
    assert response.status_code == 403
    assert _counts(app) == before


def test_collaborator_creates_a_request_with_two_files(app, client, portal_login, desk):
    """Cora sends a request with two files: both are shared documents from the client, attached to it."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    response = client.post(NEW, data={"csrf_token": token, "subject": "Payroll", "body": "Two files attached",
                                      "files": _files(("scan.pdf", h.PDF), ("photo.png", h.PNG))},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        item = db.session.query(ClientRequest).filter_by(subject="Payroll").one()
        assert response.headers["Location"].endswith(_show(item.id))
        assert item.entity_id == desk.own and item.contact_id == desk.cora and item.status is RequestStatus.new
        assert sorted(d.name for d in item.attachments) == ["photo.png", "scan.pdf"]
        assert {(d.visibility, d.direction) for d in item.attachments} == {(Visibility.portal, Direction.from_client)}
        pk = item.id
    body = client.get(_show(pk)).get_data(as_text=True)
    assert "scan.pdf" in body and "photo.png" in body and "Your request was sent" in body


def test_empty_subject_is_a_form_error(app, client, portal_login, desk):
    """No subject: the form again with the error; nothing is created."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    before = _counts(app)
    response = client.post(NEW, data={"csrf_token": token, "subject": "  ", "body": "Body"})
    assert response.status_code == 400 and "Write a subject." in response.get_data(as_text=True)
    assert _counts(app) == before


def test_a_refused_file_leaves_no_request_and_no_document(app, client, portal_login, desk):
    """A script disguised as a PDF: a form error; no request, no document and no stored blob."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    before, blobs = _counts(app), h.stored_files(desk.root)
    response = client.post(NEW, data={"csrf_token": token, "subject": "Files", "body": "See attached",
                                      "files": _files(("invoice.pdf", h.HTML))}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert _counts(app) == before and h.stored_files(desk.root) == blobs


def test_a_refused_second_file_leaves_the_first_one_neither(app, client, portal_login, desk):
    """A good file then a refused one: no request, and the good file's document is not kept either."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    before, blobs = _counts(app), h.stored_files(desk.root)
    response = client.post(NEW, data={"csrf_token": token, "subject": "Files", "body": "See attached",
                                      "files": _files(("good.csv", h.CSV), ("run.pdf", h.SCRIPT))},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert _counts(app) == before and h.stored_files(desk.root) == blobs


def test_a_file_over_the_limit_is_a_form_error(app, client, portal_login, desk):
    """A file one byte over the limit: a form error naming the limit; nothing is kept."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    before, blobs = _counts(app), h.stored_files(desk.root)
    response = client.post(NEW, data={"csrf_token": token, "subject": "Big", "body": "Large file",
                                      "files": _files(("big.txt", b"a" * (LIMIT + 1)))},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "10.0 MB limit" in response.get_data(as_text=True)
    assert _counts(app) == before and h.stored_files(desk.root) == blobs


def test_a_reply_with_a_file_over_the_limit_keeps_none_of_its_files(app, client, portal_login, desk):
    """A good file then one over the limit on a reply: a form error, no message and no new document."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    before, blobs = _counts(app), h.stored_files(desk.root)
    response = client.post(_reply(desk.mine), data={"csrf_token": token, "body": "Two files",
                                                     "files": _files(("good.csv", h.CSV), ("big.txt", b"a" * (LIMIT + 1)))},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "10.0 MB limit" in response.get_data(as_text=True)
    assert _counts(app) == before and h.stored_files(desk.root) == blobs


def test_extra_fields_cannot_choose_entity_contact_status_or_kind(app, client, portal_login, desk):
    """entity_id, contact_id, status, kind and is_internal in the posts are ignored."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    extra = {"entity_id": str(desk.other), "contact_id": str(desk.dave), "status": "closed", "kind": "internal",
             "is_internal": "1", "task_id": "1"}
    response = client.post(NEW, data={"csrf_token": token, "subject": "Sneaky", "body": "Hi", **extra})
    assert response.status_code == 302
    response = client.post(_reply(desk.mine), data={"csrf_token": token, "body": "A reply", **extra})
    assert response.status_code == 302
    with app.app_context():
        item = db.session.query(ClientRequest).filter_by(subject="Sneaky").one()
        assert (item.entity_id, item.contact_id, item.status, item.task_id) == \
               (desk.own, desk.cora, RequestStatus.new, None)
        reply = db.session.query(Message).filter_by(body="A reply").one()
        assert reply.kind is MessageKind.portal and reply.request_id == desk.mine and reply.author_user_id is None


def test_missing_csrf_token_is_400(app, client, portal_login, desk):
    """Without the CSRF token, new and reply answer 400 and write nothing."""
    portal_login(client, desk.cora)
    before = _counts(app)
    assert client.post(NEW, data={"subject": "No token", "body": "x"}).status_code == 400
    assert client.post(_reply(desk.mine), data={"body": "No token"}).status_code == 400
    assert _counts(app) == before


@pytest.mark.parametrize("which", ["daves", "freds"])
def test_other_peoples_requests_are_404(app, client, portal_login, desk, which):
    """Another contact's request of the same entity, and entity B's: 404 on show and reply."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    pk = getattr(desk, which)
    assert client.get(_show(pk)).status_code == 404
    before = _counts(app)
    assert client.post(_reply(pk), data={"csrf_token": token, "body": "Peek"}).status_code == 404
    assert _counts(app) == before


def test_thread_never_shows_internal_or_withdrawn_messages(client, portal_login, desk):
    """The request page shows the body, the file and the firm's portal message; no internal or deleted one."""
    portal_login(client, desk.cora)
    response = client.get(_show(desk.mine))
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    assert "<h1>VAT question</h1>" in body and "How do I file VAT?" in body and "receipts.csv" in body
    assert "Send us the invoices" in body
    assert "SECRET INTERNAL NOTE" not in body and "WITHDRAWN MESSAGE" not in body


def test_staff_only_files_are_not_listed_on_the_request(app, client, portal_login, desk):
    """A request file the firm made staff-only disappears from the contact's page."""
    with app.app_context():
        doc = db.session.get(ClientRequest, desk.mine).attachments[0]
        doc.visibility = Visibility.staff_only
        db.session.commit()
    portal_login(client, desk.cora)
    assert "receipts.csv" not in client.get(_show(desk.mine)).get_data(as_text=True)


def test_reply_with_a_file_posts_a_portal_message(app, client, portal_login, desk):
    """Cora replies with a file: a portal message with a shared attachment, shown on the page."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    response = client.post(_reply(desk.mine), data={"csrf_token": token, "body": "Here they are",
                                                     "files": _files(("invoices.pdf", h.PDF))},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    body = client.get(_show(desk.mine)).get_data(as_text=True)
    assert "Here they are" in body and "invoices.pdf" in body and "Your message was sent" in body
    with app.app_context():
        message = db.session.query(Message).filter_by(body="Here they are").one()
        assert [d.visibility for d in message.attachments] == [Visibility.portal]


def test_reply_with_a_refused_file_keeps_nothing(app, client, portal_login, desk):
    """A refused file on a reply: the page with the error, no message, no document."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    before = _counts(app)
    response = client.post(_reply(desk.mine), data={"csrf_token": token, "body": "Script",
                                                     "files": _files(("x.pdf", h.SCRIPT))},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "Nothing was saved" in response.get_data(as_text=True)
    assert _counts(app) == before


def test_entity_access_contact_replies_in_text_but_not_with_files(app, client, portal_login, desk):
    """Rhea may answer her request in text; with a file it is 403 and nothing is kept; no file input shown."""
    portal_login(client, desk.rhea)
    page = client.get(_show(desk.rhea_req)).get_data(as_text=True)
    assert 'type="file"' not in page and "does not include sending files" in page
    token = csrf_token(client, _show(desk.rhea_req))
    assert client.post(_reply(desk.rhea_req), data={"csrf_token": token, "body": "Thanks"}).status_code == 302
    before = _counts(app)
    response = client.post(_reply(desk.rhea_req), data={"csrf_token": token, "body": "With file",
                                                         "files": _files(("a.csv", h.CSV))},
                           content_type="multipart/form-data")
    assert response.status_code == 403
    assert _counts(app) == before


def test_empty_reply_is_a_form_error(app, client, portal_login, desk):
    """An empty reply shows the page again with the error and posts nothing."""
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    before = _counts(app)
    response = client.post(_reply(desk.mine), data={"csrf_token": token, "body": "   "})
    assert response.status_code == 400 and "Write a message first." in response.get_data(as_text=True)
    assert _counts(app) == before


def test_a_converted_request_is_assigned_to_its_requester_in_the_portal(app, client, portal_login, desk):
    """Converting shows the task to the contact who asked (they are told), so they see the firm's answer."""
    with app.app_context():
        task_id = requests.convert(db.session.get(ClientRequest, desk.mine), db.session.get(User, desk.accountant)).id
        task = db.session.get(Task, task_id)
        assert task.portal_state is PortalState.assigned and [c.id for c in task.assignees] == [desk.cora]
        assert db.session.query(Notification).filter_by(event=events.TASK_ASSIGNED, object_id=task_id,
                                                        recipient_contact_id=desk.cora).count() >= 1
    portal_login(client, desk.cora)
    for path in (LIST, _show(desk.mine)):
        assert f'href="/portal/tasks/{task_id}"' in client.get(path).get_data(as_text=True)
    assert "Send reply" not in client.get(_show(desk.mine)).get_data(as_text=True)
    assert client.get(f"/portal/tasks/{task_id}").status_code == 200


def test_a_request_converted_after_its_requester_lost_access_is_not_shown_to_them(app, client, desk):
    """A requester whose share was revoked is not made an assignee of the new task."""
    with app.app_context():
        db.session.query(EntityShare).filter_by(contact_id=desk.cora).delete()
        db.session.commit()
        task = requests.convert(db.session.get(ClientRequest, desk.mine), db.session.get(User, desk.accountant))
        assert task.portal_state is not PortalState.assigned and list(task.assignees) == []


def test_reply_to_a_converted_request_posts_nothing(app, client, portal_login, desk):
    """A converted request's thread lives on the task: a reply is refused with a message."""
    with app.app_context():
        requests.convert(db.session.get(ClientRequest, desk.mine), db.session.get(User, desk.accountant))
    portal_login(client, desk.cora)
    token = csrf_token(client, NEW)
    before = _counts(app)
    response = client.post(_reply(desk.mine), data={"csrf_token": token, "body": "Late"}, follow_redirects=True)
    assert "conversation continues there" in response.get_data(as_text=True)
    assert _counts(app) == before


def test_opening_a_request_of_another_entity_switches_to_it(app, client, portal_login, desk):
    """A contact of two entities opening a request of the other one: the page shows, the entity switches."""
    with app.app_context():
        other, cora = db.session.get(Entity, desk.other), db.session.get(Contact, desk.cora)
        f.share(other, R.ENTITY_COLLABORATOR, contact=cora)
        theirs = requests.create_request(other, cora, cora.user, "About Other Co", "Hello").id
    portal_login(client, desk.cora)
    assert client.get(_show(theirs)).status_code == 200
    with client.session_transaction() as session:
        assert session["portal_entity"] == desk.other


def _bulk_messages(request_id, author_user, author_contact, count, start=0):
    """`count` messages on a request at once: portal ones by both sides, and internal notes."""
    kinds = (MessageKind.portal, MessageKind.internal, MessageKind.email)
    db.session.execute(insert(Message), [
        {"request_id": request_id, "kind": kinds[i % 3], "body": f"bulk message {start + i}",
         "author_user_id": None if i % 2 else author_user, "author_contact_id": author_contact if i % 2 else None,
         "created_on": datetime(2025, 1, 1) + timedelta(minutes=start + i)}
        for i in range(count)
    ])
    db.session.commit()


def test_request_page_query_count_does_not_grow(app, client, portal_login, count_queries, desk):
    """The request page (and the whole thread) runs as many queries with 10 messages as with 1,000."""
    def measure():
        with count_queries() as n:
            assert client.get(_show(desk.mine)).status_code == 200
            assert client.get(_show(desk.mine), query_string={"all": "1"}).status_code == 200
            assert client.get(LIST).status_code == 200
        return n()

    with app.app_context():
        _bulk_messages(desk.mine, desk.accountant, desk.cora, 10)
    portal_login(client, desk.cora)
    small = measure()
    with app.app_context():
        _bulk_messages(desk.mine, desk.accountant, desk.cora, 990, start=10)
    assert measure() == small
    body = client.get(_show(desk.mine)).get_data(as_text=True)
    assert "earlier messages" in body and "bulk message 999" in body and ">bulk message 1<" not in body


def test_nothing_shared_gives_a_friendly_page(app, client, portal_login, desk):
    """A contact without entities: the requests page explains; new is 403."""
    with app.app_context():
        loner = f.portal_contact(first="Lone").id
    portal_login(client, loner)
    assert "Nothing has been shared with you yet" in client.get(LIST).get_data(as_text=True)
    assert client.get(NEW).status_code == 403
