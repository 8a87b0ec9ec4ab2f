"""/api/v1/contacts, /contact-emails and /contact-groups: people outside the firm, as the People screens
show and edit them (the portal state changes only through invitations, as on the screens)."""
from marshmallow import Schema, fields, validate
from sqlalchemy import or_
from sqlalchemy.orm import selectinload

from app.api.filters import Contains, Custom, Filter, contains
from app.api.problems import ApiError, invalid
from app.api.resource import ApiResource
from app.api.schemas import Id, StrictId, Timestamp, text
from app.extensions import db
from app.models import Contact, ContactEmail, ContactGroup
from app.models.contacts import PortalState
from app.security import access
from app.services import contacts as service
from app.views.contacts import PHONE_PATTERN
from config import Config

USERNAME = validate.Regexp(r"^[A-Za-z0-9._@+-]+$", error="Use letters, digits and . _ @ + - only.")


class ContactEmailSchema(Schema):
    """One address of a contact: the primary one signs in; merged ones receive documents."""

    id = fields.Integer(dump_only=True)
    contact_id = fields.Integer(dump_only=True)
    email = fields.String(dump_only=True)
    is_primary = fields.Boolean(dump_only=True)
    verified_on = Timestamp(dump_only=True, allow_none=True)


class ContactSchema(Schema):
    """A contact as the API returns it."""

    id = fields.Integer(dump_only=True)
    first_name = fields.String(dump_only=True)
    last_name = fields.String(dump_only=True)
    username = fields.String(dump_only=True)
    primary_email = fields.String(dump_only=True, allow_none=True)
    phone = fields.String(dump_only=True, allow_none=True)
    language = fields.String(dump_only=True)
    notify_by_email = fields.Boolean(dump_only=True)
    portal_state = fields.Enum(PortalState, by_value=True, dump_only=True)
    notes = fields.String(dump_only=True, allow_none=True)
    external_id = fields.String(dump_only=True, allow_none=True)
    created_on = Timestamp(dump_only=True)
    emails = fields.List(fields.Nested(ContactEmailSchema), dump_only=True)


class ContactCreateSchema(Schema):
    """The fields of a new contact (those of the Contacts screen's form)."""

    first_name = text(100, required=True)
    last_name = text(100, required=True)
    username = fields.String(required=True, validate=[validate.Length(min=3, max=100), USERNAME])
    primary_email = fields.Email(required=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Regexp(PHONE_PATTERN))
    language = fields.String(load_default="en", validate=validate.OneOf(list(Config.LANGUAGES)))
    notify_by_email = fields.Boolean(load_default=True)
    notes = text(2000, allow_none=True)


class ContactUpdateSchema(ContactCreateSchema):
    """Fields of a contact to change (any subset)."""

    language = fields.String(validate=validate.OneOf(list(Config.LANGUAGES)))
    notify_by_email = fields.Boolean()


def _saved(call, *args, **kwargs):
    """Run a contacts service call; its refusals become 422 (a field at fault) or 409 (a collision)."""
    try:
        return call(*args, **kwargs)
    except service.ContactError as exc:
        if exc.field:
            raise invalid({exc.field: [str(exc)]}) from exc
        raise ApiError(409, str(exc)) from exc


class ContactApi(ApiResource):
    """Contacts: list, read, create, change, delete — where the Contacts screen allows each."""

    resource_name = "contacts"
    model = Contact
    schema, create_schema, update_schema = ContactSchema, ContactCreateSchema, ContactUpdateSchema
    screen = "ContactView"
    filters = {
        "name": Custom(fields.String(validate=validate.Length(min=1, max=100)),
                       lambda v: or_(contains(Contact.first_name, v), contains(Contact.last_name, v)),
                       "Contacts whose first or last name contains this text (case-insensitive)."),
        "username": Filter(Contact.username, fields.String(validate=validate.Length(min=1, max=100))),
        "portal_state": Filter(Contact.portal_state, fields.Enum(PortalState, by_value=True)),
        "email": Custom(fields.String(validate=validate.Length(min=1, max=254)),
                        lambda v: Contact.emails.any(ContactEmail.email == v.strip().lower()),
                        "Contacts with this address (primary or merged; any case)."),
    }
    eager = (selectinload(Contact.emails),)

    def create(self, data):
        """A new contact through the contacts service."""
        return _saved(service.create_contact, self.user, **data)

    def update(self, row, data):
        """Change the contact through the contacts service."""
        return _saved(service.update_contact, row, self.user, **data)

    def delete(self, row):
        """Delete the contact through the contacts service."""
        _saved(service.delete_contact, row, self.user)


class ContactEmailCreateSchema(Schema):
    """A new address of a contact."""

    contact_id = StrictId(required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    is_primary = fields.Boolean(load_default=False)


class ContactEmailUpdateSchema(Schema):
    """Fields of an address to change."""

    email = fields.Email(validate=validate.Length(max=254))
    is_primary = fields.Boolean()


class ContactEmailApi(ApiResource):
    """A contact's addresses: list, read, add, change, remove — where the addresses screen allows each."""

    resource_name = "contact-emails"
    model = ContactEmail
    schema, create_schema, update_schema = ContactEmailSchema, ContactEmailCreateSchema, ContactEmailUpdateSchema
    screen = "ContactEmailView"
    filters = {"contact_id": Filter(ContactEmail.contact_id, Id()),
               "is_primary": Filter(ContactEmail.is_primary, fields.Boolean())}

    def create(self, data):
        """Add the address through the contacts service."""
        contact = self.reference(Contact, data["contact_id"], "contact_id")
        return _saved(service.add_email, contact, self.user, data["email"], data["is_primary"])

    def update(self, row, data):
        """Change the address through the contacts service."""
        return _saved(service.update_email, row, self.user, **data)

    def delete(self, row):
        """Remove the address through the contacts service."""
        _saved(service.delete_email, row, self.user)


class ContactGroupSchema(Schema):
    """A contact group: its name, description and member contacts."""

    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    description = fields.String(dump_only=True, allow_none=True)
    member_ids = fields.Function(lambda g: sorted(m.id for m in g.members), dump_only=True)


class ContactGroupCreateSchema(Schema):
    """A new contact group."""

    name = text(100, required=True)
    description = text(2000, allow_none=True)
    member_ids = fields.List(StrictId(), load_default=list, validate=validate.Length(max=1000))


class ContactGroupApi(ApiResource):
    """Contact groups: list, read, create, change, delete — where the Contact groups screen allows each."""

    resource_name = "contact-groups"
    model = ContactGroup
    schema, create_schema = ContactGroupSchema, ContactGroupCreateSchema
    screen = "ContactGroupView"
    filters = {"name": Contains(ContactGroup.name),
               "member_id": Custom(Id(), lambda v: ContactGroup.members.any(Contact.id == v),
                                   "Groups with this contact among their members.")}
    eager = (selectinload(ContactGroup.members),)

    def _values(self, data):
        values = {k: v for k, v in data.items() if k != "member_ids"}
        if "member_ids" in data:
            wanted = set(data["member_ids"])
            found = db.session.scalars(access.visible(self.user, Contact).where(Contact.id.in_(wanted))).all() \
                if wanted else []
            if len(found) != len(wanted):
                raise invalid({"member_ids": ["Some ids are not contacts you may use."]})
            values["members"] = found
        return values

    def create(self, data):
        """A new group through the contacts service."""
        return _saved(service.save_group, None, self.user, **self._values(data))

    def update(self, row, data):
        """Change the group through the contacts service."""
        return _saved(service.save_group, row, self.user, **self._values(data))

    def delete(self, row):
        """Delete the group through the contacts service."""
        _saved(service.delete_group, row, self.user)

