"""Portal notifications: the contact's bell list, mark read, open the object.

The staff bell's describe() points at staff screens and names any object; here a line is named and
linked only when the contact may still see its object (checked through app.security.access), so a
withdrawn task or an unshared entity leaves a neutral line that names nothing.
"""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.models import ClientRequest, Document, Message, Task, TaxVoucher
from app.security import access
from app.services import bells, events
from app.services.notifications import event_title
from app.views.portal import bp
from app.views.portal.forms import BlankForm

LIMIT = 50
_MODELS = {"Task": Task, "ClientRequest": ClientRequest, "Document": Document, "TaxVoucher": TaxVoucher}


def _threads(rows):
    """{row id: (model name, object id)} of what each row leads to (a message leads to its thread)."""
    message_ids = [r.object_id for r in rows if r.object_type == "Message"]
    parents = {}
    if message_ids:
        for mid, task_id, request_id in db.session.execute(select(Message.id, Message.task_id, Message.request_id)
                                                           .where(Message.id.in_(message_ids))):
            parents[mid] = ("Task", task_id) if task_id else ("ClientRequest", request_id)
    return {r.id: parents.get(r.object_id) if r.object_type == "Message" else (r.object_type, r.object_id)
            for r in rows}


def _visible(targets):
    """{(model name, id): object} of the targets the contact may see: one query per model."""
    wanted = {}
    for target in targets:
        if target is not None and target[0] in _MODELS:
            wanted.setdefault(target[0], set()).add(target[1])
    found = {}
    for name, ids in wanted.items():
        model = _MODELS[name]
        for obj in db.session.scalars(access.visible(current_user, model).where(model.id.in_(sorted(ids)))):
            found[(name, obj.id)] = obj
    return found


def _link(name, obj):
    if name == "Task":
        return obj.title, url_for("portal.task", task_id=obj.id)
    if name == "ClientRequest":
        return obj.subject, f"{url_for('portal.home')}requests/{obj.id}"
    if name == "TaxVoucher":  # a reminder names only the due date; amounts stay on the payments page
        return format_date(obj.due_date, "medium"), url_for("portal.payment_summary", day=obj.due_date.isoformat(),
                                                            entity=obj.entity_id)
    return obj.name, url_for("portal.documents")


def describe(rows):
    """[(row, title, portal URL or None)] in a fixed number of queries, whatever the number of rows."""
    targets = _threads(rows)
    visible = _visible(targets.values())
    described = []
    for row in rows:
        obj = visible.get(targets[row.id])
        if obj is None:
            gone = _("A task was withdrawn") if row.event == events.TASK_WITHDRAWN else \
                _("This item is no longer shared with you")
            described.append((row, gone, None))
        else:
            name, url = _link(targets[row.id][0], obj)
            described.append((row, event_title(row.event, name), url))
    return described


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
    _row, _title, url = describe([row])[0]
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
