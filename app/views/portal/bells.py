"""Portal notifications: the contact's bell list, mark read, open the object.

Lines are written by app.services.presenter, the same as the staff bell and the mails: named and
linked only when the contact may still see the object.
"""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.services import bells, presenter
from app.views.portal import bp
from app.views.portal.forms import BlankForm

LIMIT = 50


def describe(rows):
    """[(row, title, portal link or None)] for the signed-in contact's rows."""
    return presenter.describe(rows, current_user)


@bp.route("/notifications")
def notifications():
    """The contact's in-app notifications, newest first."""
    items = describe(bells.latest(current_user, limit=LIMIT))
    return render_template("portal/bells/index.html", items=items, limit=LIMIT, title=_("Notifications"))


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"])
def open_notification(notification_id):
    """Mark one notification read and go to what it is about (another person's: 404)."""
    if not BlankForm().validate_on_submit():
        abort(400)
    row = bells.mark_read(current_user, notification_id)
    if row is None:
        abort(404)
    described = describe([row])
    url = described[0][2] if described else None
    if url is None:
        flash(_("This item is no longer shared with you."), "info")
        return redirect(url_for("portal.notifications"))
    return redirect(url)


@bp.route("/notifications/read-all", methods=["POST"])
def read_all_notifications():
    """Mark every notification of the contact read."""
    if not BlankForm().validate_on_submit():
        abort(400)
    bells.mark_all_read(current_user)
    flash(_("All notifications are marked as read."), "success")
    return redirect(url_for("portal.notifications"))
