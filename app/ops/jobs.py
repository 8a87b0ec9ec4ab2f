"""Background jobs: the queues, failed jobs with their error, requeue."""
import logging
from datetime import timezone

from flask import abort, flash, redirect, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext
from flask_wtf import FlaskForm
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from app import jobs as app_jobs
from app.ops.base import AdminOnlyMixin
from app.redis_conn import get_redis

log = logging.getLogger(__name__)
FAILED_JOBS_SHOWN = 50  # newest failed jobs listed per queue (the count shows them all)


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
