"""Documents: uploads (new documents and versions), folders, edits, deletes, downloads.

Blobs are written before the database row and removed again when the transaction fails, so no
file outlives a rolled-back change; deleting removes blobs that no other version references.
"""
import io
import logging

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Document, DocumentVersion, Folder
from app.models.documents import Direction, Visibility
from app.security import access
from app.services import activity, events
from app.services.filetypes import UploadRefused, clean_filename, detect, scan_file
from app.services.firm import get_settings, logo_keys
from app.storage import backend

log = logging.getLogger(__name__)
VERSION_RETRIES = 5
_STAGED_BLOBS = "portico_staged_blobs"  # db.session.info key: blobs to remove after a screen's delete


class DocumentError(ValueError):
    """A refused document or folder operation; the message is for the user."""


def upload(entity, file_storage, user, folder=None, direction=Direction.from_firm,
           visibility=Visibility.staff_only, document=None, same_name_versions=True):
    """Store one uploaded file as a new document, or as the next version of `document`, or (when
    `same_name_versions`) of the document with the same name, folder and visibility — a staff-only
    file never becomes a version of a shared document, nor the other way round."""
    if folder is not None and folder.entity_id != entity.id:
        raise DocumentError(_("That folder belongs to another entity."))
    name = clean_filename(file_storage.filename)

    def inspect(head, path):  # runs on the spooled file, before anything is stored
        if not head:
            raise UploadRefused(_("The file is empty."))
        kind = detect(head, path, name, scan_file(path))
        if document is not None and document.file_type != kind.key:
            raise DocumentError(_("A new version must be the same type of file as the document (%(kind)s).",
                                  kind=document.file_type.upper()))
        return kind

    blob = backend().save(file_storage.stream, get_settings().max_upload_bytes, inspect=inspect)
    try:
        return _record_upload(entity, blob, blob.inspected, name, user, folder, direction, visibility, document,
                              same_name_versions)
    except BaseException:
        db.session.rollback()
        backend().delete(blob.key)
        raise


def _record_upload(entity, blob, kind, name, user, folder, direction, visibility, document, same_name_versions):
    for attempt in range(VERSION_RETRIES):
        target = document or (_same_name(entity, folder, name, visibility, kind) if same_name_versions else None)
        if target is not None:  # serialise versions of one document (PostgreSQL row lock)
            target = db.session.scalars(
                select(Document).where(Document.id == target.id).with_for_update()
                .execution_options(populate_existing=True)
            ).one()
        try:
            doc = _add_version(entity, target, blob, kind, name, user, folder, direction, visibility)
            verb = "document.uploaded" if doc.version_count == 1 else "document.versioned"
            activity.record(verb, entity, doc, summary=name, actor=user, commit=False)
            by_client = direction is Direction.from_client and access.is_contact(user)
            if by_client:
                events.emit(events.CLIENT_UPLOADED, entity, doc, actor=user, record=False)
            events.emit(events.DOCUMENT_UPLOADED, entity, doc, actor=user, record=False, by_client=by_client)
            db.session.commit()
            return doc
        except IntegrityError:
            db.session.rollback()  # a concurrent upload took the version number: count again
            if attempt == VERSION_RETRIES - 1:
                raise


def _same_name(entity, folder, name, visibility, kind):
    return db.session.scalar(
        select(Document).where(
            Document.entity_id == entity.id,
            Document.folder_id.is_(None) if folder is None else Document.folder_id == folder.id,
            func.lower(Document.name) == name.lower(),
            Document.visibility == visibility,
            Document.file_type == kind.key,
        ).limit(1)
    )


def _add_version(entity, doc, blob, kind, name, user, folder, direction, visibility):
    if doc is None:
        doc = Document(entity_id=entity.id, folder_id=folder.id if folder else None, name=name,
                       direction=direction, visibility=visibility, created_by_id=user.id, version_count=0)
        db.session.add(doc)
    number = (db.session.scalar(select(func.max(DocumentVersion.number))
                                .where(DocumentVersion.document_id == doc.id)) or 0) + 1 if doc.id else 1
    doc.version_count = number
    doc.file_type, doc.mime, doc.size, doc.sha256 = kind.key, kind.mime, blob.size, blob.sha256
    db.session.add(DocumentVersion(
        document=doc, number=number, storage_key=blob.key, original_name=name, file_type=kind.key,
        mime=kind.mime, size=blob.size, sha256=blob.sha256, uploaded_by_id=user.id,
    ))
    db.session.flush()
    return doc


def add_generated_version(doc, data, user):
    """Store bytes Portico made (a sealed PDF) as the next version of `doc`, uncommitted: the caller
    commits with its own change (a blob left by a failed commit is an orphan storage-sweep removes)."""
    blob = backend().save(io.BytesIO(data), len(data) + 1,
                          inspect=lambda head, path: detect(head, path, doc.name, scan_file(path)))
    return _add_version(doc.entity, doc, blob, blob.inspected, doc.name, user, doc.folder, doc.direction,
                        doc.visibility)


def read_version(version):
    """The bytes of one version."""
    with backend().open(version.storage_key) as handle:
        return handle.read()


def delete_document(doc, user):
    """Delete a document and its versions, then the blobs nothing else references."""
    keys = [v.storage_key for v in doc.versions]
    activity.record("document.deleted", doc.entity, summary=doc.name, actor=user, commit=False)
    db.session.delete(doc)
    db.session.commit()
    remove_unreferenced(keys)


def remove_unreferenced(keys):
    """Delete the blobs among `keys` that no DocumentVersion row uses any more."""
    if not keys:
        return
    used = set(db.session.scalars(select(DocumentVersion.storage_key).where(DocumentVersion.storage_key.in_(keys))))
    for key in set(keys) - used:
        backend().delete(key)


def stage_delete(doc, user):
    """Before a screen deletes `doc`: note its blobs (on the database session, whose commit they
    follow) and record the deletion in the same commit."""
    db.session.info.setdefault(_STAGED_BLOBS, []).extend(v.storage_key for v in doc.versions)
    activity.record("document.deleted", doc.entity, summary=doc.name, actor=user, commit=False)


def finish_delete():
    """After the screen's commit: remove the noted blobs that nothing references any more."""
    remove_unreferenced(db.session.info.pop(_STAGED_BLOBS, []))


def check_update(doc):
    """Validate a screen's edit before it is saved: clean name, folder in the same entity."""
    doc.name = clean_filename(doc.name)
    if doc.folder is not None and doc.folder.entity_id != doc.entity_id:
        raise DocumentError(_("That folder belongs to another entity."))


def updated(doc, user):
    """Record a screen's edit of `doc` in the activity log."""
    activity.record("document.updated", doc.entity, doc, actor=user)


def current_version(doc):
    """The newest version of a document."""
    return doc.versions[0]


def update(doc, user, **changes):
    """Change name, folder, status, note or visibility of a document (names are cleaned)."""
    if "name" in changes:
        changes["name"] = clean_filename(changes["name"])
    if changes.get("folder") is not None and changes["folder"].entity_id != doc.entity_id:
        raise DocumentError(_("That folder belongs to another entity."))
    for field, value in changes.items():
        setattr(doc, field, value)
    activity.record("document.updated", doc.entity, doc, actor=user, commit=False)
    db.session.commit()
    return doc


def record_access(doc, version, inline, user):
    """Log a view or download of a version (who, what, when, from where)."""
    verb = "document.viewed" if inline else "document.downloaded"
    activity.record(verb, doc.entity, doc, summary=f"{doc.name} (v{version.number})", actor=user)


def create_folder(entity, name, parent=None, user=None):
    """A new folder under `parent` (or at the top); names are unique among siblings."""
    name = _folder_name(name)
    if parent is not None and parent.entity_id != entity.id:
        raise DocumentError(_("That folder belongs to another entity."))
    _refuse_sibling(entity.id, parent.id if parent else None, name)
    folder = Folder(entity_id=entity.id, parent_id=parent.id if parent else None, name=name)
    db.session.add(folder)
    activity.record("folder.created", entity, folder, summary=name, actor=user, commit=False)
    db.session.commit()
    return folder


def rename_folder(folder, name):
    """Rename a folder (unique among its siblings)."""
    name = _folder_name(name)
    _refuse_sibling(folder.entity_id, folder.parent_id, name, exclude=folder.id)
    folder.name = name
    db.session.commit()
    return folder


def move_folder(folder, parent):
    """Move a folder under `parent` (None = top level) within its entity, never into itself."""
    if parent is not None:
        if parent.entity_id != folder.entity_id:
            raise DocumentError(_("That folder belongs to another entity."))
        node = parent
        while node is not None:
            if node.id == folder.id:
                raise DocumentError(_("A folder cannot be moved into itself."))
            node = node.parent
    _refuse_sibling(folder.entity_id, parent.id if parent else None, folder.name, exclude=folder.id)
    folder.parent_id = parent.id if parent else None
    db.session.commit()
    return folder


def delete_folder(folder, user):
    """Delete an empty folder; one with documents or subfolders is refused."""
    has_docs = db.session.scalar(select(Document.id).where(Document.folder_id == folder.id).limit(1))
    has_children = db.session.scalar(select(Folder.id).where(Folder.parent_id == folder.id).limit(1))
    if has_docs or has_children:
        raise DocumentError(_("Only empty folders can be deleted."))
    activity.record("folder.deleted", folder.entity, summary=folder.name, actor=user, commit=False)
    db.session.delete(folder)
    db.session.commit()


def _folder_name(name):
    name = clean_filename(name or "").strip()
    if not name or name == "file":
        raise DocumentError(_("Give the folder a name."))
    return name[:120]


def _refuse_sibling(entity_id, parent_id, name, exclude=None):
    query = select(Folder.id).where(
        Folder.entity_id == entity_id,
        Folder.parent_id.is_(None) if parent_id is None else Folder.parent_id == parent_id,
        func.lower(Folder.name) == name.lower(),
    )
    if exclude is not None:
        query = query.where(Folder.id != exclude)
    if db.session.scalar(query.limit(1)):
        raise DocumentError(_("A folder with this name already exists here."))


def sweep_storage(older_than=3600):
    """Remove temp files of crashed uploads and blobs no version references (returns counts)."""
    store = backend()
    temps = 0
    for path in store.stale_temp_files(older_than):
        store.delete_path(path)
        temps += 1
    keys = list(store.keys())
    used = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        used |= set(db.session.scalars(select(DocumentVersion.storage_key).where(DocumentVersion.storage_key.in_(chunk))))
    used |= set(logo_keys())
    orphans = [k for k in keys if k not in used and store.age(k) > older_than]
    for key in orphans:
        store.delete(key)
    return {"temp_files": temps, "orphan_blobs": len(orphans)}


def folder_tree(user, entity_id):
    """The entity's folders `user` may see as nested (folder, children) pairs, sorted by name (one query)."""
    folders = db.session.scalars(access.visible(user, Folder).where(Folder.entity_id == entity_id)
                                 .order_by(Folder.name)).all()
    children = {}
    for folder in folders:
        children.setdefault(folder.parent_id, []).append(folder)

    def build(parent_id):
        return [(f, build(f.id)) for f in children.get(parent_id, [])]

    return build(None), {f.id: f for f in folders}


def documents_in(user, entity_id, folder_id, page, per_page=50):
    """One page of the documents `user` may see directly in a folder (None = top level), newest first,
    and the total."""
    where = [access.scope(user, Document), Document.entity_id == entity_id,
             Document.folder_id.is_(None) if folder_id is None else Document.folder_id == folder_id]
    total = db.session.scalar(select(func.count(Document.id)).where(*where))
    page = min(max(page, 1), max((total + per_page - 1) // per_page, 1))  # past the end: the last page
    docs = db.session.scalars(
        select(Document).where(*where).order_by(Document.created_on.desc(), Document.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return docs, total
