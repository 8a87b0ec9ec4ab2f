"""Background jobs run by rq workers; each takes ids, reloads, and is safe to run twice."""
from rq import Queue

from app.redis_conn import get_redis

QUEUES = ["portico"]


def queue(app=None):
    """The queue Portico's jobs go to."""
    return Queue(QUEUES[0], connection=get_redis(app))


def ping():
    """A no-op job: proves a worker is consuming the queue."""
    return "pong"


def _app_context():
    """The current app context, or a new app's (a job may run in a fresh worker process)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.app_context()
    from app import create_app

    return create_app().app_context()


def spawn_next_occurrence(task_id):
    """Create the next occurrence of a recurring task (idempotent: twice gives one)."""
    from app.services.tasks import spawn_next

    with _app_context():
        task = spawn_next(task_id)
        return task.id if task is not None else None
