"""Writing a checked client import: entities, contacts and roles in the caller's one transaction.

New rows go in as multi-row INSERTs (RETURNING their ids): 10,000 clients in seconds, where the
ORM's unit of work would take most of half a minute. Changed rows are updated through the ORM.
"""
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import insert, select

from app.extensions import db
from app.models import Contact, ContactEmail, Entity, EntityShare
from app.models.entities import EntityStatus
from app.models.entities import EntityKind
from app.security import roles as R
from app.services.import_plan import CHUNK, PROGRESS_EVERY, username_base


class _Progress:
    """Calls progress(done, total) every PROGRESS_EVERY steps (and at the end)."""

    def __init__(self, callback, total):
        self.callback, self.total, self.done = callback, total, 0

    def step(self):
        self.done += 1
        if self.callback is not None and (self.done % PROGRESS_EVERY == 0 or self.done == self.total):
            self.callback(self.done, self.total)


def write(plan, user, callback=None):
    """Apply `plan` (which has no errors); never commits."""
    total = sum(len(plan.entities[k]) + len(plan.contacts[k]) for k in ("create", "update")) + len(plan.shares)
    progress = _Progress(callback, total)
    entities = _write_entities(plan, progress)
    contacts = _write_contacts(plan, progress)
    db.session.flush()
    roles = dict(db.session.execute(select(Role.name, Role.id).where(Role.name.in_(R.CONTACT_ENTITY_ROLES))).all())
    shares = _shares_of(plan, entities, contacts)
    new = []
    for entity_key, contact_key, role, _kind in plan.shares:
        entity_id, contact_id = entities[entity_key], contacts[contact_key]
        share = shares.get((entity_id, contact_id))
        if share is None:
            new.append({"entity_id": entity_id, "contact_id": contact_id, "role_id": roles[role]})
        else:
            share.role_id = roles[role]
        progress.step()
    if new:
        db.session.execute(insert(EntityShare), new)
    db.session.flush()


def _write_entities(plan, progress):
    """{key: entity id} of every entity the file names."""
    rows = [dict(_entity_values(values), external_id=key, status=EntityStatus.active)
            for key, values in plan.entities["create"].items()]
    entities = _insert(Entity, rows, progress)
    for key, (entity, changes) in plan.entities["update"].items():
        for column, value in _entity_values(changes).items():
            setattr(entity, column, value)
        progress.step()
    for key in _keys(plan, "entity") - entities.keys():
        entities[key] = plan.existing("entity", key).id
    return entities


def _insert(model, rows, progress):
    """Insert `rows` (dicts with the same keys) in batches; {external id: new id}."""
    ids = {}
    for start in range(0, len(rows), CHUNK):
        batch = rows[start:start + CHUNK]
        result = db.session.execute(insert(model).returning(model.external_id, model.id), batch)
        ids.update(dict(result.all()))
        for _row in batch:
            progress.step()
    return ids


def _entity_values(values):
    values = dict(values)
    if "kind" in values:
        values["kind"] = EntityKind[values["kind"]]
    return values


def _write_contacts(plan, progress):
    """{key: contact id} of every contact the file names (new ones with a free user name)."""
    new = plan.contacts["create"]
    taken = set()
    bases = {key: username_base(values["email"]) for key, values in new.items()}
    distinct = sorted(set(bases.values()))
    for start in range(0, len(distinct), CHUNK):
        taken |= set(db.session.scalars(select(Contact.username).where(
            Contact.username.in_(distinct[start:start + CHUNK]))))
    rows, emails = [], {}
    for key, values in new.items():
        values = dict(values)
        emails[key] = values.pop("email")
        username = bases[key] if bases[key] not in taken else f"{bases[key]}.{key}"[:100]
        taken.add(username)
        rows.append(dict({"phone": None, "language": "en"}, **values, external_id=key, username=username))
    contacts = _insert(Contact, rows, progress)
    if emails:
        db.session.execute(insert(ContactEmail), [{"contact_id": contacts[key], "email": address, "is_primary": True}
                                                  for key, address in emails.items()])
    for key, (contact, changes) in plan.contacts["update"].items():
        for column, value in changes.items():
            if column == "email":
                contact.primary_email = value
            else:
                setattr(contact, column, value)
        progress.step()
    for key in _keys(plan, "contact") - contacts.keys():
        contacts[key] = plan.existing("contact", key).id
    return contacts


def _keys(plan, kind):
    index = 0 if kind == "entity" else 1
    return {share[index] for share in plan.shares}


def _shares_of(plan, entities, contacts):
    """{(entity id, contact id): EntityShare} of the stored shares whose role the plan changes."""
    wanted = {(entities[e], contacts[c]) for e, c, _role, kind in plan.shares if kind == "update"}
    found = {}
    entity_ids = sorted({e for e, _c in wanted})
    for start in range(0, len(entity_ids), CHUNK):
        for share in db.session.scalars(select(EntityShare).where(
                EntityShare.entity_id.in_(entity_ids[start:start + CHUNK]), EntityShare.contact_id.is_not(None))):
            if (share.entity_id, share.contact_id) in wanted:
                found[(share.entity_id, share.contact_id)] = share
    return found
