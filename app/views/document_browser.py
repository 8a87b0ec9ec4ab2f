"""The per-entity document browser: folder tree, multi-file upload, folders, new versions."""
import math

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import FileField, HiddenField, MultipleFileField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.extensions import db
from app.models import Document, Entity, Folder
from app.models.documents import DIRECTION_LABELS, VISIBILITY_LABELS, Direction, Visibility, human_size
from app.security import access
from app.security import guard
from app.security import roles as R
from app.services import documents as document_service
from app.services.filetypes import UploadRefused
from app.services.firm import get_settings
from app.views.base import parse_pk


class UploadForm(FlaskForm):
    """Files to add to a folder, with who they are from and who may see them."""

    files = MultipleFileField(_l("Files"), validators=[DataRequired()])
    folder_id = HiddenField()
    visibility = SelectField(_l("Visibility"), choices=[(v.name, VISIBILITY_LABELS[v]) for v in Visibility])
    direction = SelectField(_l("From"), choices=[(d.name, DIRECTION_LABELS[d]) for d in Direction])


class VersionForm(FlaskForm):
    """A new version of one document."""

    file = FileField(_l("File"), validators=[DataRequired()])


class FolderForm(FlaskForm):
    """A folder name (new folder or rename)."""

    name = StringField(_l("Folder name"), validators=[DataRequired(), Length(max=120)])
    parent_id = HiddenField()


class MoveForm(FlaskForm):
    """Where a folder goes (empty = top level)."""

    parent_id = HiddenField()


class DocumentBrowserView(BaseView):
    """One entity's documents, as a tree of folders."""

    route_base = "/documents"
    default_view = "entity"
    base_permissions = ["can_browse", "can_manage"]
    method_permission_name = {
        "entity": "browse", "upload": "manage", "new_version": "manage", "create_folder": "manage",
        "rename_folder": "manage", "move_folder": "manage", "delete_folder": "manage",
    }

    @expose("/entity/<int:entity_id>")
    @has_access
    def entity(self, entity_id):
        """The browser page for one folder (?folder=id) of one entity."""
        entity = guard.load(current_user, Entity, entity_id)
        tree, folders = document_service.folder_tree(current_user, entity.id)
        folder = _folder_arg(folders, request.args.get("folder", type=int))
        page = max(request.args.get("page", 1, type=int), 1)
        docs, total = document_service.documents_in(current_user, entity.id, folder.id if folder else None, page)
        return self.render_template(
            "portico/documents/browser.html", entity=entity, tree=tree, folder=folder, docs=docs,
            page=page, pages=max(math.ceil(total / 50), 1), total=total, path=_path(folder),
            can_work=access.can(current_user, R.WORK, entity),
            can_request_signatures=access.may_request_signatures(current_user, entity),
            upload_form=UploadForm(folder_id=folder.id if folder else ""),
            folder_form=FolderForm(parent_id=folder.id if folder else ""),
            move_form=MoveForm(), all_folders=sorted(folders.values(), key=lambda f: f.name.lower()),
            max_upload=human_size(get_settings().max_upload_bytes),
        )

    @expose("/entity/<int:entity_id>/upload", methods=["POST"])
    @has_access
    def upload(self, entity_id):
        """Add the uploaded files (each a new document, or a new version of a same-named one)."""
        entity = guard.load(current_user, Entity, entity_id, R.WORK)
        form = UploadForm()
        folder = _own_folder(entity, form.folder_id.data)
        if not form.validate():
            return _answer(entity, folder, [], [_("Choose at least one file.")], 400)
        saved, errors = [], []
        for storage in request.files.getlist("files"):
            try:
                doc = document_service.upload(entity, storage, current_user, folder,
                                              Direction[form.direction.data], Visibility[form.visibility.data])
                saved.append(doc)
            except (UploadRefused, document_service.DocumentError) as exc:
                errors.append(f"{storage.filename}: {exc}")
        return _answer(entity, folder, saved, errors, 400 if errors and not saved else 200)

    @expose("/<int:doc_id>/version", methods=["POST"])
    @has_access
    def new_version(self, doc_id):
        """Upload a new version of one document."""
        doc = guard.load(current_user, Document, doc_id, R.WORK)
        form = VersionForm()
        if not form.validate():
            flash(_("Choose a file."), "danger")
        else:
            try:
                document_service.upload(doc.entity, form.file.data, current_user, doc.folder, doc.direction,
                                        doc.visibility, document=doc)
                flash(_("A new version was added."), "success")
            except (UploadRefused, document_service.DocumentError) as exc:
                flash(str(exc), "danger")
        return redirect(url_for("DocumentView.show", pk=doc.id))

    @expose("/entity/<int:entity_id>/folders", methods=["POST"])
    @has_access
    def create_folder(self, entity_id):
        """Create a folder inside the current one."""
        entity = guard.load(current_user, Entity, entity_id, R.WORK)
        form = FolderForm()
        parent = _own_folder(entity, form.parent_id.data)
        if form.validate():
            _try(lambda: document_service.create_folder(entity, form.name.data, parent, current_user), _("Folder created."))
        return redirect(_browser_url(entity, parent))

    @expose("/folders/<int:folder_id>/rename", methods=["POST"])
    @has_access
    def rename_folder(self, folder_id):
        """Rename a folder."""
        folder = guard.load(current_user, Folder, folder_id, R.WORK)
        form = FolderForm()
        if form.validate():
            _try(lambda: document_service.rename_folder(folder, form.name.data), _("Folder renamed."))
        return redirect(_browser_url(folder.entity, folder))

    @expose("/folders/<int:folder_id>/move", methods=["POST"])
    @has_access
    def move_folder(self, folder_id):
        """Move a folder under another folder of the same entity (or to the top)."""
        folder = guard.load(current_user, Folder, folder_id, R.WORK)
        form = MoveForm()
        if form.validate():
            parent = _own_folder(folder.entity, form.parent_id.data)
            _try(lambda: document_service.move_folder(folder, parent), _("Folder moved."))
        return redirect(_browser_url(folder.entity, folder))

    @expose("/folders/<int:folder_id>/delete", methods=["POST"])
    @has_access
    def delete_folder(self, folder_id):
        """Delete an empty folder."""
        folder = guard.load(current_user, Folder, folder_id, R.WORK)
        entity, parent = folder.entity, folder.parent
        if FlaskForm().validate():
            _try(lambda: document_service.delete_folder(folder, current_user), _("Folder deleted."))
        return redirect(_browser_url(entity, parent))


def _own_folder(entity, raw_id):
    """The folder named by a form field, which must belong to `entity` (else 404)."""
    if not raw_id:
        return None
    folder = db.session.get(Folder, parse_pk(raw_id))  # "²" is a digit to Python; ids stop at 2^63 - 1
    if folder is None or folder.entity_id != entity.id:
        abort(404)
    return folder


def _folder_arg(folders, folder_id):
    if folder_id is None:
        return None
    if folder_id not in folders:
        abort(404)
    return folders[folder_id]


def _path(folder):
    path = []
    while folder is not None:
        path.insert(0, folder)
        folder = folder.parent
    return path


def _browser_url(entity, folder):
    return url_for("DocumentBrowserView.entity", entity_id=entity.id, folder=folder.id if folder else None)


def _try(operation, success):
    try:
        operation()
        flash(success, "success")
    except document_service.DocumentError as exc:
        flash(str(exc), "danger")


def _answer(entity, folder, saved, errors, status):
    """JSON for scripts (upload progress), else flash messages and back to the folder."""
    if request.accept_mimetypes.best == "application/json":
        body = {"saved": [{"id": d.id, "name": d.name, "version": d.version_count} for d in saved],
                "errors": errors}
        return jsonify(body), status
    if saved:
        flash(ngettext("%(num)d file uploaded.", "%(num)d files uploaded.", len(saved)), "success")
    for error in errors:
        flash(error, "danger")
    return redirect(_browser_url(entity, folder))
