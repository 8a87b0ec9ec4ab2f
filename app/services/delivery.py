"""Delivering the e-mail outbox in batches, each mail exactly once.

A drain claims due rows in bulk (a lease: claim token + claimed_until; PostgreSQL skips rows other
workers hold, SQLite serialises the claiming UPDATE), re-checks the whole batch through the access
module, and sends one mail per recipient (a digest when several rows are due) over one SMTP
connection. Each mail's rows go pending → sending (committed before the hand-off) → sent
(app.services.delivery_marks): a
worker killed between the two leaves "sending", which the sweep flags for a person to check and
never re-sends; rows it had claimed but not started go back to the queue when the lease ends
(app.services.delivery_sweep)."""
import secrets
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import selectinload

from app import mailer
from app.services import delivery_marks as marks
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
    counts, pending = _recheck(rows, objects)
    delivered = []  # handed over and accepted: "sent" rides on the next commit
    context = dict(objects=objects, firm=get_settings(), base=portal_base())
    flight = group = None  # flight: (rows, future) handed to the sending thread, outcome not read yet
    try:
        while pending:
            group = pending.pop(0)
            built = _build(group, context)  # while the server answers the previous mail
            if flight:
                landing, flight = flight, None
                counts[_land(landing, delivered)] += len(landing[0])
            mail, group = group, None  # from here on its rows' fate is written by _finish or _hand_over
            if built is None:
                counts[_finish(mail, NotificationState.cancelled, "no e-mail address", delivered)] += len(mail)
            else:
                flight = _hand_over(mail, built, outgoing, delivered, counts)
        if flight:
            landing, flight = flight, None
            counts[_land(landing, delivered)] += len(landing[0])
    except Exception:
        if flight:
            _land_quietly(flight, delivered)
        _release((group or []) + [r for g in pending for r in g], delivered)  # only "pending" rows change
        raise
    finally:
        marks.record_sent(delivered)
        db.session.commit()
        marks.close()
    return counts


def _recheck(rows, objects):
    """Cancel the rows that must not go out (committed); returns the counts and the others grouped
    per recipient (one mail each)."""
    refused, counts, groups = reasons(rows, objects), Counter(), {}
    for row in rows:
        if row.id in refused:
            row.state, row.last_error = NotificationState.cancelled, refused[row.id]
            counts["cancelled"] += 1
        else:
            groups.setdefault((row.recipient_contact_id, row.recipient_user_id), []).append(row)
    db.session.commit()
    return counts, list(groups.values())


def _land_quietly(flight, delivered):
    """Read a flight's outcome while another error is on its way (a broken connection is recorded)."""
    try:
        _land(flight, delivered)
    except Exception:  # noqa: BLE001 (recorded on the rows by _land; the first error is raised)
        pass


def _build(group, context):
    """The mail of one recipient, flattened and ready to transmit (None: no e-mail address)."""
    person = group[0].recipient_contact or group[0].recipient_user
    address = address_of(person)
    if not address:
        return None
    return mailer.message(address, *render(person, group, **context)).freeze()


def _hand_over(group, built, outgoing, delivered, counts):
    """pending → sending (committed) → to the sending thread; returns the flight, or None when the
    rows were claimed elsewhere meanwhile."""
    try:
        outgoing.open()
    except mailer.NotConnected as exc:
        _finish(group, None, str(exc)[:2000], delivered)
        raise
    if not marks.mark_sending(group, delivered):
        counts["claimed elsewhere"] += len(group)
        return None
    return group, outgoing.send_later(built)


def _land(flight, delivered):
    """The outcome of a mail handed over: sent (recorded with the next commit), or refused (this
    mail only), or the connection broke during it (marked for a person to check, then raised)."""
    group, future = flight
    try:
        future.result()
    except mailer.MailRefused as exc:
        return _finish(group, NotificationState.failed if exc.permanent else None, f"refused: {exc}"[:2000], delivered)
    except Exception:
        _finish(group, NotificationState.failed, INTERRUPTED, delivered)
        raise
    delivered.extend(group)
    return "sent"


def _finish(group, state, error=None, delivered=()):
    """Record how a mail ended; state None = a temporary refusal: queued again (until the last attempt)."""
    marks.record_sent(delivered)
    for row in group:
        row.state = state or (NotificationState.failed if row.attempts >= MAX_ATTEMPTS else PENDING)
        row.claim_token = row.claimed_until = None
        if error:
            row.last_error = error
    db.session.commit()
    return (state or PENDING).name


def _release(rows, delivered=()):
    """Give claimed rows not yet started back to the queue (attempts kept: nothing was tried)."""
    marks.record_sent(delivered)
    ids = [r.id for r in rows]
    if ids:
        db.session.execute(update(Notification).where(Notification.id.in_(ids), Notification.state == PENDING).values(
            claim_token=None, claimed_until=None, attempts=Notification.attempts - 1)
            .execution_options(synchronize_session=False))
    db.session.commit()
