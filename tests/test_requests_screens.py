"""The staff inbox of client requests: scope (404/403), the thread and its kinds, convert, close, query counts."""
import io
import re
from types import SimpleNamespace

import pytest
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import ClientRequest, Message, MessageKind, RequestStatus, Task
from app.security import roles as R
from app.services import documents, messages, requests
from app.services.messages import THREAD_PAGE
from tests import factories as f
from tests.conftest import csrf_token
from tests.documents_helpers import CSV

LIST = "/clientrequestview/list/"
ROUTES = ("convert", "close", "reopen", "post")


def _show(pk):
    return f"/clientrequestview/show/{pk}"


def _route(name, pk):
    return f"/clientrequestview/{name}/{pk}"


def _page_token(client, path):
    """The CSRF token of the plain hidden inputs on one of the inbox pages."""
    body = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', body)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _csv(name):
    return FileStorage(io.BytesIO(CSV), name)


@pytest.fixture
def inbox(app):
    """An accountant's entity with a collaborator's request (one file); a foreign entity with its own request."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        own, foreign = f.entity("Own Co", responsible=accountant), f.entity("Foreign Co")
        cora, fred = f.contact(first="Cora", with_user=True), f.contact(first="Fred", with_user=True)
        f.share(own, R.ENTITY_COLLABORATOR, contact=cora)
        f.share(foreign, R.ENTITY_COLLABORATOR, contact=fred)
        mine = requests.create_request(own, cora, cora.user, "Own question", "Please help with VAT",
                                       files=[_csv("receipts.csv")])
        theirs = requests.create_request(foreign, fred, fred.user, "Foreign question", "Secret")
        return SimpleNamespace(accountant=accountant.id, own=own.id, foreign=foreign.id, cora=cora.id,
                               cora_user=cora.user.id, mine=mine.id, theirs=theirs.id,
                               attachment=mine.attachments[0].id)


def _state(app, pk):
    """(status, task id, number of messages on the request) of one request."""
    with app.app_context():
        item = db.session.get(ClientRequest, pk)
        count = db.session.query(Message).filter(Message.request_id == pk).count()
        return item.status, item.task_id, count


def _post_all(client, pk, token):
    """Status codes of every work route for one request, with a valid token."""
    data = {"csrf_token": token, "body": "Hello", "kind": "portal"}
    return {name: client.post(_route(name, pk), data=data).status_code for name in ROUTES}


def test_accountant_lists_only_requests_of_their_entities(client, login, inbox):
    """The inbox lists the accountant's requests, never another entity's, nor it in the entity filter."""
    login(client, inbox.accountant)
    page = client.get(LIST)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Own question" in body and "Cora" in body and "Own Co" in body
    assert "Foreign question" not in body and "Foreign Co" not in body


def test_quick_filters_link_to_the_status_filter(app, client, login, inbox):
    """New / Open / Converted / Closed links filter the list by status."""
    with app.app_context():
        mine = db.session.get(ClientRequest, inbox.mine)
        closed = requests.create_request(mine.entity, mine.contact, mine.contact.user, "Done deal", "Thanks")
        requests.set_status(closed, RequestStatus.closed, mine.entity.responsible)
    login(client, inbox.accountant)
    body = client.get(LIST).get_data(as_text=True)
    for status in ("new", "open", "converted", "closed"):
        assert f"_flt_0_status={status}" in body
    closed_page = client.get(f"{LIST}?_flt_0_status=closed").get_data(as_text=True)
    assert "Done deal" in closed_page and "Own question" not in closed_page
    new_page = client.get(f"{LIST}?_flt_0_status=new").get_data(as_text=True)
    assert "Own question" in new_page and "Done deal" not in new_page


def test_foreign_request_is_404_on_show_and_every_post_route(app, client, login, inbox):
    """A request of an entity outside the accountant's scope is 404 on its page and on every POST."""
    login(client, inbox.accountant)
    token = _page_token(client, _show(inbox.mine))
    assert client.get(_show(inbox.theirs)).status_code == 404
    assert _post_all(client, inbox.theirs, token) == dict.fromkeys(ROUTES, 404)
    assert _post_all(client, 999999, token) == dict.fromkeys(ROUTES, 404)
    assert _state(app, inbox.theirs) == (RequestStatus.new, None, 0)


def test_staff_admin_reads_but_gets_403_on_every_work_route(app, client, login, inbox):
    """A Staff Admin (VIEW only on every entity) sees the request without buttons; every POST is 403."""
    with app.app_context():
        staff_admin = f.staff(R.STAFF_ADMIN).id
    login(client, staff_admin)
    page = client.get(_show(inbox.theirs))
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Foreign question" in body and "Convert to task" not in body and 'name="kind"' not in body
    token = csrf_token(client, "/contactview/add")
    assert _post_all(client, inbox.theirs, token) == dict.fromkeys(ROUTES, 403)
    assert _state(app, inbox.theirs) == (RequestStatus.new, None, 0)


def test_screen_permission_without_work_right_on_the_entity_is_403(app, client, login, inbox):
    """Staff + Staff Admin holds the screen permissions but only VIEW on a foreign entity: 403 there, works at home."""
    with app.app_context():
        user = f.staff(R.STAFF_ADMIN)
        user.roles.append(f.role(R.STAFF))
        f.share(db.session.get(ClientRequest, inbox.mine).entity, R.VIEWER, user=user)
        uid = user.id
    login(client, uid)
    token = _page_token(client, _show(inbox.mine))
    assert client.get(_show(inbox.theirs)).status_code == 200
    assert _post_all(client, inbox.theirs, token) == dict.fromkeys(ROUTES, 403)
    assert _state(app, inbox.theirs) == (RequestStatus.new, None, 0)
    response = client.post(_route("post", inbox.mine), data={"csrf_token": token, "body": "On it", "kind": "portal"})
    assert response.status_code == 302
    assert _state(app, inbox.mine)[2] == 1


@pytest.mark.parametrize("kind", ["internal", "portal", "email"])
def test_each_kind_posts_and_internal_stays_staff_only(app, client, login, inbox, kind):
    """Each composer button saves its kind; the client's view of the thread never holds an internal comment."""
    login(client, inbox.accountant)
    token = _page_token(client, _show(inbox.mine))
    response = client.post(_route("post", inbox.mine), data={"csrf_token": token, "body": f"Note {kind}", "kind": kind})
    assert response.status_code == 302 and response.headers["Location"].endswith(_show(inbox.mine))
    with app.app_context():
        item = db.session.get(ClientRequest, inbox.mine)
        saved = db.session.query(Message).filter(Message.request_id == inbox.mine).one()
        assert saved.kind is MessageKind[kind] and saved.author_user_id == inbox.accountant
        assert item.status is RequestStatus.open  # answered by staff: no longer new
        client_view = [m.body for m in messages.thread_messages(item, item.contact.user)]
        assert client_view == ([] if kind == "internal" else [f"Note {kind}"])
    page = client.get(_show(inbox.mine)).get_data(as_text=True)
    assert f"Note {kind}" in page and f'data-kind="{kind}"' in page
    assert ("msg-staff msg-internal" in page) is (kind == "internal")  # the yellow internal bubble


def test_composer_offers_three_labelled_buttons(client, login, inbox):
    """The kind is chosen by one of three distinct buttons, each saying who will see the message."""
    login(client, inbox.accountant)
    body = client.get(_show(inbox.mine)).get_data(as_text=True)
    assert body.count('name="kind"') == 3
    for value, label in (("internal", "Post internal comment (staff only)"), ("portal", "Send portal message (client sees it)"),
                         ("email", "Send e-mail (to the client, kept here)")):
        assert re.search(rf'name="kind" value="{value}" class="btn btn-\w+">.*?{re.escape(label)}', body)
    assert _composer(body) == [("internal", "btn-warning"), ("portal", "btn-success"), ("email", "btn-primary")]
    assert "receipts.csv" in body and f"/files/{inbox.attachment}/download" in body


@pytest.mark.parametrize("data", [
    {"body": "Let me in", "kind": "superuser"},
    {"body": "No kind"},
    {"body": "Dunder", "kind": "__class__"},
    {"body": "   ", "kind": "portal"},
])
def test_crafted_kind_or_empty_message_is_refused(app, client, login, inbox, data):
    """An unknown kind, a missing kind or an empty body is flashed as an error and nothing is saved."""
    login(client, inbox.accountant)
    token = _page_token(client, _show(inbox.mine))
    response = client.post(_route("post", inbox.mine), data={"csrf_token": token, **data}, follow_redirects=True)
    assert response.status_code == 200
    assert "alert-danger" in response.get_data(as_text=True)
    assert _state(app, inbox.mine) == (RequestStatus.new, None, 0)


def test_convert_moves_the_thread_and_marks_converted(app, client, login, inbox):
    """Convert creates a task with the thread and files, marks the request converted and links to the task."""
    login(client, inbox.accountant)
    token = _page_token(client, _show(inbox.mine))
    client.post(_route("post", inbox.mine), data={"csrf_token": token, "body": "Looking into it", "kind": "portal"})
    response = client.post(_route("convert", inbox.mine), data={"csrf_token": token})
    assert response.status_code == 302
    status, task_id, count = _state(app, inbox.mine)
    assert status is RequestStatus.converted and task_id is not None and count == 0
    assert response.headers["Location"].endswith((f"/taskview/show/{task_id}", _show(inbox.mine)))
    with app.app_context():
        task = db.session.get(Task, task_id)
        assert task.title == "Own question" and [d.id for d in task.attachments] == [inbox.attachment]
        assert [m.body for m in db.session.query(Message).filter(Message.task_id == task_id)] == ["Looking into it"]
    page = client.get(_show(inbox.mine)).get_data(as_text=True)
    assert "Converted to task:" in page and "Own question" in page
    assert 'name="kind"' not in page and "Convert to task" not in page
    # converting again, closing or writing on a converted request changes nothing
    for name in ROUTES:
        client.post(_route(name, inbox.mine), data={"csrf_token": token, "body": "Late", "kind": "portal"})
    assert _state(app, inbox.mine) == (RequestStatus.converted, task_id, 0)
    with app.app_context():
        assert db.session.query(Task).count() == 1


def test_close_and_reopen(app, client, login, inbox):
    """Close sets the request closed, Reopen opens it again."""
    login(client, inbox.accountant)
    token = _page_token(client, _show(inbox.mine))
    assert client.post(_route("close", inbox.mine), data={"csrf_token": token}).status_code == 302
    assert _state(app, inbox.mine)[0] is RequestStatus.closed
    assert "Reopen" in client.get(_show(inbox.mine)).get_data(as_text=True)
    assert client.post(_route("reopen", inbox.mine), data={"csrf_token": token}).status_code == 302
    assert _state(app, inbox.mine)[0] is RequestStatus.open


def test_work_routes_without_csrf_token_are_refused(app, client, login, inbox):
    """Every POST route answers 400 without the CSRF token and changes nothing."""
    login(client, inbox.accountant)
    for name in ROUTES:
        response = client.post(_route(name, inbox.mine), data={"body": "Hi", "kind": "portal"})
        assert response.status_code == 400, name
    assert _state(app, inbox.mine) == (RequestStatus.new, None, 0)


def test_clients_and_anonymous_visitors_cannot_reach_the_inbox(client, login, inbox):
    """A client account gets 403 on the inbox; an anonymous visitor is sent to the login."""
    response = client.get(LIST)
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    login(client, inbox.cora_user)
    assert client.get(LIST).status_code == 403
    assert client.get(_show(inbox.mine)).status_code == 403


def _add_requests(app, inbox, n):
    with app.app_context():
        item = db.session.get(ClientRequest, inbox.mine)
        for i in range(n):
            requests.create_request(item.entity, item.contact, item.contact.user, f"Question {i}", "Body")


def _add_messages(app, inbox, start, stop):
    """Messages number start..stop-1: client replies and staff messages of every kind, some with a file."""
    with app.app_context():
        item = db.session.get(ClientRequest, inbox.mine)
        staff = item.entity.responsible
        kinds = list(MessageKind)
        for i in range(start, stop):
            if i % 4 == 2:
                messages.post(item, item.contact.user, f"Reply {i}")
            else:
                files = [documents.upload(item.entity, _csv(f"m{i}.csv"), staff)] if i % 5 == 0 else []
                messages.post(item, staff, f"Message {i}", kinds[i % 3], attachments=files)


def _count(client, count_queries, path):
    client.get(path)  # warm-up: first-request caches are not what is measured
    with count_queries() as n:
        assert client.get(path).status_code == 200
    return n()


def test_list_page_queries_do_not_grow_with_requests(app, client, login, inbox, count_queries):
    """The inbox runs the same number of SQL queries with 3 and with 60 requests."""
    login(client, inbox.accountant)
    _add_requests(app, inbox, 2)
    few = _count(client, count_queries, LIST)
    _add_requests(app, inbox, 57)
    many = _count(client, count_queries, LIST)
    assert few == many


def test_show_page_queries_do_not_grow_with_messages(app, client, login, inbox, count_queries):
    """A request's page runs the same number of SQL queries with 3 and with 60 messages."""
    login(client, inbox.accountant)
    _add_messages(app, inbox, 0, 3)  # an internal comment with a file, a portal message, a client reply
    few = _count(client, count_queries, _show(inbox.mine))
    _add_messages(app, inbox, 3, 60)
    page = client.get(_show(inbox.mine)).get_data(as_text=True)
    assert page.count('class="msg ') == 1 + THREAD_PAGE  # the request itself and the latest page of its 60
    many = _count(client, count_queries, _show(inbox.mine))
    assert few == many


def test_a_long_request_thread_is_paged(app, client, login, inbox):
    """The request page shows the latest messages and links to the older ones without JavaScript."""
    with app.app_context():
        accountant = app.appbuilder.sm.get_user_by_id(inbox.accountant)
        item = db.session.get(ClientRequest, inbox.mine)
        for i in range(THREAD_PAGE + 5):
            messages.post(item, accountant, f"reply {i:03d}", MessageKind.portal)
    login(client, inbox.accountant)
    latest = client.get(_show(inbox.mine)).get_data(as_text=True)
    assert f"reply {THREAD_PAGE + 4:03d}" in latest and "reply 004" not in latest
    older = re.search(r'href="([^"]+\?before=\d+)#thread"', latest).group(1).replace("&amp;", "&")
    page = client.get(older).get_data(as_text=True)
    assert "reply 000" in page and "reply 004" in page and "Latest messages" in page
    assert "?before=" not in page


def _composer(body):
    """The composer's buttons as (kind, colour class), in order: the task page shows the same."""
    return re.findall(r'name="kind" value="(\w+)" class="btn (btn-\w+)"', body)
