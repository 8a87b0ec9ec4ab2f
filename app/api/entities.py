"""/api/v1/entities: the firm's clients, as the Entities screen shows and edits them."""
from flask_appbuilder.security.sqla.models import User
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import joinedload

from app.api.filters import Contains, Filter
from app.api.problems import ApiError
from app.api.resource import ApiResource
from app.api.schemas import Id, StrictId, Timestamp, text
from app.models import Entity
from app.models.entities import EntityKind, EntityStatus
from app.security import roles as R
from app.services import entities as service


class EntitySchema(Schema):
    """An entity (client) as the API returns it."""

    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    kind = fields.Enum(EntityKind, by_value=True, dump_only=True)
    status = fields.Enum(EntityStatus, by_value=True, dump_only=True)
    tax_id = fields.String(dump_only=True, allow_none=True, metadata={"description": "Full tax id (single reads)."})
    tax_id_masked = fields.Function(lambda e: e.masked_tax_id(), dump_only=True,
                                    metadata={"description": "All but the last four characters hidden."})
    responsible_id = fields.Integer(dump_only=True, allow_none=True)
    address = fields.String(dump_only=True, allow_none=True)
    external_id = fields.String(dump_only=True, allow_none=True)
    created_on = Timestamp(dump_only=True)


class EntityCreateSchema(Schema):
    """The fields of a new entity (those of the Entities screen's form)."""

    name = text(200, required=True)
    kind = fields.Enum(EntityKind, by_value=True, required=True)
    status = fields.Enum(EntityStatus, by_value=True, load_default=EntityStatus.active)
    tax_id = fields.String(allow_none=True, validate=validate.Regexp(
        service.TAX_ID_PATTERN, error="Digits, optionally separated by dashes or spaces (4 to 20 characters)."))
    responsible_id = StrictId(allow_none=True, metadata={"description": "A staff member's user id."})
    address = text(2000, allow_none=True)


class EntityUpdateSchema(EntityCreateSchema):
    """Fields of an entity to change (any subset)."""

    status = fields.Enum(EntityStatus, by_value=True)


class EntityApi(ApiResource):
    """Entities: list, read, create, change, delete — where the Entities screen allows each."""

    resource_name = "entities"
    model = Entity
    schema, create_schema, update_schema = EntitySchema, EntityCreateSchema, EntityUpdateSchema
    list_exclude = ("tax_id",)
    screen = "EntityView"
    rights = {"get": R.VIEW, "update": R.EDIT, "delete": R.DELETE}
    filters = {
        "name": Contains(Entity.name),
        "kind": Filter(Entity.kind, fields.Enum(EntityKind, by_value=True)),
        "status": Filter(Entity.status, fields.Enum(EntityStatus, by_value=True)),
        "responsible_id": Filter(Entity.responsible_id, Id()),
    }
    eager = (joinedload(Entity.responsible),)

    def _values(self, data):
        values = {k: v for k, v in data.items() if k != "responsible_id"}
        if "tax_id" in values and values["tax_id"] == "":
            values["tax_id"] = None
        if "responsible_id" in data:
            values["responsible"] = self.reference(User, data["responsible_id"], "responsible_id")
        return values

    def create(self, data):
        """A new entity through the entities service."""
        try:
            return service.create(self.user, **self._values(data))
        except service.EntityError as exc:
            raise ApiError(409, str(exc)) from exc

    def update(self, row, data):
        """Change the entity through the entities service."""
        try:
            return service.update(row, self.user, **self._values(data))
        except service.EntityError as exc:
            raise ApiError(409, str(exc)) from exc

    def delete(self, row):
        """Delete the entity through the entities service."""
        try:
            service.delete(row, self.user)
        except service.EntityError as exc:
            raise ApiError(409, str(exc)) from exc
