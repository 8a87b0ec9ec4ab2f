"""What a client import would do to the database, and doing it.

Built from the checked rows (app.services.import_rows) in a fixed number of queries per 1,000 ids:
which entities, contacts and shares are new, which change and how; rows that would touch an entity
the importer may not edit, or take an address another person has, are errors of their line.
"""
import re
from dataclasses import dataclass, field

from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Contact, ContactEmail, Entity, EntityShare
from app.models.entities import EntityKind
from app.security import access
from app.security import roles as R
from app.services import tabular

CHUNK = 1000
PROGRESS_EVERY = 500
_ENTITY_COLUMNS = {"entity_name": "name", "entity_kind": "kind", "tax_id": "tax_id", "responsible": "responsible_id"}
_CONTACT_COLUMNS = {"first_name": "first_name", "last_name": "last_name", "phone": "phone", "language": "language"}


def _chunks(values):
    values = sorted(values)
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _load(query_for, keys):
    """{key: row} for every chunk of keys (query_for(chunk) returns (key, row) pairs)."""
    found = {}
    for chunk in _chunks(keys):
        found.update(dict(db.session.execute(query_for(chunk)).all()))
    return found


@dataclass
class Plan:
    """Changes by kind: {"create": {id: values}, "update": {id: (row, changes)}} and share changes."""

    entities: dict = field(default_factory=lambda: {"create": {}, "update": {}})
    contacts: dict = field(default_factory=lambda: {"create": {}, "update": {}})
    shares: list = field(default_factory=list)  # (entity id, contact id, role name, "create"|"update")
    errors: list = field(default_factory=list)
    row_count: int = 0
    _context: dict = field(default_factory=dict)

    @classmethod
    def refused(cls, errors):
        """A plan of a file refused as a whole."""
        return cls(errors=list(errors))

    @classmethod
    def build(cls, found, user, row_count):
        """The plan of the merged rows against the database (errors are added by line)."""
        plan = cls(errors=list(found.errors), row_count=row_count)
        plan._plan_entities(found, user)
        plan._plan_contacts(found)
        plan._plan_shares(found)
        plan.errors = tabular.capped(plan.errors)
        return plan

    def _plan_entities(self, found, user):
        existing = _load(lambda ids: select(Entity.external_id, Entity).where(Entity.external_id.in_(ids)),
                         found.entities)
        editable = set(_load(lambda ids: select(Entity.external_id, Entity.id).where(
            Entity.external_id.in_(ids), access.scope(user, Entity, R.EDIT)), existing))
        names = {v["responsible"] for v in found.entities.values() if v["responsible"]}
        staff = _load(lambda chunk: select(User.username, User.id).where(
            User.username.in_(chunk), User.id.not_in(select(Contact.user_id).where(Contact.user_id.is_not(None)))),
            names)
        for key, values in found.entities.items():
            line = found.lines[("entity", key)]
            if values["responsible"] and values["responsible"] not in staff:
                self.errors.append(tabular.line(line, _("responsible: no staff member is called “%(name)s”",
                                                        name=values["responsible"])))
                continue
            wanted = {column: values[name] for name, column in _ENTITY_COLUMNS.items() if values[name]}
            if "responsible_id" in wanted:
                wanted["responsible_id"] = staff[wanted["responsible_id"]]
            entity = existing.get(key)
            if entity is None:
                wanted.setdefault("kind", EntityKind.individual.name)
                self.entities["create"][key] = wanted
            elif key not in editable:
                self.errors.append(tabular.line(line, _("entity_id %(id)s belongs to a client you may not change.",
                                                        id=key)))
            else:
                changes = {c: v for c, v in wanted.items() if _stored(entity, c) != v}
                if changes:
                    self.entities["update"][key] = (entity, changes)
        self._context["entities"] = existing

    def _plan_contacts(self, found):
        existing = _load(lambda ids: select(Contact.external_id, Contact).where(Contact.external_id.in_(ids))
                         .options(selectinload(Contact.emails)), found.contacts)
        addresses = {v["email"] for v in found.contacts.values() if v["email"]}
        owners = _load(lambda chunk: select(func.lower(ContactEmail.email), ContactEmail.contact_id).where(
            func.lower(ContactEmail.email).in_(chunk)), addresses)
        adopt = _load(lambda ids: select(Contact.id, Contact).where(Contact.id.in_(ids), Contact.external_id.is_(None))
                      .options(selectinload(Contact.emails)), set(owners.values()))
        for key, values in found.contacts.items():
            line = found.lines[("contact", key)]
            contact, changes = existing.get(key), {}
            owner = owners.get(values["email"]) if values["email"] else None
            if contact is None and owner is not None and owner in adopt:
                contact = existing[key] = adopt.pop(owner)  # made by hand before: it gets this external id
                changes["external_id"] = key
            if owner is not None and (contact is None or owner != contact.id):
                self.errors.append(tabular.line(line, _("email: %(address)s belongs to another contact.",
                                                        address=values["email"])))
                continue
            wanted = {column: values[name] for name, column in _CONTACT_COLUMNS.items() if values[name]}
            if contact is None:
                missing = [c for c in ("first_name", "last_name", "email") if not values[c]]
                if missing:
                    self.errors.append(tabular.line(line, _("a new contact needs %(cols)s.",
                                                            cols=", ".join(missing))))
                    continue
                self.contacts["create"][key] = dict(wanted, email=values["email"])
                continue
            changes.update({c: v for c, v in wanted.items() if getattr(contact, c) != v})
            if values["email"] and contact.primary_email != values["email"]:
                changes["email"] = values["email"]
            if changes:
                self.contacts["update"][key] = (contact, changes)
        self._context["contacts"] = existing

    def _plan_shares(self, found):
        entities, contacts = self._context["entities"], self._context["contacts"]
        current = {}
        for chunk in _chunks({entities[e].id for e, c in found.shares if e in entities and c in contacts}):
            for entity_id, contact_id, role in db.session.execute(
                    select(EntityShare.entity_id, EntityShare.contact_id, Role.name)
                    .join(Role, Role.id == EntityShare.role_id)
                    .where(EntityShare.entity_id.in_(chunk), EntityShare.contact_id.is_not(None))):
                current[(entity_id, contact_id)] = role
        for (entity_key, contact_key), (role, _line) in found.shares.items():
            stored = None
            if entity_key in entities and contact_key in contacts:
                stored = current.get((entities[entity_key].id, contacts[contact_key].id))
                if stored == role:
                    continue
            self.shares.append((entity_key, contact_key, role, "create" if stored is None else "update"))

    def existing(self, kind, key):
        """The stored entity or contact a key names (None when the import creates it)."""
        return self._context["entities" if kind == "entity" else "contacts"].get(key)

    def summary(self, sample):
        """Counts and a sample of each kind of change, for the preview page (JSON-ready)."""
        return {
            "rows": self.row_count,
            "entities_new": len(self.entities["create"]), "entities_changed": len(self.entities["update"]),
            "contacts_new": len(self.contacts["create"]), "contacts_changed": len(self.contacts["update"]),
            "shares_new": sum(1 for s in self.shares if s[3] == "create"),
            "shares_changed": sum(1 for s in self.shares if s[3] == "update"),
            "sample": [
                *[[_("New client"), k, v.get("name", "")] for k, v in list(self.entities["create"].items())[:sample]],
                *[[_("Client changes"), k, ", ".join(sorted(ch))] for k, (_e, ch) in
                  list(self.entities["update"].items())[:sample]],
                *[[_("New contact"), k, v["email"]] for k, v in list(self.contacts["create"].items())[:sample]],
                *[[_("Contact changes"), k, ", ".join(sorted(ch))] for k, (_c, ch) in
                  list(self.contacts["update"].items())[:sample]],
                *[[_("Role"), f"{e} ← {c}", r] for e, c, r, _kind in self.shares[:sample]],
            ],
        }

    def apply(self, user, progress=None):
        """Write every change (uncommitted: the caller commits once); progress(done, total) now and then."""
        from app.services import import_apply

        import_apply.write(self, user, progress)


def _stored(entity, column):
    value = getattr(entity, column)
    return value.name if column == "kind" and value is not None else value


def username_base(email):
    """A contact user name from an address's local part (letters, digits, dots)."""
    base = re.sub(r"[^a-z0-9.]+", ".", email.split("@", 1)[0].lower()).strip(".")
    return (base or "contact")[:80]
