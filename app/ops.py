"""The ops console at /ops: notification outbox, background jobs and the audit log, for firm Admins only.

Flask-Admin 2.2 mounted beside FAB under its own endpoints (`ops`, `ops_outbox`, `ops_jobs`,
`ops_audit`). It has no login of its own: every view, the index included, asks the access module
whether the FAB user signed in manages roles (only Admins do). Anonymous visitors are sent to FAB's
login, everybody else gets 403. Every state change is a POST carrying a Flask-WTF CSRF token.
There is deliberately no Redis console (Flask-Admin's RedisCli takes POSTs without a CSRF token).
"""
import logging
import time
from datetime import timezone

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import Admin, AdminIndexView, BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.menu import MenuLink
from flask_admin.theme import Bootstrap4Theme
from flask_babel import gettext, lazy_gettext as _l, ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from app import jobs as app_jobs
from app.services.delivery_render import portal_address_warning
from app.extensions import db
from app.models import ActivityEvent, Notification
from app.models.notifications import Channel, NotificationState
from app.redis_conn import get_redis
from app.security import access
from app.services import notifications as notification_service

log = logging.getLogger(__name__)

FAILED_JOBS_SHOWN = 50  # newest failed jobs listed per queue (the count shows them all)
AUDIT_EXPORT_MAX_ROWS = 100_000  # bounds the memory one CSV export may take; filter by date for more

STATE_LABELS = {  # by name: the outbox may gain states (e.g. "sending") before this console knows them
    "pending": _l("Pending"),
    "sending": _l("Sending"),
    "cancelled": _l("Cancelled"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
}
CHANNEL_LABELS = {Channel.in_app: _l("In the portal"), Channel.email: _l("E-mail")}


# --- access ------------------------------------------------------------------------------------

class AdminOnlyMixin:
    """Firm Admins only, through FAB's own login: anonymous → the login page, anybody else → 403."""

    def is_accessible(self):
        return bool(current_user.is_authenticated and access.manages_roles(current_user))

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            login = current_app.appbuilder.sm.auth_view.endpoint + ".login"
            return redirect(url_for(login, next=request.url))
        abort(403)


class OpsModelView(AdminOnlyMixin, ModelView):
    """A read-mostly SQLAlchemy list: no create, edit or delete; forms carry Flask-WTF CSRF tokens."""

    list_template = "ops/list.html"
    form_base_class = FlaskForm
    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True
    named_filter_urls = True
    page_size = 50


# --- outbox ------------------------------------------------------------------------------------

def _recipient(view, context, model, name):
    """The contact or staff user a notification goes to, with its kind."""
    if model.recipient_contact_id is not None:
        contact = model.recipient_contact
        label = contact.full_name if contact is not None else f"#{model.recipient_contact_id}"
        return gettext("Contact: %(name)s", name=label)
    user = model.recipient_user
    if user is None:
        return gettext("Staff: %(name)s", name=f"#{model.recipient_user_id}")
    label = f"{user.first_name} {user.last_name} ({user.username})"
    return gettext("Staff: %(name)s", name=label)


def _short(limit):
    def formatter(view, context, model, name):
        value = getattr(model, name) or ""
        return value if len(value) <= limit else value[: limit - 1] + "…"

    return formatter


def _state(view, context, model, name):
    value = getattr(model, name)
    return STATE_LABELS.get(value.name, value.name) if value is not None else ""


def _channel(view, context, model, name):
    value = getattr(model, name)
    return CHANNEL_LABELS.get(value, value.name if value is not None else "")


class OutboxView(OpsModelView):
    """Every notification row: where it stands in delivery; failed ones can be retried."""

    list_template = "ops/outbox_list.html"
    column_list = ["id", "event", "recipient", "channel", "state", "attempts", "send_after", "sent_on", "last_error"]
    column_details_list = [
        "id", "event", "recipient", "channel", "state", "attempts", "send_after", "sent_on", "read_at",
        "last_error", "object_type", "object_id", "entity", "idempotency_key", "actor_user_id", "created_on",
    ]
    column_select_related_list = [Notification.recipient_contact, Notification.recipient_user]  # no N+1
    column_sortable_list = ["id", "event", "channel", "state", "attempts", "send_after", "sent_on"]
    column_default_sort = ("id", True)
    column_searchable_list = ["event", "idempotency_key"]
    column_filters = [
        "state", "event", "channel",
        "recipient_contact_id", "recipient_contact.last_name", "recipient_contact.first_name",
        "recipient_user_id", "recipient_user.username", "recipient_user.email",
        "entity.name", "created_on", "send_after",
    ]
    column_labels = {
        "id": _l("Id"),
        "event": _l("Event"),
        "recipient": _l("Recipient"),
        "channel": _l("Channel"),
        "state": _l("State"),
        "attempts": _l("Attempts"),
        "send_after": _l("Send after"),
        "sent_on": _l("Sent on"),
        "read_at": _l("Read at"),
        "last_error": _l("Last error"),
        "object_type": _l("Object"),
        "object_id": _l("Object id"),
        "entity": _l("Entity"),
        "entity.name": _l("Entity"),
        "idempotency_key": _l("Idempotency key"),
        "actor_user_id": _l("Actor (user id)"),
        "created_on": _l("Created on"),
        "recipient_contact_id": _l("Recipient contact id"),
        "recipient_contact.last_name": _l("Recipient contact: last name"),
        "recipient_contact.first_name": _l("Recipient contact: first name"),
        "recipient_user_id": _l("Recipient user id"),
        "recipient_user.username": _l("Recipient user: username"),
        "recipient_user.email": _l("Recipient user: e-mail"),
    }
    column_formatters = {
        "recipient": _recipient,
        "state": _state,
        "channel": _channel,
        "last_error": _short(120),
    }
    column_formatters_detail = {"recipient": _recipient, "state": _state, "channel": _channel}

    @action("retry", _l("Retry"), _l("Send the selected failed notifications again?"))
    def action_retry(self, ids):
        """failed → pending, due now, attempts kept; then hand each one to a delivery job."""
        moved, skipped = notification_service.retry(ids)
        if moved:
            flash(ngettext("%(num)d notification will be sent again.",
                           "%(num)d notifications will be sent again.", len(moved)), "success")
        if skipped:
            flash(ngettext("%(num)d notification was not failed and was left as it was.",
                           "%(num)d notifications were not failed and were left as they were.", skipped), "warning")

    @action("cancel", _l("Cancel"), _l("Cancel the selected pending notifications?"))
    def action_cancel(self, ids):
        """pending → cancelled (a worker re-reads the state before sending, so it sends nothing)."""
        moved, skipped = notification_service.cancel(ids)
        if moved:
            flash(ngettext("%(num)d notification was cancelled.", "%(num)d notifications were cancelled.",
                           len(moved)), "success")
        if skipped:
            flash(ngettext("%(num)d notification was not pending and was left as it was.",
                           "%(num)d notifications were not pending and were left as they were.", skipped), "warning")


# --- audit log ---------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection): prefix a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class AuditLogView(OpsModelView):
    """The activity log, newest first, read-only, with a CSV export."""

    can_export = True
    export_types = ["csv"]
    export_max_rows = AUDIT_EXPORT_MAX_ROWS
    column_list = ["created_on", "actor", "entity", "verb", "object_type", "object_id", "summary", "ip"]
    column_details_list = ["id"] + column_list
    column_export_list = ["id"] + column_list
    column_sortable_list = ["created_on", "verb"]
    column_default_sort = [("created_on", True), ("id", True)]
    column_searchable_list = ["summary", "verb"]
    column_filters = ["verb", "entity.name", "entity_id", "actor.username", "actor_id", "object_type", "created_on"]
    column_labels = {
        "id": _l("Id"),
        "created_on": _l("When"),
        "actor": _l("Who"),
        "actor.username": _l("Who: username"),
        "actor_id": _l("Who: user id"),
        "entity": _l("Entity"),
        "entity.name": _l("Entity: name"),
        "entity_id": _l("Entity: id"),
        "verb": _l("What"),
        "object_type": _l("Object"),
        "object_id": _l("Object id"),
        "summary": _l("Summary"),
        "ip": _l("IP address"),
    }

    def get_export_value(self, model, name):
        value = super().get_export_value(model, name)  # may be a User or Entity: its str() is what is written
        return csv_safe(value if value is None or isinstance(value, str) else str(value))

    def get_export_name(self, export_type="csv"):
        return f"portico-audit-log_{time.strftime('%Y-%m-%d_%H-%M-%S')}.{export_type}"


# --- background jobs ---------------------------------------------------------------------------

class RequeueForm(FlaskForm):
    """One failed job to put back on its queue (the CSRF token is checked by Flask-WTF)."""

    queue = HiddenField(validators=[DataRequired(), Length(max=100)])
    job_id = HiddenField(validators=[DataRequired(), Length(max=200)])


def _utc(value):
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _failed_job(job):
    """What the jobs page shows of one failed job (never its arguments)."""
    try:
        func_name = job.func_name
    except Exception:  # an unloadable payload must not take the page down
        func_name = "?"
    try:
        result = job.latest_result()
        error = _last_line(result.exc_string if result is not None else "")
    except Exception:
        error = ""
    return {"id": job.id, "func_name": func_name, "enqueued_at": _utc(job.enqueued_at),
            "ended_at": _utc(job.ended_at), "error": error}


def queue_stats(name, connection):
    """Counts per state and the newest failed jobs of one queue."""
    queue = Queue(name, connection=connection)
    failed = FailedJobRegistry(queue=queue)
    failed_ids = failed.get_job_ids(0, FAILED_JOBS_SHOWN - 1, desc=True)
    jobs = [job for job in Job.fetch_many(failed_ids, connection=connection, serializer=queue.serializer) if job]
    return {
        "name": name,
        "queued": queue.count,
        "scheduled": ScheduledJobRegistry(queue=queue).count,
        "started": StartedJobRegistry(queue=queue).count,
        "failed": failed.count,
        "finished": FinishedJobRegistry(queue=queue).count,
        "failed_jobs": [_failed_job(job) for job in jobs],
    }


class JobsView(AdminOnlyMixin, BaseView):
    """rq queues: how many jobs wait, run, failed and finished; failed jobs can be requeued."""

    @expose("/")
    def index(self):
        try:
            connection = get_redis()
            queues = [queue_stats(name, connection) for name in app_jobs.QUEUES]
            error = None
        except RedisError:
            log.warning("the ops jobs page could not reach Redis", exc_info=True)
            queues, error = [], gettext("Redis is not answering; job counts are unavailable.")
        return self.render("ops/jobs.html", queues=queues, error=error, shown=FAILED_JOBS_SHOWN)

    @expose("/requeue", methods=("POST",))
    def requeue(self):
        form = RequeueForm()
        if not form.validate_on_submit():
            abort(400)
        if form.queue.data not in app_jobs.QUEUES:
            abort(404)
        try:
            FailedJobRegistry(form.queue.data, connection=get_redis()).requeue(form.job_id.data)
        except (NoSuchJobError, InvalidJobOperation):
            flash(gettext("That job is no longer in the failed list."), "warning")
        except RedisError:
            log.warning("could not requeue job %s", form.job_id.data, exc_info=True)
            flash(gettext("Redis is not answering; the job was not requeued."), "error")
        else:
            flash(gettext("The job is back on the %(queue)s queue.", queue=form.queue.data), "success")
        return redirect(url_for(".index"))


# --- index and wiring --------------------------------------------------------------------------

class OpsIndex(AdminOnlyMixin, AdminIndexView):
    """The console's front page: what needs attention."""

    @expose("/")
    def index(self):
        rows = db.session.execute(select(Notification.state, func.count()).group_by(Notification.state)).all()
        states = {state: count for state, count in rows}
        outbox = [(state, STATE_LABELS.get(state.name, state.name), states.get(state, 0))
                  for state in NotificationState]
        try:
            connection = get_redis()
            failed_jobs = sum(FailedJobRegistry(name, connection=connection).count for name in app_jobs.QUEUES)
        except RedisError:
            failed_jobs = None
        from app.services.delivery_stats import outbox_health

        return self.render("ops/index.html", outbox=outbox, failed_jobs=failed_jobs, health=outbox_health(),
                           address_warning=portal_address_warning(request.host_url))


def init_ops(app):
    """Mount the ops console at /ops on `app` (a new Admin and new views for every app)."""
    from app.web import csp_nonce

    admin = Admin(
        app,
        name=_l("Portico ops"),
        url="/ops",
        endpoint="ops",
        index_view=OpsIndex(name=_l("Overview"), url="/ops", endpoint="ops"),
        theme=Bootstrap4Theme(fluid=True),
        csp_nonce_generator=csp_nonce,
    )
    admin.add_view(OutboxView(Notification, db, name=_l("Outbox"), endpoint="ops_outbox", url="/ops/outbox"))
    admin.add_view(JobsView(name=_l("Background jobs"), endpoint="ops_jobs", url="/ops/jobs"))
    admin.add_view(AuditLogView(ActivityEvent, db, name=_l("Audit log"), endpoint="ops_audit", url="/ops/audit"))
    if app.config["DEV_MAIL"]:
        from app.ops_mail import DevMailView

        admin.add_view(DevMailView(name=_l("Development mail"), endpoint="ops_mail", url="/ops/mail"))
    admin.add_link(MenuLink(name=_l("Back to Portico"), url="/"))
    return admin
