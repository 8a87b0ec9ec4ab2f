"""Notifications: triggers write outbox rows with the change, delivery re-checks, mails once."""
import os
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ClientRequest, Contact, MessageKind, Notification, NotificationPreference, Task
from app.models.notifications import Channel, NotificationState
from app.security import roles as R
from app.services import delivery, messages, requests, task_reminders, tasks
from app.services.firm import get_settings
from tests import factories as f
from tests import workers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def firm(ctx):
    """No delay; an accountant's entity with an English and an Estonian contact."""
    settings = get_settings()
    settings.notification_delay, settings.firm_name = 0, "Lepik & Carter"
    db.session.commit()
    accountant = f.staff(R.STAFF)
    entity = f.entity("Client A", responsible=accountant)
    ann, mari = f.contact(first="Ann", email="ann@client.example"), f.contact(first="Mari", email="mari@client.example")
    mari.language = "et"
    db.session.commit()
    for person in (ann, mari):
        f.share(entity, R.ENTITY_COLLABORATOR, contact=person)
    return dict(accountant=accountant, entity=entity, ann=ann, mari=mari)


def _emails(state=None):
    query = db.session.query(Notification).filter_by(channel=Channel.email)
    return query.filter_by(state=state).all() if state else query.all()


def _deliver_all():
    for row in _emails(NotificationState.pending):
        delivery.deliver(row.id)


def test_assigning_notifies_each_assignee_in_their_language(firm, smtp):
    """Two assignees, two mails: the Estonian contact's in Estonian; in-app rows too."""
    task = tasks.create_task(firm["entity"], "Send receipts", firm["accountant"])
    tasks.assign(task, firm["accountant"])
    assert len(_emails()) == 2 and db.session.query(Notification).filter_by(channel=Channel.in_app).count() == 2
    _deliver_all()
    subjects = {m["To"]: m["Subject"] for m in smtp.messages}
    assert subjects["ann@client.example"] == "Lepik & Carter: New task: Send receipts"
    assert subjects["mari@client.example"] == "Lepik & Carter: Uus ülesanne: Send receipts"
    assert all(m.get_body(("plain",)) and m.get_body(("html",)) for m in smtp.messages)


def test_withdrawing_within_the_delay_sends_nothing_and_after_it_tells_the_client(firm, smtp):
    """Inside the delay the assignment mail is cancelled; after it, a withdrawal mail goes out."""
    get_settings().notification_delay = 300
    db.session.commit()
    task = tasks.create_task(firm["entity"], "Quick", firm["accountant"])
    tasks.assign(task, firm["accountant"])
    tasks.withdraw(task, firm["accountant"])
    assert {n.state for n in _emails()} == {NotificationState.cancelled}
    _deliver_all()
    assert smtp.messages == []
    get_settings().notification_delay = 0
    db.session.commit()
    later = tasks.create_task(firm["entity"], "Later", firm["accountant"])
    tasks.assign(later, firm["accountant"])
    _deliver_all()
    tasks.withdraw(later, firm["accountant"])
    _deliver_all()
    assert sorted(m["Subject"].split(": ", 1)[1] for m in smtp.messages if "ann@" in m["To"]) == [
        "New task: Later", "Task withdrawn: Later"]


def test_a_rolled_back_change_writes_no_notification(firm, smtp):
    """Rows are written in the change's transaction: a rollback leaves none."""
    from app.services import events

    task = tasks.create_task(firm["entity"], "Rolled back", firm["accountant"])
    task.assigned_on = datetime.now()
    events.emit(events.TASK_ASSIGNED, task.entity, task, actor=firm["accountant"], recipients=[firm["ann"]])
    db.session.flush()
    assert db.session.query(Notification).count() == 2  # written with the change…
    db.session.rollback()
    assert db.session.query(Notification).count() == 0  # …and gone with it


def test_internal_comments_notify_nobody_and_portal_messages_reach_assignees(firm, smtp):
    """An internal comment writes no row; a portal message mails the assignees without internal text."""
    task = tasks.create_task(firm["entity"], "Thread", firm["accountant"])
    tasks.assign(task, firm["accountant"])
    _deliver_all()
    smtp.clear()
    messages.post(task, firm["accountant"], "SECRET internal note", MessageKind.internal)
    assert _emails(NotificationState.pending) == []
    messages.post(task, firm["accountant"], "Please upload the receipts", MessageKind.portal)
    _deliver_all()
    assert len(smtp.messages) == 2
    assert all("SECRET" not in m.as_string() and "Please upload" in m.as_string() for m in smtp.messages)


def test_delivery_twice_mails_once_and_a_deleted_message_sends_nothing(firm, smtp):
    """Re-running a delivery sends nothing more; a message deleted before its mail is due is cancelled."""
    task = tasks.create_task(firm["entity"], "Twice", firm["accountant"], assignees=[firm["ann"]])
    tasks.assign(task, firm["accountant"])
    row = _emails()[0]
    assert delivery.deliver(row.id) == "sent"
    assert delivery.deliver(row.id) == "skipped"
    assert len(smtp.messages) == 1
    note = messages.post(task, firm["accountant"], "Oops", MessageKind.portal)
    messages.delete(note, firm["accountant"])
    _deliver_all()
    assert len(smtp.messages) == 1
    assert _emails(NotificationState.cancelled)[0].last_error == "message deleted"


def test_three_due_events_for_one_contact_go_out_as_one_digest(firm, smtp):
    """Three events due together for one person: one mail listing all three."""
    for title in ("One", "Two", "Three"):
        tasks.assign(tasks.create_task(firm["entity"], title, firm["accountant"], assignees=[firm["ann"]]),
                     firm["accountant"])
    delivery.deliver(_emails()[0].id)
    assert len(smtp.messages) == 1
    body = smtp.messages[0].get_body(("plain",)).get_content()
    assert all(f"New task: {t}" in body for t in ("One", "Two", "Three"))
    assert smtp.messages[0]["Subject"] == "Lepik & Carter: 3 updates from Lepik & Carter"
    assert {n.state for n in _emails()} == {NotificationState.sent}


def test_preferences_and_revoked_shares_stop_mails(firm, smtp):
    """E-mail turned off for an event, or a share revoked before sending: nothing is sent."""
    db.session.add(NotificationPreference(contact_id=firm["ann"].id, event="task_assigned", email=False))
    db.session.commit()
    task = tasks.create_task(firm["entity"], "Prefs", firm["accountant"])
    tasks.assign(task, firm["accountant"])
    for share in list(firm["mari"].shares):
        db.session.delete(share)
    db.session.commit()
    _deliver_all()
    assert smtp.messages == []
    reasons = sorted(n.last_error for n in _emails(NotificationState.cancelled))
    assert reasons == ["e-mail turned off by the recipient", "entity no longer shared"]


def test_a_client_request_notifies_the_responsible_member_admins_and_the_owner(firm, smtp):
    """New client request: the entity's responsible member, every Admin and the firm owner."""
    admin, owner = f.staff(R.ADMIN), f.staff(R.STAFF)
    get_settings().owner = owner
    db.session.commit()
    ann = firm["ann"]
    ann.user = f.staff(R.CLIENT, username="ann.portal")
    db.session.commit()
    requests.create_request(firm["entity"], ann, ann.user, "Question", "How do I…?")
    recipients = {n.recipient_user_id for n in _emails()}
    assert recipients == {firm["accountant"].id, admin.id, owner.id}
    assert db.session.query(ClientRequest).count() == 1


def test_a_real_worker_delivers_a_scheduled_notification(app, firm, smtp):
    """The job scheduled after the commit is run by a `flask portico worker` process: one mail."""
    task = tasks.create_task(firm["entity"], "Worker", firm["accountant"], assignees=[firm["ann"]])
    tasks.assign(task, firm["accountant"])
    db.session.commit()
    code, output = workers.run_burst(app, smtp.port)
    assert code == 0, output
    db.session.expire_all()
    assert [m["To"] for m in smtp.messages] == ["ann@client.example"]
    assert _emails()[0].state is NotificationState.sent
    assert timedelta(0) <= datetime.now() - _emails()[0].sent_on < timedelta(minutes=5)


def test_a_client_message_on_a_request_mails_the_responsible_member(firm, smtp):
    """A contact's portal message on their request reaches the entity's responsible member by mail."""
    ann = firm["ann"]
    ann.user = f.staff(R.CLIENT, username="ann.client")
    db.session.commit()
    request = requests.create_request(firm["entity"], ann, ann.user, "Payroll", "Question")
    _deliver_all()
    smtp.clear()
    messages.post(request, ann.user, "One more thing", MessageKind.portal)
    _deliver_all()
    assert [m["To"] for m in smtp.messages] == [firm["accountant"].email]
    assert "New message about Payroll" in smtp.messages[0]["Subject"]


def test_completion_file_request_and_deadline_triggers_reach_the_right_people(firm, smtp):
    """Client done → the responsible member; file request → its recipients only; deadline → assignees."""
    from datetime import date

    from app.services import file_requests

    ann = firm["ann"]
    ann.user = f.staff(R.CLIENT, username="ann.done")
    db.session.commit()
    task = tasks.create_task(firm["entity"], "Finish", firm["accountant"], deadline=date.today())
    tasks.assign(task, firm["accountant"])
    db.session.query(Notification).delete()
    tasks.client_complete(task, ann, ann.user)
    assert {n.recipient_user_id for n in _emails()} == {firm["accountant"].id}
    db.session.query(Notification).delete()
    request = file_requests.create(firm["entity"], firm["accountant"], [firm["mari"]], "Statements")
    assert {n.recipient_contact_id for n in _emails()} == {firm["mari"].id}
    db.session.query(Notification).delete()
    task_reminders.emit_deadline_events(date.today())  # "Finish" is due today, still open for the firm
    assert {n.recipient_contact_id for n in _emails()} == {ann.id, firm["mari"].id}
    assert request.kind.name == "file_request"


def test_the_daily_deadline_job_run_twice_writes_each_reminder_once(firm, smtp):
    """A second run of the reminders on the same day adds no rows (and does not fail on the outbox keys)."""
    from datetime import date

    task = tasks.create_task(firm["entity"], "Due today", firm["accountant"], deadline=date.today())
    tasks.assign(task, firm["accountant"])
    db.session.query(Notification).delete()
    db.session.commit()
    task_reminders.emit_deadline_events(date.today())
    first = db.session.query(Notification).count()
    task_reminders.emit_deadline_events(date.today())
    assert first > 0 and db.session.query(Notification).count() == first


def test_a_job_starting_a_moment_early_still_delivers(firm, smtp):
    """rq's scheduler works in whole seconds: a delivery started just before send_after still sends."""
    get_settings().notification_delay = 1
    db.session.commit()
    task = tasks.create_task(firm["entity"], "Early", firm["accountant"], assignees=[firm["ann"]])
    tasks.assign(task, firm["accountant"])
    row = _emails()[0]
    assert row.send_after > datetime.now()
    assert delivery.deliver(row.id) == "sent"
    assert len(smtp.messages) == 1


def test_a_client_upload_tells_the_responsible_member_and_a_staff_upload_nobody(firm, smtp):
    """Files a contact uploads reach the responsible accountant (one mail, linked to the document); staff uploads don't."""
    import io

    from werkzeug.datastructures import FileStorage

    from app.models.documents import Direction, Visibility
    from app.services import documents

    ann = firm["ann"]
    ann.user = f.staff(R.CLIENT, username="ann.uploads")
    db.session.commit()
    documents.upload(firm["entity"], FileStorage(io.BytesIO(b"staff notes\n"), filename="staff.txt"),
                     firm["accountant"], visibility=Visibility.portal)
    assert _emails() == []
    doc = documents.upload(firm["entity"], FileStorage(io.BytesIO(b"my receipts\n"), filename="receipts.txt"),
                           ann.user, direction=Direction.from_client, visibility=Visibility.portal)
    assert [(n.event, n.recipient_user_id, n.object_id) for n in _emails()] == [
        ("client_uploaded", firm["accountant"].id, doc.id)]
    _deliver_all()
    body = smtp.messages[0].get_body(("plain",)).get_content()
    assert "receipts.txt" in body and f"/documentview/show/{doc.id}" in body


# 4 --------------------------------------------------------------------------------------------------
def test_a_disabled_contact_gets_no_notification_mail(app, smtp, world):
    """Disabled contact was still mailed message bodies: its pending mails are now cancelled, none is sent."""
    from app.services import delivery, invitations
    from app.services.firm import get_settings

    with app.app_context():
        get_settings().notification_delay = 0
        db.session.commit()
        cora = db.session.get(Contact, world.cora)
        invitations.disable(cora, f.staff(R.STAFF_ADMIN))
        for row in db.session.scalars(select(Notification)).all():  # the assignment mail: out of the way
            row.state = NotificationState.sent
        db.session.commit()
        messages.post(db.session.get(Task, world.task), app.appbuilder.sm.get_user_by_id(world.acc),
                      "Your new payroll PIN for the bank is 4411", MessageKind.portal)
        pending = db.session.scalars(select(Notification.id).where(
            Notification.channel == Channel.email, Notification.state == NotificationState.pending,
            Notification.recipient_contact_id == world.cora)).all()
        assert pending  # the message did queue a mail for her: it must stop at delivery
        for row_id in pending:
            delivery.deliver(row_id)
        states = db.session.scalars(select(Notification.state).where(Notification.id.in_(pending))).all()
        assert set(states) == {NotificationState.cancelled}
    assert not [m for m in smtp.messages if m["To"] == world.cora_email]
    assert not [m for m in smtp.messages if "payroll PIN" in m.as_string()]
