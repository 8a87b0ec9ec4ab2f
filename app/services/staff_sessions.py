"""Staff sessions kept server-side (Redis), and browsers remembered past the second factor (database).

Like portal sessions (services/portal/auth.py) the cookie carries a random token and Redis vouches
for it under the token's SHA-256; a staff record also keeps the browser, address, times and whether
the second factor was passed, so people can see and end their sessions.
"""
import hashlib
import secrets
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from app.extensions import db
from app.models import StaffTrustedBrowser
from app.redis_conn import get_redis

FULL = "full"  # password and (if any) second factor passed
PASSWORD = "password"  # password passed, second factor still to give
ENROL = "enrol"  # password passed, the firm requires a second factor the member has not set up
BROWSER_LIFETIME = timedelta(days=30)
_SESSION_KEY = "portico:staff-session:{}"
_USER_SESSIONS = "portico:staff-sessions:{}"
_ID_LENGTH = 16
# The idle timer is refreshed at most this often (seconds): a page's assets and a quick series of
# clicks need one write, not one each; an idle session may so end up to this much early.
TOUCH_EVERY = 15


def digest(token):
    """The SHA-256 a token is stored under (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def register(user_id, state, address, agent, idle_seconds):
    """A new server-side session for `user_id` in `state`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    key = _SESSION_KEY.format(digest(token))
    redis = get_redis()
    pipe = redis.pipeline()
    pipe.hset(key, mapping={"user_id": user_id, "state": state, "started": now, "last_seen": now,
                            "address": address or "", "agent": (agent or "")[:300]})
    pipe.expire(key, idle_seconds)
    pipe.sadd(_USER_SESSIONS.format(user_id), digest(token))
    pipe.execute()
    return token


def check(token, user_id, idle_seconds, absolute_seconds):
    """The live session record of `token` for `user_id` (its idle timer refreshed, at most every
    TOUCH_EVERY seconds), or None when it is unknown, ended, idle too long, too old or someone else's."""
    if not token:
        return None
    key = _SESSION_KEY.format(digest(token))
    redis = get_redis()
    record = {k.decode(): v.decode() for k, v in redis.hgetall(key).items()}
    now = int(time.time())
    if (not record or record.get("user_id") != str(user_id) or now - int(record["started"]) > absolute_seconds
            or now - int(record["last_seen"]) > idle_seconds):
        if record:
            end(user_id, digest(token))
        return None
    if now - int(record["last_seen"]) >= TOUCH_EVERY:
        pipe = redis.pipeline()
        pipe.hset(key, "last_seen", now)
        pipe.expire(key, idle_seconds)
        pipe.execute()
    return record


def set_state(token, state, factor_given=False):
    """Move a session on (password → full once the second factor is given); `factor_given` notes the
    time a second factor was given in it (adding or removing a passkey asks for a recent one)."""
    mapping = {"state": state, **({"factor_at": int(time.time())} if factor_given else {})}
    get_redis().hset(_SESSION_KEY.format(digest(token)), mapping=mapping)


def factor_age(record):
    """Seconds since a second factor was given in the session `record` (None: never; a remembered
    browser skipped it)."""
    given = record.get("factor_at") if record else None
    return int(time.time()) - int(given) if given else None


def sessions_of(user_id):
    """The live sessions of `user_id`, newest activity first: dicts with id, state, started,
    last_seen (datetimes), address and agent. The id is a prefix of the stored digest."""
    redis = get_redis()
    members = sorted(m.decode() for m in redis.smembers(_USER_SESSIONS.format(user_id)))
    pipe = redis.pipeline()
    for member in members:
        pipe.hgetall(_SESSION_KEY.format(member))
    found, gone = [], []
    for member, raw in zip(members, pipe.execute()):
        if not raw:
            gone.append(member)
            continue
        record = {k.decode(): v.decode() for k, v in raw.items()}
        found.append({"id": member[:_ID_LENGTH], "digest": member, "state": record.get("state"),
                      "started": datetime.fromtimestamp(int(record["started"])),
                      "last_seen": datetime.fromtimestamp(int(record["last_seen"])),
                      "address": record.get("address", ""), "agent": record.get("agent", "")})
    if gone:  # expired by Redis: drop them from the index too
        redis.srem(_USER_SESSIONS.format(user_id), *gone)
    return sorted(found, key=lambda s: s["last_seen"], reverse=True)


def end(user_id, session_id):
    """End the session of `user_id` whose id (or full digest) is `session_id`; whether one was ended."""
    redis = get_redis()
    for member in redis.smembers(_USER_SESSIONS.format(user_id)):
        member = member.decode()
        if session_id and member.startswith(session_id) and len(session_id) >= _ID_LENGTH:
            redis.delete(_SESSION_KEY.format(member))
            redis.srem(_USER_SESSIONS.format(user_id), member)
            return True
    return False


def end_all(user_id, keep_token=None):
    """End every session of `user_id` except the one of `keep_token`; the number ended."""
    redis = get_redis()
    keep = digest(keep_token) if keep_token else None
    members = [m.decode() for m in redis.smembers(_USER_SESSIONS.format(user_id))]
    doomed = [m for m in members if m != keep]
    if doomed:
        redis.delete(*[_SESSION_KEY.format(m) for m in doomed])
        redis.srem(_USER_SESSIONS.format(user_id), *doomed)
    return len(doomed)


def remember_browser(user_id, label):
    """Remember a browser for `user_id` for 30 days; returns the key its signed cookie carries."""
    key = secrets.token_urlsafe(32)
    now = datetime.now()
    db.session.add(StaffTrustedBrowser(user_id=user_id, key_hash=digest(key), label=(label or "")[:200],
                                       created_on=now, last_used_on=now, expires_on=now + BROWSER_LIFETIME))
    db.session.commit()
    return key


def is_remembered(user_id, key):
    """Whether `key` is a remembered, unexpired browser of `user_id` (its last use is noted)."""
    if not key:
        return False
    now = datetime.now()
    result = db.session.execute(update(StaffTrustedBrowser).where(
        StaffTrustedBrowser.user_id == user_id, StaffTrustedBrowser.key_hash == digest(key),
        StaffTrustedBrowser.expires_on > now).values(last_used_on=now))
    db.session.commit()
    return result.rowcount == 1


def remembered_browsers(user_id):
    """The unexpired remembered browsers of `user_id`, newest first."""
    return db.session.scalars(select(StaffTrustedBrowser).where(
        StaffTrustedBrowser.user_id == user_id, StaffTrustedBrowser.expires_on > datetime.now())
        .order_by(StaffTrustedBrowser.created_on.desc())).all()


def forget_browsers(user_id, browser_id=None, commit=True):
    """Forget one remembered browser of `user_id`, or all of them."""
    query = delete(StaffTrustedBrowser).where(StaffTrustedBrowser.user_id == user_id)
    if browser_id is not None:
        query = query.where(StaffTrustedBrowser.id == browser_id)
    db.session.execute(query)
    if commit:
        db.session.commit()
