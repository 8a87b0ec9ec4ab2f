"""One-time access codes sent by mail (sign-in, sign-up, e-mail checks, K-1 pages).

8 digits from `secrets`, stored as an HMAC, valid CODE_LIFETIME, single use, superseded by a newer
code for the same purpose and address, dead after MAX_ATTEMPTS wrong tries. Sending is limited per
address and per client network whether or not the address is known, so limits tell nothing.
The plain code reaches the mail job through a short-lived Redis key, never a job argument
(rq logs arguments) and never the database.
"""
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import select, update

from app.extensions import db
from app.models import AccessCode
from app.redis_conn import get_redis
from app.services import throttle

log = logging.getLogger(__name__)
CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
PER_ADDRESS = ("1 per 60 seconds", "3 per 15 minutes")
PER_NETWORK = ("10 per hour",)
_MAIL_KEY = "portico:code-mail:{}"


class TooSoon(Exception):
    """A code was asked for again before the resend limits allow; `wait` is the seconds until they do
    (told to anyone: unknown addresses are counted alike, so it reveals nothing)."""

    def __init__(self, wait=60):
        super().__init__(f"a new code can be sent in {wait} s")
        self.wait = max(int(wait), 1)


def _now():
    """The current time (tests freeze it through this function)."""
    return datetime.now()


def _hash(code):
    return hmac.new(current_app.config["SECRET_KEY"].encode(), code.encode(), hashlib.sha256).hexdigest()


def new_code():
    """8 random digits."""
    return f"{secrets.randbelow(10**8):08d}"


def issue(purpose, email, contact=None, subject_id=0, ip=None):
    """Create and mail a code for a known address, or (contact None and subject_id 0) only count
    the request and queue a job that sends nothing, so both answers look and take the same.
    Raises TooSoon past the resend limits."""
    email = (email or "").strip().lower()
    address, network = throttle.key_of(email), throttle.client_network(ip)
    if not (throttle.allowed(PER_ADDRESS, "code", address) and throttle.allowed(PER_NETWORK, "code-ip", network)
            and throttle.acquire(PER_ADDRESS, "code", address) and throttle.acquire(PER_NETWORK, "code-ip", network)):
        raise TooSoon(max(throttle.wait_seconds(PER_ADDRESS, "code", address),
                          throttle.wait_seconds(PER_NETWORK, "code-ip", network)))
    code = new_code()
    # A row for an unknown address too (no contact, no subject: never mailed, never accepted by a flow),
    # so both answers do the same database work and take the same time.
    now = _now()
    db.session.execute(
        update(AccessCode)
        .where(AccessCode.purpose == purpose, AccessCode.email == email, AccessCode.subject_id == subject_id,
               AccessCode.used_on.is_(None), AccessCode.superseded_on.is_(None))
        .values(superseded_on=now)
    )
    row = AccessCode(purpose=purpose, email=email, contact_id=getattr(contact, "id", None), subject_id=subject_id,
                     code_hash=_hash(code), created_on=now, expires_on=now + CODE_LIFETIME)
    db.session.add(row)
    db.session.commit()
    _queue_mail(row.id, code)
    return row.id if (contact is not None or subject_id) else 0


def _queue_mail(code_id, code):
    from app.jobs import queue, send_access_code

    try:
        redis = get_redis()
        redis.set(_MAIL_KEY.format(code_id), code, ex=int(CODE_LIFETIME.total_seconds()))
        queue().enqueue(send_access_code, code_id, description="send access code",
                        retry=Retry(max=3, interval=[5, 20, 60]))  # SMTP hiccups: the code lives 10 min
    except RedisError:
        log.error("could not queue an access code mail", exc_info=True)


def code_for_mail(code_id):
    """The plain code of `code_id` for its mail, or None once mailed or expired."""
    value = get_redis().get(_MAIL_KEY.format(code_id))
    return value.decode() if value else None


def mailed(code_id):
    """Forget the plain code once its mail is out (a retried job then sends nothing)."""
    get_redis().delete(_MAIL_KEY.format(code_id))


def verify(purpose, email, code, subject_id=0):
    """The AccessCode `code` unlocks (now used up), or None. A wrong code counts a try against the
    live code; the same answer whether the address is unknown, the code expired, used or dead."""
    email = (email or "").strip().lower()
    now = _now()
    row = db.session.scalar(
        select(AccessCode).where(
            AccessCode.purpose == purpose, AccessCode.email == email, AccessCode.subject_id == subject_id,
            AccessCode.used_on.is_(None), AccessCode.superseded_on.is_(None),
        ).order_by(AccessCode.id.desc()).limit(1)
    )
    candidate = _hash((code or "").strip())
    if row is None or row.expires_on <= now:
        return None
    # Every try is counted before the comparison, in one UPDATE that only finds the row while tries
    # are left: parallel guesses cannot share the last try (a row read a moment ago may be stale).
    counted = db.session.execute(
        update(AccessCode).where(AccessCode.id == row.id, AccessCode.attempts < MAX_ATTEMPTS)
        .values(attempts=AccessCode.attempts + 1)
    ).rowcount
    db.session.commit()
    if counted != 1 or not hmac.compare_digest(row.code_hash, candidate):
        return None
    # Single use even when two requests race: only one UPDATE finds the code unused.
    claimed = db.session.execute(
        update(AccessCode).where(AccessCode.id == row.id, AccessCode.used_on.is_(None)).values(used_on=now)
    ).rowcount
    db.session.commit()
    return row if claimed == 1 else None
