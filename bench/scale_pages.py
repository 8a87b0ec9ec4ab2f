"""Pages and periodic jobs timed by bench/scale.py, with the sign-in flows that reach them."""
import email
import glob
import os
import re
import time
import tracemalloc

from sqlalchemy import text

from scale_build import PASSWORD, PIN, PORTAL_EMAIL

ADMIN, SCOPED = "bench.staff01", "bench.staff11"


def _csrf(body):
    field = re.search(rb'<input[^>]*name="csrf_token"[^>]*>', body)
    return re.search(rb'value="([^"]+)"', field.group(0)).group(1).decode() if field else ""


def staff_client(app, username):
    """A test client signed in through FAB's /login/ form."""
    client = app.test_client()
    token = _csrf(client.get("/login/").data)
    response = client.post("/login/", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, f"staff sign-in of {username} failed ({response.status_code})"
    return client


def portal_client(app):
    """A test client signed in to the portal: e-mail, PIN, then the code read from the mail it was sent."""
    from rq import SimpleWorker

    from app.extensions import db
    from app.jobs import queue
    from app.mailer import mail_folder
    from app.redis_conn import get_redis

    with app.app_context():
        db.session.execute(text("DELETE FROM access_code WHERE email = :e"), {"e": PORTAL_EMAIL})
        db.session.commit()
        folder = mail_folder()
        redis = get_redis()
        for key in list(redis.scan_iter("portico:pin-failures:*")) + list(redis.scan_iter("LIMITS*")):
            redis.delete(key)
    seen = set(glob.glob(os.path.join(folder, "*")))
    client = app.test_client()
    client.post("/portal/sign-in", data={"email": PORTAL_EMAIL, "csrf_token": _csrf(client.get("/portal/sign-in").data)})
    client.post("/portal/sign-in/pin", data={"pin": PIN, "csrf_token": _csrf(client.get("/portal/sign-in/pin").data)})
    with app.app_context():
        SimpleWorker([queue()], connection=get_redis()).work(burst=True)
    new = sorted(set(glob.glob(os.path.join(folder, "*"))) - seen)
    code = None
    for path in new:
        with open(path, encoding="utf-8") as handle:
            message = email.message_from_file(handle)
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                found = re.search(r"^(\d{8})\s*$", part.get_payload(decode=True).decode(), re.M)
                code = found.group(1) if found else code
    assert code, "no access code mailed to the bench contact"
    response = client.post("/portal/sign-in/code",
                           data={"code": code, "csrf_token": _csrf(client.get("/portal/sign-in/code").data)})
    assert response.status_code == 302, f"portal sign-in failed ({response.status_code})"
    return client


def _ids(app):
    from app.extensions import db

    with app.app_context():
        one = lambda sql: db.session.scalar(text(sql))  # noqa: E731
        contact = one(f"SELECT contact_id FROM contact_email WHERE email = '{PORTAL_EMAIL}'")
        scoped_uid = one(f"SELECT id FROM ab_user WHERE username = '{SCOPED}'")
        return {
            "entity": one("SELECT min(entity_id) FROM entity_share WHERE user_id = %d" % scoped_uid),
            "task": one("SELECT min(t.id) FROM task t JOIN entity_share s ON s.entity_id = t.entity_id "
                        "AND s.user_id = %d" % scoped_uid),
            "document": one("SELECT min(d.id) FROM document d JOIN entity_share s ON s.entity_id = d.entity_id "
                            "AND s.user_id = %d" % scoped_uid),
            "thread": one("SELECT task_id FROM message WHERE task_id IS NOT NULL GROUP BY task_id "
                          "ORDER BY count(*) DESC LIMIT 1"),
            "small_task": one("SELECT max(task_id) FROM task_assignee WHERE contact_id = %d" % contact),
            "portal_doc": one("SELECT max(id) FROM document"),
            "portal_entity": one("SELECT min(entity_id) FROM entity_share WHERE contact_id = %d" % contact),
        }


def staff_pages(ids):
    """(label, path) of the staff pages."""
    return [
        ("home", "/"),
        ("entities", "/entityview/list/"),
        ("entities, page 2,000", "/entityview/list/?page_EntityView=1999"),
        ("entities, search name", "/entityview/list/?_flt_2_name=maple"),
        ("entity (client page)", f"/entityview/show/{ids['entity']}"),
        ("client page, largest client", f"/entityview/show/{ids['portal_entity']}"),
        ("assign to many (form)", "/task-batches/new"),
        ("contacts", "/contactview/list/"),
        ("shares", "/entityshareview/list/"),
        ("documents", "/documentview/list/"),
        ("documents, search name", "/documentview/list/?_flt_2_name=invoice"),
        ("document", f"/documentview/show/{ids['document']}"),
        ("document browser (entity)", f"/documents/entity/{ids['entity']}"),
        ("tasks", "/taskview/list/"),
        ("task", f"/taskview/show/{ids['task']}"),
        ("task with 3,000 messages", f"/taskview/show/{ids['thread']}"),
        ("client requests", "/clientrequestview/list/"),
        ("tax vouchers", "/taxvoucherview/list/"),
        ("activity", "/activityeventview/list/"),
        ("notifications (grouped)", "/notifications/"),
        ("notifications, one by one", "/notifications/?view=each"),
    ]


def ops_pages(ids):
    """(label, path) of the ops console pages (Admin only)."""
    return [("ops index", "/ops/"), ("ops outbox", "/ops/outbox/"), ("ops audit", "/ops/audit/"),
            ("ops jobs", "/ops/jobs/"), ("staff users", "/users/list/")]


def portal_pages(ids):
    """(label, path) of the portal pages of the bench contact."""
    return [
        ("home", "/portal/"),
        ("documents", f"/portal/documents?entity={ids['portal_entity']}"),
        ("documents, search", "/portal/documents?q=statement+12"),
        ("documents, page 100", "/portal/documents?page=100"),
        ("document", f"/portal/documents/{ids['portal_doc']}"),
        ("task", f"/portal/tasks/{ids['small_task']}"),
        ("task with 3,000 messages", f"/portal/tasks/{ids['thread']}"),
        ("requests", "/portal/requests"),
        ("notifications", "/portal/notifications"),
        ("payments", "/portal/payments"),
    ]


def measure(app, counter, groups, runs, timed, skip=()):
    """Rows for the table: every page of the chosen groups, then the jobs."""
    ids, rows = _ids(app), []
    _password_sign_in(app)
    plan = []
    if "staff" in groups:
        plan.append(("staff (Admin)", lambda: staff_client(app, ADMIN), staff_pages(ids)))
    if "scoped" in groups:
        plan.append(("staff (scoped)", lambda: staff_client(app, SCOPED), staff_pages(ids)))
    if "ops" in groups:
        plan.append(("ops (Admin)", lambda: staff_client(app, ADMIN), ops_pages(ids)))
    if "portal" in groups:
        plan.append(("portal", lambda: portal_client(app), portal_pages(ids)))
    for who, sign_in, pages in plan:
        client = sign_in()
        for label, path in pages:
            if label in skip:
                continue
            median, p95, sql, size, status, n = timed(client, counter, path, runs)
            note = "" if status == 200 else (f"HTTP {status}" if isinstance(status, int) else f"{status} (timeout)")
            note += f" ({n} runs)" if n < runs else ""
            rows.append({"what": f"{who}: {label}", "median": median, "p95": p95, "sql": sql, "kb": size / 1024,
                         "note": note.strip()})
            print(f"  {rows[-1]['what']:<52} {median:8.1f} ms  p95 {p95:8.1f}  {sql:5} SQL  {size / 1024:8.1f} KB "
                  f"{note}", flush=True)
    if "jobs" in groups:
        rows += measure_jobs(app, counter)
    return rows


def _password_sign_in(app):
    """The bench firm signs its staff in with the password alone: the default policy would send Admins
    to set up an authenticator (a 302 for every page) and the bench times pages, not that step."""
    from app.extensions import db
    from app.services.firm import get_settings

    with app.app_context():
        get_settings().second_factor_roles = ""
        db.session.commit()


def _reset_jobs(app):
    """Remove what an earlier run of the jobs wrote, so every run does the same work."""
    from app.extensions import db
    from app.jobs import queue
    from app.redis_conn import get_redis

    with app.app_context():
        for sql in ("DELETE FROM notification WHERE event IN ('deadline_approaching', 'voucher_due')",
                    "DELETE FROM activity_event WHERE verb LIKE 'work.%'",
                    "DELETE FROM task WHERE occurrence > 1"):
            db.session.execute(text(sql))
        db.session.commit()
        redis = get_redis()
        redis.flushdb()
        queue().empty()


def measure_jobs(app, counter):
    """Each periodic job once: seconds, statements and peak Python memory."""
    from app import jobs

    rows = []
    _reset_jobs(app)
    for label, job in (("deadline reminders", jobs.send_deadline_reminders),
                       ("voucher reminders", jobs.send_voucher_reminders),
                       ("recurring-task spawn", jobs.sweep_recurring_tasks),
                       ("outbox sweep", jobs.sweep_outbox)):
        before = counter.n
        tracemalloc.start()
        started = time.perf_counter()
        with app.app_context():
            result = job()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"what": f"job: {label}", "median": seconds * 1000, "p95": seconds * 1000,
                     "sql": counter.n - before, "kb": peak / 1024, "note": f"result {result}; KB = peak Python memory"})
        print(f"  job {label:<40} {seconds:8.2f} s  {counter.n - before:6} SQL  peak {peak / 1e6:6.1f} MB  -> {result}",
              flush=True)
    _reset_jobs(app)
    return rows
