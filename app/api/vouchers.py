"""/api/v1/tax-vouchers: an entity's payments to tax authorities, with the Tax vouchers screen's rules
(amounts as text with two decimals, payment links on the firm's hosts, paid ⇒ a payment date), through
the vouchers service."""
from marshmallow import Schema, fields, validate

from app.api.filters import Filter
from app.api.problems import invalid
from app.api.resource import ApiResource
from app.api.schemas import Id, StrictId, Timestamp, text
from app.models import Entity, TaxVoucher
from app.models.vouchers import VoucherStatus
from app.security import roles as R
from app.services import vouchers as service

AMOUNT = {"type": "string", "description": 'A decimal amount as text, like "1234.50" (never a float).', "example": "1234.50"}


class TaxVoucherSchema(Schema):
    """A tax voucher."""

    id = fields.Integer(dump_only=True)
    entity_id = fields.Integer(dump_only=True)
    tax_year = fields.Integer(dump_only=True)
    authority = fields.String(dump_only=True)
    form_period = fields.String(dump_only=True)
    amount = fields.Decimal(as_string=True, dump_only=True, metadata=AMOUNT)
    due_date = fields.Date(dump_only=True)
    payment_url = fields.String(dump_only=True, allow_none=True)
    status = fields.Enum(VoucherStatus, by_value=True, dump_only=True)
    paid_on = fields.Date(dump_only=True, allow_none=True)
    confirmation_number = fields.String(dump_only=True, allow_none=True)
    marked_paid_by_id = fields.Integer(dump_only=True, allow_none=True)
    marked_paid_at = Timestamp(dump_only=True, allow_none=True)
    created_on = Timestamp(dump_only=True)


class TaxVoucherUpdateSchema(Schema):
    """The fields of a voucher the screen's edit form changes (any subset; it stays with its entity)."""

    tax_year = fields.Integer(strict=True, validate=validate.Range(min=2000, max=2100))
    authority = text(100, required=True)
    form_period = text(50, required=True)
    amount = fields.String(validate=validate.Length(min=1, max=20), metadata=AMOUNT)
    due_date = fields.Date()
    payment_url = text(500, allow_none=True)
    status = fields.Enum(VoucherStatus, by_value=True,
                         metadata={"description": "Back to unpaid clears the payment date and confirmation."})
    paid_on = fields.Date(allow_none=True)
    confirmation_number = text(100, allow_none=True)


class TaxVoucherCreateSchema(TaxVoucherUpdateSchema):
    """A new voucher of an entity the owner works on."""

    entity_id = StrictId(required=True)
    tax_year = fields.Integer(strict=True, required=True, validate=validate.Range(min=2000, max=2100))
    amount = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata=AMOUNT)
    due_date = fields.Date(required=True)
    status = fields.Enum(VoucherStatus, by_value=True, load_default=VoucherStatus.unpaid)


def _refused(exc):
    return invalid({exc.field or "_schema": [str(exc)]})


class TaxVoucherApi(ApiResource):
    """Tax vouchers: list, read, add, change, delete — where the Tax vouchers screen allows each."""

    resource_name = "tax-vouchers"
    model = TaxVoucher
    schema, create_schema, update_schema = TaxVoucherSchema, TaxVoucherCreateSchema, TaxVoucherUpdateSchema
    screen = "TaxVoucherView"
    rights = {"get": R.VIEW, "update": R.WORK, "delete": R.WORK}
    filters = {
        "entity_id": Filter(TaxVoucher.entity_id, Id()),
        "status": Filter(TaxVoucher.status, fields.Enum(VoucherStatus, by_value=True)),
        "tax_year": Filter(TaxVoucher.tax_year, fields.Integer(validate=validate.Range(min=2000, max=2100))),
        "due_date": Filter(TaxVoucher.due_date, fields.Date()),
    }

    def create(self, data):
        """Add the voucher through the vouchers service."""
        entity = self.reference(Entity, data.pop("entity_id"), "entity_id", R.WORK)
        try:
            return service.create_voucher(entity, self.user, **data)
        except service.VoucherError as exc:
            raise _refused(exc) from exc

    def update(self, row, data):
        """Change the voucher through the vouchers service."""
        try:
            return service.update_voucher(row, self.user, **data)
        except service.VoucherError as exc:
            raise _refused(exc) from exc

    def delete(self, row):
        """Delete the voucher through the vouchers service."""
        service.delete_voucher(row, self.user)
