"""The staff notification bell: counts, the list, opening, read marks, the navbar badge, preferences."""
import itertools
import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from flask_appbuilder.security.sqla.models import User

from app.extensions import db
from app.models import ClientRequest, Message, MessageKind, Notification, NotificationPreference
from app.models.notifications import Channel, NotificationState
from app.security import roles as R
from app.services import bells, delivery, events, presenter, tasks
from tests import factories as f
from tests.conftest import csrf_token

_keys = itertools.count(1)


def _note(user_id, object_id, object_type="Task", event=events.CLIENT_COMPLETED, channel=Channel.in_app,
          read=False, age_minutes=0):
    """An outbox row for a staff user, as app.services.notifications writes it (uncommitted)."""
    when = datetime.now() - timedelta(minutes=age_minutes)
    row = Notification(recipient_user_id=user_id, event=event, object_type=object_type, object_id=object_id,
                       channel=channel, send_after=when, created_on=when,
                       state=NotificationState.sent if channel is Channel.in_app else NotificationState.pending,
                       read_at=when if read else None, idempotency_key=f"bell-test:{next(_keys)}")
    db.session.add(row)
    return row


@pytest.fixture
def desk(app):
    """Two accountants with a task each, a request and an internal message; no notifications yet."""
    with app.app_context():
        ann, ben = f.staff(R.STAFF), f.staff(R.STAFF)
        own, other = f.entity("Own Co", responsible=ann), f.entity("Other Co", responsible=ben)
        mine = tasks.create_task(own, "Annual report", ann)
        theirs = tasks.create_task(other, "Secret payroll", ben)
        request = ClientRequest(entity=own, subject="Where is my invoice", body="Please help")
        db.session.add(request)
        db.session.flush()
        message = Message(task=mine, kind=MessageKind.internal, body="Note", author_user_id=ann.id)
        db.session.add(message)
        db.session.commit()
        db.session.query(Notification).delete()
        db.session.commit()
        return SimpleNamespace(ann=ann.id, ben=ben.id, mine=mine.id, theirs=theirs.id, request=request.id,
                               message=message.id)


def test_a_bell_with_hundreds_unread_counts_to_100_and_shows_99_plus(app, client, login, desk):
    """Counting stops at 100 (a long-unread bell costs one short scan on every page); the badge says 99+."""
    with app.app_context():
        for _ in range(130):
            _note(desk.ann, desk.mine)
        db.session.commit()
        assert bells.unread_count(app.appbuilder.sm.get_user_by_id(desk.ann)) == 100
    login(client, desk.ann)
    page = client.get("/notifications/?view=each").get_data(as_text=True)
    assert '<span class="badge">99+</span>' in page and "Notifications, more than 99 unread" in page


def test_unread_count_and_list_show_own_rows_only(app, client, login, desk):
    """Ann's count and list hold her unread in-app rows only: not Ben's, not her e-mail rows."""
    with app.app_context():
        _note(desk.ann, desk.mine)
        _note(desk.ann, desk.mine, event=events.MESSAGE_POSTED, read=True, age_minutes=5)
        _note(desk.ann, desk.mine, channel=Channel.email)
        _note(desk.ben, desk.theirs)
        db.session.commit()
        ann = app.appbuilder.sm.get_user_by_id(desk.ann)
        assert bells.unread_count(ann) == 1
        assert [r.event for r in bells.latest(ann)] == [events.CLIENT_COMPLETED, events.MESSAGE_POSTED]
    login(client, desk.ann)
    page = client.get("/notifications/?view=each").get_data(as_text=True)
    assert "<h1" in page and "Notifications" in page
    assert "<strong>Client marked done" in page and "Client marked done: Annual report" in page
    assert "New message about Annual report" in page and "Secret payroll" not in page
    assert page.count('action="/notifications/open/') == 2 and 'href="/notifications/open/' not in page


def test_opening_marks_read_and_redirects_to_the_task(app, client, login, desk):
    """Open → read_at is set and the browser goes to the task page."""
    with app.app_context():
        row = _note(desk.ann, desk.mine)
        db.session.commit()
        row_id = row.id
    login(client, desk.ann)
    response = client.post(f"/notifications/open/{row_id}", data={"csrf_token": csrf_token(client, "/notifications/preferences")})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/taskview/show/{desk.mine}")
    with app.app_context():
        assert db.session.get(Notification, row_id).read_at is not None


def test_opening_a_notification_by_get_or_without_csrf_marks_nothing_read(app, client, login, desk):
    """A cross-site link (GET) or a POST without the CSRF token leaves the row unread."""
    with app.app_context():
        row = _note(desk.ann, desk.mine)
        db.session.commit()
        row_id = row.id
    login(client, desk.ann)
    assert client.get(f"/notifications/open/{row_id}").status_code == 405
    assert client.post(f"/notifications/open/{row_id}").status_code == 400
    with app.app_context():
        assert db.session.get(Notification, row_id).read_at is None


def test_opening_someone_elses_notification_is_404(app, client, login, desk):
    """Ben's row, a missing row and a malformed id answer 404; Ben's row stays unread."""
    with app.app_context():
        row = _note(desk.ben, desk.theirs)
        db.session.commit()
        row_id = row.id
    login(client, desk.ann)
    token = csrf_token(client, "/notifications/preferences")
    for path in (f"/notifications/open/{row_id}", f"/notifications/open/{row_id + 1000}",
                 "/notifications/open/abc", "/notifications/open/99999999999999999999999"):
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    with app.app_context():
        assert db.session.get(Notification, row_id).read_at is None


def test_mark_all_read(app, client, login, desk):
    """The POST form marks all of Ann's rows read and leaves Ben's alone."""
    with app.app_context():
        for n in range(3):
            _note(desk.ann, desk.mine, age_minutes=n)
        _note(desk.ben, desk.theirs)
        db.session.commit()
    login(client, desk.ann)
    token = csrf_token(client, "/notifications/preferences")
    assert client.post("/notifications/read-all", data={}).status_code == 400  # no CSRF token
    assert client.post("/notifications/read-all", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        sm = app.appbuilder.sm
        assert bells.unread_count(sm.get_user_by_id(desk.ann)) == 0
        assert bells.unread_count(sm.get_user_by_id(desk.ben)) == 1
    assert "<strong>" not in client.get("/notifications/?view=each").get_data(as_text=True)


def test_navbar_shows_the_badge_on_an_ordinary_page(app, client, login, desk):
    """The task list carries the bell with Ann's unread count in its badge and label."""
    with app.app_context():
        _note(desk.ann, desk.mine)
        _note(desk.ann, desk.mine, age_minutes=1)
        _note(desk.ann, desk.mine, read=True, age_minutes=2)
        db.session.commit()
    login(client, desk.ann)
    page = client.get("/taskview/list/").get_data(as_text=True)
    bell = re.search(r'<a href="/notifications/"[^>]*aria-label="([^"]+)">\s*<span class="fa fa-bell"[^>]*>'
                     r'</span>(.*?)</a>', page, re.S)
    assert bell, "no bell in the navbar"
    assert bell.group(1) == "Notifications, 2 unread" and '<span class="badge">2</span>' in bell.group(2)
    client.post("/notifications/read-all", data={"csrf_token": csrf_token(client, "/notifications/preferences")})
    page = client.get("/taskview/list/").get_data(as_text=True)
    assert 'aria-label="Notifications, 0 unread"' in page


def test_anonymous_and_client_accounts(app, client, login, desk):
    """Anonymous visitors are sent to the login; a client account is refused (403)."""
    assert client.get("/notifications/?view=each").status_code == 302
    with app.app_context():
        portal_user = f.contact(with_user=True).user.id
        assert bells.unread_count(None) == 0
    login(client, portal_user)
    assert client.get("/notifications/?view=each").status_code == 403
    assert client.get("/notifications/preferences").status_code == 403


def test_preferences_save_and_turn_off_email(app, client, login, desk):
    """Unticking an event stores email=False, the page shows it, and wants_email says no for it."""
    login(client, desk.ann)
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "A client completes a task" in page and "always on" in page and "cannot be turned off" in page
    token = csrf_token(client, "/notifications/preferences")
    data = {"csrf_token": token, **{e: "y" for e in events.EVENTS if e != events.CLIENT_COMPLETED}}
    assert client.post("/notifications/preferences", data=data).status_code == 302
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert re.search(r'<input id="client_completed" name="client_completed" type="checkbox" value="y">', page)
    assert re.search(r'<input checked id="message_posted"', page)
    with app.app_context():
        ann = app.appbuilder.sm.get_user_by_id(desk.ann)
        prefs = bells.preferences(ann)
        assert prefs[events.CLIENT_COMPLETED] is False and prefs[events.MESSAGE_POSTED] is True
        completed = _note(desk.ann, desk.mine, channel=Channel.email)
        posted = _note(desk.ann, desk.mine, event=events.MESSAGE_POSTED, channel=Channel.email)
        db.session.flush()
        assert delivery.wants_email(completed) is False and delivery.wants_email(posted) is True
        db.session.rollback()
        bells.set_preferences(ann, {events.CLIENT_COMPLETED: True, "no_such_event": False})
        assert bells.preferences(ann)[events.CLIENT_COMPLETED] is True
        assert db.session.query(NotificationPreference).filter_by(user_id=desk.ann).count() == len(events.EVENTS)


def test_describe_points_messages_and_requests_at_staff_pages(app, desk):
    """A message leads to its task, a request to its page, a deleted object to nothing."""
    with app.app_context():
        rows = [_note(desk.ann, desk.message, "Message", events.MESSAGE_POSTED),
                _note(desk.ann, desk.request, "ClientRequest", events.REQUEST_CREATED),
                _note(desk.ann, 987654, "Task")]
        db.session.flush()
        described = presenter.describe(rows, db.session.get(User, desk.ann))
        assert [(title, url) for _row, title, url in described] == [
            ("New message about Annual report", f"/taskview/show/{desk.mine}"),
            ("New client request: Where is my invoice", f"/clientrequestview/show/{desk.request}"),
            ("This item no longer exists", None)]
        assert presenter.describe(rows[:1], db.session.get(User, desk.ann)) == described[:1]
        db.session.rollback()


def test_list_page_query_count_does_not_grow(app, client, login, desk, count_queries):
    """The list page runs as many SQL statements with 3 notifications as with 30."""
    def add(n, start):
        with app.app_context():
            _note(desk.ann, desk.message, "Message", events.MESSAGE_POSTED, age_minutes=-start)
            _note(desk.ann, desk.request, "ClientRequest", events.REQUEST_CREATED, age_minutes=-start)
            for i in range(n - 2):
                _note(desk.ann, desk.mine, age_minutes=i + 1 - start)
            db.session.commit()

    login(client, desk.ann)
    client.get("/notifications/?view=each")  # warm-up: first-request work is not the page's
    add(3, 0)
    with count_queries() as few:
        page = client.get("/notifications/?view=each")
    assert page.get_data(as_text=True).count('action="/notifications/open/') == 3
    add(27, 10)
    with count_queries() as many:
        page = client.get("/notifications/?view=each")
    assert page.get_data(as_text=True).count('action="/notifications/open/') == 20
    assert few() == many()


def test_a_contacts_bell_counts_and_reads_its_own_rows(app):
    """The same bell functions serve a client account: its contact's in-app rows, nobody else's."""
    from datetime import datetime

    from app.extensions import db
    from app.models import Notification
    from app.models.notifications import Channel, NotificationState
    from app.security import roles as R
    from app.services import bells, tasks
    from tests import factories as f

    with app.app_context():
        entity = f.entity("Bell Co")
        ann, bob = f.contact(first="Ann", with_user=True), f.contact(first="Bob", with_user=True)
        f.share(entity, R.ENTITY_ACCESS, contact=ann)
        task = tasks.create_task(entity, "Bell task", None, assignees=[ann])
        for person in (ann, ann, bob):
            db.session.add(Notification(recipient_contact_id=person.id, event="task_assigned", object_type="Task",
                                        object_id=task.id, channel=Channel.in_app, state=NotificationState.sent,
                                        send_after=datetime.now(), entity_id=entity.id,
                                        idempotency_key=f"bell-{person.id}-{db.session.query(Notification).count()}"))
        db.session.commit()
        assert bells.unread_count(ann.user) == 2 and bells.unread_count(bob.user) == 1
        first = bells.latest(ann.user)[0]
        assert bells.mark_read(bob.user, first.id) is None
        assert bells.mark_read(ann.user, first.id) is not None and bells.unread_count(ann.user) == 1
