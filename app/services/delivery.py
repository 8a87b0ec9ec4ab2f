"""Delivering the e-mail outbox in batches, each mail exactly once.

A drain claims due rows in bulk (a lease: claim token + claimed_until; PostgreSQL skips rows other
workers hold, SQLite serialises the claiming UPDATE), re-checks the whole batch through the access
module, and sends one mail per recipient (a digest when several rows are due) over one SMTP
connection. Each mail's rows go pending → sending (committed before the hand-off) → sent: a
worker killed between the two leaves "sending", which the sweep flags for a person to check and
never re-sends; rows it had claimed but not started go back to the queue when the lease ends."""
import secrets
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app import mailer
from app.extensions import db
from app.models import Contact, Notification
from app.models.notifications import Channel, NotificationState
from app.services.delivery_checks import address_of, load_objects, reasons, wants_email  # noqa: F401 (re-export)
from app.services.delivery_render import portal_base, render
from app.services.firm import get_settings

MAX_ATTEMPTS = 4
BATCH = 100
LEASE = timedelta(minutes=10)  # a claimed batch not started by then is taken again
EARLY = timedelta(seconds=2)  # rq's scheduler works in whole seconds: a job may start a moment early
INTERRUPTED = "interrupted while sending: it may have reached the recipient; check before retrying"
PENDING, SENDING = NotificationState.pending, NotificationState.sending


def drain(batch_size=BATCH, budget=50.0, fan_out=None):
    """Send every due e-mail row, a batch at a time over one SMTP connection, until none is left or
    `budget` seconds are spent (then another drain job carries on). Returns the counts."""
    totals, stop = Counter(), time.monotonic() + budget
    db.session().expire_on_commit = False  # a commit per mail must not reload the batch's objects
    with mailer.Outgoing() as outgoing:
        while True:
            rows = claim(batch_size)
            if not rows:
                return totals
            if fan_out is not None and len(rows) >= batch_size:
                fan_out()  # more is due: let an idle worker drain beside this one
            totals.update(send_batch(rows, outgoing))
            if time.monotonic() > stop:
                from app import jobs

                jobs.enqueue_drain()
                return totals


def deliver(notification_id):
    """Send one row now, with its recipient's other due rows (a digest); safe to re-run."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.state is not PENDING or row.channel is not Channel.email:
        return "skipped"
    if row.send_after > datetime.now() + EARLY:
        return "not due"
    owner = (Notification.recipient_contact_id == row.recipient_contact_id if row.recipient_contact_id
             else Notification.recipient_user_id == row.recipient_user_id)
    rows = claim(None, owner)
    if notification_id not in {r.id for r in rows}:
        _release(rows)
        return "claimed elsewhere"
    with mailer.Outgoing() as outgoing:
        send_batch(rows, outgoing)
    return db.session.get(Notification, notification_id).state.name


def _due(now, where=None):
    clause = and_(Notification.state == PENDING, Notification.channel == Channel.email,
                  Notification.send_after <= now + EARLY,
                  or_(Notification.claimed_until.is_(None), Notification.claimed_until < now))
    return clause if where is None else and_(clause, where)


def claim(limit, where=None, now=None):
    """Take due rows (at most `limit`, then their recipients' other due rows, so a digest stays
    whole) under a new lease, commit, and return them loaded for sending."""
    now, token = now or datetime.now(), secrets.token_hex(8)
    picked = select(Notification.id).where(_due(now, where)).order_by(Notification.id)
    if limit:
        picked = picked.limit(limit)
    _take(picked.with_for_update(skip_locked=True), token, now)
    mine = Notification.claim_token == token
    contacts = select(Notification.recipient_contact_id).where(mine, Notification.recipient_contact_id.is_not(None))
    users = select(Notification.recipient_user_id).where(mine, Notification.recipient_user_id.is_not(None))
    siblings = select(Notification.id).where(_due(now), or_(Notification.recipient_contact_id.in_(contacts),
                                                            Notification.recipient_user_id.in_(users)))
    if limit:
        _take(siblings.with_for_update(skip_locked=True), token, now)
    db.session.commit()
    return db.session.scalars(select(Notification).where(Notification.claim_token == token).options(
        selectinload(Notification.recipient_contact).selectinload(Contact.emails),
        selectinload(Notification.recipient_user)).order_by(Notification.id)).all()


def _take(ids, token, now):
    db.session.execute(update(Notification).where(Notification.id.in_(ids)).values(
        claim_token=token, claimed_until=now + LEASE, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False))


def send_batch(rows, outgoing):
    """Re-check the claimed rows, then send one mail per recipient; returns the counts. Raises when
    the SMTP connection fails (rows not yet handed over go back to the queue)."""
    objects = load_objects(rows)
    refused = reasons(rows, objects)
    counts = Counter()
    groups = {}
    for row in rows:
        if row.id in refused:
            row.state, row.last_error = NotificationState.cancelled, refused[row.id]
            counts["cancelled"] += 1
        else:
            groups.setdefault((row.recipient_contact_id, row.recipient_user_id), []).append(row)
    db.session.commit()
    pending, delivered = list(groups.values()), []  # delivered: handed over, "sent" rides on the next commit
    context = dict(objects=objects, firm=get_settings(), base=portal_base())
    try:
        while pending:
            group = pending.pop(0)
            counts[_send_one(group, context, outgoing, delivered)] += len(group)
    except Exception:
        _release([r for g in pending for r in g], delivered)
        raise
    finally:
        _record_sent(delivered)
        db.session.commit()
    return counts


def _send_one(group, context, outgoing, delivered):
    """pending → sending (committed) → hand-off → sent; a refusal fails just this mail."""
    person = group[0].recipient_contact or group[0].recipient_user
    address = address_of(person)
    if not address:
        return _finish(group, NotificationState.cancelled, "no e-mail address", delivered)
    subject, text, html = render(person, group, **context)
    built = mailer.message(address, subject, text, html)
    try:
        outgoing.open()
    except mailer.NotConnected as exc:
        _finish(group, None, str(exc)[:2000], delivered)
        raise
    if not _mark_sending(group, delivered):
        return "claimed elsewhere"
    try:
        outgoing.send(built)
    except mailer.MailRefused as exc:
        return _finish(group, NotificationState.failed if exc.permanent else None, f"refused: {exc}"[:2000], delivered)
    except Exception:
        _finish(group, NotificationState.failed, INTERRUPTED, delivered)
        raise
    delivered.extend(group)
    return "sent"


_SENT = text("UPDATE notification SET state = 'sent', claim_token = NULL, claimed_until = NULL "
             "WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
_SENDING = text("UPDATE notification SET state = 'sending', sent_on = :now "
                "WHERE id IN :ids AND claim_token = :token AND state = 'pending'").bindparams(
    bindparam("ids", expanding=True))
_UNDO_SENDING = text("UPDATE notification SET state = 'pending' "
                     "WHERE id IN :ids AND claim_token = :token AND state = 'sending'").bindparams(
    bindparam("ids", expanding=True))


def _record_sent(delivered):
    """Write "sent" for the mails handed over since the last commit (the caller commits)."""
    if delivered:
        db.session.execute(_SENT, {"ids": [r.id for r in delivered]})
        for row in delivered:
            set_committed_value(row, "state", NotificationState.sent)
        delivered.clear()


def _mark_sending(group, delivered):
    """In one commit: the previous mails' "sent" and this mail's "sending" (only if still ours).
    Plain SQL: these two statements run once per mail."""
    params = {"ids": [r.id for r in group], "token": group[0].claim_token}
    _record_sent(delivered)
    done = db.session.execute(_SENDING, dict(params, now=datetime.now())).rowcount
    if done != len(group):  # the lease ran out and another worker took some: leave the mail to it
        db.session.execute(_UNDO_SENDING, params)
    db.session.commit()
    for row in group:  # what the UPDATE wrote, so the ORM writes every later change of state
        set_committed_value(row, "state", SENDING if done == len(group) else PENDING)
    return done == len(group)


def _finish(group, state, error=None, delivered=()):
    """Record how a mail ended; state None = a temporary refusal: queued again (until the last attempt)."""
    _record_sent(delivered)
    for row in group:
        row.state = state or (NotificationState.failed if row.attempts >= MAX_ATTEMPTS else PENDING)
        row.claim_token = row.claimed_until = None
        if error:
            row.last_error = error
    db.session.commit()
    return (state or PENDING).name


def _release(rows, delivered=()):
    """Give claimed rows not yet started back to the queue (attempts kept: nothing was tried)."""
    _record_sent(delivered)
    ids = [r.id for r in rows]
    if ids:
        db.session.execute(update(Notification).where(Notification.id.in_(ids), Notification.state == PENDING).values(
            claim_token=None, claimed_until=None, attempts=Notification.attempts - 1)
            .execution_options(synchronize_session=False))
    db.session.commit()


def sweep(now=None, stale_after=600):
    """Flag rows a killed worker left in "sending" (failed, for a person to check), free leases that
    ran out, and hand due rows to a drain job when Redis lost theirs. Returns the counts."""
    from app import jobs

    now = now or datetime.now()
    interrupted = db.session.execute(update(Notification).where(
        Notification.state == SENDING, Notification.sent_on < now - timedelta(seconds=stale_after))
        .values(state=NotificationState.failed, last_error=INTERRUPTED, claim_token=None, claimed_until=None)
        .execution_options(synchronize_session=False)).rowcount
    released = db.session.execute(update(Notification).where(
        Notification.state == PENDING, Notification.claimed_until < now)
        .values(claim_token=None, claimed_until=None).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    due = db.session.scalar(select(db.func.count()).select_from(
        select(Notification.id).where(_due(now)).limit(1000).subquery()))
    requeued = due if due and jobs.ensure_sweep_drain() else 0
    return {"requeued": requeued, "interrupted": interrupted, "released": released}
