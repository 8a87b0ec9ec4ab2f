"""Regression tests of the portal security review (part 1): staff home and activity scope, file-request
answers, withdrawn messages' files, mail to disabled contacts, and the PIN and code-resend races."""
import io
import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AccessCode, ActivityEvent, Contact, Document, MessageKind, Notification, Task
from app.models.contacts import PortalState
from app.models.documents import Visibility
from app.models.notifications import Channel, NotificationState
from app.security import access
from app.security import roles as R
from app.services import documents, file_requests, messages, tasks, throttle
from app.services.portal import auth as portal_auth
from tests import factories as f
from tests.conftest import csrf_token
from tests.documents_helpers import PDF
from tests.portal_auth_helpers import fresh_limits  # noqa: F401  (autouse: Redis limits forgotten per test)

JSON = {"Accept": "application/json"}
THREADS = 12
RACE_TIMEOUT = 60  # seconds: a hung thread fails the test instead of hanging the run


class Upload:
    """A minimal FileStorage stand-in for the services."""

    def __init__(self, name, content):
        self.filename, self.stream = name, io.BytesIO(content)


@pytest.fixture
def world(app):
    """An entity with a responsible accountant, two portal contacts and a task assigned to Cora."""
    with app.app_context():
        acc = f.staff(R.STAFF)
        alpha = f.entity("Alpha Co", responsible=acc)
        cora = f.portal_contact(alpha, R.ENTITY_COLLABORATOR, first="Cora")
        rhea = f.portal_contact(alpha, R.ENTITY_ACCESS, first="Rhea")
        task = tasks.create_task(alpha, "Year-end papers", acc, assignees=[cora])
        tasks.assign(task, acc)
        return SimpleNamespace(acc=acc.id, a=alpha.id, cora=cora.id, rhea=rhea.id, task=task.id,
                               cora_user=cora.user_id, cora_email=cora.primary_email)


def _race(count, work):
    """Run work(i) in `count` threads released together by a barrier; the errors raised, if any."""
    barrier, errors = threading.Barrier(count, timeout=RACE_TIMEOUT), []

    def run(i):
        try:
            barrier.wait()
            work(i)
        except Exception as exc:  # noqa: BLE001 (reported by the test)
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RACE_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a racing request hung"
    return errors


# 1 --------------------------------------------------------------------------------------------------
def test_contact_on_staff_home_is_sent_to_portal_and_sees_only_own_activity(app, client, portal_login, world):
    """Contact on staff home "/" saw staff activity: now redirected to /portal/, scope gives only its own events."""
    with app.app_context():
        acc = app.appbuilder.sm.get_user_by_id(world.acc)
        alpha = db.session.get(Task, world.task).entity
        secret = tasks.create_task(alpha, "Plan: drop this client in Q3", acc)
        messages.post(secret, acc, "internal only", MessageKind.internal)
        documents.upload(alpha, Upload("IRS-audit-findings.pdf", PDF), acc, visibility=Visibility.staff_only)
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


# 2 --------------------------------------------------------------------------------------------------
def test_file_request_answer_never_versions_a_document_made_staff_only(app, client, portal_login, world):
    """Answer to a file request on a doc made staff-only later: now a new shared file, never a version of it."""
    with app.app_context():
        acc = app.appbuilder.sm.get_user_by_id(world.acc)
        alpha = db.session.get(Task, world.task).entity
        doc = documents.upload(alpha, Upload("statement.pdf", PDF), acc, visibility=Visibility.portal)
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
                                       [Upload("OTHER-CLIENT-return.pdf", PDF), Upload("checklist.pdf", PDF)])
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


# 5 --------------------------------------------------------------------------------------------------
def test_parallel_wrong_pins_cannot_exceed_the_lock_out(app, world, monkeypatch):
    """Parallel wrong PINs all passed the lock read: 12 guesses at once now count at most 5 failures."""
    slow_check = portal_auth.check_password_hash

    def production_speed(stored, pin):  # the test hash is fast; scrypt in production is not
        time.sleep(0.05)
        return slow_check(stored, pin)

    monkeypatch.setattr(portal_auth, "check_password_hash", production_speed)
    ready = []
    for _ in range(THREADS):
        browser = app.test_client()
        browser.post("/portal/sign-in", data={"csrf_token": csrf_token(browser, "/portal/sign-in"),
                                              "email": world.cora_email})
        ready.append((browser, csrf_token(browser, "/portal/sign-in/pin")))
    statuses = []

    def guess(i):
        browser, token = ready[i]
        statuses.append(browser.post("/portal/sign-in/pin",
                                     data={"csrf_token": token, "pin": f"{900000 + i:06d}"}).status_code)

    assert _race(THREADS, guess) == []
    assert statuses == [200] * THREADS  # every guess refused (the form again), none signed in
    from app.redis_conn import get_redis

    with app.app_context():
        counted = int(get_redis().hget(portal_auth._PIN_KEY.format(throttle.key_of(world.cora_email)), "count"))
        assert counted <= portal_auth.PIN_FREE_FAILURES
        assert portal_auth.pin_lock_seconds(world.cora_email) > 0


# 6 --------------------------------------------------------------------------------------------------
def test_parallel_code_requests_cannot_exceed_the_resend_limit(app, monkeypatch):
    """Parallel code requests all passed the resend limit: 12 at once now make at most one code row."""
    with app.app_context():
        invited = f.contact(email="victim@client.example")
        invited.portal_state = PortalState.invited
        db.session.commit()
    checked = throttle.allowed

    def slow_allowed(rules, *identifiers):  # widen the test-then-count window, as a busy server would
        answer = checked(rules, *identifiers)
        time.sleep(0.05)
        return answer

    monkeypatch.setattr(throttle, "allowed", slow_allowed)
    ready = []
    for _ in range(THREADS):
        browser = app.test_client()
        ready.append((browser, csrf_token(browser, "/portal/sign-up")))
    statuses = []

    def ask(i):
        browser, token = ready[i]
        statuses.append(browser.post("/portal/sign-up", data={
            "csrf_token": token, "first_name": "V", "last_name": "W", "email": "victim@client.example",
        }).status_code)

    assert _race(THREADS, ask) == []
    assert statuses == [302] * THREADS  # the same answer to each: no 500
    with app.app_context():
        issued = db.session.scalar(select(func.count(AccessCode.id)).where(
            AccessCode.email == "victim@client.example", AccessCode.contact_id.is_not(None)))
        assert issued == 1  # a refused request uses up no place of the looser "3 per 15 minutes" rule
