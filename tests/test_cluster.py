"""The cluster proof: two gunicorn web nodes, two workers and two cron processes on one PostgreSQL, one
Redis, one S3 server (rclone) and one SMTP sink. Nothing a request needs lives in a web process."""
import os
import re
import signal
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from rq.cron import get_cron_job_history_key
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select, update

from app import jobs
from app.extensions import db
from app.jobs import queue
from app.models import AccessCode, Notification
from app.models.notifications import Channel
from app.redis_conn import get_redis
from app.security import roles as R
from app.services import delivery_sweep, tasks, throttle
from app.services.firm import get_settings
from tests import cluster_helpers as c
from tests import documents_helpers as h
from tests import factories as f
from tests.conftest import SMTP
from tests.s3server import free_port

pytestmark = [
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="the cluster proof needs PostgreSQL: SQLite is one file on one machine"),
    pytest.mark.timeout(180),
    pytest.mark.may_skip_in_ci(reason="CI runs the suite on SQLite too; this proof runs in its PostgreSQL run"),
]


@pytest.fixture(scope="module")
def cluster(app, s3_server):
    """Node A and node B (gunicorn), two workers and two cron processes; stopped at the end."""
    ports = [free_port(), free_port()]
    work = tempfile.mkdtemp(prefix="portico-cluster-")
    env = c.node_env(app, s3_server.env(prefix=f"cluster{uuid.uuid4().hex[:6]}"), SMTP.port, ports, work)
    log = open(os.path.join(work, "processes.log"), "wb")
    with app.app_context():
        get_redis().flushdb()
    processes = {"web_a": c.web_node(env, ports[0], log), "web_b": c.web_node(env, ports[1], log),
                 "worker_1": c.flask_command(env, log, "worker"), "worker_2": c.flask_command(env, log, "worker"),
                 "cron_1": c.flask_command(env, log, "cron"), "cron_2": c.flask_command(env, log, "cron")}
    try:
        for port in ports:
            try:
                c.wait_until(lambda: _ready(port), 60, f"node on {port} to be ready")
            except AssertionError:
                log.flush()
                raise AssertionError(open(os.path.join(work, "processes.log")).read()[-3000:])
        yield SimpleNamespace(a=ports[0], b=ports[1], processes=processes, log=os.path.join(work, "processes.log"))
    finally:
        for process in processes.values():
            c.stop(process)
        log.close()


def _ready(port):
    try:
        return c.Browser().get(port, "/ready")[0] == 200
    except OSError:
        return False


@pytest.fixture
def office(app, cluster):
    """A staff member, an entity, and a portal contact with a task assigned (no mail delay)."""
    SMTP.clear()
    with app.app_context():
        get_settings().notification_delay = 0
        db.session.commit()
        accountant = f.staff(R.STAFF)
        entity = f.entity("Cluster Co", responsible=accountant)
        contact = f.portal_contact(entity, email=f"cluster{uuid.uuid4().hex[:6]}@client.example")
        task = tasks.create_task(entity, "Receipts", accountant)
        tasks.assign(task, accountant)
        return SimpleNamespace(username=accountant.username, entity=entity.id, email=contact.primary_email,
                               task=task.id)


def _codes(email):
    found = []
    for message in list(SMTP.messages):
        if message["To"] == email:
            match = re.search(r"^(\d{8})\r?$", message.get_body(("plain",)).get_content(), re.M)
            found += [match.group(1)] if match else []
    return found


def _portal_sign_in(browser, port, email):
    """E-mail, PIN and the mailed code (sent by a worker) through node `port`."""
    before = len(_codes(email))
    assert browser.post(port, "/portal/sign-in", {"email": email})[1]["Location"].endswith("/portal/sign-in/pin")
    assert browser.post(port, "/portal/sign-in/pin", {"pin": f.PIN})[1]["Location"].endswith("/portal/sign-in/code")
    code = c.wait_until(lambda: _codes(email)[before:], 30, "the sign-in code mail")[-1]
    status, headers, _ = browser.post(port, "/portal/sign-in/code", {"code": code})
    assert status == 302 and "/sign-in" not in headers["Location"]


def test_upload_on_a_download_on_b_and_sessions_work_on_both(cluster, office):
    """A contact signs in on A, uploads on A, downloads the same bytes on B; staff signed in on A work on B."""
    contact = c.Browser()
    _portal_sign_in(contact, cluster.a, office.email)
    content = h.PDF + b"%" + os.urandom(200_000).hex().encode() + b"\n"
    status, _, _ = contact.upload(cluster.a, f"/portal/tasks/{office.task}/files", f"/portal/tasks/{office.task}",
                                  "statement.pdf", content)
    assert status == 302
    page = contact.get(cluster.b, f"/portal/tasks/{office.task}")[2].decode()
    doc_id = re.search(r"/portal/documents/(\d+)/download", page).group(1)
    status, headers, body = contact.get(cluster.b, f"/portal/documents/{doc_id}/download")
    assert status == 200 and body == content and headers["X-Content-Type-Options"] == "nosniff"
    assert contact.get(cluster.a, "/portal/")[0] == 200 and contact.get(cluster.b, "/portal/")[0] == 200

    staff = c.Browser()
    status, headers, _ = staff.post(cluster.a, "/login/", {"username": office.username, "password": f.PASSWORD})
    assert status == 302 and "login" not in headers["Location"]
    assert staff.get(cluster.b, f"/documents/entity/{office.entity}")[0] == 200
    status, _, body = staff.get(cluster.b, f"/files/{doc_id}/download")
    assert status == 200 and body == content


def test_code_resend_and_staff_login_limits_count_across_nodes(app, cluster, office):
    """A resend on B right after the code sent through A is refused (and accepted once the minute is
    forgotten); the 4th bad staff login (A, A, B, B) is 429."""
    with app.app_context():
        for key in get_redis().scan_iter("LIMITS*"):  # earlier sign-ins in this module count too
            get_redis().delete(key)
    browser = c.Browser()
    browser.post(cluster.a, "/portal/sign-in", {"email": office.email})
    browser.post(cluster.a, "/portal/sign-in/pin", {"pin": f.PIN})
    browser.post(cluster.b, "/portal/sign-in/resend", {}, page="/portal/sign-in/code")
    codes = lambda: db.session.scalar(  # noqa: E731
        select(func.count(AccessCode.id)).where(AccessCode.email == office.email))
    with app.app_context():
        assert codes() == 1
        with app.test_request_context():  # the nodes' secret keys the counts
            app.config["SECRET_KEY"], saved = c.SECRET, app.config["SECRET_KEY"]
            key = throttle.key_of(office.email)
            app.config["SECRET_KEY"] = saved
        throttle.clear(("1 per 60 seconds",), "code", key)  # as if a minute passed
    browser.post(cluster.b, "/portal/sign-in/resend", {}, page="/portal/sign-in/code")
    with app.app_context():
        assert codes() == 2  # the resend on B did reach the code step: only the limit refused it before
    statuses = [c.Browser().post(port, "/login/", {"username": office.username, "password": "wrong-password"})[0]
                for port in (cluster.a, cluster.a, cluster.b, cluster.b)]
    assert statuses == [302, 302, 302, 429]


def test_each_periodic_job_runs_once_per_period_with_two_cron_processes(app, cluster):
    """sweep_outbox every 2 s, two cron processes: over 8 s no two enqueues fall within one period."""
    with app.app_context():
        redis = get_redis()
        key = get_cron_job_history_key("app.jobs.sweep_outbox")
        start = time.time()
        time.sleep(8)
        stamps = sorted(score for _, score in redis.zrangebyscore(key, start, "+inf", withscores=True))
    assert len(stamps) >= 3, stamps
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(gaps) > 1.5, gaps


def test_worker_killed_mid_delivery_every_mail_arrives_exactly_once(app, cluster):
    """Six contacts are mailed; kill -9 of the worker holding the first SMTP session: each gets one mail."""
    SMTP.clear()
    with app.app_context():
        get_settings().notification_delay = 0
        db.session.commit()
        accountant = f.staff(R.STAFF)
        emails, contacts = [], {}
        arrived, release = threading.Event(), threading.Event()

        def hold_first():
            if not arrived.is_set():
                arrived.set()
                release.wait(45)

        SMTP.on_message = hold_first
        for i in range(6):
            entity = f.entity(f"Mailed Co {i}", responsible=accountant)
            contact = f.portal_contact(entity, email=f"mailed{i}-{uuid.uuid4().hex[:6]}@client.example")
            emails.append(contact.primary_email)
            contacts[contact.primary_email] = contact.id
            tasks.assign(tasks.create_task(entity, f"Papers {i}", accountant), accountant)
        rows = db.session.scalar(select(func.count(Notification.id)).where(Notification.channel == Channel.email))
    try:
        assert rows == 6
        assert arrived.wait(30), "no mail reached the sink"
        # rq's scheduler (in one worker, under a lock that another worker re-tries only every 120 s) must
        # have moved every delivery to the queue first: killing it would delay, not lose, scheduled mail.
        with app.app_context():
            scheduled = ScheduledJobRegistry(queue=queue())
            c.wait_until(lambda: scheduled.count == 0, 20, "the deliveries to leave the scheduled registry")
        victim = _worker_holding(cluster, SMTP.peers[0][1])
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(10)
        release.set()
        with app.app_context():  # the killed drain's lease ends (10 min, brought forward): its rows go back
            _age_claim_of(contacts[SMTP.messages[0]["To"]], timedelta(minutes=11))
            delivery_sweep.sweep()
            # The killed drain still counts as running until rq notices its worker is gone (minutes);
            # a drain job stands in for that time passing, as the sweep above does for the lease.
            jobs.enqueue_drain()
        received = lambda: {e: sum(1 for m in SMTP.messages if m["To"] == e) for e in emails}  # noqa: E731
        try:
            c.wait_until(lambda: all(received().values()), 60, "a mail to every contact")
        except AssertionError:
            raise AssertionError(f"mails {received()}; rows {_email_rows(app)}; log {cluster.log}") from None
        time.sleep(5)  # two outbox sweeps: nothing may be sent again
        assert received() == {e: 1 for e in emails}
    finally:  # never leave the session's SMTP sink held for the tests that follow
        release.set()
        SMTP.on_message = None


def _age_claim_of(contact_id, age):
    """Date back the claim that holds `contact_id`'s row by `age` — only the killed drain's rows, not
    those of the live worker, which may be mid-mail (a sweep dated forward would flag its mail too)."""
    token = db.session.scalar(select(Notification.claim_token).where(
        Notification.recipient_contact_id == contact_id, Notification.channel == Channel.email))
    assert token, "the killed drain's row lost its claim"
    db.session.execute(update(Notification).where(Notification.claim_token == token).values(
        claimed_until=Notification.claimed_until - age, sent_on=Notification.sent_on - age))
    db.session.commit()


def _email_rows(app):
    """The e-mail rows of the outbox, as the failure message shows them."""
    with app.app_context():
        return [(n.id, n.recipient_contact_id, n.state.name, n.attempts, n.claimed_until, n.last_error)
                for n in db.session.scalars(select(Notification).where(Notification.channel == Channel.email))]


def _worker_holding(cluster, port):
    """The worker process whose SMTP connection comes from `port` (its mail is in the sink, the session
    held open: the worker has not recorded the row as sent)."""
    import psutil

    pids = {conn.pid for conn in psutil.net_connections(kind="tcp") if conn.laddr and conn.laddr.port == port}
    for name in ("worker_1", "worker_2"):
        if cluster.processes[name].pid in pids:
            return cluster.processes[name]
    raise AssertionError(f"no cluster worker owns the SMTP connection from port {port}: {pids}")
