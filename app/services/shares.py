"""Sharing one entity: grant roles to many people at once, see who reaches it and through what,
take a share back, and add a new contact together with its share.

Every change is checked whole before anything is written and saved in one transaction.
"""
import secrets
from dataclasses import dataclass, field

from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import Contact, ContactGroup, EntityShare
from app.models.contacts import contact_group_members
from app.security import access
from app.security import roles as R
from app.services import activity
from app.services import contacts as contact_service

GRANTEE_MODELS = {"u": User, "c": Contact, "g": ContactGroup}
GRANTEE_COLUMNS = {"u": "user_id", "c": "contact_id", "g": "group_id"}
MAX_ROWS = 50  # grantees in one submission


class ShareError(ValueError):
    """A submission that cannot be saved as it is; the message is for the form."""


class ShareNotFound(LookupError):
    """An entity, person, group or share outside the user's scope (or unknown): answered 404."""


class ShareRefused(PermissionError):
    """A change the user may not make (a role they may not grant): answered 403."""


def parse_token(raw):
    """("u" | "c" | "g", id) from a picker value such as "c:12"; None when it is not one."""
    kind, _sep, pk = str(raw or "").partition(":")
    if kind not in GRANTEE_MODELS or not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
        return None
    return kind, int(pk)


def parse_rows(grantees, roles):
    """[(kind, id, role name)] from the form's parallel lists; blank rows are skipped."""
    rows = []
    for raw, role_name in zip(grantees, roles):
        if not raw:
            continue
        token = parse_token(raw)
        if token is None:
            raise ShareError(_("Pick people and groups from the list."))
        rows.append((*token, role_name or ""))
    if not rows:
        raise ShareError(_("Choose at least one person or group, and a role for each."))
    if len(rows) > MAX_ROWS:
        raise ShareError(_("Share with at most %(n)d people and groups at once.", n=MAX_ROWS))
    if len({(kind, pk) for kind, pk, _r in rows}) != len(rows):
        raise ShareError(_("Each person or group may be chosen only once."))
    return rows


def grant_many(entity, actor, rows):
    """Give each (kind, id, role name) its role on `entity`: new shares, or a new role for an
    existing share. All or nothing. Returns (created, changed)."""
    allowed = access.grantable_roles(actor, entity)
    if not allowed:
        raise ShareRefused(_("You may not share this entity."))
    grantees = _load_grantees(actor, rows)
    roles = _roles()
    for kind, pk, role_name in rows:
        _check_role(kind, role_name, allowed)
    existing = {_key(share): share for share in db.session.scalars(
        select(EntityShare).options(joinedload(EntityShare.role)).where(EntityShare.entity_id == entity.id))}
    for kind, pk, _role in rows:  # every check before the first write: nothing is half-saved
        share = existing.get((kind, pk))
        if share is not None and share.role.name not in allowed:
            raise ShareRefused(_("You may not change the %(role)s share of %(name)s.", role=share.role.name,
                                 name=grantees[kind, pk]))
    created = changed = 0
    for kind, pk, role_name in rows:
        share = existing.get((kind, pk))
        if share is None:
            share = EntityShare(entity=entity, role=roles[role_name], **{kind_attr(kind): grantees[kind, pk]})
            db.session.add(share)
            created += 1
            verb = "share.granted"
        elif share.role.name != role_name:
            share.role = roles[role_name]
            changed += 1
            verb = "share.changed"
        else:
            continue
        activity.record(verb, entity, summary=f"{grantees[kind, pk]} — {role_name}", actor=actor, commit=False)
    _commit()
    return created, changed


def revoke(entity, actor, share_id):
    """Take one share of `entity` back (the user must be able to grant its role)."""
    allowed = access.grantable_roles(actor, entity)
    if not allowed:
        raise ShareRefused(_("You may not share this entity."))
    token = str(share_id or "")
    share = None
    if token.isascii() and token.isdigit() and len(token) <= 18:
        share = db.session.scalar(select(EntityShare).where(EntityShare.id == int(token),
                                                            EntityShare.entity_id == entity.id))
    if share is None:
        raise ShareNotFound()
    if share.role.name not in allowed:
        raise ShareRefused(_("You may not take back a %(role)s share.", role=share.role.name))
    label = share.grantee_label()
    activity.record("share.revoked", entity, summary=f"{label} — {share.role.name}", actor=actor, commit=False)
    db.session.delete(share)
    _commit()
    return label


def add_contact(entity, actor, first_name, last_name, email, language, role_name):
    """A new contact with its primary e-mail and its share of `entity`, saved together."""
    allowed = access.grantable_roles(actor, entity)
    if not allowed or not access.may_add_contacts(actor):
        raise ShareRefused(_("You may not add contacts to this entity."))
    _check_role("c", role_name, allowed)
    email = (email or "").strip().lower()
    if contact_service.email_taken(email):
        raise ShareError(_("This e-mail address already belongs to a contact."))
    contact = Contact(first_name=first_name.strip(), last_name=last_name.strip(), language=language,
                      username=_free_username(email))
    contact.primary_email = email
    db.session.add(contact)
    db.session.add(EntityShare(entity=entity, role=_roles()[role_name], contact=contact))
    db.session.flush()  # the contact's id, for the activity rows
    activity.record("contact.created", None, contact, summary=contact.full_name, actor=actor, commit=False)
    activity.record("share.granted", entity, summary=f"{contact.full_name} — {role_name}", actor=actor, commit=False)
    _commit()
    return contact


@dataclass
class Access:
    """One person who reaches the entity: their strongest role and every way they hold one."""

    kind: str  # "u" (staff) or "c" (contact)
    person: object
    role: str = ""
    via: list = field(default_factory=list)  # (role name, group name or None for direct, or "responsible")
    share: EntityShare | None = None  # the direct share, if any (what Remove takes back)


def access_list(entity):
    """Everyone who reaches `entity` (staff and contacts, directly, through a group, or as the
    responsible member) with their effective role, and the group shares. At most six queries, whatever the size."""
    shares = db.session.scalars(
        select(EntityShare).where(EntityShare.entity_id == entity.id).options(
            joinedload(EntityShare.role), joinedload(EntityShare.user), joinedload(EntityShare.group),
            joinedload(EntityShare.contact).selectinload(Contact.emails))).unique().all()
    groups = {share.group_id: share for share in shares if share.group_id is not None}
    members = db.session.execute(
        select(contact_group_members.c.group_id, Contact)
        .join(Contact, Contact.id == contact_group_members.c.contact_id)
        .where(contact_group_members.c.group_id.in_(
            select(EntityShare.group_id).where(EntityShare.entity_id == entity.id)))
        .options(selectinload(Contact.emails))).all()
    people = {}
    responsible = db.session.get(User, entity.responsible_id) if entity.responsible_id else None
    if responsible is not None:
        _hold(people, "u", responsible, R.OWNER, "responsible")
    for share in shares:
        if share.group_id is None:
            kind = "u" if share.user_id is not None else "c"
            _hold(people, kind, share.grantee, share.role.name, None).share = share
    for group_id, contact in members:
        _hold(people, "c", contact, groups[group_id].role.name, groups[group_id].group.name)
    ordered = sorted(people.values(), key=lambda a: (a.kind, str(a.person).lower(), a.person.id))
    return ordered, sorted(groups.values(), key=lambda s: s.group.name.lower())


def _hold(people, kind, person, role_name, via):
    entry = people.setdefault((kind, person.id), Access(kind, person))
    entry.via.append((role_name, via))
    if R.ENTITY_ROLE_RANK.get(role_name, 0) > R.ENTITY_ROLE_RANK.get(entry.role, 0):
        entry.role = role_name
    return entry


def kind_attr(kind):
    """The EntityShare relationship a grantee kind fills."""
    return {"u": "user", "c": "contact", "g": "group"}[kind]


def _key(share):
    for kind, column in GRANTEE_COLUMNS.items():
        if getattr(share, column) is not None:
            return kind, getattr(share, column)
    return None


def _load_grantees(actor, rows):
    """{(kind, id): row} for every grantee, each in the actor's scope; any other id is ShareNotFound."""
    found = {}
    for kind, model in GRANTEE_MODELS.items():
        ids = {pk for k, pk, _r in rows if k == kind}
        if not ids:
            continue
        query = access.visible(actor, model).where(model.id.in_(ids))
        if model is User:
            query = query.where(User.active.is_(True))
        found.update({(kind, row.id): row for row in db.session.scalars(query)})
    if len(found) != len(rows):
        raise ShareNotFound()
    return found


def _check_role(kind, role_name, allowed):
    if role_name not in R.ENTITY_ROLES:
        raise ShareError(_("Choose a role for each person or group."))
    if kind == "u" and role_name not in R.STAFF_ENTITY_ROLES:
        raise ShareError(_("Staff members can only be given the Owner or Viewer role."))
    if kind != "u" and role_name not in R.CONTACT_ENTITY_ROLES:
        raise ShareError(_("Contacts and contact groups can only be given Entity Access or Entity Collaborator."))
    if role_name not in allowed:
        raise ShareRefused(_("You may not grant the %(role)s role.", role=role_name))


def _roles():
    return {role.name: role for role in db.session.scalars(select(Role).where(Role.name.in_(R.ENTITY_ROLES)))}


def _free_username(email):
    """The e-mail as user name when it fits and is free, else a unique generated one."""
    if len(email) <= 100 and db.session.scalar(select(Contact.id).where(Contact.username == email)) is None:
        return email
    return f"contact.{secrets.token_hex(6)}"


def _commit():
    """Commit, or roll everything back when a concurrent change collides (a share made meanwhile)."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ShareError(_("Someone changed these shares at the same time; nothing was saved. Try again."))
    finally:
        access.reset_cache()
