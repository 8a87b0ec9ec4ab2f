"""Staff passkeys (WebAuthn, through py_webauthn): adding one, signing in with one, renaming, removing.

A passkey is a second factor beside the authenticator app, under the same policy, limits and audit
trail (services/two_factor.py). Each ceremony's challenge lives in Redis under the server-side
staff session it was issued to, for five minutes, and is taken (deleted) by the first answer, so an
answer is never accepted twice. An assertion must also carry a higher signature counter than the
last one stored, unless the authenticator keeps none (both 0, as synced passkeys do).
"""
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from webauthn import (generate_authentication_options, generate_registration_options,
                      verify_authentication_response, verify_registration_response)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json_dict
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (AuthenticatorSelectionCriteria, AuthenticatorTransport,
                                      PublicKeyCredentialDescriptor, ResidentKeyRequirement,
                                      UserVerificationRequirement)

from app.extensions import db
from app.models import StaffPasskey
from app.redis_conn import get_redis
from app.services import activity, two_factor

log = logging.getLogger(__name__)
OK, WRONG, LIMITED = two_factor.OK, two_factor.WRONG, two_factor.LIMITED
MAX_PASSKEYS = 10
NAME_LENGTH = 100
CHALLENGE_SECONDS = 300
_CHALLENGE_KEY = "portico:passkey-challenge:{}:{}"  # purpose, staff session digest
_REGISTER, _SIGN_IN = "register", "sign-in"


@dataclass(frozen=True)
class RelyingParty:
    """Who the browser must believe it talks to: the RP id (a host name), the origin and a display name."""

    id: str
    origin: str
    name: str


def passkeys_of(user_id):
    """The member's passkeys, oldest first."""
    return db.session.scalars(select(StaffPasskey).where(StaffPasskey.user_id == user_id)
                              .order_by(StaffPasskey.id)).all()


def count_of(user_id):
    """How many passkeys the member has."""
    return db.session.scalar(select(func.count()).select_from(StaffPasskey).where(StaffPasskey.user_id == user_id))


def _descriptors(user_id):
    """The member's credentials as the browser needs them (to exclude at registration, allow at sign-in)."""
    known = {t.value for t in AuthenticatorTransport}
    return [PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(row.credential_id),
        transports=[AuthenticatorTransport(t) for t in row.transports.split(",") if t in known] or None)
        for row in passkeys_of(user_id)]


def _keep_challenge(purpose, session_key, challenge):
    if session_key:  # without a server-side session there is nothing to bind it to: the answer will fail
        get_redis().set(_CHALLENGE_KEY.format(purpose, session_key), challenge, ex=CHALLENGE_SECONDS)


def _take_challenge(purpose, session_key):
    """The pending challenge of this session for `purpose`, removed as it is read (single use)."""
    return get_redis().getdel(_CHALLENGE_KEY.format(purpose, session_key)) if session_key else None


def _user_handle(user_id):
    """A stable opaque WebAuthn user id for the member (no name or e-mail in it)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"portico-passkey-user|" + str(user_id).encode(), hashlib.sha256).digest()


def registration_options(user, rp, session_key):
    """The options for navigator.credentials.create() (a dict ready for JSON); the challenge is kept."""
    options = generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_name=user.username, user_id=_user_handle(user.id),
        user_display_name=f"{user.first_name} {user.last_name}".strip() or user.username,
        exclude_credentials=_descriptors(user.id),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED))
    _keep_challenge(_REGISTER, session_key, options.challenge)
    return options_to_json_dict(options)


def clean_name(name):
    """A passkey name as stored: trimmed, on one line, at most NAME_LENGTH characters ("" when empty)."""
    return " ".join((name or "").split())[:NAME_LENGTH]


def register(user, rp, session_key, credential, name):
    """Verify the browser's answer to the registration options and keep the new passkey; the row, or
    None when the answer is wrong, late, replayed, a known credential, unnamed or one passkey too many."""
    challenge = _take_challenge(_REGISTER, session_key)
    name = clean_name(name)
    if challenge is None or not name or count_of(user.id) >= MAX_PASSKEYS:
        return None
    try:
        verified = verify_registration_response(credential=credential, expected_challenge=challenge,
                                                expected_rp_id=rp.id, expected_origin=rp.origin)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.info("passkey registration refused: %s", exc)
        return None
    transports = credential.get("response", {}).get("transports") if isinstance(credential, dict) else None
    row = StaffPasskey(user_id=user.id, credential_id=bytes_to_base64url(verified.credential_id),
                       public_key=verified.credential_public_key, sign_count=verified.sign_count,
                       transports=",".join(t for t in (transports or []) if isinstance(t, str))[:200],
                       name=name, created_on=datetime.now())
    db.session.add(row)
    activity.record("staff.passkey_added", obj=user, summary=f"{user.username}: {row.name}", actor=user, commit=False)
    try:
        db.session.commit()
    except IntegrityError:  # the credential is registered already (to this member or another)
        db.session.rollback()
        return None
    return row


def authentication_options(user, rp, session_key):
    """The options for navigator.credentials.get() allowing the member's passkeys; the challenge is kept."""
    options = generate_authentication_options(rp_id=rp.id, allow_credentials=_descriptors(user.id),
                                              user_verification=UserVerificationRequirement.PREFERRED)
    _keep_challenge(_SIGN_IN, session_key, options.challenge)
    return options_to_json_dict(options)


def _credential_row(user_id, credential):
    raw_id = credential.get("id") if isinstance(credential, dict) else None
    if not isinstance(raw_id, str) or not raw_id:
        return None
    return db.session.scalar(select(StaffPasskey).where(
        StaffPasskey.user_id == user_id, StaffPasskey.credential_id == raw_id))


def authenticate(user, rp, session_key, credential, network):
    """OK, WRONG or LIMITED for the browser's answer to the sign-in options: it must answer this
    session's challenge, with one of the member's own passkeys, and a higher counter than before."""
    if two_factor.limited(user, network):
        return LIMITED
    challenge = _take_challenge(_SIGN_IN, session_key)
    row = _credential_row(user.id, credential) if challenge is not None else None
    if row is not None and _verified(row, rp, challenge, credential):
        activity.record("staff.passkey_used", obj=user, summary=f"{user.username}: {row.name}", actor=user,
                        commit=False)
        db.session.commit()
        return OK
    db.session.rollback()
    two_factor.count_failure(user, network)
    return WRONG


def _verified(row, rp, challenge, credential):
    """Whether the assertion is good; its counter is stored in the same step (one winner at a time)."""
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp.id, expected_origin=rp.origin,
            credential_public_key=row.public_key, credential_current_sign_count=row.sign_count)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.info("passkey sign-in refused: %s", exc)
        return False
    moved = db.session.execute(update(StaffPasskey).where(
        StaffPasskey.id == row.id, StaffPasskey.sign_count == row.sign_count).values(
        sign_count=verified.new_sign_count, last_used_on=datetime.now()))
    return moved.rowcount == 1


def rename(user, passkey_id, name):
    """Rename one of the member's own passkeys; the row, or None when it is not theirs or the name is empty."""
    name = clean_name(name)
    row = db.session.scalar(select(StaffPasskey).where(StaffPasskey.id == passkey_id,
                                                       StaffPasskey.user_id == user.id)) if passkey_id else None
    if row is None or not name:
        return None
    row.name = name
    db.session.commit()
    return row


def remove(user, passkey_id):
    """Remove one of the member's own passkeys (recorded in the audit trail); whether one was removed."""
    row = db.session.scalar(select(StaffPasskey).where(StaffPasskey.id == passkey_id,
                                                       StaffPasskey.user_id == user.id)) if passkey_id else None
    if row is None:
        return False
    db.session.delete(row)
    activity.record("staff.passkey_removed", obj=user, summary=f"{user.username}: {row.name}", actor=user,
                    commit=False)
    db.session.commit()
    return True
