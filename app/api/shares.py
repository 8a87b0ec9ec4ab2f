"""/api/v1/shares: who holds which role on an entity (a staff member, a contact or a contact group),
granted, changed and taken back through the sharing service, as on the Share page."""
from flask_appbuilder.security.sqla.models import Role
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.api.filters import Custom, Filter
from app.api.problems import ApiError, invalid
from app.api.resource import ApiResource
from app.api.schemas import Id, StrictId, Timestamp
from app.extensions import db
from app.models import Entity, EntityShare
from app.security import roles as R
from app.services import shares as service

GRANTEES = (("user_id", "u"), ("contact_id", "c"), ("group_id", "g"))


class ShareSchema(Schema):
    """One share: an entity role on an entity for exactly one of a staff member, a contact or a group."""

    id = fields.Integer(dump_only=True)
    entity_id = fields.Integer(dump_only=True)
    role = fields.Function(lambda s: s.role.name, dump_only=True,
                           metadata={"enum": list(R.ENTITY_ROLES), "type": "string"})
    user_id = fields.Integer(dump_only=True, allow_none=True)
    contact_id = fields.Integer(dump_only=True, allow_none=True)
    group_id = fields.Integer(dump_only=True, allow_none=True)
    created_on = Timestamp(dump_only=True)


class ShareCreateSchema(Schema):
    """A new share: the entity, the role, and exactly one grantee."""

    entity_id = StrictId(required=True)
    role = fields.String(required=True, validate=validate.OneOf(R.ENTITY_ROLES))
    user_id = StrictId(metadata={"description": "A staff member (Owner or Viewer)."})
    contact_id = StrictId(metadata={"description": "A contact (Entity Access or Entity Collaborator)."})
    group_id = StrictId(metadata={"description": "A contact group (Entity Access or Entity Collaborator)."})

    @validates_schema
    def _one_grantee(self, data, **kwargs):
        if sum(1 for name, _kind in GRANTEES if data.get(name) is not None) != 1:
            raise ValidationError("Give exactly one of user_id, contact_id and group_id.", "_schema")


class ShareUpdateSchema(Schema):
    """The new role of a share (the grantee and entity never change: revoke and share again)."""

    role = fields.String(required=True, validate=validate.OneOf(R.ENTITY_ROLES))


def _shared(call, *args):
    """Run a sharing service call; refusals become 403, unknown grantees 422, bad roles 422."""
    try:
        return call(*args)
    except service.ShareRefused as exc:
        raise ApiError(403, str(exc)) from exc
    except service.ShareNotFound as exc:
        raise invalid({"grantee": ["No such person or group among those you may share with."]}) from exc
    except service.ShareError as exc:
        raise invalid({"role": [str(exc)]}) from exc


class ShareApi(ApiResource):
    """Shares: list, read, grant, change the role, take back — where the Shares screen and the share right allow."""

    resource_name = "shares"
    model = EntityShare
    schema, create_schema, update_schema = ShareSchema, ShareCreateSchema, ShareUpdateSchema
    screen = "EntityShareView"
    rights = {"get": R.VIEW, "update": R.SHARE, "delete": R.SHARE}
    filters = {
        "entity_id": Filter(EntityShare.entity_id, Id()),
        "user_id": Filter(EntityShare.user_id, Id()),
        "contact_id": Filter(EntityShare.contact_id, Id()),
        "group_id": Filter(EntityShare.group_id, Id()),
        "role": Custom(fields.String(validate=validate.OneOf(R.ENTITY_ROLES)),
                       lambda v: EntityShare.role.has(Role.name == v), "Shares of this entity role."),
    }
    eager = (joinedload(EntityShare.role),)

    def create(self, data):
        """Grant the role to the grantee (refused when the entity is already shared with them)."""
        entity = self.reference(Entity, data["entity_id"], "entity_id")
        field, kind = next((name, kind) for name, kind in GRANTEES if data.get(name) is not None)
        rows = [(kind, data[field], data["role"])]
        if self._existing(entity, field, data[field]) is not None:
            raise invalid({field: ["The entity is already shared with them; change that share instead."]})
        _shared(service.grant_many, entity, self.user, rows)
        return self._existing(entity, field, data[field])

    def update(self, row, data):
        """Give the share's grantee another role (an empty change changes nothing)."""
        if "role" not in data:
            return row
        field, kind = next((name, kind) for name, kind in GRANTEES if getattr(row, name) is not None)
        _shared(service.grant_many, row.entity, self.user, [(kind, getattr(row, field), data["role"])])
        return row

    def delete(self, row):
        """Take the share back."""
        try:
            service.revoke(row.entity, self.user, row.id)
        except service.ShareRefused as exc:
            raise ApiError(403, str(exc)) from exc
        except service.ShareNotFound as exc:
            raise ApiError(404, "No such resource.") from exc

    def _existing(self, entity, field, pk):
        return db.session.scalar(select(EntityShare).where(EntityShare.entity_id == entity.id,
                                                           getattr(EntityShare, field) == pk))
