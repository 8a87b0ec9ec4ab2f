"""Staff second factor: authenticator codes (TOTP, RFC 6238), recovery codes, policy and resets.

Secrets are encrypted at rest with Fernet under a key derived from TOTP_ENCRYPTION_KEY (or
SECRET_KEY when that is not set). A code's time-step is stored when it is accepted, so no code
(nor an older one) works twice; wrong codes count per account and per client network.
"""
import base64
import hashlib
import hmac
import logging
import secrets
from datetime import datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import delete, select, update

from app.extensions import db
from app.models import StaffPasskey, StaffRecoveryCode, StaffTotp
from app.services import activity, staff_sessions, throttle

log = logging.getLogger(__name__)
RECOVERY_CODES = 10
OK, WRONG, LIMITED = "ok", "wrong", "limited"
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def _fernet():
    secret = current_app.config.get("TOTP_ENCRYPTION_KEY") or current_app.config["SECRET_KEY"]
    raw = hashlib.sha256(b"portico-totp|" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(raw))


def encrypt(secret):
    """The secret as stored in the database."""
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(stored):
    """The secret back from its stored form, or None when the key has changed (reset needed)."""
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken:
        log.error("a TOTP secret cannot be decrypted: was SECRET_KEY or TOTP_ENCRYPTION_KEY changed?")
        return None


def role_names(settings):
    """The global roles the firm requires a second factor of (a set of names)."""
    return {line.strip() for line in (settings.second_factor_roles or "").splitlines() if line.strip()}


def required(user, settings):
    """Whether the firm requires `user` to sign in with a second factor."""
    wanted = role_names(settings)
    return any(role.name in wanted for role in user.roles)


def totp_of(user_id):
    """The member's TOTP row (confirmed or not), or None."""
    return db.session.scalar(select(StaffTotp).where(StaffTotp.user_id == user_id))


def is_enrolled(user_id):
    """Whether the member has a confirmed second factor."""
    row = totp_of(user_id)
    return row is not None and row.confirmed_on is not None


def begin_enrolment(user_id):
    """A fresh secret for an unconfirmed enrolment (replacing an earlier unconfirmed one); the
    secret, or None when the member is enrolled already (a reset must come first)."""
    row = totp_of(user_id)
    if row is not None and row.confirmed_on is not None:
        return None
    secret = pyotp.random_base32()
    if row is None:
        row = StaffTotp(user_id=user_id, created_on=datetime.now())
        db.session.add(row)
    row.secret_encrypted, row.last_step = encrypt(secret), 0
    db.session.commit()
    return secret


def pending_secret(user_id):
    """The secret of the member's unconfirmed enrolment, or None."""
    row = totp_of(user_id)
    return decrypt(row.secret_encrypted) if row is not None and row.confirmed_on is None else None


def provisioning_uri(secret, account, issuer):
    """The otpauth:// address authenticator apps read from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_data_uri(uri):
    """The QR code of `uri` as an inline SVG data: address (no file, no request elsewhere)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _limits():
    return (current_app.config["TOTP_RATE_LIMIT"],)


def _keys(user):
    return ("staff-2fa-user", throttle.key_of(f"{user.id}:{user.username}"))


def limited(user, network):
    """Whether wrong codes have used up the account's or the client network's allowance."""
    return not (throttle.allowed(_limits(), *_keys(user))
                and throttle.allowed(_limits(), "staff-2fa-net", throttle.client_network(network)))


def count_failure(user, network):
    """Count one wrong answer (code, recovery code or passkey) against the account and the client network."""
    throttle.hit(_limits(), *_keys(user))
    throttle.hit(_limits(), "staff-2fa-net", throttle.client_network(network))


def _accept_step(row, code, secret):
    """Take the code's time-step if it is newer than the last accepted one (atomic: one winner)."""
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.now())
    for step in (now - 1, now, now + 1):  # one step of clock drift either way
        if step > row.last_step and hmac.compare_digest(totp.generate_otp(step), code):
            taken = db.session.execute(update(StaffTotp).where(
                StaffTotp.id == row.id, StaffTotp.last_step < step).values(last_step=step))
            db.session.commit()
            return taken.rowcount == 1
    return False


def _clean(code):
    return "".join((code or "").split()).replace("-", "").lower()


def check_code(user, code, network, confirming=False):
    """OK, WRONG or LIMITED for an authenticator code (a used code is WRONG). `confirming` checks
    the unconfirmed enrolment's secret instead of the confirmed one."""
    if limited(user, network):
        return LIMITED
    row = totp_of(user.id)
    code = _clean(code)
    secret = decrypt(row.secret_encrypted) if row is not None else None
    usable = row is not None and (row.confirmed_on is None) == confirming and secret and len(code) == 6
    if usable and code.isdigit() and _accept_step(row, code, secret):
        if not confirming:
            activity.record("staff.second_factor_used", obj=user, summary=user.username, actor=user)
        return OK
    db.session.rollback()
    count_failure(user, network)
    return WRONG


def confirm_enrolment(user, code, network):
    """Confirm the pending enrolment with a first code: (OK, recovery codes) or (WRONG/LIMITED, None)."""
    result = check_code(user, code, network, confirming=True)
    if result != OK:
        return result, None
    row = totp_of(user.id)
    row.confirmed_on = datetime.now()
    codes = _new_recovery_codes(user.id)
    activity.record("staff.second_factor_enrolled", obj=user, summary=user.username, actor=user, commit=False)
    db.session.commit()
    return OK, codes


def _recovery_hash(code):
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"portico-recovery|" + _clean(code).encode(), hashlib.sha256).hexdigest()


def _new_recovery_codes(user_id):
    """Replace the member's recovery codes with ten new ones; returns them (shown once, kept hashed)."""
    db.session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(StaffRecoveryCode(user_id=user_id, code_hash=_recovery_hash(raw)))
    return codes


def new_recovery_codes(user):
    """Ten new recovery codes for an enrolled member (the old ones stop working)."""
    codes = _new_recovery_codes(user.id)
    activity.record("staff.recovery_codes_renewed", obj=user, summary=user.username, actor=user, commit=False)
    db.session.commit()
    return codes


def use_recovery_code(user, code, network):
    """OK when `code` is one of the member's unused recovery codes (it is used up now), else WRONG/LIMITED."""
    if limited(user, network):
        return LIMITED
    used = db.session.execute(update(StaffRecoveryCode).where(
        StaffRecoveryCode.user_id == user.id, StaffRecoveryCode.code_hash == _recovery_hash(code),
        StaffRecoveryCode.used_on.is_(None)).values(used_on=datetime.now()))
    if used.rowcount == 1 and is_enrolled(user.id):
        activity.record("staff.recovery_code_used", obj=user, summary=user.username, actor=user, commit=False)
        db.session.commit()
        return OK
    db.session.rollback()
    count_failure(user, network)
    return WRONG


def recovery_codes_left(user_id):
    """How many unused recovery codes the member has."""
    return len(db.session.scalars(select(StaffRecoveryCode.id).where(
        StaffRecoveryCode.user_id == user_id, StaffRecoveryCode.used_on.is_(None))).all())


def reset(target, actor):
    """Remove `target`'s second factor, recovery codes, passkeys and remembered browsers and end their sessions
    (an Admin's act, recorded in the audit trail); they enrol again at their next sign-in if required."""
    db.session.execute(delete(StaffTotp).where(StaffTotp.user_id == target.id))
    db.session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == target.id))
    db.session.execute(delete(StaffPasskey).where(StaffPasskey.user_id == target.id))
    staff_sessions.forget_browsers(target.id, commit=False)
    activity.record("staff.second_factor_reset", obj=target, summary=target.username, actor=actor, commit=False)
    db.session.commit()
    staff_sessions.end_all(target.id)


def firm_settings():
    """The firm's settings row (sign-in policy and session timeouts)."""
    from app.services.firm import get_settings

    return get_settings()

