"""gunicorn settings for a Portico web node: `gunicorn -c gunicorn.conf.py run:app`.

Every value comes from the environment so one file serves every node. Forwarded headers are
handled in one place only: Werkzeug's ProxyFix in create_app, trusting exactly TRUSTED_PROXIES
hops. gunicorn's own forwarded-header handling is switched off so the two never stack.
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_class = "gthread" if threads > 1 else "sync"
# A request (a 10 MB upload on a slow line, an S3 round trip) may take this long before the worker is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# Recycle workers now and then so a slow leak never grows without bound; jitter spreads restarts. A new
# worker costs ~2 s of CPU (building the app) and a few hundred slower requests (caches filling): every
# 2,000 requests that was a tenth of a busy node's CPU; every 20,000 it is about 1 %.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 20000))
max_requests_jitter = max_requests // 10
# ProxyFix (TRUSTED_PROXIES) decides what X-Forwarded-* to believe; gunicorn believes none of it.
forwarded_allow_ips = ""
secure_scheme_headers = {}
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Each worker builds its own app: no state is shared between processes except through PostgreSQL and Redis.
preload_app = False


def post_worker_init(worker):
    """Once the worker has built its app, move those long-lived objects out of the collector's sight:
    otherwise every full collection walks them all (117 ms, one request in twenty at 100,000 clients);
    and collect less often (app.gc_tuning)."""
    from app.gc_tuning import settle

    settle()
