"""Portal home: recent activity, pending and completed tasks, "Send files to the firm", the firm's
contact block; and the entity switch for contacts of several entities."""
from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.views.portal import bp, use_entity
from app.views.portal.forms import BlankForm


@bp.route("/")
def home():
    """The contact's dashboard for the current entity."""
    return render_template("portal/home.html", title=_("Home"))


@bp.route("/entity", methods=["POST"])
def switch_entity():
    """Make another of the contact's entities the current one."""
    if BlankForm().validate_on_submit():
        use_entity(request.form.get("entity_id", type=int))
    return redirect(url_for("portal.home"))
