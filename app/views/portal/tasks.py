"""Portal task page: description, checklist, files, thread, reply, uploads, mark as done.

The task comes through the access scope (a withdrawn, unassigned or someone else's task is 404).
Views only read the form and delegate to app.services.portal.tasks; form fields other than the
ones read here (kind, entity_id, author…) are ignored.
"""
from datetime import date

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.security import guard
from app.models import ChecklistItem, Task
from app.models.documents import human_size
from app.services import documents, messages, organizers, tasks
from app.services.portal import tasks as portal_tasks
from app.services.filetypes import ALLOWED, UploadRefused
from app.services.firm import get_settings
from app.storage import TooLarge
from app.views.base import older_than
from app.views.portal import bp, may_contribute, use_entity
from app.web import page_cache


class ReplyForm(FlaskForm):
    """A message to the firm on the task, with optional files."""

    body = TextAreaField(_l("Your message"), id="reply-body", validators=[
        DataRequired(message=_l("Write a message first.")),
        Length(max=messages.MAX_BODY, message=_l("A message can be at most %(max)d characters long."))])
    files = MultipleFileField(_l("Attach files (optional)"), id="reply-files")


def upload_settings():
    """What upload forms show and what upload.js checks before sending: the limit, the allowed
    extensions and the messages (with "{name}" for the file's name)."""
    limit = get_settings().max_upload_bytes
    extensions = sorted({ext for kind in ALLOWED.values() for ext in kind.extensions})
    size = human_size(limit)
    return {
        "max_bytes": limit, "max_label": size, "extensions": extensions,
        "accept": ",".join("." + ext for ext in extensions),
        "msg_too_large": _("“%(name)s” is larger than the %(size)s limit and was not sent.",
                           name="{name}", size=size),
        "msg_type": _("“%(name)s” is not a type of file we accept. Allowed: PDF, images, Office and OpenDocument "
                      "files, CSV, TXT and ZIP.", name="{name}"),
        "msg_empty": _("“%(name)s” is empty.", name="{name}"),
        "msg_failed": _("“%(name)s” was not sent.", name="{name}"),
        "msg_network": _("“%(name)s” was not sent: the connection failed. Try again.", name="{name}"),
        "msg_sent": _("Sent"), "msg_waiting": _("Waiting"), "msg_sending": _("Sending…"),
        "msg_none": _("Choose at least one file."),
        "msg_some_failed": _("Some files were not sent. The others were saved."),
        "msg_all_sent": _("All files were sent."),
    }


def too_large_message(name):
    """The over-the-limit message for one file."""
    return _("%(name)s: the file is larger than the %(size)s limit and was not saved.",
             name=name, size=human_size(get_settings().max_upload_bytes))


def wants_json():
    """Whether the caller is a script (upload progress) that reads JSON answers."""
    return request.accept_mimetypes.best == "application/json"


def refuse(message):
    """403 for a known action the contact may not take: JSON for scripts, else the portal's 403 page."""
    if wants_json():
        return jsonify({"errors": [message]}), 403
    abort(403)


def save_files(files, save_one):
    """Run `save_one(file)` for each uploaded file; returns (saved documents, errors, status)."""
    saved, errors, too_large = [], [], False
    for storage in files:
        try:
            saved.append(save_one(storage))
        except TooLarge:
            too_large = True
            errors.append(too_large_message(storage.filename))
        except (UploadRefused, documents.DocumentError, tasks.TaskError) as exc:
            errors.append(f"{storage.filename}: {exc}")
    status = 200 if saved or not errors else (413 if too_large else 400)
    return saved, errors, status


def upload_answer(saved, errors, status, back):
    """JSON for upload.js, else flash messages and back to the page."""
    if wants_json():
        return jsonify({"saved": [{"id": d.id, "name": d.name} for d in saved], "errors": errors}), status
    if saved:
        flash(ngettext("%(num)d file sent.", "%(num)d files sent.", len(saved)), "success")
    for error in errors:
        flash(error, "error")
    return redirect(back)


def chosen_files():
    """The non-empty files of the form's "files" field."""
    return [f for f in request.files.getlist("files") if f and f.filename]


def _task(task_id):
    row = guard.load(current_user, Task, task_id)
    use_entity(row.entity_id)
    return row


def _render(row, reply_form=None, status=200):
    data = portal_tasks.page(row, current_user, older_than())
    data["organizer"] = organizers.for_task(row)
    return render_template(
        "portal/tasks/show.html", task=row, title=row.title, can_upload=may_contribute(row.entity), today=date.today(),
        reply_form=reply_form or ReplyForm(), upload=upload_settings(),
        author_name=portal_tasks.author_name, **data), status


@bp.route("/tasks/<int:task_id>")
@page_cache.cacheable
def task(task_id):
    """One task assigned to the contact."""
    row = _task(task_id)
    portal_tasks.record_opened(row, current_user)
    return _render(row)


@bp.route("/tasks/<int:task_id>/checklist/<int:item_id>", methods=["POST"])
def task_tick(task_id, item_id):
    """Tick (done=1) or untick one checklist line."""
    row = _task(task_id)
    item = guard.load(current_user, ChecklistItem, item_id)
    if item.task_id != row.id:
        abort(404)
    try:
        tasks.tick(item, current_user, request.form.get("done") == "1")
    except tasks.TaskError:
        abort(403)
    return redirect(url_for("portal.task", task_id=row.id, _anchor=f"item-{item.id}"))


@bp.route("/tasks/<int:task_id>/reply", methods=["POST"])
def task_reply(task_id):
    """A portal message to the firm on this task (files need the right to add files)."""
    row = _task(task_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _render(row, form, 400)
    try:
        portal_tasks.reply(row, current_user, form.body.data, chosen_files())
    except PermissionError:
        abort(403)
    except TooLarge as exc:
        form.files.errors = [too_large_message(getattr(exc, "filename", None) or _("One of the files"))]
        return _render(row, form, 413)
    except messages.MessageError as exc:
        form.body.errors = [str(exc)]
        return _render(row, form, 400)
    flash(_("Your message was sent."), "success")
    return redirect(url_for("portal.task", task_id=row.id, _anchor="thread"))


@bp.route("/tasks/<int:task_id>/files", methods=["POST"])
def task_upload(task_id):
    """Files for the task (one per script request, or several from the plain form)."""
    row = _task(task_id)
    if not may_contribute(row.entity):
        return refuse(_("Your access lets you read and reply, not add files."))
    files = chosen_files()
    back = url_for("portal.task", task_id=row.id, _anchor="files")
    if not files:
        return upload_answer([], [_("Choose at least one file.")], 400, back)
    saved, errors, status = save_files(files, lambda f: portal_tasks.upload(row, g.contact, current_user, f))
    return upload_answer(saved, errors, status, back)


@bp.route("/tasks/<int:task_id>/done", methods=["POST"])
def task_done(task_id):
    """Mark the task as done on the client's side."""
    row = _task(task_id)
    try:
        portal_tasks.complete(row, g.contact, current_user)
        flash(_("The task is marked as done. The firm can see it."), "success")
    except tasks.TaskError as exc:
        flash(str(exc), "warning")
    return redirect(url_for("portal.task", task_id=row.id))
