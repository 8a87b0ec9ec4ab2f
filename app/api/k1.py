"""/api/v1/k1-recipients: the K-1 partners of partnerships, S corporations and trusts (name, e-mail,
share, K-1 document), with the K-1 partners screen's rules, through the K-1 service. The delivery
status is shown, never edited here."""
from decimal import Decimal

from marshmallow import Schema, fields, validate

from app.api.filters import Contains, Filter
from app.api.problems import invalid
from app.api.resource import ApiResource
from app.api.schemas import Id, StrictId, Timestamp, text
from app.extensions import db
from app.models import Document, Entity, K1Recipient, K1Status
from app.security import access
from app.security import roles as R
from app.services import k1 as service

SHARE = {"description": 'Ownership percentage as text, 0 to 100, at most 4 decimals (like "12.5").'}


class K1RecipientSchema(Schema):
    """A K-1 partner and how far their K-1 got."""

    id = fields.Integer(dump_only=True)
    entity_id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    email = fields.String(dump_only=True)
    share = fields.Decimal(as_string=True, dump_only=True, allow_none=True, metadata=SHARE)
    document_id = fields.Integer(dump_only=True, allow_none=True)
    status = fields.Enum(K1Status, by_value=True, dump_only=True)
    sent_on = Timestamp(dump_only=True, allow_none=True)
    link_expires_on = Timestamp(dump_only=True, allow_none=True)
    link_revoked_on = Timestamp(dump_only=True, allow_none=True)
    opened_on = Timestamp(dump_only=True, allow_none=True)
    downloaded_on = Timestamp(dump_only=True, allow_none=True)
    created_on = Timestamp(dump_only=True)


class K1RecipientUpdateSchema(Schema):
    """The fields of a partner the screen's edit form changes (any subset)."""

    name = text(200, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    share = fields.Decimal(allow_none=True, allow_nan=False, metadata={
        "description": "Ownership percentage, 0 to 100, at most 4 decimals (a number, or text like \"12.5\")."})
    document_id = StrictId(allow_none=True, metadata={"description": "One of the entity's documents."})


class K1RecipientCreateSchema(K1RecipientUpdateSchema):
    """A new partner of an entity the owner works on."""

    entity_id = StrictId(required=True)


class K1RecipientApi(ApiResource):
    """K-1 partners: list, read, add, change, delete — where the K-1 partners screen allows each."""

    resource_name = "k1-recipients"
    model = K1Recipient
    schema, create_schema, update_schema = K1RecipientSchema, K1RecipientCreateSchema, K1RecipientUpdateSchema
    screen = "K1RecipientView"
    rights = {"get": R.VIEW, "update": R.WORK, "delete": R.WORK}
    filters = {
        "entity_id": Filter(K1Recipient.entity_id, Id()),
        "status": Filter(K1Recipient.status, fields.Enum(K1Status, by_value=True)),
        "name": Contains(K1Recipient.name),
        "email": Contains(K1Recipient.email),
    }

    def _values(self, entity_id, data):
        values = {k: v for k, v in data.items() if k not in ("entity_id", "document_id")}
        share = values.get("share")
        if share is not None and not 0 <= share <= 100:
            raise invalid({"share": ["The share is a percentage between 0 and 100."]})
        if share is not None and share != share.quantize(Decimal("0.0001")):
            raise invalid({"share": ["Use at most 4 decimals."]})
        if data.get("document_id") is not None:
            values["document"] = db.session.scalar(access.visible(self.user, Document, R.WORK).where(
                Document.id == data["document_id"], Document.entity_id == entity_id))
            if values["document"] is None:
                raise invalid({"document_id": ["Choose one of this entity's documents."]})
        elif "document_id" in data:
            values["document"] = None
        return values

    def create(self, data):
        """Add the partner through the K-1 service (the entity must issue K-1s)."""
        entity = self.reference(Entity, data["entity_id"], "entity_id", R.WORK)
        try:
            return service.add_recipient(entity, self.user, **self._values(entity.id, data))
        except service.K1Error as exc:
            raise invalid({"entity_id": [str(exc)]}) from exc

    def update(self, row, data):
        """Change the partner through the K-1 service."""
        try:
            return service.change_recipient(row, self.user, **self._values(row.entity_id, data))
        except service.K1Error as exc:
            raise invalid({"_schema": [str(exc)]}) from exc

    def delete(self, row):
        """Remove the partner through the K-1 service."""
        service.remove_recipient(row, self.user)
