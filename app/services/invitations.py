"""Portal access of contacts, decided by staff: invite (or re-invite), disable; and the account a
contact creates when signing up."""
import logging
import secrets

from flask import current_app
from flask_babel import gettext as _
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.contacts import PortalState
from app.security import access
from app.services import activity
from app.services.portal import auth as portal_auth

log = logging.getLogger(__name__)
INVITE = "invite"


class InvitationError(ValueError):
    """A refused invitation change; the message is for the user."""


def invite(contact, user):
    """Invite a contact to the portal (again), or give a disabled account its access back; mails them."""
    if not access.can(user, INVITE, contact):
        raise InvitationError(_("You may not invite contacts to the portal."))
    if not contact.primary_email:
        raise InvitationError(_("%(name)s has no e-mail address.", name=contact.full_name))
    if contact.portal_state is PortalState.active:
        raise InvitationError(_("%(name)s already uses the portal.", name=contact.full_name))
    enable = contact.user is not None  # disabled before: the account comes back as it was
    previous = (contact.portal_state, contact.user.active if enable else None)
    _set_access(contact, PortalState.active if enable else PortalState.invited, True if enable else None)
    try:  # after the commit: the job re-reads the contact
        _queue_invitation(contact.id)
    except InvitationError:
        _set_access(contact, *previous)  # no state change without its mail
        raise
    activity.record("contact.enabled" if enable else "contact.invited", None, contact,
                    summary=contact.full_name, actor=user)


def _set_access(contact, state, account_active=None):
    contact.portal_state = state
    if account_active is not None:
        contact.user.active = account_active
    db.session.commit()


def disable(contact, user):
    """End a contact's portal access now: account inactive, sessions and trusted browsers gone."""
    if not access.can(user, INVITE, contact):
        raise InvitationError(_("You may not change portal access."))
    contact.portal_state = PortalState.disabled
    if contact.user is not None:
        contact.user.active = False
    activity.record("contact.disabled", None, contact, summary=contact.full_name, actor=user, commit=False)
    db.session.commit()
    portal_auth.forget_devices(contact)
    portal_auth.end_all_sessions(contact.id)


def _queue_invitation(contact_id):
    from app.jobs import queue, send_invitation

    try:
        queue().enqueue(send_invitation, contact_id, job_id=f"invite-{contact_id}-{secrets.token_hex(4)}")
    except RedisError:
        log.error("could not queue the invitation of contact %s", contact_id, exc_info=True)
        raise InvitationError(_("The invitation could not be sent now; try again in a moment."))


def create_account(contact, first_name, last_name, pin):
    """The invited contact's portal account (role Client, no usable password) with its PIN."""
    from app.security.roles import CLIENT

    sm = current_app.appbuilder.sm
    contact.first_name, contact.last_name = first_name.strip()[:100], last_name.strip()[:100]
    username = contact.username
    if db.session.scalar(select(sm.user_model.id).where(sm.user_model.username == username)) is not None:
        username = f"contact.{contact.id}"  # a staff member already has that user name
    email = contact.primary_email
    if db.session.scalar(select(sm.user_model.id).where(sm.user_model.email == email)) is not None:
        email = f"contact.{contact.id}@portal.invalid"
    user = sm.add_user(username, contact.first_name, contact.last_name, email, sm.find_role(CLIENT),
                       password=secrets.token_urlsafe(32), commit=False)
    if not user:
        raise InvitationError(_("The account could not be created. Please contact the firm."))
    contact.user = user
    contact.portal_state = PortalState.active
    portal_auth.set_pin(contact, pin)
    for address in contact.emails:
        if address.is_primary and address.verified_on is None:
            address.verified_on = portal_auth._now()
    activity.record("contact.signed_up", None, contact, summary=contact.full_name, actor=user, commit=False)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise InvitationError(_("The account could not be created. Please contact the firm."))
    return user


def can_invite(user, contact):
    """Whether `user` may invite or disable `contact` (for buttons)."""
    return access.can(user, INVITE, contact)


