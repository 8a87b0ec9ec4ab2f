"""Importing the firm's clients: entities and contacts (with their roles) from CSV or XLSX.

A preview (dry run) checks every row against the database and says what would be created or
updated, with errors by line; nothing is written but the import record. The go-ahead queues a job
that checks again and applies everything in one transaction (all or nothing). Re-importing the
same file updates by external id instead of creating duplicates.
"""
import csv
import io
import json
import logging
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.extensions import db
from app.models import ImportRun, ImportState
from app.security import access
from app.services import activity, import_plan, import_rows, tabular

SPEC = tabular.TableSpec(
    required=("entity_id", "entity_name"),
    optional=("entity_kind", "tax_id", "responsible", "contact_id", "first_name", "last_name", "email", "phone",
              "language", "role"),
    max_bytes=5 * 1024 * 1024, max_rows=20000, xlsx=True,
    too_many=_l("The file has more than %(n)s rows. Split it into smaller files."))
EXAMPLE = [
    ("C-1001", "Birch & Oak LLC", "company", "12-3456789", "", "P-501", "Olivia", "Birch", "olivia@birchoak.example",
     "+1 555 0100", "en", "Entity Collaborator"),
    ("C-1001", "Birch & Oak LLC", "", "", "", "P-502", "Mark", "Oak", "mark@birchoak.example", "", "en",
     "Entity Access"),
    ("C-1002", "Olivia Birch", "individual", "", "", "P-501", "", "", "", "", "", "Entity Collaborator"),
]
SAMPLE = 50  # changes of each kind shown in the preview
log = logging.getLogger(__name__)


class ImportRefused(ValueError):
    """A refused import operation; the message is for the user."""


def may_import(user):
    """Whether `user` may import clients (creates entities and contacts: Admins and Entities Admins)."""
    return access.has_screen_permission(user, "can_import", "ImportView")


def preview(user, filename, file_storage):
    """Check the file (dry run) and keep it with what it would do; returns the ImportRun."""
    if not may_import(user):
        raise ImportRefused(_("You may not import clients."))
    data = file_storage.stream.read(SPEC.max_bytes + 1) if file_storage else b""
    run = ImportRun(filename=(filename or "")[:200], content=data, created_by_id=user.id)
    plan = _check(data, user)
    run.summary, run.errors = json.dumps(plan.summary(SAMPLE)), json.dumps(plan.errors)
    run.state = ImportState.previewed
    db.session.add(run)
    db.session.commit()
    return run


def start(run, user):
    """Queue a previewed import without errors (committed, then enqueued)."""
    from app import jobs

    if not may_import(user) or run.created_by_id != user.id:
        raise ImportRefused(_("Only the person who previewed this import may start it."))
    if run.state is not ImportState.previewed or json.loads(run.errors):
        raise ImportRefused(_("This import cannot be started (it has errors or already ran)."))
    run.state = ImportState.queued
    db.session.commit()
    jobs.enqueue_import(run.id)


def apply(import_id, progress=None):
    """Job body: check again, then write everything in one transaction; safe to run twice."""
    from flask_appbuilder.security.sqla.models import User

    claimed = db.session.execute(update(ImportRun).where(ImportRun.id == import_id,
                                                         ImportRun.state == ImportState.queued)
                                 .values(state=ImportState.running)).rowcount
    db.session.commit()
    if claimed != 1:  # gone, or another job has it or had it
        return "skipped"
    run = db.session.get(ImportRun, import_id)
    user = db.session.get(User, run.created_by_id) if run.created_by_id else None
    plan = _check(run.content, user)
    if not plan.errors and user is not None and may_import(user):
        try:
            plan.apply(user, progress)
            activity.record("import.done", None, run, actor=user, commit=False,
                            summary=ngettext("%(file)s: %(num)d row", "%(file)s: %(num)d rows", plan.row_count, file=run.filename))
            run.state, run.summary = ImportState.done, json.dumps(plan.summary(SAMPLE))
            run.finished_on = datetime.now()
            db.session.commit()
            return "done"
        except Exception as exc:  # a database refusal (e.g. a concurrent change): nothing was saved
            log.exception("import %s failed", import_id)
            db.session.rollback()
            run = db.session.get(ImportRun, import_id)
            plan.errors.append(_("The import could not be saved (%(why)s). Nothing was imported.",
                                 why=type(exc).__name__))
    run.state, run.errors, run.finished_on = ImportState.failed, json.dumps(plan.errors), datetime.now()
    db.session.commit()
    return "failed"


def _check(data, user):
    """The plan of a file's bytes (whole-file refusals become its only error)."""
    try:
        rows, errors = tabular.read(_Upload(data), SPEC)
    except tabular.TableRefused as exc:
        return import_plan.Plan.refused(exc.errors)
    found = import_rows.collect(rows)
    found.errors[:0] = errors
    return import_plan.Plan.build(found, user, len(rows))


class _Upload:
    """The stored bytes, shaped like an upload for the table reader."""

    def __init__(self, data):
        self.stream = io.BytesIO(data or b"")


def progress_key(import_id):
    """The Redis key holding "done:total" of a running import."""
    return f"portico:import:{import_id}:progress"


def progress(run):
    """(done, total) of an import while it runs (from Redis), or None."""
    from app.redis_conn import get_redis

    raw = get_redis().get(progress_key(run.id))
    if not raw:
        return None
    done, total = (int(v) for v in raw.decode().split(":"))
    return done, total


def recent(user, limit=20):
    """The user's latest imports, newest first."""
    return db.session.scalars(select(ImportRun).where(ImportRun.created_by_id == user.id)
                              .order_by(ImportRun.id.desc()).limit(limit)).all()


def template_csv():
    """The template file: the header and example rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SPEC.columns)
    writer.writerows(EXAMPLE)
    return out.getvalue().encode("utf-8-sig")


def template_xlsx():
    """The same template as a workbook."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Clients")
    sheet.append(list(SPEC.columns))
    for row in EXAMPLE:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
