"""The staff bell grouped by client and event: one line per (client, event, actor), filters, one-by-one
view, marking a group read, hundreds of clients on pages, a fixed number of queries."""
import itertools
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification
from app.models.notifications import Channel, NotificationState
from app.security import roles as R
from app.services import events
from tests import factories as f
from tests.conftest import csrf_token

_keys = itertools.count(1)


def _note(user_id, entity_id, event, actor_id=None, minutes=0, read=False):
    when = datetime.now() - timedelta(minutes=minutes)
    db.session.add(Notification(
        recipient_user_id=user_id, entity_id=entity_id, event=event, object_type="Task", object_id=1,
        channel=Channel.in_app, send_after=when, created_on=when, state=NotificationState.sent,
        actor_user_id=actor_id, read_at=when if read else None, idempotency_key=f"group-test:{next(_keys)}"))


@pytest.fixture
def desk(app):
    """Ann (Staff) responsible for Birch & Oak, whose contact Olivia Birch has a portal account."""
    with app.app_context():
        ann = f.staff(R.STAFF)
        birch = f.entity("Birch & Oak", responsible=ann)
        other = f.entity("Cedar Ltd", responsible=ann)
        foreign = f.entity("Foreign Co")
        olivia = f.contact(first="Olivia", last="Birch", with_user=True)
        for minutes in range(5):
            _note(ann.id, birch.id, events.CLIENT_UPLOADED, olivia.user_id, minutes=minutes)
        _note(ann.id, birch.id, events.MESSAGE_POSTED, olivia.user_id, minutes=10, read=True)
        _note(ann.id, other.id, events.DEADLINE_APPROACHING, minutes=20)
        _note(ann.id, foreign.id, events.CLIENT_UPLOADED, olivia.user_id, minutes=30)
        ben = f.staff(R.STAFF)
        _note(ben.id, birch.id, events.CLIENT_UPLOADED, olivia.user_id)
        db.session.commit()
        return SimpleNamespace(ann=ann.id, ben=ben.id, birch=birch.id, other=other.id, olivia=olivia.user_id)


def test_rows_are_grouped_by_client_event_and_actor(app, client, login, desk):
    """Five uploads by Olivia read as one line with the client's name; each event is its own line."""
    login(client, desk.ann)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "<strong>Olivia Birch uploaded 5 files — Birch &amp; Oak</strong>" in page
    assert "Olivia Birch posted 1 message — Birch &amp; Oak" in page
    assert "1 deadline coming up — Cedar Ltd" in page
    assert "a client you no longer see" in page  # an entity outside Ann's scope is not named
    assert page.index("uploaded 5 files") < page.index("posted 1 message") < page.index("deadline coming up")
    assert f'href="/entityview/show/{desk.birch}"' in page


def test_filters_by_event_client_and_unread(app, client, login, desk):
    """?event=, ?client= and ?unread=1 narrow the groups."""
    login(client, desk.ann)
    by_event = client.get("/notifications/?event=deadline_approaching").get_data(as_text=True)
    assert "deadline coming up" in by_event and "uploaded 5 files" not in by_event
    by_client = client.get("/notifications/?client=birch").get_data(as_text=True)
    assert "uploaded 5 files" in by_client and "Cedar" not in by_client
    unread = client.get("/notifications/?unread=1").get_data(as_text=True)
    assert "uploaded 5 files" in unread and "posted 1 message" not in unread
    assert 'value="deadline_approaching" selected' in by_event and 'value="birch"' in by_client
    assert client.get("/notifications/?event=bogus&page=abc").status_code == 200


def test_view_each_lists_a_groups_rows_one_by_one(app, client, login, desk):
    """A group's link opens its rows one by one; ?view=each alone lists every row."""
    login(client, desk.ann)
    page = client.get(f"/notifications/?view=each&event=client_uploaded&entity={desk.birch}").get_data(as_text=True)
    assert page.count('action="/notifications/open/') == 5
    assert client.get("/notifications/?view=each&entity=abc").status_code == 200


def test_marking_a_group_read_touches_only_that_group(app, client, login, desk):
    """The group's POST marks its five rows read, not the other groups nor Ben's; no CSRF: 400."""
    login(client, desk.ann)
    form = {"event": "client_uploaded", "entity": str(desk.birch), "actor": str(desk.olivia)}
    assert client.post("/notifications/read-group", data=form).status_code == 400
    token = csrf_token(client, "/notifications/preferences")
    assert client.post("/notifications/read-group", data={**form, "event": "nope", "csrf_token": token}).status_code == 400
    assert client.post("/notifications/read-group", data={**form, "csrf_token": token}).status_code == 302
    with app.app_context():
        unread = db.session.execute(select(Notification.recipient_user_id, Notification.event, func.count())
                                    .where(Notification.read_at.is_(None))
                                    .group_by(Notification.recipient_user_id, Notification.event)).all()
        assert sorted(unread) == sorted([(desk.ann, "deadline_approaching", 1), (desk.ann, "client_uploaded", 1),
                                         (desk.ben, "client_uploaded", 1)])


def test_hundreds_of_clients_page_in_a_fixed_number_of_queries(app, client, login, desk, count_queries):
    """With 3 or 300 clients' groups the page runs the same statements and shows 50 groups with "Older"."""
    login(client, desk.ann)
    client.get("/notifications/")  # warm-up
    with count_queries() as few:
        small = client.get("/notifications/").get_data(as_text=True)
    with app.app_context():
        for i in range(300):
            entity = f.entity(f"Client {i:03d}", responsible=None)
            f.share(entity, R.OWNER, user=_user(desk.ann))
            _note(desk.ann, entity.id, events.CLIENT_UPLOADED, desk.olivia, minutes=100 + i)
            _note(desk.ann, entity.id, events.MESSAGE_POSTED, desk.olivia, minutes=100 + i)
        db.session.commit()
    with count_queries() as many:
        big = client.get("/notifications/").get_data(as_text=True)
    assert few() == many()
    assert "Older" not in small and "Older" in big
    assert big.count('class="list-group-item') == 50
    assert "Client 299" not in big and "Client 299" in client.get("/notifications/?page=12").get_data(as_text=True)


def _user(user_id):
    from flask_appbuilder.security.sqla.models import User

    return db.session.get(User, user_id)
