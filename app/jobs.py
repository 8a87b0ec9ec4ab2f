"""Background jobs run by rq workers; each takes ids, reloads, and is safe to run twice."""
import logging
import os
from datetime import datetime, time, timedelta, timezone

from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.registry import FailedJobRegistry

from app.redis_conn import get_redis

QUEUES = ["portico"]
SPAWN_AT = time(5, 0)  # next occurrences appear early on the morning of the previous deadline (UTC)
log = logging.getLogger(__name__)


def queue(app=None):
    """The queue Portico's jobs go to."""
    return Queue(QUEUES[0], connection=get_redis(app))


def ping():
    """A no-op job: proves a worker is consuming the queue."""
    return "pong"


def _app_context():
    """The current app context, or a new app's (a job may run in a fresh worker process)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.app_context()
    from app import create_app

    return create_app().app_context()


def spawn_next_occurrence(task_id):
    """Create the next occurrence of a recurring task (idempotent: twice gives one)."""
    from app.services.tasks import spawn_next

    with _app_context():
        task = spawn_next(task_id)
        return task.id if task is not None else None


def schedule_spawn(task):
    """After commit: have a worker create the occurrence after `task` on its deadline (logged, not
    raised, when Redis is down: completing the task or the periodic sweep creates it too)."""
    if task.series_id is None or task.deadline is None:
        return None
    when = datetime.combine(task.deadline, SPAWN_AT, tzinfo=timezone.utc)
    try:
        return queue().enqueue_at(when, spawn_next_occurrence, task.id, job_id=f"spawn-next-{task.id}")
    except RedisError:
        log.warning("could not schedule the next occurrence of task %s", task.id, exc_info=True)
        return None


def _delivery_retry():
    """rq retries of a failing delivery, with back-off (DELIVERY_RETRY_INTERVALS, seconds)."""
    from flask import current_app

    intervals = [int(s) for s in str(current_app.config.get("DELIVERY_RETRY_INTERVALS", "30,120,600")).split(",")]
    return Retry(max=len(intervals), interval=intervals)


def enqueue_delivery(notification_id, send_after=None):
    """Schedule the delivery of one outbox row at its send_after (after the commit that wrote it);
    a lost job is re-created by the outbox sweep, so Redis trouble is logged, not raised."""
    when = ((send_after or datetime.now()) + timedelta(seconds=1)).astimezone(timezone.utc)  # rq rounds down
    try:
        q = queue()
        FailedJobRegistry(queue=q).remove(f"notify-{notification_id}")  # a retry replaces the failed job
        return q.enqueue_at(when, deliver_notification, notification_id, job_id=f"notify-{notification_id}",
                            retry=_delivery_retry())
    except RedisError:
        log.warning("could not schedule notification %s", notification_id, exc_info=True)
        return None


def deliver_notification(notification_id):
    """Send one due outbox row (with the recipient's other due rows, as a digest); safe to re-run."""
    from app.services.delivery import deliver

    with _app_context():
        return deliver(notification_id)


def send_access_code(code_id):
    """Mail one access code (its plain code waits in Redis for ten minutes); a re-run sends nothing."""
    from app.services.portal.mail import send_code

    with _app_context():
        return send_code(code_id)


def send_invitation(contact_id):
    """Mail a contact their portal invitation."""
    from app.services.portal.mail import send_invitation as send

    with _app_context():
        return send(contact_id)


def send_k1_link(recipient_id):
    """Mail a partner the guest link to their K-1 (the link's token waits in Redis, never in job args)."""
    from app.services.k1 import send_link

    with _app_context():
        return send_link(recipient_id)


def send_voucher_reminders():
    """Daily: remind contacts of tax vouchers falling due (through the notification outbox)."""
    from datetime import date

    from app.services.vouchers import remind

    with _app_context():
        return remind(date.today())


def sweep_outbox():
    """Periodic: re-create lost delivery jobs; flag deliveries a killed worker left half-done."""
    from app.services.delivery import sweep

    with _app_context():
        return sweep()


def send_deadline_reminders():
    """Daily: deadline_approaching for assigned open tasks (3 days before, on the day, weekly overdue)."""
    from datetime import date

    from app.services.tasks import emit_deadline_events

    with _app_context():
        from flask import current_app

        days = tuple(int(d) for d in str(current_app.config.get("REMINDER_DAYS_BEFORE", "3,0")).split(",") if d.strip())
        return len(emit_deadline_events(date.today(), days_before=days))


def sweep_recurring_tasks():
    """Hourly: create next occurrences whose scheduled job was lost (idempotent)."""
    from app.services.tasks import spawn_due_occurrences

    with _app_context():
        return spawn_due_occurrences()


# Periodic jobs, run by rq's own CronScheduler (`flask portico cron`).
CRON = [
    (sweep_outbox, {"interval": int(os.environ.get("OUTBOX_SWEEP_SECONDS", 60))}),
    (send_deadline_reminders, {"cron": "0 6 * * *"}),
    (sweep_recurring_tasks, {"cron": "15 * * * *"}),
    (send_voucher_reminders, {"cron": "5 6 * * *"}),
]
