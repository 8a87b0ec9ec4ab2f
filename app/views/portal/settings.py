"""Portal settings: profile, notification preferences, security (e-mails, PIN, trusted browsers)."""
from flask import render_template
from flask_babel import gettext as _

from app.views.portal import bp


@bp.route("/settings")
def settings():
    """The contact's settings."""
    return render_template("portal/settings/index.html", title=_("Settings"))
