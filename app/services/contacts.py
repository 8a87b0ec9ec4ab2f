"""Contact rules: unique addresses, one primary address each; creating, changing and deleting contacts,
their addresses and contact groups (each change kept in the activity trail)."""
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.extensions import db
from app.models import Contact, ContactEmail, ContactGroup
from app.services import activity, saving

CONTACT_FIELDS = ("first_name", "last_name", "username", "primary_email", "phone", "language", "notify_by_email",
                  "notes")  # what the Contacts screen edits
GROUP_FIELDS = ("name", "description", "members")


class ContactError(ValueError):
    """A change that cannot be saved as asked; `field` names the value at fault (None: the whole change)."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def email_taken(address, email_id=None, contact_id=None):
    """Whether `address` belongs to a contact other than `contact_id` / a row other than `email_id`."""
    query = select(ContactEmail.id).where(func.lower(ContactEmail.email) == address.strip().lower())
    if email_id is not None:
        query = query.where(ContactEmail.id != int(email_id))
    if contact_id is not None:
        query = query.where(ContactEmail.contact_id != int(contact_id))
    return db.session.scalar(query.limit(1)) is not None


def username_taken(username, contact_id=None):
    """Whether another contact already has `username`."""
    query = select(Contact.id).where(Contact.username == username)
    if contact_id is not None:
        query = query.where(Contact.id != contact_id)
    return db.session.scalar(query.limit(1)) is not None


def _check_contact(values, contact_id=None):
    if "primary_email" in values and email_taken(values["primary_email"], contact_id=contact_id or 0):
        raise ContactError(_("This e-mail address already belongs to a contact."), "primary_email")
    if "username" in values and username_taken(values["username"], contact_id):
        raise ContactError(_("This user name is taken."), "username")


def create_contact(actor, **values):
    """A new contact from the screen's fields (`CONTACT_FIELDS`; the e-mail becomes its primary address)."""
    _check_contact(values)
    contact = Contact()
    for name in CONTACT_FIELDS:
        if name in values:
            setattr(contact, name, values[name])
    db.session.add(contact)
    db.session.flush()
    activity.record("contact.created", None, contact, summary=contact.full_name, actor=actor, commit=False)
    saving.commit_or(ContactError)
    return contact


def update_contact(contact, actor, **changes):
    """Change the given `CONTACT_FIELDS` of `contact`."""
    _check_contact(changes, contact.id)
    for name, value in changes.items():
        if name not in CONTACT_FIELDS:
            raise ValueError(f"{name} is not an editable field")
        setattr(contact, name, value)
    activity.record("contact.updated", None, contact, summary=contact.full_name, actor=actor, commit=False)
    saving.commit_or(ContactError)
    return contact


def delete_contact(contact, actor):
    """Delete `contact` with its addresses and shares (as the screen does); its portal account stays, unlinked."""
    activity.record("contact.deleted", summary=contact.full_name, actor=actor, commit=False)
    db.session.delete(contact)
    saving.commit_or(ContactError)


def add_email(contact, actor, email, is_primary=False):
    """A new address of `contact` (merged unless primary; a contact has one primary address at most)."""
    if email_taken(email):
        raise ContactError(_("This e-mail address already belongs to a contact."), "email")
    if is_primary and contact.primary_email is not None:
        raise ContactError(_("The contact already has a primary address; unmark it first."), "is_primary")
    row = ContactEmail(contact=contact, email=email, is_primary=bool(is_primary))
    db.session.add(row)
    db.session.flush()
    activity.record("contact.email_added", None, contact, summary=row.email, actor=actor, commit=False)
    saving.commit_or(ContactError)
    return row


def update_email(row, actor, **changes):
    """Change an address (`email`, `is_primary`), keeping one primary address per contact at most."""
    if "email" in changes and email_taken(changes["email"], email_id=row.id):
        raise ContactError(_("This e-mail address already belongs to a contact."), "email")
    if changes.get("is_primary") and not row.is_primary and db.session.scalar(select(ContactEmail.id).where(
            ContactEmail.contact_id == row.contact_id, ContactEmail.is_primary.is_(True))) is not None:
        raise ContactError(_("The contact already has a primary address; unmark it first."), "is_primary")
    for name in ("email", "is_primary"):
        if name in changes:
            setattr(row, name, changes[name])
    activity.record("contact.email_changed", None, row.contact, summary=row.email, actor=actor, commit=False)
    saving.commit_or(ContactError)
    return row


def delete_email(row, actor):
    """Remove one address of a contact."""
    activity.record("contact.email_removed", None, row.contact, summary=row.email, actor=actor, commit=False)
    db.session.delete(row)
    saving.commit_or(ContactError)


def save_group(group, actor, **values):
    """Create (group None) or change a contact group: name, description, members (contacts)."""
    name = values.get("name")
    if name is not None and db.session.scalar(select(ContactGroup.id).where(
            ContactGroup.name == name, ContactGroup.id != (group.id if group is not None else 0))) is not None:
        raise ContactError(_("A group with this name exists."), "name")
    verb = "group.changed" if group is not None else "group.created"
    group = group or ContactGroup()
    for field in GROUP_FIELDS:
        if field in values:
            setattr(group, field, values[field])
    db.session.add(group)
    db.session.flush()
    # Membership grants entity access: the trail says who changed it.
    activity.record(verb, None, group, summary=f"{group.name} ({len(group.members)})", actor=actor, commit=False)
    saving.commit_or(ContactError)
    return group


def delete_group(group, actor):
    """Delete a contact group (its shares go with it)."""
    activity.record("group.deleted", summary=group.name, actor=actor, commit=False)
    db.session.delete(group)
    saving.commit_or(ContactError)
