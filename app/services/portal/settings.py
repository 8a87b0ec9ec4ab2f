"""A contact's own settings in the portal: profile, e-mail preferences, extra addresses, the sign-in
address, the PIN and trusted browsers. Business rules and transactions live here; views delegate.

Addresses are proven with an access code mailed to them. An address that belongs to another contact
is refused only after its code is entered, with a message that names nobody: so a signed-in contact
cannot probe which addresses are the firm's clients (only the owner of an address learns anything).
"""
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import CodePurpose, ContactEmail, NotificationPreference, TrustedDevice
from app.services import access_codes, events
from app.services.portal import auth as portal_auth
from app.services.contacts import email_taken

# Events that can reach a contact (client completions and new requests only go to staff).
CONTACT_EVENTS = (events.TASK_ASSIGNED, events.TASK_WITHDRAWN, events.MESSAGE_POSTED,
                  events.FILE_REQUEST_CREATED, events.DEADLINE_APPROACHING, *events.CLIENT_ONLY_EVENTS)
ADDRESS_PURPOSES = (CodePurpose.add_email, CodePurpose.change_email)


class SettingsError(ValueError):
    """A refused change; the message is for the contact, `field` names the form field it belongs to."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


class AddressRefused(SettingsError):
    """The address cannot be the contact's (it is another contact's); the flow ends here."""


def _now():
    return datetime.now()


def _bad_code():
    return SettingsError(_("That code is not valid. Check the latest mail, or ask for a new code."), "code")


def _refused(purpose):
    if purpose is CodePurpose.change_email:
        return AddressRefused(_("This address cannot be used. Contact the firm."))
    return AddressRefused(_("This address cannot be added. Contact the firm."))


def update_profile(contact, first_name, last_name, phone, language):
    """Save the contact's name, phone and language (the FAB account's name follows); committed."""
    if language not in current_app.config["LANGUAGES"]:
        raise SettingsError(_("Choose one of the listed languages."), "language")
    contact.first_name, contact.last_name = first_name.strip()[:100], last_name.strip()[:100]
    contact.phone = (phone or "").strip() or None
    contact.language = language
    if contact.user is not None:  # the account's columns are shorter (64) than the contact's (100)
        contact.user.first_name, contact.user.last_name = contact.first_name[:64], contact.last_name[:64]
    db.session.commit()


def email_preferences(contact):
    """{event: wants e-mail} for the events a contact can get; True where nothing is stored."""
    stored = dict(db.session.execute(select(NotificationPreference.event, NotificationPreference.email).where(
        NotificationPreference.contact_id == contact.id)).all())
    return {event: stored.get(event, True) is not False for event in CONTACT_EVENTS}


def set_email_preferences(contact, choices, notify_by_email=True):
    """Store {event: bool} (other events are ignored) and the all-mail switch; committed.

    Rows are keyed by contact_id: that is what delivery reads for a contact's notifications."""
    existing = {p.event: p for p in db.session.scalars(select(NotificationPreference).where(
        NotificationPreference.contact_id == contact.id))}
    for event in CONTACT_EVENTS:
        if event not in choices:
            continue
        if event in existing:
            existing[event].email = bool(choices[event])
        else:
            db.session.add(NotificationPreference(contact_id=contact.id, event=event, email=bool(choices[event])))
    contact.notify_by_email = bool(notify_by_email)
    db.session.commit()


def merged_emails(contact):
    """The contact's other (merged) addresses, oldest first."""
    return db.session.scalars(select(ContactEmail).where(
        ContactEmail.contact_id == contact.id, ContactEmail.is_primary.is_(False)).order_by(ContactEmail.id)).all()


def _own(contact, address):
    return db.session.scalar(select(ContactEmail).where(
        ContactEmail.contact_id == contact.id, func.lower(ContactEmail.email) == address))


def send_address_code(purpose, contact, address, ip=None):
    """Mail a code to `address` to prove it (add a merged address, or change the sign-in one).

    Refuses up front only what tells nothing about other people (the contact's own addresses);
    raises access_codes.TooSoon past the resend limits. Returns the normalised address."""
    address = (address or "").strip().lower()
    own = _own(contact, address)
    if purpose is CodePurpose.change_email and own is not None and own.is_primary:
        raise SettingsError(_("This is already your sign-in address."), "email")
    if purpose is CodePurpose.add_email and own is not None:
        raise SettingsError(_("This address is already yours."), "email")
    access_codes.issue(purpose, address, contact, ip=ip)
    return address


def _check_code(purpose, contact, address, code):
    row = access_codes.verify(purpose, address, code)
    if row is None or row.contact_id != contact.id:
        raise _bad_code()


def add_email(contact, address, code):
    """Add the proven `address` as a merged (not sign-in) address; committed, or SettingsError."""
    _check_code(CodePurpose.add_email, contact, address, code)
    if email_taken(address):
        raise _refused(CodePurpose.add_email)  # another contact's, or already the contact's own: same words
    db.session.add(ContactEmail(contact_id=contact.id, email=address, is_primary=False, verified_on=_now()))
    _commit_or_refuse(CodePurpose.add_email)


def change_primary_email(contact, address, code):
    """Make the proven `address` the sign-in address; the old one stays as a merged address.

    The FAB account's e-mail follows unless another account already uses it; committed."""
    _check_code(CodePurpose.change_email, contact, address, code)
    if email_taken(address, contact_id=contact.id):
        raise _refused(CodePurpose.change_email)
    old, row = _own(contact, contact.primary_email or ""), _own(contact, address)
    if old is not None:
        old.is_primary = False
        db.session.flush()  # one primary per contact: the old one steps down before the new one rises
    if row is None:
        row = ContactEmail(contact_id=contact.id, email=address)
        db.session.add(row)
    row.is_primary, row.verified_on = True, row.verified_on or _now()
    _follow_account_email(contact, address)
    _commit_or_refuse(CodePurpose.change_email)


def _follow_account_email(contact, address):
    from flask_appbuilder.security.sqla.models import User

    user = contact.user
    if user is None:
        return
    taken = db.session.scalar(select(User.id).where(func.lower(User.email) == address, User.id != user.id).limit(1))
    if taken is None:
        user.email = address


def _commit_or_refuse(purpose):
    try:
        db.session.commit()
    except IntegrityError:  # two requests raced for the same address
        db.session.rollback()
        raise _refused(purpose) from None


def remove_email(contact, email_id):
    """Remove one merged address of the contact (never the sign-in one); False when there is none."""
    row = db.session.scalar(select(ContactEmail).where(
        ContactEmail.id == email_id, ContactEmail.contact_id == contact.id, ContactEmail.is_primary.is_(False)))
    if row is None:
        return False
    db.session.delete(row)
    db.session.commit()
    return True


def change_pin(contact, current, new, confirm, ip):
    """Replace the PIN after checking the current one (failures count and lock as at sign-in, per
    address and per client network of `ip`); committed."""
    email = contact.primary_email or ""
    locked = portal_auth.pin_lock_seconds(email, ip)
    if not locked and not portal_auth.check_pin(email, contact, current, ip):
        locked = portal_auth.pin_lock_seconds(email, ip)
        if not locked:
            raise SettingsError(_("That is not your current PIN."), "current")
    if locked:
        raise SettingsError(portal_auth.lock_message(locked), "current")
    problem = portal_auth.pin_problem(new, confirm)
    if problem:
        raise SettingsError(problem, "pin")
    portal_auth.set_pin(contact, new)
    db.session.commit()


def keep_only_new_session(contact):
    """End every portal session of the contact; returns a fresh token for the browser that asked."""
    portal_auth.end_all_sessions(contact.id)
    return portal_auth.register_session(contact.id)


def trusted_browsers(contact):
    """The contact's trusted browsers that have not expired, last used first."""
    return db.session.scalars(select(TrustedDevice).where(
        TrustedDevice.contact_id == contact.id, TrustedDevice.expires_on > _now())
        .order_by(TrustedDevice.last_used_on.desc(), TrustedDevice.id.desc())).all()


def this_browser_id(browsers, key):
    """The id of the row in `browsers` that is the browser holding device `key`, or None."""
    if not key:
        return None
    digest = portal_auth.device_digest(key)
    return next((b.id for b in browsers if b.key_hash == digest), None)


def revoke_browser(contact, device_id):
    """Stop trusting one of the contact's browsers; False when it is not theirs."""
    exists = db.session.scalar(select(TrustedDevice.id).where(
        TrustedDevice.id == device_id, TrustedDevice.contact_id == contact.id))
    if exists is None:
        return False
    portal_auth.forget_devices(contact, device_id)
    return True


def revoke_all_browsers(contact):
    """Stop trusting every browser of the contact (this one asks for the PIN at its next sign-in too)."""
    portal_auth.forget_devices(contact)
