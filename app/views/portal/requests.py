"""Portal requests: the contact's requests, a new one, and each request's thread with a reply.

Creating a request or sending files needs Entity Collaborator (access.can CONTRIBUTE); reading and
replying in text is open to every contact who raised the request.
"""
from flask import flash, g, redirect, render_template, request, url_for
from flask_appbuilder.security.sqla.models import User
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import MultipleFileField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.extensions import db
from app.models import ClientRequest, Contact, MessageKind, RequestStatus, Task
from app.models.documents import human_size
from app.security import access, guard
from app.services import messages as message_service
from app.services.portal import documents as portal_documents
from app.services import requests as request_service
from app.services.documents import DocumentError
from app.services.filetypes import UploadRefused
from app.services.firm import get_settings
from app.storage import TooLarge
from app.views.portal import bp, may_contribute, use_entity
from app.web import page_cache

PER_PAGE = 25
THREAD_PAGE = 50  # the latest messages shown unless the contact asks for the whole thread


class RequestForm(FlaskForm):
    """A new request: subject, message and optional files. Nothing else is read from the post."""

    subject = StringField(_l("Subject"), validators=[DataRequired(message=_l("Write a subject.")), Length(max=200)])
    body = TextAreaField(_l("Message"), validators=[DataRequired(message=_l("Write a message.")),
                                                    Length(max=message_service.MAX_BODY)])
    files = MultipleFileField(_l("Files (optional)"))


class ReplyForm(FlaskForm):
    """A reply on a request's thread (files only for Entity Collaborators)."""

    body = TextAreaField(_l("Your reply"), validators=[DataRequired(message=_l("Write a message first.")),
                                                       Length(max=message_service.MAX_BODY)])
    files = MultipleFileField(_l("Files (optional)"))


@bp.route("/requests")
@page_cache.cacheable
def requests():
    """The contact's requests in the current entity, newest first."""
    if g.entity is None:
        return render_template("portal/requests/index.html", title=_("Requests"), items=[], total=0, page=1,
                               pages=1, visible_tasks=set(), can_create=False)
    where = [access.scope(current_user, ClientRequest), ClientRequest.entity_id == g.entity.id]
    total = db.session.scalar(select(func.count(ClientRequest.id)).where(*where))
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    items = db.session.scalars(
        select(ClientRequest).where(*where).order_by(ClientRequest.created_on.desc(), ClientRequest.id.desc())
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return render_template("portal/requests/index.html", title=_("Requests"), items=items, total=total, page=page,
                           pages=pages, visible_tasks=_visible_tasks(items), can_create=may_contribute())


@bp.route("/requests/new", methods=["GET", "POST"])
def request_new():
    """Ask the firm something, with files (Entity Collaborators only; others get a 403 that says why)."""
    if not may_contribute():
        return render_template("portal/requests/not_allowed.html", title=_("New request")), 403
    form = RequestForm()
    error = None
    if form.validate_on_submit():
        try:
            item = request_service.create_request(g.entity, g.contact, current_user, form.subject.data,
                                                  form.body.data, _files(form))
        except (request_service.RequestError, UploadRefused, DocumentError, TooLarge) as exc:
            db.session.rollback()
            error = _upload_error(exc)
        else:
            flash(_("Your request was sent to %(firm)s.", firm=get_settings().firm_name), "success")
            return redirect(url_for("portal.request", request_id=item.id))
    status = 400 if form.is_submitted() else 200
    return render_template("portal/requests/new.html", title=_("New request"), form=form, error=error,
                           max_upload=human_size(get_settings().max_upload_bytes)), status


@bp.route("/requests/<int:request_id>", endpoint="request")
@page_cache.cacheable
def request_page(request_id):
    """One request: subject, message, files and the conversation, with a reply form."""
    item = guard.load(current_user, ClientRequest, request_id)
    use_entity(item.entity_id)
    return _show(item, ReplyForm(formdata=None))


@bp.route("/requests/<int:request_id>/reply", methods=["POST"])
def request_reply(request_id):
    """Add the contact's reply (and files, for Entity Collaborators) to the request's thread."""
    item = guard.load(current_user, ClientRequest, request_id)
    use_entity(item.entity_id)
    form = ReplyForm()
    files = _files(form)
    if files and not may_contribute():
        return render_template("portal/requests/not_allowed.html", title=_("Send files"), files=True), 403
    if item.status is RequestStatus.converted:
        flash(_("This request became a task; the conversation continues there."), "warning")
        return redirect(url_for("portal.request", request_id=item.id))
    if not form.validate():
        return _show(item, form, status=400)
    try:
        message_service.post_with_files(item, current_user, form.body.data, MessageKind.portal, files)
    except (message_service.MessageError, TooLarge) as exc:
        db.session.rollback()
        return _show(item, form, error=_upload_error(exc), status=400)
    flash(_("Your message was sent."), "success")
    return redirect(url_for("portal.request", request_id=item.id) + "#thread")


def _files(form):
    """The uploaded files of the form (a file input left empty sends a part without a name)."""
    return [f for f in (form.files.data or []) if f and f.filename]


def _upload_error(exc):
    """The message for a refused request or reply; nothing of it was kept."""
    if isinstance(exc, TooLarge):
        return _("A file is larger than the %(size)s limit. Nothing was saved; choose smaller files.",
                 size=human_size(get_settings().max_upload_bytes))
    return _("%(reason)s Nothing was saved.", reason=str(exc))


def _visible_tasks(items):
    """Ids of the tasks the requests were converted into that the contact may open (one query)."""
    ids = [item.task_id for item in items if item.task_id is not None]
    return set(db.session.scalars(select(Task.id).where(access.scope(current_user, Task), Task.id.in_(ids))))


def _show(item, form, error=None, status=200):
    """The request page: a fixed number of queries whatever the length of the thread."""
    thread = message_service.thread_messages(item, current_user)
    show_all = request.args.get("all") == "1"
    shown = thread if show_all else thread[-THREAD_PAGE:]
    files = portal_documents.message_documents(current_user,
                                               portal_documents.visible_message_ids(current_user, item.id))
    return render_template(
        "portal/requests/show.html", title=item.subject, item=item, form=form, error=error, messages=shown,
        hidden=len(thread) - len(shown), files=files, authors=_authors(shown),
        attachments=portal_documents.request_documents(current_user, item.id),
        task_visible=item.task_id in _visible_tasks([item]), can_send_files=may_contribute(item.entity),
        max_upload=human_size(get_settings().max_upload_bytes),
    ), status


def _authors(messages):
    """{("contact"|"user", id): display name} for the authors of `messages` (two queries)."""
    contact_ids = {m.author_contact_id for m in messages if m.author_contact_id}
    user_ids = {m.author_user_id for m in messages if m.author_user_id}
    contacts = db.session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))
    users = db.session.scalars(select(User).where(User.id.in_(user_ids)))
    names = {("contact", c.id): c.full_name for c in contacts}
    names.update({("user", u.id): f"{u.first_name} {u.last_name}".strip() for u in users})
    return names
