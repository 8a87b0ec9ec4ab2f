"""Portal requests: the contact's requests, a new one, and each request's thread."""
from flask import render_template
from flask_babel import gettext as _

from app.views.portal import bp


@bp.route("/requests")
def requests():
    """The contact's requests in the current entity."""
    return render_template("portal/requests/index.html", title=_("Requests"))
