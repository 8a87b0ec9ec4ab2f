"""Time a client import of N rows (default 10,000: one entity and one contact each, plus a second
contact on every tenth client): the dry run, then the import the job does, on the configured
database (DATABASE_URL, else a temporary SQLite file). Prints rows/s; the target is < 30 s.

    .venv/bin/python bench/import_clients.py [--rows 10000]
"""
import argparse
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_csv(rows):
    """A CSV of `rows` rows."""
    lines = ["entity_id,entity_name,entity_kind,contact_id,first_name,last_name,email,role"]
    for i in range(rows):
        person = i if i % 10 else i - 1  # every tenth client shares the previous client's contact
        lines.append(f"C-{i},Client {i} LLC,company,P-{person},Ann,Lee {person},ann{person}@bench.example,"
                     f"{'Entity Collaborator' if i % 2 else 'Entity Access'}")
    return ("\n".join(lines) + "\n").encode()


def main():
    """Build the file, preview it, apply it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="portico-bench-import-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.db")
    os.environ.setdefault("STORAGE_DIR", os.path.join(tmp, "storage"))
    os.environ["PORTICO_ENV"] = "testing"

    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.security import roles as R
    from app.services import imports
    from app.services.setup import init_roles

    app = create_app()
    with app.app_context():
        upgrade()
        init_roles()
        sm = app.appbuilder.sm
        user = sm.find_user("bench.importer") or sm.add_user(
            "bench.importer", "Bench", "Importer", "bench@firm.example", sm.find_role(R.ENTITIES_ADMIN),
            password="bench-password-2026")
        data = build_csv(args.rows)

        class Upload:
            stream = io.BytesIO(data)

        started = time.perf_counter()
        run = imports.preview(user, "bench.csv", Upload)
        checked = time.perf_counter()
        run.state = imports.ImportState.queued
        db.session.commit()
        result = imports.apply(run.id)
        done = time.perf_counter()
        print(f"database: {db.engine.dialect.name}; rows: {args.rows:,} ({len(data) / 1e6:.1f} MB)")
        print(f"dry run: {checked - started:6.2f} s   import: {done - checked:6.2f} s   "
              f"total: {done - started:6.2f} s   ({args.rows / (done - started):,.0f} rows/s)   result: {result}")


if __name__ == "__main__":
    main()
