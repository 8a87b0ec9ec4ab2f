"""Portal "Distribute K-1s": the current entity's partners with their delivery status; Entity
Collaborators send, resend and revoke the guest links (Entity Access contacts only read).

Only partners of the current entity are ever touched: one foreign id in a request fails it whole
with 404. Staff-only K-1 documents are never named here (only whether a partner has a K-1).
"""
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select

from app.extensions import db
from app.models import K1Recipient, K1Status
from app.models.k1 import K1_STATUS_LABELS
from app.security import access
from app.services import k1 as k1_service
from app.views.base import parse_pk
from app.views.portal import bp, may_contribute
from app.views.portal.forms import BlankForm

PER_PAGE = 100
MAX_SELECTED = 1000


def _where():
    return [access.scope(current_user, K1Recipient), K1Recipient.entity_id == g.entity.id]


@bp.route("/k1")
def k1():
    """The current entity's partners and their K-1 delivery status."""
    if g.entity is None:
        return render_template("portal/k1/index.html", title=_("Distribute K-1s"), items=[], counts={}, total=0,
                               page=1, pages=1, select_all=False, can_send=False, labels=K1_STATUS_LABELS)
    counts = dict(db.session.execute(
        select(K1Recipient.status, func.count(K1Recipient.id)).where(*_where()).group_by(K1Recipient.status)
    ).all())
    total = sum(counts.values())
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    items = db.session.scalars(
        select(K1Recipient).where(*_where()).order_by(K1Recipient.name, K1Recipient.id)
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return render_template("portal/k1/index.html", title=_("Distribute K-1s"), items=items, counts=counts,
                           total=total, page=page, pages=pages, select_all=request.args.get("select") == "all",
                           can_send=may_contribute(), labels=K1_STATUS_LABELS, now=k1_service._now(),
                           form=BlankForm(), statuses=list(K1Status))


def _allowed():
    """Sending and revoking need Entity Collaborator on the current entity (403 otherwise); CSRF is checked."""
    if g.entity is None or not may_contribute():
        abort(403)
    if not BlankForm().validate_on_submit():
        abort(400)


def _recipients(ids):
    """The partners `ids` of the current entity; 404 if any id is not one of them."""
    if len(ids) > MAX_SELECTED:
        abort(400)
    wanted = {parse_pk(raw) for raw in ids}
    found = db.session.scalars(select(K1Recipient).where(*_where(), K1Recipient.id.in_(wanted))
                               .order_by(K1Recipient.name, K1Recipient.id)).all() if wanted else []
    if len(found) != len(wanted):
        abort(404)
    return found


def _send(recipients):
    try:
        sent = k1_service.distribute(recipients, current_user)
    except k1_service.K1Error as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        flash(ngettext("Sent to %(num)d partner. They get a mail with a link to their own K-1; the access code "
                       "comes in a separate mail when they open it.",
                       "Sent to %(num)d partners. Each gets a mail with a link to their own K-1; the access code "
                       "comes in a separate mail when they open it.", sent), "success")


@bp.route("/k1/distribute", methods=["POST"])
def k1_distribute():
    """Send the selected partners a new link each (their old links stop working)."""
    _allowed()
    recipients = _recipients(request.form.getlist("recipient_id"))
    if not recipients:
        flash(_("Select at least one partner."), "warning")
    else:
        _send(recipients)
    return redirect(url_for("portal.k1"))


@bp.route("/k1/<recipient_id>/resend", methods=["POST"])
def k1_resend(recipient_id):
    """Send one partner a new link (the old one stops working)."""
    _allowed()
    _send(_recipients([recipient_id]))
    return redirect(url_for("portal.k1"))


@bp.route("/k1/<recipient_id>/revoke", methods=["POST"])
def k1_revoke(recipient_id):
    """Make one partner's link stop working now."""
    _allowed()
    recipient = _recipients([recipient_id])[0]
    try:
        k1_service.revoke(recipient, current_user)
        flash(_("The link of %(name)s no longer works. Use Resend to give them a new one.",
                name=recipient.name), "success")
    except k1_service.K1Error as exc:
        flash(str(exc), "warning")
    return redirect(url_for("portal.k1"))
