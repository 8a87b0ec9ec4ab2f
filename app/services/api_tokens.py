"""Personal API tokens: create (the text is shown once), authenticate, revoke, and the trail of calls.

A token reads "ptk_<prefix>_<secret>": the prefix (48 random bits, public) finds the row, the secret
(256 random bits) is compared in constant time against its stored SHA-256. A slow hash adds nothing
to a 256-bit random secret. A token works only while it is unexpired, unrevoked, and its owner is an
active staff member: contacts (portal clients) never hold one.
"""
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask_appbuilder.security.sqla.models import User
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import ApiCall, ApiToken, TokenScope
from app.security import access
from app.services import activity

TOKEN_PREFIX = "ptk_"
DEFAULT_DAYS = 90
MAX_DAYS = 366
NAME_MAX = 100
RECENT_CALLS = 50


class TokenError(ValueError):
    """A token that cannot be created as asked; the message is for the form."""


def digest(secret):
    """The SHA-256 (hex) a token's secret is stored as."""
    return hashlib.sha256(secret.encode()).hexdigest()


def default_expiry(now=None):
    """The expiry date a new token gets unless its owner picks another."""
    return ((now or datetime.now()) + timedelta(days=DEFAULT_DAYS)).date()


def latest_expiry(now=None):
    """The latest expiry date a token may have."""
    return ((now or datetime.now()) + timedelta(days=MAX_DAYS)).date()


def create(user, name, scope, expires_on, now=None):
    """A new token for staff `user`: returns (row, the full token text, shown only this once)."""
    now = now or datetime.now()
    name = (name or "").strip()
    if user is None or not getattr(user, "active", False) or access.is_contact(user):
        raise TokenError(_("Only staff members can have API tokens."))
    if not name or len(name) > NAME_MAX:
        raise TokenError(_("Give the token a name of at most %(n)d characters.", n=NAME_MAX))
    if not isinstance(scope, TokenScope):
        raise TokenError(_("Choose read only or read and write."))
    if expires_on is None or not now.date() < expires_on <= latest_expiry(now):
        raise TokenError(_("The expiry date must be after today and at most %(n)d days away.", n=MAX_DAYS))
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, prefix=prefix, secret_hash=digest(secret), scope=scope,
                     created_on=now, expires_on=datetime.combine(expires_on, datetime.max.time()).replace(microsecond=0))
    db.session.add(token)
    db.session.flush()
    activity.record("api_token.created", obj=token, summary=f"{name} ({scope.value})", actor=user, commit=False)
    db.session.commit()
    return token, f"{TOKEN_PREFIX}{prefix}_{secret}"


def split(text):
    """(prefix, secret) of a token's text, or None when it does not have the token's shape."""
    if not isinstance(text, str) or not text.startswith(TOKEN_PREFIX) or len(text) > 100:
        return None
    prefix, sep, secret = text[len(TOKEN_PREFIX):].partition("_")
    if not sep or len(prefix) != 12 or not secret:
        return None
    return prefix, secret


def authenticate(text, now=None):
    """The live token whose text is `text` (its owner loaded), or None: unknown, wrong secret, expired,
    revoked, or owned by a disabled account or a contact. One query."""
    parts = split(text)
    if parts is None:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.prefix == parts[0])
                              .options(joinedload(ApiToken.user).selectinload(User.roles)))
    if token is None or not hmac.compare_digest(token.secret_hash, digest(parts[1])):
        return None
    if token.revoked_on is not None or token.expires_on <= (now or datetime.now()):
        return None
    if token.user is None or not token.user.active or access.is_contact(token.user):
        return None
    return token


def record_call(token, method, path, status, address, now=None):
    """Add one call to the trail and note the token's last use (one transaction, its own commit)."""
    now = now or datetime.now()
    db.session.add(ApiCall(token_id=token.id, user_id=token.user_id, method=method[:10], path=path[:300],
                           status=status, created_on=now, ip=(address or "")[:45] or None))
    db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_on=now))
    db.session.commit()


def may_manage_all(user):
    """Whether `user` sees and revokes every staff member's tokens (a screen permission Admins hold)."""
    return access.has_screen_permission(user, "can_manage", "ApiTokensView")


def tokens_of(user_id):
    """A member's tokens, newest first (revoked and expired ones included, marked by their dates)."""
    return db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                              .order_by(ApiToken.id.desc())).all()


def all_tokens(limit=500):
    """Every staff member's live tokens with their owners, newest first (at most `limit`)."""
    return db.session.scalars(select(ApiToken).where(ApiToken.revoked_on.is_(None),
                                                     ApiToken.expires_on > datetime.now())
                              .options(joinedload(ApiToken.user)).order_by(ApiToken.id.desc()).limit(limit)).all()


def recent_calls(user_id, limit=RECENT_CALLS):
    """The latest calls made with a member's tokens, newest first, with the token of each."""
    return db.session.scalars(select(ApiCall).where(ApiCall.user_id == user_id).options(joinedload(ApiCall.token))
                              .order_by(ApiCall.id.desc()).limit(limit)).all()


def find(actor, token_id):
    """The token `token_id` if `actor` owns it or manages every token, else None."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and not may_manage_all(actor)):
        return None
    return token


def revoke(token, actor, now=None):
    """Revoke `token` at once (idempotent); recorded in the audit trail."""
    if token.revoked_on is None:
        token.revoked_on = now or datetime.now()
        token.revoked_by_id = actor.id
        activity.record("api_token.revoked", obj=token, summary=token.name, actor=actor, commit=False)
        db.session.commit()
    return token


def now():
    """The time tokens are compared against (naive local time, as stored)."""
    return datetime.now()
