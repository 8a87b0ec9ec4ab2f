"""Portal home: recent activity, pending and completed tasks, "Send files to the firm", the firm's
contact block; and the entity switch for contacts of several entities."""
from datetime import date

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from app.services.portal import home as portal_home
from app.views.portal import bp, may_contribute, use_entity
from app.views.portal.forms import BlankForm
from app.views.portal.tasks import chosen_files, refuse, save_files, upload_answer, upload_settings
from app.web import page_cache

NOTE_MAX = 2000


class SendFilesForm(FlaskForm):
    """A note that goes with the files sent to the firm."""

    note = TextAreaField(_l("Note for the firm (optional)"), validators=[
        Length(max=NOTE_MAX, message=_l("The note can be at most %(max)d characters long."))])


@bp.route("/")
@page_cache.cacheable
def home():
    """The contact's dashboard for the current entity."""
    entity = g.entity
    if entity is None:
        return render_template("portal/home.html", title=_("Home"))
    return render_template(
        "portal/home.html", title=_("Home"), today=date.today(),
        recent=portal_home.recent_activity(current_user, entity), describe=portal_home.describe,
        can_send=may_contribute(entity), send_form=SendFilesForm(), upload=upload_settings(),
        **portal_home.task_lists(current_user, entity))


@bp.route("/send-files", methods=["POST"])
def send_files():
    """Files (and a note) sent to the firm: they land in the entity's Inbox folder."""
    # The form names its entity, so a switch in another tab cannot send files to the wrong client.
    entity = use_entity(request.form.get("entity_id", type=int)) if request.form.get("entity_id") else g.entity
    if entity is None:
        return redirect(url_for("portal.home"))
    if not may_contribute(entity):
        return refuse(_("Your access lets you read and reply, not send files."))
    back = url_for("portal.home", _anchor="send-files")
    form = SendFilesForm()
    files = chosen_files()
    if not form.validate():
        return upload_answer([], form.note.errors, 400, back)
    if not files:
        return upload_answer([], [_("Choose at least one file.")], 400, back)
    saved, errors, status = save_files(
        files, lambda f: portal_home.send_file(entity, current_user, f, form.note.data))
    return upload_answer(saved, errors, status, back)


@bp.route("/entity", methods=["POST"])
def switch_entity():
    """Make another of the contact's entities the current one."""
    if BlankForm().validate_on_submit():
        use_entity(request.form.get("entity_id", type=int))
    return redirect(url_for("portal.home"))
