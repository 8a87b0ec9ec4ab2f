"""Portal K-1 distribution (placeholder until the K-1 pages land)."""
from flask import render_template
from flask_babel import gettext as _

from app.views.portal import bp


@bp.route("/k1")
def k1():
    """The current entity's partners and their K-1 delivery status."""
    return render_template("portal/k1/index.html", title=_("Distribute K-1s"))
