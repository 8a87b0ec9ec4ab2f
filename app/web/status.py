"""Is this node well: /health (liveness: database and Redis) and /ready (readiness: also
migrations at head and a storage round trip)."""

from flask import jsonify
from sqlalchemy import text

from app.extensions import db
from app.redis_conn import get_redis
from app.web import bp


@bp.route("/health")
def health():
    """Database and Redis status as JSON: 200 when both answer, 503 otherwise."""
    status = {"database": _check(lambda: db.session.execute(text("SELECT 1"))),
              "redis": _check(lambda: get_redis(socket_connect_timeout=1, socket_timeout=1).ping())}
    healthy = all(v == "ok" for v in status.values())
    status["status"] = "ok" if healthy else "unavailable"
    return jsonify(status), 200 if healthy else 503


@bp.route("/ready")
def ready():
    """Readiness for a load balancer: database, migrations at head, Redis and storage (200 or 503)."""
    from app.services.readiness import run_checks

    status = {part: "ok" if ok else "error" for part, ok, _ in run_checks()}
    healthy = all(v == "ok" for v in status.values())
    status["status"] = "ok" if healthy else "unavailable"
    return jsonify(status), 200 if healthy else 503


def _check(probe):
    try:
        probe()
        return "ok"
    except Exception:  # any failure of the probe means "not answering"; details stay in the log
        db.session.rollback()
        return "error"
