"""The file request wizard: entity → recipients (who may upload) → what to send → Complete."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from app.extensions import db
from app.models import Contact, Document, Entity
from app.models.documents import Visibility
from app.security import access
from app.security import roles as R
from app.services import file_requests as file_request_service
from app.services.firm import get_settings
from app.services.tasks import TaskError
from app.views.base import parse_pk


class FileRequestView(BaseView):
    """Ask a client's contacts for files, optionally to update an existing document."""

    route_base = "/file-requests"
    base_permissions = ["can_new"]

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        """Step 1 without ?entity=: pick the entity; with it: recipients, message and file, then send."""
        entity_id = request.values.get("entity")
        if not entity_id:
            entities = db.session.scalars(access.visible(current_user, Entity, R.WORK).order_by(Entity.name)).all()
            return self.render_template("portico/file_requests/choose_entity.html", entities=entities,
                                        title=_("New file request"))
        entity = db.session.scalar(access.visible(current_user, Entity).where(Entity.id == parse_pk(entity_id)))
        if entity is None:
            abort(404)
        if not access.can(current_user, R.WORK, entity):
            abort(403)
        if request.method == "POST" and FlaskForm().validate():
            task = self._send(entity)
            if task is not None:
                return redirect(url_for("TaskView.show", pk=task.id))
        documents = db.session.scalars(access.visible(current_user, Document).where(
            Document.entity_id == entity.id, Document.visibility == Visibility.portal).order_by(Document.name)).all()
        return self.render_template(
            "portico/file_requests/new.html", entity=entity, documents=documents, form=request.form,
            recipients=file_request_service.recipients(entity), title=_("New file request"),
            detailed=get_settings().detailed_notifications)

    def _send(self, entity):
        chosen = {parse_pk(v) for v in request.form.getlist("recipients")}
        contacts = db.session.scalars(db.select(Contact).where(Contact.id.in_(chosen))).all() if chosen else []
        update = None
        if request.form.get("update_document"):
            update = db.session.scalar(access.visible(current_user, Document).where(
                Document.id == parse_pk(request.form["update_document"]), Document.entity_id == entity.id))
            if update is None:
                abort(404)
        new_file = request.files.get("new_file") if request.files.get("new_file") else None
        try:
            task = file_request_service.create(
                entity, current_user, contacts, request.form.get("subject", "").strip(),
                description=request.form.get("description") or None,
                additional_message=request.form.get("additional_message") or None,
                update_document=update, new_file=new_file)
        except (TaskError, ValueError) as exc:
            flash(str(exc), "danger")
            return None
        flash(_("The file request was sent."), "success")
        return task
