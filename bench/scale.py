"""A firm of 100,000 clients on PostgreSQL: build it, then time every page and periodic job; print one table.

Usage (after `flask db upgrade && flask portico init` on that database):
    DATABASE_URL=postgresql+psycopg://portico:portico@127.0.0.1:5432/portico_scale \\
        .venv/bin/python bench/scale.py [--size 1.0] [--skip-build] [--runs 20] [--only home,portal]

--size scales every default count (bench/scale_build.py: 100,000 entities, 1,000,000 documents…);
--skip-build times the firm already in the database. Pages go through the real sign-in flows in the
Flask test client (staff: the /login/ form; portal: e-mail, PIN, then the code from the mail), each
requested --runs times: median and p95 in ms, SQL statements and bytes of the last answer. A request
that runs past 30 s is cut by PostgreSQL's statement_timeout (shown as "timeout"). Jobs run once each,
after removing what an earlier run wrote: time, statements, peak Python memory (tracemalloc).
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
STATEMENT_TIMEOUT_MS = 30_000
# The settings the README recommends, applied per session unless --server-settings (jit and
# random_page_cost change plans; work_mem keeps sorts in memory).
RECOMMENDED = {"jit": "off", "random_page_cost": "1.1", "work_mem": "16MB"}


def make_app(settings=None):
    """The app on DATABASE_URL with a statement timeout, no login rate limit, no kept pages, mails to
    files, and the PostgreSQL `settings` of each session (default: RECOMMENDED; {} keeps the server's)."""
    settings = RECOMMENDED if settings is None else settings
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("set DATABASE_URL to a PostgreSQL database (e.g. postgresql+psycopg://portico:portico@127.0.0.1:5432/portico_scale)")
    os.environ["RATELIMIT_ENABLED"] = "false"
    os.environ["PAGE_CACHE"] = "false"  # time the rendering: kept pages would answer the 2nd..20th request
    os.environ.pop("MAIL_SERVER", None)
    from app import create_app
    from app.gc_tuning import settle

    app = create_app()
    settle()  # as gunicorn.conf.py's post_worker_init does on every web node
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    app.config["WTF_CSRF_ENABLED"] = True
    with app.app_context():
        from sqlalchemy import event

        from app.extensions import db

        @event.listens_for(db.engine, "connect")
        def _timeout(dbapi_conn, _record):
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
                for name, value in settings.items():
                    cur.execute(f"SET {name} = '{value}'")
            dbapi_conn.commit()

        db.engine.dispose()
    return app


class Counter:
    """Counts SQL statements on the app's engine while active."""

    def __init__(self, app):
        from sqlalchemy import event

        from app.extensions import db

        self.n = 0
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.n += 1


def timed(client, counter, path, runs):
    """(median ms, p95 ms, statements, bytes, status) of `runs` GETs of `path` (fewer when slow)."""
    times, status, body, statements = [], None, b"", 0
    for i in range(runs):
        before = counter.n
        started = time.perf_counter()
        try:
            response = client.get(path)
        except Exception as error:  # noqa: BLE001 (a statement timeout surfaces here: report it, go on)
            times.append((time.perf_counter() - started) * 1000)
            status, statements = type(error).__name__, counter.n - before
            break
        times.append((time.perf_counter() - started) * 1000)
        status, body, statements = response.status_code, response.data, counter.n - before
        if times[-1] > 3000 and i >= 2:  # a slow page: three samples are enough to tell
            break
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95, statements, len(body), status, len(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=1.0, help="scale factor of the default firm (1.0 = full size)")
    parser.add_argument("--skip-build", action="store_true", help="time the firm already in the database")
    parser.add_argument("--runs", type=int, default=20, help="requests per page")
    parser.add_argument("--only", default="", help="comma-separated groups: staff,scoped,ops,portal,jobs")
    parser.add_argument("--server-settings", action="store_true",
                        help="keep the server's planner settings instead of the README's recommended ones")
    parser.add_argument("--skip", default="", help="comma-separated page labels to leave out (e.g. shares,documents)")
    args = parser.parse_args()
    app = make_app({} if args.server_settings else None)
    if not args.skip_build:
        import scale_build

        started = time.perf_counter()
        print(f"building the firm at size {args.size} …", flush=True)
        scale_build.build(app, args.size, log=lambda line: print(line, flush=True))
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    import scale_pages

    groups = [g for g in (args.only or "staff,scoped,ops,portal,jobs").split(",") if g]
    skip = {label.strip() for label in args.skip.split(",") if label.strip()}
    rows = scale_pages.measure(app, Counter(app), groups, args.runs, timed, skip)
    print_table(rows)


def print_table(rows):
    """One table: pages (median, p95, statements, bytes) and jobs (time, statements, memory)."""
    print()
    print(f"| {'what':<52} | {'median ms':>9} | {'p95 ms':>8} | {'SQL':>6} | {'KB':>7} | note |")
    print(f"|{'-' * 54}|{'-' * 11}:|{'-' * 9}:|{'-' * 7}:|{'-' * 8}:|------|")
    for row in rows:
        print(f"| {row['what']:<52} | {row['median']:>9.1f} | {row['p95']:>8.1f} | {row['sql']:>6} | "
              f"{row['kb']:>7.1f} | {row['note']} |", flush=True)


if __name__ == "__main__":
    main()
