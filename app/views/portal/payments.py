"""Portal tax payments (placeholder until the payments pages land)."""
from flask import render_template
from flask_babel import gettext as _

from app.views.portal import bp


@bp.route("/payments")
def payments():
    """The current entity's tax vouchers grouped by due date."""
    return render_template("portal/payments/index.html", title=_("Tax payments"))
