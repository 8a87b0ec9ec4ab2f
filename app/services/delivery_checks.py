"""The send-time re-check of a batch of outbox rows: is the object still there, does the person
still want the mail, may they still see it? Visibility is asked of the access module (the portal's
own scope for contacts), never decided here."""
from sqlalchemy import select, tuple_

from app.extensions import db
from app.models import (ClientRequest, Contact, Entity, Message, NotificationPreference, SignatureRequest, Task,
                        TaxVoucher)
from app.security import access
from app.security import roles as R
from app.services import events
from app.services.notifications import object_models
from app.services.vouchers import still_due

OBJECTS = object_models()


def load_objects(rows):
    """{(object_type, id): object} for the rows, one query per model (warm for rendering too)."""
    wanted = {}
    for row in rows:
        wanted.setdefault(row.object_type, set()).add(row.object_id)
    found = {}
    for object_type, ids in wanted.items():
        model = OBJECTS.get(object_type)
        if model is not None:
            found.update({(object_type, o.id): o for o in db.session.scalars(select(model).where(model.id.in_(ids)))})
    return found


def seen_object(row, obj):
    """What the recipient must still see for the mail to make sense: the object itself, except a
    withdrawal (the task is gone from the portal; the entity must still be theirs)."""
    if row.event == events.TASK_WITHDRAWN and isinstance(obj, Task):
        return obj.entity
    return obj


def reasons(rows, objects):
    """{row id: why it must not be sent} for the rows that must not go out (others are absent)."""
    refused = _not_wanted(rows)
    contact_rows = [r for r in rows if r.recipient_contact_id and r.id not in refused]
    visible = _contact_visibility(contact_rows, objects)
    for row in rows:
        if row.id in refused:
            continue
        obj = objects.get((row.object_type, row.object_id))
        reason = _reason(row, obj, visible)
        if reason:
            refused[row.id] = reason
    return refused


def _reason(row, obj, visible):
    if obj is None:
        return "object deleted"
    if row.recipient_contact_id:
        contact = row.recipient_contact
        if not access.may_be_mailed(contact):
            return "contact disabled"
        seen = seen_object(row, obj)
        if (contact.id, type(seen), seen.id) not in visible:
            return _invisible_label(contact, obj, visible)
    elif not (row.recipient_user.active and access.can(row.recipient_user, R.VIEW, obj)):
        return "no longer visible to the recipient"
    if isinstance(obj, TaxVoucher) and not still_due(obj):
        return "paid"
    if isinstance(obj, SignatureRequest) and not obj.is_open():
        return "signature request closed"
    return None


def _invisible_label(contact, obj, visible):
    """A readable reason for the outbox (the decision was made by the access module)."""
    if isinstance(obj, Message) and obj.deleted_on is not None:
        return "message deleted"
    if (contact.id, Entity, obj.entity_id if hasattr(obj, "entity_id") else _thread(obj).entity_id) not in visible:
        return "entity no longer shared"
    if isinstance(obj, Task):
        return "task no longer assigned"
    if isinstance(obj, ClientRequest):
        return "not the requester"
    return "no longer visible to the recipient"


def _thread(obj):
    return obj.task or obj.request


def _contact_visibility(rows, objects):
    """The (contact id, Model, id) the portal shows, for every row's object and entity, in a few queries."""
    wanted = {}
    for row in rows:
        obj = objects.get((row.object_type, row.object_id))
        if obj is None:
            continue
        seen = seen_object(row, obj)
        wanted.setdefault((row.recipient_contact_id, type(seen)), set()).add(seen.id)
        entity_id = obj.entity_id if hasattr(obj, "entity_id") else _thread(obj).entity_id
        wanted.setdefault((row.recipient_contact_id, Entity), set()).add(entity_id)
    return access.contacts_visible(wanted)


def _not_wanted(rows):
    """{row id: reason} for rows whose recipient turned e-mail off (globally or for the event): one query."""
    refused = {r.id: "e-mail turned off by the recipient" for r in rows
               if r.recipient_contact_id and not r.recipient_contact.notify_by_email}
    contact_keys = {(r.recipient_contact_id, r.event) for r in rows if r.recipient_contact_id}
    user_keys = {(r.recipient_user_id, r.event) for r in rows if r.recipient_user_id}
    off = set()
    for column, keys, tag in ((NotificationPreference.contact_id, contact_keys, "c"),
                              (NotificationPreference.user_id, user_keys, "u")):
        if keys:
            off |= {(tag, pid, ev) for pid, ev in db.session.execute(select(column, NotificationPreference.event).where(
                tuple_(column, NotificationPreference.event).in_(list(keys)), NotificationPreference.email.is_(False)))}
    for row in rows:
        key = ("c", row.recipient_contact_id, row.event) if row.recipient_contact_id else \
            ("u", row.recipient_user_id, row.event)
        if key in off:
            refused.setdefault(row.id, "e-mail turned off by the recipient")
    return refused


def wants_email(row):
    """In-app is always on; e-mail unless the person turned it off (globally or for this event)."""
    return row.id not in _not_wanted([row])


def address_of(person):
    """Where a person's mails go (None when they have no address)."""
    return person.primary_email if isinstance(person, Contact) else person.email
