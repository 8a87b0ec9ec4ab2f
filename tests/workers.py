"""The one way tests start a real `flask portico worker` process: on the test database, Redis, SMTP
sink and storage, in its own process group (so a test may kill -9 it)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BURST_TIMEOUT = 180  # seconds a burst worker may take before the test fails (a loaded CI machine is slow)


def worker_env(app, smtp_port=None, **extra):
    """The environment a worker process needs to work on this test run's app."""
    env = dict(os.environ, FLASK_APP="run.py", PORTICO_ENV="testing", REDIS_URL=app.config["REDIS_URL"],
               DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], STORAGE_DIR=app.config["STORAGE_DIR"])
    if smtp_port is not None:
        env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start(app, smtp_port=None, burst=False, output=subprocess.PIPE, **extra):
    """A worker process (Popen); `burst` stops it once the queue is empty."""
    command = [sys.executable, "-m", "flask", "portico", "worker"] + (["--burst"] if burst else [])
    return subprocess.Popen(command, cwd=ROOT, env=worker_env(app, smtp_port, **extra), stdout=output,
                            stderr=output, start_new_session=True)


def run_burst(app, smtp_port=None, **extra):
    """Run a burst worker to the end: (exit code, the tail of its output)."""
    process = start(app, smtp_port, burst=True, **extra)
    try:
        out, err = process.communicate(timeout=BURST_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return process.returncode, (out + err).decode(errors="replace")[-6000:]


def stop(process, timeout=20):
    """End a worker started by start(): TERM, then KILL if it does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
