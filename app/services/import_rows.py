"""The rows of a client import, checked one by one: entities, contacts and their roles.

One row is an entity, optionally with one of its contacts and that contact's role. Rows naming the
same `entity_id` (or `contact_id`) describe the same client (or person): they must not disagree.
Blank cells of an existing entity or contact keep what is stored.
"""
import re
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _

from app.models.entities import EntityKind
from app.security import roles as R
from app.services import tabular

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}\Z", re.ASCII)
ENTITY_FIELDS = ("entity_name", "entity_kind", "tax_id", "responsible")
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "language")
ROLES = {"entity access": R.ENTITY_ACCESS, "access": R.ENTITY_ACCESS,
         "entity collaborator": R.ENTITY_COLLABORATOR, "collaborator": R.ENTITY_COLLABORATOR}
LIMITS = {"entity_name": 200, "tax_id": 20, "responsible": 100, "first_name": 100, "last_name": 100,
          "phone": 50}


class RowError(ValueError):
    """A problem of one row; the message is for the user."""


@dataclass
class Rows:
    """What the file says, merged by external id: {id: {field: value}}, shares and problems."""

    entities: dict = field(default_factory=dict)
    contacts: dict = field(default_factory=dict)
    shares: dict = field(default_factory=dict)  # (entity id, contact id) → (role name, line)
    lines: dict = field(default_factory=dict)  # ("entity"|"contact", id) → first line naming it
    errors: list = field(default_factory=list)


def collect(rows):
    """Check every row and merge them into a Rows (errors name their line)."""
    found = Rows()
    for line, cells in rows:
        try:
            _collect_row(found, line, cells)
        except RowError as exc:
            found.errors.append(tabular.line(line, str(exc)))
    return found


def _collect_row(found, line, cells):
    entity_id = _external_id(cells.get("entity_id", ""), "entity_id")
    entity = {k: _clean(k, cells.get(k, "")) for k in ENTITY_FIELDS}
    if entity["entity_kind"]:
        entity["entity_kind"] = _kind(entity["entity_kind"])
    contact_id = cells.get("contact_id", "")
    contact = {k: _clean(k, cells.get(k, "")) for k in CONTACT_FIELDS}
    role = cells.get("role", "").strip()
    if not contact_id and not any(contact.values()) and not role:
        _merge(found, "entity", entity_id, entity, line)
        return
    contact_id = _external_id(contact_id, "contact_id")
    if contact["email"]:
        contact["email"] = _email(contact["email"])
    if contact["language"] and contact["language"] not in current_app.config["LANGUAGES"]:
        raise RowError(_("language: one of %(codes)s", codes=", ".join(current_app.config["LANGUAGES"])))
    role_name = ROLES.get(role.lower() or "entity access")
    if role_name is None:
        raise RowError(_("role: “Entity Access” or “Entity Collaborator”"))
    _merge(found, "entity", entity_id, entity, line)
    _merge(found, "contact", contact_id, contact, line)
    earlier = found.shares.get((entity_id, contact_id))
    if earlier is not None and earlier[0] != role_name:
        raise RowError(_("%(contact)s has another role on %(entity)s on line %(line)d.", contact=contact_id,
                         entity=entity_id, line=earlier[1]))
    found.shares[(entity_id, contact_id)] = (role_name, line)


def _merge(found, kind, key, values, line):
    """Keep the first row's values; a later row may leave cells blank but not say something else."""
    store = found.entities if kind == "entity" else found.contacts
    if key not in store:
        store[key] = values
        found.lines[(kind, key)] = line
        return
    known = store[key]
    for name, value in values.items():
        if value and known.get(name) and known[name] != value:
            raise RowError(_("%(column)s differs from line %(line)d for the same %(id)s.", column=name,
                             line=found.lines[(kind, key)], id=key))
        if value and not known.get(name):
            known[name] = value


def _external_id(raw, column):
    raw = (raw or "").strip()
    if not ID_RE.match(raw):
        raise RowError(_("%(column)s: 1 to 64 letters, digits or . _ : / - (required)", column=column))
    return raw


def _clean(column, raw):
    value = (raw or "").strip()
    if len(value) > LIMITS.get(column, 254):
        raise RowError(_("%(column)s: at most %(n)d characters", column=column, n=LIMITS.get(column, 254)))
    if any(ord(ch) < 32 for ch in value):
        raise RowError(_("%(column)s: control characters are not allowed", column=column))
    return value


def _kind(raw):
    key = raw.strip().lower().replace("-", "_").replace(" ", "_")
    for kind in EntityKind:
        if key in (kind.name, kind.value):
            return kind.name
    raise RowError(_("entity_kind: one of %(kinds)s", kinds=", ".join(k.name for k in EntityKind)))


def _email(raw):
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise RowError(_("email: “%(value)s” is not an e-mail address", value=raw[:100]))
