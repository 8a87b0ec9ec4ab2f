"""Staff screens for tax vouchers (placeholder until the vouchers screens land)."""
from flask import abort
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l

from app.models import TaxVoucher
from app.views.base import BulkDeleteMixin, SafeInterface, ScopedModelView


class TaxVoucherView(BulkDeleteMixin, ScopedModelView):
    """Tax vouchers per entity."""

    datamodel = SafeInterface(TaxVoucher)
    list_title = _l("Tax vouchers")
    list_columns = ["entity", "form_period", "amount", "due_date", "status"]

    @expose("/import", methods=["GET", "POST"])
    @has_access
    def import_csv(self):
        """Import a season's vouchers from CSV."""
        abort(404)
