"""Staff screens for tax vouchers: the list (overdue unpaid due dates in red, who marked a voucher paid
and when), add/edit with the voucher rules, and the CSV import of a season's vouchers."""
from datetime import date

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, DatePickerWidget, Select2Widget
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy.orm import joinedload
from wtforms import DateField, FileField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, StopValidation, ValidationError

from app.extensions import db
from app.models import Entity, TaxVoucher
from app.models.vouchers import VOUCHER_STATUS_LABELS, VoucherStatus
from app.security import access
from app.security import roles as R
from app.services import voucher_import
from app.formats import money
from app.services import vouchers as service
from app.views.base import BulkDeleteMixin, EnumSelectField, SafeInterface, ScopedModelView, in_scope, parse_pk
from app.views.choices import ChoicesField


def _blank(value):
    """Empty cells instead of "None"."""
    return "" if value is None else value


def due_html(voucher):
    """The due date, in red with "overdue" when it has passed on an unpaid voucher."""
    if voucher.status is VoucherStatus.unpaid and voucher.due_date < date.today():
        return Markup('<span class="text-danger"><strong>{}</strong> ({})</span>').format(
            voucher.due_date.isoformat(), _("overdue"))
    return voucher.due_date.isoformat()


class VoucherInterface(SafeInterface):
    """SafeInterface whose list values render the due date in red when overdue (a formatter sees only
    the value, and this needs the status too)."""

    COMPUTED = {"due_date": due_html}

    def get_values(self, lst, list_columns):
        """FAB's list values, with the computed columns."""
        for item in lst:
            yield {col: self.COMPUTED[col](item) if col in self.COMPUTED else self._get_attr_value(item, col)
                   for col in list_columns}


class AmountField(StringField):
    """An amount typed as text and read as Decimal by the voucher rules (never through float)."""

    widget = BS3TextFieldWidget()

    def process_formdata(self, valuelist):
        """Parse the posted text; a refusal becomes the field's error."""
        if valuelist:
            try:
                self.data = service.parse_amount(valuelist[0])
            except service.VoucherError as exc:
                self.data = None
                raise ValueError(str(exc))

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return f"{self.data:.2f}" if self.data is not None else ""


class PaymentUrl:
    """The payment link must pass the same check as the portal's Pay."""

    def __call__(self, form, field):
        try:
            field.data = service.check_payment_url(field.data)
        except service.VoucherError as exc:
            raise ValidationError(str(exc))


class PaidOn:
    """Optional on an unpaid voucher; a paid one needs its payment date (not in the future, not long
    before the due date). Replaces Optional(), which would wipe this check's error."""

    def __call__(self, form, field):
        empty = not (field.raw_data and field.raw_data[0].strip())
        if form.status.data is not VoucherStatus.paid and empty:
            field.errors[:] = []
            raise StopValidation()
        if form.status.data is not VoucherStatus.paid or (field.data is None and not empty):
            return  # a date that does not parse keeps its own error
        try:
            service.check_paid_on(field.data, form.due_date.data if "due_date" in form else None)
        except service.VoucherError as exc:
            field.errors[:] = []
            raise StopValidation(str(exc))


class ImportForm(FlaskForm):
    """Which entity, and the CSV file."""

    entity = ChoicesField(_l("Entity"), [DataRequired()], model=Entity, action=R.WORK, endpoint="TaxVoucherView",
                          form_kind="import", allow_blank=False)
    file = FileField(_l("CSV file"), validators=[DataRequired(message=_l("Choose a CSV file."))])


class TaxVoucherView(BulkDeleteMixin, ScopedModelView):
    """Tax vouchers per entity."""

    extra_choice_forms = {"import": ("can_import_csv", {"entity": (Entity, R.WORK)})}
    datamodel = VoucherInterface(TaxVoucher, eager=[joinedload(TaxVoucher.entity),
                                                    joinedload(TaxVoucher.marked_paid_by)])
    list_title = _l("Tax vouchers")
    show_title = _l("Tax voucher")
    add_title = _l("Add tax voucher")
    edit_title = _l("Edit tax voucher")
    list_template = "portico/vouchers/list.html"
    edit_right = R.WORK
    delete_right = R.WORK
    action_rights = {"muldelete": R.WORK}
    label_columns = {
        "entity": _l("Entity"), "tax_year": _l("Tax year"), "authority": _l("Authority"),
        "form_period": _l("Form / period"), "amount": _l("Amount"), "due_date": _l("Due date"),
        "payment_url": _l("Payment link"), "status": _l("Status"), "status_label": _l("Status"),
        "paid_on": _l("Paid on"), "confirmation_number": _l("Confirmation number"),
        "marked_paid_by": _l("Marked paid by"), "marked_paid_at": _l("Marked paid at"), "created_on": _l("Added on"),
    }
    list_columns = ["entity", "tax_year", "authority", "form_period", "amount", "due_date", "status_label",
                    "paid_on", "confirmation_number", "marked_paid_by", "marked_paid_at"]
    show_columns = ["entity", "tax_year", "authority", "form_period", "amount", "due_date", "payment_url",
                    "status_label", "paid_on", "confirmation_number", "marked_paid_by", "marked_paid_at", "created_on"]
    add_columns = ["entity", "tax_year", "authority", "form_period", "amount", "due_date", "payment_url", "status",
                   "paid_on", "confirmation_number"]
    edit_columns = add_columns[1:]  # a voucher stays with its entity
    search_columns = ["entity", "status", "due_date", "tax_year", "authority", "form_period"]
    order_columns = ["tax_year", "authority", "form_period", "amount", "due_date", "paid_on", "marked_paid_at"]
    base_order = ("due_date", "asc")
    validators_columns = {
        "tax_year": [DataRequired(), NumberRange(min=2000, max=2100)],
        "authority": [DataRequired(), Length(max=100)],
        "form_period": [DataRequired(), Length(max=50)],
        "payment_url": [Optional(), Length(max=500), PaymentUrl()],
        "confirmation_number": [Optional(), Length(max=100)],
    }
    add_form_extra_fields = {
        "amount": AmountField(_l("Amount"), description=_l("Like 1234.50 (a point before the cents).")),
        "status": EnumSelectField(_l("Status"), VoucherStatus, VOUCHER_STATUS_LABELS, widget=Select2Widget(),
                                  default=VoucherStatus.unpaid),
        "due_date": DateField(_l("Due date"), widget=DatePickerWidget(), validators=[DataRequired()]),
        "paid_on": DateField(_l("Paid on"), widget=DatePickerWidget(), validators=[PaidOn()]),
    }
    edit_form_extra_fields = add_form_extra_fields
    search_form_extra_fields = {
        "status": EnumSelectField(_l("Status"), VoucherStatus, VOUCHER_STATUS_LABELS, widget=Select2Widget()),
    }
    add_form_query_rel_fields = {"entity": in_scope(R.WORK)}
    search_form_query_rel_fields = {"entity": in_scope(R.VIEW)}
    description_columns = {
        "payment_url": _l("Where the client pays: https, on one of the firm's payment hosts (Firm settings)."),
        "status": _l("Setting a voucher back to Unpaid clears its payment date, confirmation number and who "
                     "marked it paid."),
    }
    formatters_columns = {
        "amount": money, "paid_on": _blank, "confirmation_number": _blank, "payment_url": _blank,
        "marked_paid_by": _blank, "marked_paid_at": lambda at: at.strftime("%Y-%m-%d %H:%M") if at else "",
    }

    def _add(self):
        """A posted entity outside the user's scope is 404, one they may not work on 403."""
        if request.method == "POST" and request.form.get("entity"):
            self._workable_entity(request.form.get("entity"))
        return super()._add()

    def pre_add(self, item):
        """The voucher rules; the user must work on the entity (defence beyond the choices)."""
        if not access.can(current_user, R.WORK, item.entity):
            raise PermissionError(_("You may not add vouchers to this entity."))
        service.prepare(item, current_user)

    def pre_update(self, item):
        """The voucher rules (who marked it paid is recorded when it turns paid)."""
        service.prepare(item, current_user)

    def post_add(self, item):
        """A voucher added as paid goes to the activity log."""
        service.saved(item, current_user)

    post_update = post_add

    def _workable_entity(self, raw_id):
        entity = db.session.scalar(access.visible(current_user, Entity).where(Entity.id == parse_pk(raw_id)))
        if entity is None:
            abort(404)
        if not access.can(current_user, R.WORK, entity):
            abort(403)
        return entity

    @expose("/import", methods=["GET", "POST"])
    @has_access
    def import_csv(self):
        """Import a season's vouchers from CSV: every row checked, all or nothing."""
        if request.method == "POST" and request.form.get("entity"):
            self._workable_entity(request.form.get("entity"))
        form, errors = ImportForm(), []
        if form.validate_on_submit():
            try:
                count = voucher_import.import_csv(form.entity.data, request.files.get("file"), current_user)
            except voucher_import.ImportRefused as exc:
                errors = exc.errors
            else:
                flash(ngettext("Imported %(num)d voucher for %(entity)s.", "Imported %(num)d vouchers for %(entity)s.", count,
                               entity=form.entity.data.name), "success")
                return redirect(url_for(".list"))
        return self.render_template("portico/vouchers/import.html", form=form, errors=errors,
                                    columns=voucher_import.SPEC.columns, max_rows=voucher_import.SPEC.max_rows,
                                    title=_("Import tax vouchers from CSV"))
