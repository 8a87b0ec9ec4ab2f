"""Portal notifications: the contact's bell list, mark read, open the object."""
from flask import render_template
from flask_babel import gettext as _

from app.views.portal import bp


@bp.route("/notifications")
def notifications():
    """The contact's in-app notifications, newest first."""
    return render_template("portal/bells/index.html", title=_("Notifications"))
