"""Background jobs run by rq workers; each takes ids, reloads, and is safe to run twice."""
import logging
import os
import secrets
from datetime import datetime, time, timedelta, timezone

from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.registry import FailedJobRegistry

from app.redis_conn import get_redis

QUEUES = ["portico"]
FAN_OUT_KEY = "portico:drain-fan-out"  # set while an extra drain job waits for a worker
SWEEP_DRAIN = "drain-sweep"
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
    return schedule_spawn_at(task.id, task.deadline)


def schedule_spawn_at(task_id, deadline):
    """schedule_spawn for a task of a series known by its id and deadline (no reload after a commit)."""
    when = datetime.combine(deadline, SPAWN_AT, tzinfo=timezone.utc)
    try:
        return queue().enqueue_at(when, spawn_next_occurrence, task_id, job_id=f"spawn-next-{task_id}")
    except RedisError:
        log.warning("could not schedule the next occurrence of task %s", task_id, exc_info=True)
        return None


def _delivery_retry():
    """rq retries of a failing delivery, with back-off (DELIVERY_RETRY_INTERVALS, seconds)."""
    from flask import current_app

    intervals = [int(s) for s in str(current_app.config.get("DELIVERY_RETRY_INTERVALS", "30,120,600")).split(",")]
    return Retry(max=len(intervals), interval=intervals)


def enqueue_delivery(notification_id, send_after=None):
    """Have the outbox drained when this row is due (kept for callers that think per row)."""
    return enqueue_drain(send_after)


def enqueue_drain(when=None):
    """After a commit: a drain job at `when` (now if past), which sends every e-mail row due by then
    and what fell due since; a lost job is re-created by the outbox sweep, so Redis trouble is
    logged, not raised."""
    now = datetime.now()
    try:
        q = queue()
        job_id = f"drain-{secrets.token_hex(6)}"
        if when is None or when <= now:
            return q.enqueue(drain_outbox, job_id=job_id, retry=_delivery_retry())
        at = (when + timedelta(seconds=1)).astimezone(timezone.utc)  # rq rounds down to the second
        return q.enqueue_at(at, drain_outbox, job_id=job_id, retry=_delivery_retry())
    except RedisError:
        log.warning("could not schedule an outbox drain", exc_info=True)
        return None


def fan_out_drain():
    """A drain that found a full batch asks for one more drain job, so that idle workers join in
    (at most one such job waits at a time)."""
    if get_redis().set(FAN_OUT_KEY, 1, nx=True, ex=60):
        queue().enqueue(drain_outbox, job_id=f"drain-{secrets.token_hex(6)}", retry=_delivery_retry())


def ensure_sweep_drain():
    """The sweep's drain job, unless one is already waiting or running; True when enqueued."""
    from rq.job import Job

    q = queue()
    if Job.exists(SWEEP_DRAIN, connection=q.connection) and Job.fetch(SWEEP_DRAIN, connection=q.connection) \
            .get_status(refresh=True) in ("queued", "scheduled", "started", "deferred"):
        return False
    FailedJobRegistry(queue=q).remove(SWEEP_DRAIN)
    q.enqueue(drain_outbox, job_id=SWEEP_DRAIN, retry=_delivery_retry())
    return True


def drain_outbox():
    """Send every due e-mail of the outbox, in batches over one SMTP connection; safe to run twice
    and side by side (rows are claimed, each mail is marked before and after its hand-off)."""
    from app.services.delivery import drain

    with _app_context():
        get_redis().delete(FAN_OUT_KEY)
        return dict(drain(fan_out=fan_out_drain))


def send_message_mail(message_id):
    """Mail a staff "Send e-mail" message to the thread's clients now; a re-run sends nothing."""
    from app.services.messages_mail import mail_message

    with _app_context():
        return mail_message(message_id)


def enqueue_message_mail(message_id):
    """After the commit that posted it: have a worker mail the message (logged if Redis is down)."""
    try:
        return queue().enqueue(send_message_mail, message_id, job_id=f"message-mail-{message_id}",
                               retry=_delivery_retry())
    except RedisError:
        log.warning("could not enqueue the e-mail of message %s", message_id, exc_info=True)
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


def enqueue_import(import_id):
    """Queue a client import (the job claims the import, so a second job for it does nothing)."""
    queue().enqueue(run_import, import_id, job_timeout=1800)


def run_import(import_id):
    """Apply a previewed client import, telling its progress through Redis; safe to run twice."""
    from app.services import imports

    with _app_context():
        redis = get_redis()

        def progress(done, total):
            redis.set(imports.progress_key(import_id), f"{done}:{total}", ex=3600)

        return imports.apply(import_id, progress)


def enqueue_task_batch(batch_id):
    """Queue an "assign to many" batch (a second job only skips what is done); False when Redis is down
    (the batch waits, and its page offers to start it again)."""
    try:
        queue().enqueue(run_task_batch, batch_id, job_timeout=3600)
        return True
    except RedisError:
        log.warning("could not enqueue task batch %s", batch_id, exc_info=True)
        return False


def run_task_batch(batch_id):
    """Create one task (or file request) per chosen entity of a batch; safe to run twice."""
    from app.services import task_batches

    with _app_context():
        return task_batches.run(batch_id)


def send_voucher_reminders():
    """Daily: remind contacts of tax vouchers falling due (through the notification outbox)."""
    from datetime import date

    from app.services.voucher_reminders import remind

    with _app_context():
        return remind(date.today())


def sweep_outbox():
    """Periodic: re-create lost delivery jobs; flag deliveries a killed worker left half-done."""
    from app.services.delivery_sweep import sweep

    with _app_context():
        return sweep()


def send_deadline_reminders():
    """Daily: deadline_approaching for assigned open tasks (3 days before, on the day, weekly overdue)."""
    from datetime import date

    from app.services.task_reminders import emit_deadline_events

    with _app_context():
        from flask import current_app

        days = tuple(int(d) for d in str(current_app.config.get("REMINDER_DAYS_BEFORE", "3,0")).split(",") if d.strip())
        return len(emit_deadline_events(date.today(), days_before=days))


def sweep_signatures():
    """Daily: expire signature requests past their deadline, remind signers through the outbox, seal
    fully signed requests a crash left unsealed (idempotent: the outbox keys make a re-run add nothing)."""
    from app.services.signatures import sweep

    with _app_context():
        return sweep()


def purge_outbox():
    """Daily: delete sent and cancelled e-mail rows older than OUTBOX_KEEP_DAYS, in batches."""
    from app.services.delivery_stats import purge

    with _app_context():
        return purge()


def sweep_recurring_tasks():
    """Hourly: create next occurrences whose scheduled job was lost (idempotent)."""
    from app.services.task_occurrences import spawn_due_occurrences

    with _app_context():
        return spawn_due_occurrences()


def deliver_webhook(delivery_id):
    """POST one webhook delivery if it is due; a re-run after success posts nothing."""
    from app.services.webhooks_send import deliver

    with _app_context():
        return deliver(delivery_id)


def enqueue_webhook(delivery_id, when=None):
    """After a commit: a delivery job now, or at `when` (a retry's back-off, through rq's scheduler);
    Redis trouble is logged, not raised (the webhook sweep queues due deliveries again)."""
    try:
        q, job_id = queue(), f"webhook-{delivery_id}-{secrets.token_hex(4)}"
        if when is None or when <= datetime.now():
            return q.enqueue(deliver_webhook, delivery_id, job_id=job_id)
        at = (when + timedelta(seconds=1)).astimezone(timezone.utc)  # rq rounds down to the second
        return q.enqueue_at(at, deliver_webhook, delivery_id, job_id=job_id)
    except RedisError:
        log.warning("could not enqueue webhook delivery %s", delivery_id, exc_info=True)
        return None


def sweep_webhooks():
    """Periodic: re-queue due webhook deliveries whose job was lost; free leases of killed workers."""
    from app.services.webhooks_send import sweep

    with _app_context():
        return sweep()


# Periodic jobs, run by rq's own CronScheduler (`flask portico cron`).
CRON = [
    (sweep_outbox, {"interval": int(os.environ.get("OUTBOX_SWEEP_SECONDS", 60))}),
    (sweep_webhooks, {"interval": int(os.environ.get("WEBHOOK_SWEEP_SECONDS", 60))}),
    (send_deadline_reminders, {"cron": "0 6 * * *"}),
    (sweep_recurring_tasks, {"cron": "15 * * * *"}),
    (send_voucher_reminders, {"cron": "5 6 * * *"}),
    (sweep_signatures, {"cron": "10 6 * * *"}),
    (purge_outbox, {"cron": "30 3 * * *"}),
]
