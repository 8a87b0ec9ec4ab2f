"""Staff screens for documents: the firm-wide list, a document's page, and file serving."""
from flask import abort, redirect, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload
from wtforms.validators import DataRequired, Length, Optional

from app.extensions import db
from app.models import Document
from app.models.documents import (
    DIRECTION_LABELS,
    STATUS_LABELS,
    VISIBILITY_LABELS,
    Direction,
    DocumentStatus,
    Visibility,
)
from app.security import access
from app.security import roles as R
from app.services import documents as document_service
from app.services.filetypes import ALLOWED
from app.views.base import BulkDeleteMixin, EnumSelectField, SafeInterface, ScopedModelView, in_scope
from app.web.downloads import send_version


class DocumentView(BulkDeleteMixin, ScopedModelView):
    """Every document the user may see, across entities: search, filter, sort, edit."""

    datamodel = SafeInterface(Document, eager=[joinedload(Document.entity), joinedload(Document.folder)])
    base_permissions = ["can_list", "can_show", "can_edit", "can_delete", "muldelete", "share", "unshare"]
    list_title = _l("Documents")
    show_title = _l("Document")
    edit_title = _l("Edit document")
    show_template = "portico/document_show.html"
    edit_right = R.WORK
    delete_right = R.WORK
    action_rights = {"muldelete": R.WORK, "share": R.WORK, "unshare": R.WORK}
    label_columns = {
        "name": _l("Name"), "entity": _l("Entity"), "folder": _l("Folder"), "file_type": _l("Type"),
        "size_label": _l("Size"), "status": _l("Status"), "status_label": _l("Status"),
        "direction": _l("Direction"), "direction_label": _l("Direction"), "visibility": _l("Visibility"),
        "visibility_label": _l("Visibility"), "note": _l("Message from the firm"), "created_on": _l("Added on"),
        "updated_on": _l("Changed on"), "version_count": _l("Versions"), "created_by": _l("Added by"),
    }
    list_columns = ["name", "entity", "folder", "file_type", "size_label", "status_label", "visibility_label",
                    "created_on"]
    show_columns = ["name", "entity", "folder", "file_type", "size_label", "status_label", "direction_label",
                    "visibility_label", "note", "version_count", "created_by", "created_on", "updated_on"]
    edit_columns = ["name", "folder", "status", "visibility", "note"]
    search_columns = ["name", "entity", "status", "file_type", "direction", "visibility", "created_on"]
    order_columns = ["name", "created_on", "updated_on"]
    base_order = ("created_on", "desc")
    validators_columns = {"name": [DataRequired(), Length(max=200)], "note": [Optional(), Length(max=4000)]}
    edit_form_extra_fields = {
        "status": EnumSelectField(_l("Status"), DocumentStatus, STATUS_LABELS, widget=Select2Widget()),
        "visibility": EnumSelectField(_l("Visibility"), Visibility, VISIBILITY_LABELS, widget=Select2Widget()),
    }
    search_form_extra_fields = {
        "direction": EnumSelectField(_l("Direction"), Direction, DIRECTION_LABELS, widget=Select2Widget()),
    }
    edit_form_query_rel_fields = {"folder": in_scope(R.WORK)}
    search_form_query_rel_fields = {"entity": in_scope(R.VIEW)}
    description_columns = {
        "visibility": _l("Shared documents appear in the client portal; staff-only ones never do."),
        "note": _l("Shown to the client beside the document."),
    }
    formatters_columns = {"note": lambda note: note or ""}

    def pre_update(self, item):
        """Keep the name clean and the folder inside the document's entity."""
        document_service.check_update(item)

    def pre_delete(self, item):
        """Remember the blobs so they can go once the rows are gone."""
        document_service.stage_delete(item, current_user)

    def post_delete(self, item):
        """Remove blobs nothing references any more."""
        document_service.finish_delete()

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets["document"] = item
        widgets["inline"] = ALLOWED[item.file_type].inline if item.file_type in ALLOWED else False
        widgets["can_work"] = access.can(current_user, R.WORK, item)
        return widgets

    def post_update(self, item):
        """Keep the change in the entity's activity."""
        document_service.updated(item, current_user)

    @action("share", _l("Share to the portal"), "", "fa-share-alt", single=False)
    def share(self, items):
        """Show the selected documents in the client portal."""
        return self._set_visibility(items, Visibility.portal)

    @action("unshare", _l("Make staff only"), "", "fa-lock", single=False)
    def unshare(self, items):
        """Hide the selected documents from the client portal."""
        return self._set_visibility(items, Visibility.staff_only)

    def _set_visibility(self, items, visibility):
        for item in items:
            document_service.update(item, current_user, visibility=visibility)
        return redirect(self.get_redirect())


class DocumentFilesView(BaseView):
    """Downloads and inline views of document versions, with safe headers and an audit event."""

    route_base = "/files"
    base_permissions = ["can_download", "can_view"]

    @expose("/<int:doc_id>/download")
    @has_access
    def download(self, doc_id):
        """The current version (or ?version=N) as an attachment."""
        doc, version = self._load(doc_id)
        return self._send(doc, version, inline=False)

    @expose("/<int:doc_id>/view")
    @has_access
    def view(self, doc_id):
        """The current version inline (PDF and images only), sandboxed."""
        doc, version = self._load(doc_id)
        if not ALLOWED[version.file_type].inline:
            abort(404)
        return self._send(doc, version, inline=True)

    def _load(self, doc_id):
        doc = db.session.scalar(access.visible(current_user, Document).where(Document.id == doc_id))
        if doc is None:
            abort(404)
        number = request.args.get("version", type=int)
        versions = {v.number: v for v in doc.versions}
        version = versions.get(number) if number is not None else document_service.current_version(doc)
        if version is None:
            abort(404)
        return doc, version

    def _send(self, doc, version, inline):
        document_service.record_access(doc, version, inline, current_user)
        name = doc.name if version.number == doc.version_count else version.original_name
        return send_version(version, name, inline)
