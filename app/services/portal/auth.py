"""Portal accounts: PINs, trusted browsers and server-side sessions of contacts.

A contact signs in with e-mail → PIN (only on a browser not trusted yet) → access code. PIN
failures are counted per address in Redis, for unknown addresses too, so lock-outs tell nothing.
"""
import hashlib
import secrets
import time
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from redis.exceptions import LockError
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import Contact, ContactEmail, TrustedDevice
from app.redis_conn import get_redis
from app.services import throttle

PIN_FREE_FAILURES = 5
PIN_MAX_LOCK = 3600
PIN_HOURLY_CAP = ("100 per hour",)
# Wrong PINs per client network (IPv4 address or IPv6 /64), whatever the address typed: one client
# spraying a common PIN over many accounts stays under every per-address lock, not under this.
PIN_NETWORK_FAILURES = 30
PIN_NETWORK_CAP = (f"{PIN_NETWORK_FAILURES} per hour",)
DEVICE_COOKIE = "portico_device"
DEVICE_LIFETIME = timedelta(days=90)
_PIN_KEY = "portico:pin-failures:{}"
_SESSION_KEY = "portico:portal-session:{}"
_CONTACT_SESSIONS = "portico:portal-sessions:{}"
_WEAK_PINS = {"123456", "654321", "123123", "112233", "121212"}


def _now():
    return datetime.now()


def find_contact(email, *states):
    """The contact whose primary address is `email`, in one of `states`, or None."""
    email = (email or "").strip().lower()
    if not email:
        return None
    contact = db.session.scalar(
        select(Contact).join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(ContactEmail.email == email, ContactEmail.is_primary.is_(True))
    )
    return contact if contact is not None and contact.portal_state in states else None


def pin_problem(pin, confirm=None):
    """Why a new PIN is refused (a message for the user), or None."""
    from flask_babel import gettext as _

    pin = pin or ""
    if len(pin) != 6 or not (pin.isascii() and pin.isdigit()):  # "٤" or "²" are digits to Python
        return _("The PIN must be exactly 6 digits.")
    if len(set(pin)) == 1 or pin in _WEAK_PINS or pin in "0123456789" or pin in "9876543210":
        return _("This PIN is too easy to guess. Choose another.")
    if confirm is not None and pin != confirm:
        return _("The two PINs are not the same.")
    return None


def set_pin(contact, pin):
    """Store a new PIN (slow KDF hash)."""
    contact.pin_hash = generate_password_hash(pin, method=current_app.config["PIN_HASH_METHOD"])
    contact.pin_changed_on = _now()


def pin_lock_seconds(email, ip=None):
    """Seconds until PINs may be tried again for `email` from client address `ip` (0 when not locked)."""
    address = throttle.key_of(email)
    if not throttle.allowed(PIN_HOURLY_CAP, "pin", address):
        return PIN_MAX_LOCK
    if ip is not None and not throttle.allowed(PIN_NETWORK_CAP, "pin-ip", throttle.client_network(ip)):
        return PIN_MAX_LOCK
    locked_until = get_redis().hget(_PIN_KEY.format(address), "until")
    return max(0, int(float(locked_until or 0) - time.time()))


def lock_message(seconds):
    """The lock-out message for `seconds` left, in whole minutes (for the user)."""
    from flask_babel import ngettext

    minutes = max(1, (seconds + 59) // 60)
    return ngettext("Too many wrong PINs. Try again in %(num)d minute.",
                    "Too many wrong PINs. Try again in %(num)d minutes.", minutes)


def check_pin(email, contact, pin, ip):
    """Whether `pin` is the contact's PIN; counts failures (unknown addresses too, and per client
    network of `ip`) and locks longer after each failure past PIN_FREE_FAILURES. Tries for one address run one at a time, and a locked
    address is refused inside that mutex, so parallel guesses cannot all pass a lock read before it is set."""
    guard = get_redis().lock(_PIN_KEY.format(throttle.key_of(email)) + ":busy", timeout=30)
    if not guard.acquire(blocking_timeout=15):
        return False
    try:
        if pin_lock_seconds(email, ip):
            return False
        return _check_pin(email, contact, pin, ip)
    finally:
        try:
            guard.release()
        except LockError:  # held past its timeout: it expired on its own
            pass


def _check_pin(email, contact, pin, ip):
    stored = contact.pin_hash if contact is not None and contact.pin_hash else None
    right = check_password_hash(stored or current_app.config["PIN_FAKE_HASH"], pin or "") and stored is not None
    address = throttle.key_of(email)
    key = _PIN_KEY.format(address)
    redis = get_redis()
    if right:
        redis.delete(key)
        return True
    throttle.hit(PIN_HOURLY_CAP, "pin", address)
    if ip is not None:
        throttle.hit(PIN_NETWORK_CAP, "pin-ip", throttle.client_network(ip))
    failures = redis.hincrby(key, "count", 1)
    if failures >= PIN_FREE_FAILURES:
        lock = min(60 * 2 ** (failures - PIN_FREE_FAILURES), PIN_MAX_LOCK)
        redis.hset(key, "until", time.time() + lock)
    redis.expire(key, 24 * 3600)
    return False


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portico-device")


def _digest(value):
    return hashlib.sha256(value.encode()).hexdigest()


def device_key(raw):
    """The device key inside a browser's signed device cookie value, or None."""
    if not raw:
        return None
    try:
        return _serializer().loads(raw)
    except BadSignature:
        return None


def is_trusted(contact, key):
    """Whether this browser (device key) is trusted for `contact` and not expired."""
    if not key:
        return False
    # The same query for an unknown address (contact None), so the answer takes as long.
    found = db.session.scalar(select(TrustedDevice.id).where(
        TrustedDevice.contact_id == getattr(contact, "id", 0), TrustedDevice.key_hash == _digest(key),
        TrustedDevice.expires_on > _now()))
    return contact is not None and found is not None


def trust_browser(contact, label):
    """Remember a browser for `contact` after a full sign-in; returns the signed cookie value to set."""
    # A fresh key at every full sign-in: a key planted in this browser by someone else never
    # becomes trusted for this contact.
    key = secrets.token_urlsafe(32)
    now = _now()
    db.session.add(TrustedDevice(contact_id=contact.id, key_hash=_digest(key), created_on=now,
                                 label=(label or "")[:200], last_used_on=now, expires_on=now + DEVICE_LIFETIME))
    db.session.commit()
    return _serializer().dumps(key)


def device_digest(key):
    """How a device key is stored (never the key itself)."""
    return _digest(key)


def forget_devices(contact, device_id=None):
    """Revoke one trusted browser of `contact`, or all of them."""
    query = delete(TrustedDevice).where(TrustedDevice.contact_id == contact.id)
    if device_id is not None:
        query = query.where(TrustedDevice.id == device_id)
    db.session.execute(query)
    db.session.commit()


def register_session(contact_id):
    """A new server-side session token for `contact_id` (the cookie carries it, Redis vouches for it)."""
    token = secrets.token_urlsafe(32)
    redis = get_redis()
    digest = _digest(token)
    redis.set(_SESSION_KEY.format(digest), f"{contact_id}:{int(time.time())}",
              ex=current_app.config["PERMANENT_SESSION_LIFETIME"])
    redis.sadd(_CONTACT_SESSIONS.format(contact_id), digest)
    redis.expire(_CONTACT_SESSIONS.format(contact_id), current_app.config["SESSION_ABSOLUTE_LIFETIME"])
    return token


def queue_session_read(pipe, token):
    """Queue on `pipe` the read-and-refresh of a session token that session_contact_id would make."""
    pipe.getex(_SESSION_KEY.format(_digest(token)), ex=current_app.config["PERMANENT_SESSION_LIFETIME"])


def session_contact_id(token, read=None):
    """The contact id a portal session token belongs to (refreshing its idle timer), or None. `read`:
    the reply of queue_session_read, when the request made it already."""
    if not token:
        return None
    redis = get_redis()
    key = _SESSION_KEY.format(_digest(token))
    # Read and refresh in one round trip (GETEX, Redis 6.2+); a session past its absolute lifetime is
    # deleted right after, so the refresh gives it nothing.
    value = read or redis.getex(key, ex=current_app.config["PERMANENT_SESSION_LIFETIME"])
    if not value:
        return None
    contact_id, started = (int(v) for v in value.decode().split(":"))
    if time.time() - started > current_app.config["SESSION_ABSOLUTE_LIFETIME"]:
        redis.delete(key)
        return None
    return contact_id


def end_session(token):
    """Forget one server-side session token, so a copied cookie no longer works."""
    if token:
        get_redis().delete(_SESSION_KEY.format(_digest(token)))


def end_all_sessions(contact_id):
    """End every portal session of a contact (disabled, PIN or e-mail changed elsewhere)."""
    redis = get_redis()
    members = redis.smembers(_CONTACT_SESSIONS.format(contact_id))
    if members:
        redis.delete(*[_SESSION_KEY.format(m.decode()) for m in members])
    redis.delete(_CONTACT_SESSIONS.format(contact_id))
