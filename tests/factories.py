"""Plain factory functions for tests: each commits and returns the new object."""
import itertools

from flask import current_app

from app.extensions import db
from app.models import Contact, ContactGroup, Entity, EntityShare
from app.models.contacts import PortalState
from app.models.entities import EntityKind
from app.security import roles as R

_seq = itertools.count(1)
PASSWORD = "correct horse battery"
PIN = "246810"


def role(name):
    """The FAB role called `name`."""
    return current_app.appbuilder.sm.find_role(name)


def staff(role_name=R.STAFF, username=None, password=PASSWORD, active=True):
    """A staff user holding one global role."""
    n = next(_seq)
    username = username or f"staff{n}"
    user = current_app.appbuilder.sm.add_user(
        username, "Staff", f"Member{n}", f"{username}@firm.example", role(role_name), password=password
    )
    if not active:
        user.active = False
        db.session.commit()
    return user


def entity(name=None, kind=EntityKind.company, responsible=None, tax_id=None):
    """A client entity."""
    item = Entity(name=name or f"Entity {next(_seq)}", kind=kind, responsible=responsible, tax_id=tax_id)
    db.session.add(item)
    db.session.commit()
    return item


def contact(first="Casey", last=None, email=None, with_user=False):
    """A contact with a primary e-mail; with_user=True also gives it a portal (Client) account."""
    n = next(_seq)
    item = Contact(first_name=first, last_name=last or f"Client{n}", username=f"contact{n}")
    item.primary_email = email or f"contact{n}@client.example"
    if with_user:
        item.user = current_app.appbuilder.sm.add_user(
            f"portal{n}", first, item.last_name, item.primary_email, role(R.CLIENT), password=PASSWORD
        )
        item.portal_state = PortalState.active
    db.session.add(item)
    db.session.commit()
    return item


def portal_contact(entity_obj=None, role_name=R.ENTITY_COLLABORATOR, pin=PIN, **kwargs):
    """An active portal contact with a PIN, sharing `entity_obj` with `role_name` (if given)."""
    from app.services.portal import auth as portal_auth

    item = contact(with_user=True, **kwargs)
    portal_auth.set_pin(item, pin)
    db.session.commit()
    if entity_obj is not None:
        share(entity_obj, role_name, contact=item)
    return item


def group(name=None, members=()):
    """A contact group."""
    item = ContactGroup(name=name or f"Group {next(_seq)}", members=list(members))
    db.session.add(item)
    db.session.commit()
    return item


def share(entity_obj, role_name, user=None, contact=None, group=None):
    """Grant `role_name` on `entity_obj` to one grantee."""
    item = EntityShare(entity=entity_obj, role=role(role_name), user=user, contact=contact, group=group)
    db.session.add(item)
    db.session.commit()
    return item


def no_second_factor_policy():
    """Turn off the firm's two-step sign-in requirement (for tests about something else)."""
    from app.services.firm import get_settings

    get_settings().second_factor_roles = ""
    db.session.commit()


def enrolled_totp(user):
    """Give `user` a confirmed authenticator secret; returns (secret, recovery codes)."""
    import pyotp

    from app.models import StaffTotp
    from app.services import two_factor

    secret = pyotp.random_base32()
    db.session.add(StaffTotp(user_id=user.id, secret_encrypted=two_factor.encrypt(secret), last_step=0,
                             confirmed_on=db.func.now()))
    db.session.commit()
    return secret, two_factor.new_recovery_codes(user)
