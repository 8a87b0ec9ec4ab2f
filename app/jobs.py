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
