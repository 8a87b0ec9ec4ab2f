"""The portal's notifications page: own rows only, portal links, neutral lines for hidden objects, read marks."""
import itertools
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import insert

from app.extensions import db
from app.models import ClientRequest, Contact, Message, MessageKind, Notification, Task, TaxVoucher
from app.models.notifications import Channel, NotificationState
from app.security import roles as R
from app.services import bells, events, tasks
from tests import factories as f
from tests.conftest import csrf_token

_keys = itertools.count(1)
PAGE = "/portal/notifications"


def _row(contact_id, object_id, object_type="Task", event=events.TASK_ASSIGNED, read=False, age_minutes=0,
         channel=Channel.in_app):
    """The values of an outbox row for a contact, as app.services.notifications writes them."""
    when = datetime.now() - timedelta(minutes=age_minutes)
    return dict(recipient_contact_id=contact_id, event=event, object_type=object_type, object_id=object_id,
                channel=channel, send_after=when, created_on=when, read_at=when if read else None,
                state=NotificationState.sent if channel is Channel.in_app else NotificationState.pending,
                idempotency_key=f"portal-bell-test:{next(_keys)}")


def _note(*args, **kwargs):
    """Add one row (committed) and return its id."""
    row = Notification(**_row(*args, **kwargs))
    db.session.add(row)
    db.session.commit()
    return row.id


@pytest.fixture
def desk(app):
    """Pia and Olaf share Own Co: an assigned task, a withdrawn one, a message, a request each."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        entity = f.entity("Own Co", responsible=accountant)
        pia, olaf = f.portal_contact(entity, first="Pia"), f.portal_contact(entity, first="Olaf")
        shown = tasks.create_task(entity, "Send receipts", accountant, assignees=[pia])
        hidden = tasks.create_task(entity, "Audit the payroll fraud", accountant, assignees=[pia])
        for task in (shown, hidden):
            tasks.assign(task, accountant)
        tasks.withdraw(hidden, accountant)
        message = Message(task=shown, kind=MessageKind.portal, body="Hello", author_user_id=accountant.id)
        mine = ClientRequest(entity=entity, contact=pia, subject="Where is my invoice", body="?")
        theirs = ClientRequest(entity=entity, contact=olaf, subject="Olaf's question", body="?")
        db.session.add_all([message, mine, theirs])
        db.session.commit()
        db.session.query(Notification).delete()
        db.session.commit()
        return SimpleNamespace(accountant=accountant.id, pia=pia.id, olaf=olaf.id, shown=shown.id, hidden=hidden.id,
                               message=message.id, mine=mine.id, theirs=theirs.id)


def _token(client):
    return csrf_token(client, "/portal/settings/profile")


def test_the_list_shows_own_rows_with_portal_links(app, client, portal_login, desk):
    """Pia sees her in-app rows (unread marked) with links to portal pages; not Olaf's, not e-mail rows."""
    with app.app_context():
        task_row = _note(desk.pia, desk.shown)
        message_row = _note(desk.pia, desk.message, "Message", events.MESSAGE_POSTED, read=True, age_minutes=1)
        request_row = _note(desk.pia, desk.mine, "ClientRequest", events.MESSAGE_POSTED, age_minutes=2)
        _note(desk.pia, desk.shown, channel=Channel.email)
        _note(desk.olaf, desk.theirs, "ClientRequest", events.MESSAGE_POSTED)
    portal_login(client, desk.pia)
    page = client.get(PAGE).get_data(as_text=True)
    assert "<title>Notifications ·" in page and "<h1>Notifications</h1>" in page
    assert "New task: Send receipts" in page and "New message about Where is my invoice" in page
    assert "New message about Send receipts" in page and "Olaf" not in page.split("<main")[1]
    assert page.count('class="unread"') == 2 and "2 unread" in page
    for row_id in (task_row, message_row, request_row):
        assert f'action="/portal/notifications/{row_id}/open"' in page
    assert "/taskview/" not in page and "/clientrequestview/" not in page


def test_more_than_99_unread_shows_99_plus(app, client, portal_login, desk):
    """130 unread rows: the bell's badge and the page say 99+ / more than 99 (the count stops at 100)."""
    with app.app_context():
        db.session.execute(insert(Notification), [_row(desk.pia, desk.shown) for _ in range(130)])
        db.session.commit()
    portal_login(client, desk.pia)
    page = client.get(PAGE).get_data(as_text=True)
    assert '<span class="count">99+</span>' in page and "More than 99 unread" in page


def test_opening_marks_read_and_goes_to_the_portal_page(app, client, portal_login, desk):
    """Task → /portal/tasks/<id>, message → its thread, request → /portal/requests/<id>; each is read after."""
    with app.app_context():
        rows = {_note(desk.pia, desk.shown): f"/portal/tasks/{desk.shown}",
                _note(desk.pia, desk.message, "Message", events.MESSAGE_POSTED): f"/portal/tasks/{desk.shown}",
                _note(desk.pia, desk.mine, "ClientRequest", events.MESSAGE_POSTED): f"/portal/requests/{desk.mine}"}
    portal_login(client, desk.pia)
    token = _token(client)
    for row_id, target in rows.items():
        response = client.post(f"/portal/notifications/{row_id}/open", data={"csrf_token": token})
        assert response.status_code == 302 and response.headers["Location"].endswith(target)
    with app.app_context():
        assert all(db.session.get(Notification, row_id).read_at is not None for row_id in rows)


def test_opening_a_notification_by_get_marks_nothing_read(app, client, portal_login, desk):
    """A link (GET) to a notification's open route changes nothing: only the CSRF-checked POST marks read."""
    with app.app_context():
        row_id = _note(desk.pia, desk.shown)
    portal_login(client, desk.pia)
    for path in (f"/portal/notifications/{row_id}/open", f"/portal/notifications/{row_id}"):
        assert client.get(path).status_code in (404, 405), path
    with app.app_context():
        assert db.session.get(Notification, row_id).read_at is None


def test_a_payment_reminder_names_only_the_date_and_opens_the_payments_page(app, client, portal_login, desk):
    """A voucher row reads "Tax payments due on <date>" (no amount) and opens that date's payments page."""
    with app.app_context():
        entity = db.session.get(Task, desk.shown).entity_id
        voucher = TaxVoucher(entity_id=entity, tax_year=2026, authority="IRS", form_period="1040-ES Q4",
                             amount=Decimal("1234.56"), due_date=date(2027, 1, 15))
        foreign = TaxVoucher(entity_id=f.entity("Foreign Co").id, tax_year=2026, authority="IRS",
                             form_period="1040-ES Q4", amount=Decimal("99.00"), due_date=date(2027, 1, 15))
        db.session.add_all([voucher, foreign])
        db.session.commit()
        row = _note(desk.pia, voucher.id, "TaxVoucher", "voucher_due")
        _note(desk.pia, foreign.id, "TaxVoucher", "voucher_due", age_minutes=1)
    portal_login(client, desk.pia)
    page = client.get(PAGE).get_data(as_text=True)
    assert "Tax payments due on Jan 15, 2027" in page and "1234" not in page and "1040-ES" not in page
    assert page.count("Tax payments due on") == 1  # no line about the foreign entity's voucher
    response = client.post(f"/portal/notifications/{row}/open", data={"csrf_token": _token(client)})
    assert response.headers["Location"].endswith(f"/portal/payments/2027-01-15?entity={entity}")


def test_a_withdrawn_task_leaves_a_line_that_names_nothing(app, client, portal_login, desk):
    """A withdrawn task leaves one neutral line (no title, no link); lines about it or about objects
    the contact cannot see are not listed; opening the withdrawn line says so."""
    with app.app_context():
        assigned = _note(desk.pia, desk.hidden, age_minutes=5)
        withdrawn = _note(desk.pia, desk.hidden, event=events.TASK_WITHDRAWN)
        gone = _note(desk.pia, 987654, age_minutes=6)
    portal_login(client, desk.pia)
    page = client.get(PAGE).get_data(as_text=True)
    assert "payroll" not in page and page.count("A task was withdrawn") == 1
    assert "This item is no longer shared with you" not in page
    assert f"/portal/tasks/{desk.hidden}" not in page
    assert f"/notifications/{assigned}/open" not in page and f"/notifications/{gone}/open" not in page
    response = client.post(f"/portal/notifications/{withdrawn}/open", data={"csrf_token": _token(client)},
                           follow_redirects=True)
    assert "This item is no longer shared with you." in response.get_data(as_text=True)
    assert client.get(f"/portal/tasks/{desk.hidden}").status_code == 404
    with app.app_context():
        assert db.session.get(Notification, withdrawn).read_at is not None


def test_withdrawing_a_task_settles_its_unread_bell_lines(app, client, portal_login, desk):
    """The assignees' unread lines about a task that is withdrawn no longer count in the bell."""
    with app.app_context():
        other = _note(desk.pia, desk.mine, "ClientRequest", events.MESSAGE_POSTED)
        _note(desk.pia, desk.shown)
        _note(desk.pia, desk.message, "Message", events.MESSAGE_POSTED)
        contact = db.session.get(Contact, desk.pia)
        assert bells.unread_count(contact.user) == 3
        tasks.withdraw(db.session.get(Task, desk.shown), db.session.get(User, desk.accountant))
        unread = db.session.query(Notification).filter_by(recipient_contact_id=desk.pia, channel=Channel.in_app,
                                                          read_at=None).all()
        assert sorted((n.event, n.object_type) for n in unread) == [
            (events.MESSAGE_POSTED, "ClientRequest"), (events.TASK_WITHDRAWN, "Task")]
        assert other in {n.id for n in unread} and bells.unread_count(contact.user) == 2


def test_another_contacts_notification_is_404(app, client, portal_login, desk):
    """Olaf's row, a missing row and a staff user's row answer 404 on open and stay unread."""
    with app.app_context():
        olafs = _note(desk.olaf, desk.theirs, "ClientRequest", events.MESSAGE_POSTED)
        staff_row = Notification(**dict(_row(desk.pia, desk.shown), recipient_contact_id=None,
                                        recipient_user_id=f.staff(R.STAFF).id))
        db.session.add(staff_row)
        db.session.commit()
        staff_id = staff_row.id
    portal_login(client, desk.pia)
    token = _token(client)
    for row_id in (olafs, staff_id, olafs + 1000):
        assert client.post(f"/portal/notifications/{row_id}/open", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.get(Notification, olafs).read_at is None
        assert db.session.get(Notification, staff_id).read_at is None


def test_mark_all_read_needs_csrf_and_touches_only_own_rows(app, client, portal_login, desk):
    """Without CSRF: 400 (also on open); with it every row of Pia is read and Olaf's stays unread."""
    with app.app_context():
        mine = [_note(desk.pia, desk.shown, age_minutes=n) for n in range(3)]
        _note(desk.olaf, desk.theirs, "ClientRequest", events.MESSAGE_POSTED)
    portal_login(client, desk.pia)
    assert client.post("/portal/notifications/read-all").status_code == 400
    assert client.post(f"/portal/notifications/{mine[0]}/open").status_code == 400
    page = client.get(PAGE).get_data(as_text=True)
    assert "Mark all read" in page and re.search(r'<span class="count">3</span>', page)
    response = client.post("/portal/notifications/read-all", data={"csrf_token": _token(client)})
    assert response.status_code == 302
    with app.app_context():
        sm = app.appbuilder.sm
        pia_user = sm.get_user_by_id(db.session.get(Notification, mine[0]).recipient_contact.user_id)
        olaf_row = db.session.query(Notification).filter_by(recipient_contact_id=desk.olaf).one()
        assert bells.unread_count(pia_user) == 0 and olaf_row.read_at is None
    page = client.get(PAGE).get_data(as_text=True)
    assert 'class="unread"' not in page and "Nothing unread." in page


def test_the_page_runs_a_fixed_number_of_queries(app, client, portal_login, desk, count_queries):
    """10 and 1,000 notifications (tasks, messages, requests, a hidden task) cost the same SQL statements."""
    def add(n):
        kinds = [(desk.shown, "Task", events.TASK_ASSIGNED), (desk.message, "Message", events.MESSAGE_POSTED),
                 (desk.mine, "ClientRequest", events.MESSAGE_POSTED), (desk.hidden, "Task", events.TASK_WITHDRAWN)]
        with app.app_context():
            db.session.execute(insert(Notification), [
                _row(desk.pia, *kinds[i % 4], read=i % 3 == 0, age_minutes=i) for i in range(n)])
            db.session.commit()

    portal_login(client, desk.pia)
    client.get(PAGE)  # warm-up: first-request work is not the page's
    add(10)
    with count_queries() as few:
        page = client.get(PAGE).get_data(as_text=True)
    assert page.count("<li") - page.count('<li class="nav') >= 10
    add(990)
    with count_queries() as many:
        page = client.get(PAGE).get_data(as_text=True)
    assert "The newest 50 notifications are shown." in page
    assert few() == many(), (few(), many())
