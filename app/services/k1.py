"""K-1 distribution: partners of a partnership, S-corp or trust, their guest links and delivery status.

A guest link carries a random token; only its sha256 is stored (`link_hash`). The plain token goes
to the mail job through a short-lived Redis key (never a job argument, a log line or the database)
and is mailed once. Distributing again gives a new token, so the old link dies; revoking kills the
link at once. Statuses only move forward: sent → opened → downloaded (bounced when the mail server
refuses the address).
"""
import hashlib
import hmac
import logging
import secrets
import smtplib
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import select

from app.extensions import db
from app.models import K1Recipient, K1Status
from app.models.entities import EntityKind
from app.redis_conn import get_redis
from app.security import access
from app.security import roles as R
from app.services import activity
from app.services.firm import get_settings

log = logging.getLogger(__name__)
K1_KINDS = (EntityKind.partnership, EntityKind.s_corp, EntityKind.trust)
_LINK_KEY = "portico:k1-link:{}"
# Activity recorded for the partner (no account): never attributed to whoever is signed in.
GUEST = SimpleNamespace(id=None)
_FORWARD = {K1Status.not_sent: 0, K1Status.bounced: 0, K1Status.sent: 1, K1Status.opened: 2,
            K1Status.downloaded: 3}


class K1Error(ValueError):
    """A refused K-1 operation; the message is for the user."""


def _now():
    """The current time (tests freeze it through this function)."""
    return datetime.now()


def token_hash(token):
    """The stored form of a link token."""
    return hashlib.sha256((token or "").encode()).hexdigest()


def check_recipient(recipient):
    """Refuse a partner of an entity that issues no K-1s, or a K-1 document of another entity."""
    entity = recipient.entity
    if entity is None or entity.kind not in K1_KINDS:
        raise K1Error(_("K-1 partners belong to partnerships, S corporations and trusts only."))
    document = recipient.document
    if document is not None and document.entity_id != entity.id:
        raise K1Error(_("The K-1 document must be one of %(entity)s's documents.", entity=entity.name))


def link_is_live(recipient, link_hash=None):
    """Whether `recipient` has a link that works now (and, if given, that it is the one with `link_hash`)."""
    if recipient is None or not recipient.link_hash or recipient.link_revoked_on is not None:
        return False
    if recipient.link_expires_on is None or recipient.link_expires_on <= _now():
        return False
    return link_hash is None or hmac.compare_digest(recipient.link_hash, link_hash)


def find_by_token(token):
    """The partner whose live link carries `token`, or None (unknown, revoked, expired or replaced)."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    recipient = db.session.scalars(select(K1Recipient).where(K1Recipient.link_hash == digest)).first()
    return recipient if link_is_live(recipient, digest) else None


def distribute(recipients, user):
    """Give each partner a new link (the old one dies) and queue its mail; all or nothing.

    Raises K1Error, sending nothing, when one of them has no K-1 document or Redis (which carries
    the tokens to the mail job) cannot be reached.
    """
    missing = [r.name for r in recipients if r.document_id is None]
    if missing:
        raise K1Error(_("No K-1 document yet for: %(names)s. Nothing was sent.", names=", ".join(missing)))
    now, lifetime = _now(), timedelta(days=get_settings().k1_link_days)
    tokens = {}
    for recipient in recipients:
        token = secrets.token_urlsafe(32)
        tokens[recipient.id] = token
        recipient.link_hash = token_hash(token)
        recipient.link_expires_on = now + lifetime
        recipient.link_revoked_on = None
        recipient.status, recipient.sent_on, recipient.sent_by_id = K1Status.sent, now, user.id
        recipient.opened_on = recipient.downloaded_on = None
        activity.record("k1.sent", recipient.entity, recipient, actor=user, commit=False)
    try:  # tokens first: a failed commit leaves keys whose hash matches no link, and the job drops them
        _stash(tokens, lifetime)
    except RedisError:
        db.session.rollback()
        log.error("could not hand K-1 link tokens to the mail job", exc_info=True)
        raise K1Error(_("The links could not be sent right now. Nothing was sent; try again in a few minutes."))
    db.session.commit()
    _enqueue(list(tokens))
    return len(tokens)


def _stash(tokens, lifetime):
    pipe = get_redis().pipeline()
    for recipient_id, token in tokens.items():
        pipe.set(_LINK_KEY.format(recipient_id), token, ex=int(lifetime.total_seconds()))
    pipe.execute()


def _enqueue(recipient_ids):
    from app.jobs import queue, send_k1_link

    try:
        q = queue()
        for recipient_id in recipient_ids:
            q.enqueue(send_k1_link, recipient_id, description="send K-1 link", retry=_retry())
    except RedisError:
        log.error("could not queue K-1 link mails; a Resend sends them again", exc_info=True)


def _retry():
    intervals = [int(s) for s in str(current_app.config.get("DELIVERY_RETRY_INTERVALS", "30,120,600")).split(",")]
    return Retry(max=len(intervals), interval=intervals)


def revoke(recipient, user):
    """Kill the partner's link now (an unsent mail of it is dropped too)."""
    if recipient.link_hash is None or recipient.link_revoked_on is not None:
        raise K1Error(_("%(name)s has no link to revoke.", name=recipient.name))
    recipient.link_revoked_on = _now()
    activity.record("k1.revoked", recipient.entity, recipient, actor=user, commit=False)
    db.session.commit()
    try:
        get_redis().delete(_LINK_KEY.format(recipient.id))
    except RedisError:
        log.warning("could not drop the queued K-1 link of partner %s", recipient.id, exc_info=True)


def send_link(recipient_id):
    """Mail a partner their link (job): False when there is nothing to send any more.

    The token stays in Redis until the mail is out, so a failed attempt is retried; the mail goes
    only if the token still matches the partner's live link (not revoked, replaced or expired).
    """
    key = _LINK_KEY.format(recipient_id)
    redis = get_redis()
    raw = redis.get(key)
    recipient = db.session.get(K1Recipient, recipient_id) if raw else None
    token = raw.decode() if raw else None
    if recipient is None or not link_is_live(recipient, token_hash(token)):
        if raw:
            redis.delete(key)
        return False
    try:
        _mail_link(recipient, token)
    except smtplib.SMTPRecipientsRefused:
        redis.delete(key)
        recipient.status = K1Status.bounced
        activity.record("k1.bounced", recipient.entity, recipient, actor=GUEST, commit=False)
        db.session.commit()
        return False
    redis.delete(key)
    return True


def _mail_link(recipient, token):
    from app.services.portal import mail as portal_mail

    firm = get_settings().firm_name
    entity = recipient.entity.name
    link = f"{portal_mail.base_url()}/k1/{token}"
    portal_mail._send(
        recipient.email, None,
        lambda: _("Your Schedule K-1 from %(entity)s", entity=entity),
        lambda: [_("Hello %(name)s,", name=recipient.name),
                 _("%(firm)s sends you, on behalf of %(entity)s, your Schedule K-1.", firm=firm, entity=entity),
                 _("Open the link below. To keep your K-1 safe, the page sends an access code to this address "
                   "in a separate mail when you ask for it."),
                 _("The link works until %(date)s. Do not forward this mail.",
                   date=format_date(recipient.link_expires_on.date()))],
        link=link, link_label=lambda: _("Open your K-1"))


def _advance(recipient, status):
    """Move the status forward only (never back from downloaded to opened)."""
    if _FORWARD[status] > _FORWARD.get(recipient.status, 0):
        recipient.status = status


def mark_opened(recipient, address=None):
    """The partner unlocked the page with a code (from `address`)."""
    now = _now()
    recipient.opened_on = recipient.opened_on or now
    _advance(recipient, K1Status.opened)
    activity.record("k1.opened", recipient.entity, recipient, actor=GUEST, address=address, commit=False)
    db.session.commit()


def mark_downloaded(recipient, address=None):
    """The partner downloaded their K-1 (from `address`)."""
    now = _now()
    recipient.opened_on = recipient.opened_on or now
    recipient.downloaded_on = now
    _advance(recipient, K1Status.downloaded)
    activity.record("k1.downloaded", recipient.entity, recipient, actor=GUEST, address=address,
                    commit=False)
    db.session.commit()


def add_recipient(entity, user, **values):
    """A K-1 partner staff add (the K-1 partners screen's rules): the user must work on the entity."""
    if not access.can(user, R.WORK, entity):
        raise K1Error(_("You may not work on this entity."))
    recipient = K1Recipient(entity=entity, **values)
    _checked(recipient)
    db.session.add(recipient)
    activity.record("k1.partner_added", entity, recipient, actor=user, commit=False)
    db.session.commit()
    return recipient


def change_recipient(recipient, user, **changes):
    """Change a partner's name, e-mail, share or K-1 document (the delivery status is never edited)."""
    if not access.can(user, R.WORK, recipient):
        raise K1Error(_("You may not work on this entity."))
    with db.session.no_autoflush:
        for field, value in changes.items():
            setattr(recipient, field, value)
        _checked(recipient)
    activity.record("k1.partner_changed", recipient.entity, recipient, actor=user, commit=False)
    db.session.commit()
    return recipient


def remove_recipient(recipient, user):
    """Delete a partner, recorded in the entity's activity in the same transaction."""
    if not access.can(user, R.WORK, recipient):
        raise K1Error(_("You may not work on this entity."))
    activity.record("k1.partner_removed", recipient.entity, summary=recipient.name, actor=user, commit=False)
    db.session.delete(recipient)
    db.session.commit()


def _checked(recipient):
    recipient.email = (recipient.email or "").strip()
    try:
        check_recipient(recipient)
    except K1Error:
        db.session.rollback()
        raise
