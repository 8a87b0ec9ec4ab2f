"""Portal documents: folders, search, filters, sort, pages, and the view and download of shared files.

Only documents the access module lets the contact see (shared to the portal, in their entities)
ever reach these pages; any other id answers 404.
"""
from flask import abort, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.security import guard
from app.models import Document
from app.models.documents import STATUS_LABELS, Direction, DocumentStatus
from app.services import documents as document_service
from app.services.portal import documents as portal_documents
from app.services.filetypes import ALLOWED
from app.views.portal import bp, use_entity
from app.web import page_cache
from app.web.downloads import send_version

DIRECTION_LABELS = {Direction.from_firm: _l("From the firm"), Direction.from_client: _l("From you")}
STATUS_BADGES = {DocumentStatus.awaiting_signature: "pending", DocumentStatus.signed: "done"}


@bp.route("/documents")
@page_cache.cacheable
def documents():
    """The shared documents of the current entity: folder tree, search, filters, sort and pages."""
    if g.entity is None:
        return render_template("portal/documents/index.html", title=_("Documents"), entity=None)
    listing = portal_documents.parse(request.args)
    roots, nodes, all_count = portal_documents.folder_tree(current_user, g.entity.id)
    folder = nodes.get(listing.folder_id) if listing.folder_id is not None else None
    if listing.folder_id is not None and folder is None:
        abort(404)
    docs, total, page, pages = portal_documents.page_of_documents(
        current_user, g.entity.id, listing, portal_documents.subtree_ids(folder) if folder else None)
    title = _("%(folder)s – Documents", folder=folder.folder.name) if folder else _("Documents")
    return render_template(
        "portal/documents/index.html", title=title, entity=g.entity, listing=listing, roots=roots, folder=folder,
        open_ids=portal_documents.path_ids(folder, nodes), all_count=all_count, docs=docs, total=total, page=page,
        pages=pages, statuses=STATUS_LABELS, file_types=sorted(ALLOWED), **_row_helpers(),
    )


@bp.route("/documents/<int:doc_id>")
def document(doc_id):
    """One shared document: its facts and the firm's message, with View and Download."""
    doc = guard.load(current_user, Document, doc_id)
    use_entity(doc.entity_id)
    # The folder of a visible document is itself visible (Folder scope), so no separate check.
    return render_template("portal/documents/show.html", title=doc.name, doc=doc, folder=doc.folder,
                           **_row_helpers())


@bp.route("/documents/<int:doc_id>/download")
def document_download(doc_id):
    """The current version of a shared document as an attachment."""
    doc = guard.load(current_user, Document, doc_id)
    return _send(doc, _version(doc), inline=False)


@bp.route("/documents/<int:doc_id>/view")
def document_view(doc_id):
    """The current version inline, sandboxed (PDF and images only; other types 404)."""
    doc = guard.load(current_user, Document, doc_id)
    version = _version(doc)
    if not _inline(version.file_type):
        abort(404)
    return _send(doc, version, inline=True)


def _version(doc):
    """The current version (a row without one, which uploads never leave, is a 404 rather than an error)."""
    if not doc.versions:
        abort(404)
    return document_service.current_version(doc)


def _inline(file_type):
    kind = ALLOWED.get(file_type)
    return kind is not None and kind.inline


def _row_helpers():
    return {"direction_labels": DIRECTION_LABELS, "status_badges": STATUS_BADGES, "inline": _inline}


def _send(doc, version, inline):
    """The version with the safe download headers, and an activity event."""
    document_service.record_access(doc, version, inline, current_user)
    return send_version(version, doc.name, inline)
