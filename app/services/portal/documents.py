"""The portal's view of an entity's documents: folder tree with counts, and a filtered, sorted,
paginated list — always through `access.visible`, so a contact only ever meets shared documents.

Every function runs a fixed number of queries whatever the number of documents or folders.
"""
from dataclasses import dataclass, replace
from datetime import date, datetime, time

from sqlalchemy import func, select

from app.extensions import db
from app.models import Document, Folder, Message
from app.models.documents import DocumentStatus
from app.models.messages import message_attachments
from app.models.requests import request_attachments
from app.security import access
from app.services.filetypes import ALLOWED

PER_PAGE = 25
MAX_SEARCH = 200
SORTS = ("newest", "oldest")


@dataclass(frozen=True)
class Listing:
    """What the contact asked for: folder, search, filters, sort and page (all from the query string)."""

    folder_id: int = None
    q: str = ""
    date_from: date = None
    date_to: date = None
    status: DocumentStatus = None
    file_type: str = None
    sort: str = "newest"
    page: int = 1

    def args(self, **changes):
        """The query-string arguments of this listing (with `changes`), without empty values."""
        wanted = replace(self, **changes)
        values = {"folder": wanted.folder_id, "q": wanted.q, "from": wanted.date_from, "to": wanted.date_to,
                  "status": wanted.status.name if wanted.status else None, "type": wanted.file_type,
                  "sort": None if wanted.sort == "newest" else wanted.sort,
                  "page": None if wanted.page == 1 else wanted.page}
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items() if v not in (None, "")}

    @property
    def filtered(self):
        """Whether a search or filter narrows the list (beyond the folder)."""
        return bool(self.q or self.date_from or self.date_to or self.status or self.file_type)


def parse(args):
    """A Listing from request arguments; values that do not parse are ignored (never an error)."""
    return Listing(
        folder_id=_int(args.get("folder")),
        q=(args.get("q") or "").strip()[:MAX_SEARCH],
        date_from=_date(args.get("from")),
        date_to=_date(args.get("to")),
        status=DocumentStatus.__members__.get(args.get("status") or ""),
        file_type=args.get("type") if args.get("type") in ALLOWED else None,
        sort=args.get("sort") if args.get("sort") in SORTS else "newest",
        page=max(_int(args.get("page")) or 1, 1),
    )


def _int(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


def _date(value):
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


@dataclass
class FolderNode:
    """A folder in the portal tree: its visible subfolders and the documents under it (all levels)."""

    folder: Folder
    children: list
    count: int = 0


def folder_tree(user, entity_id):
    """(roots, {folder id: FolderNode}, number of visible documents) of the folders `user` may see in
    the entity, each counting the visible documents in it and its subfolders (two queries). A folder
    whose parent is not visible to the user is shown at the top level."""
    folders = db.session.scalars(
        access.visible(user, Folder).where(Folder.entity_id == entity_id).order_by(func.lower(Folder.name), Folder.id)
    ).all()
    direct = dict(db.session.execute(
        select(Document.folder_id, func.count(Document.id))
        .where(access.scope(user, Document), Document.entity_id == entity_id)
        .group_by(Document.folder_id)
    ).all())
    nodes = {f.id: FolderNode(f, []) for f in folders}
    roots = []
    for folder in folders:
        parent = nodes.get(folder.parent_id)
        (parent.children if parent else roots).append(nodes[folder.id])
    for root in roots:
        _add_counts(root, direct)
    return roots, nodes, sum(direct.values())


def _add_counts(node, direct):
    node.count = direct.get(node.folder.id, 0) + sum(_add_counts(child, direct) for child in node.children)
    return node.count


def subtree_ids(node):
    """The ids of a folder and every folder below it."""
    ids = [node.folder.id]
    for child in node.children:
        ids += subtree_ids(child)
    return ids


def path_ids(node, nodes):
    """The ids of a folder and its visible ancestors (the branches to show expanded)."""
    ids = set()
    while node is not None:
        ids.add(node.folder.id)
        node = nodes.get(node.folder.parent_id)
    return ids


def page_of_documents(user, entity_id, listing, folder_ids=None):
    """(documents of this page, total, page number, number of pages) for `listing` (two queries).
    `folder_ids` limits the list to those folders; a page past the end shows the last page."""
    where = [access.scope(user, Document), Document.entity_id == entity_id]
    if folder_ids is not None:
        where.append(Document.folder_id.in_(folder_ids))
    if listing.q:
        where.append(func.lower(Document.name).contains(listing.q.lower(), autoescape=True))
    if listing.date_from:
        where.append(Document.created_on >= datetime.combine(listing.date_from, time.min))
    if listing.date_to:
        where.append(Document.created_on <= datetime.combine(listing.date_to, time.max))
    if listing.status:
        where.append(Document.status == listing.status)
    if listing.file_type:
        where.append(Document.file_type == listing.file_type)
    total = db.session.scalar(select(func.count(Document.id)).where(*where))
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    page = min(listing.page, pages)
    order = (Document.created_on.desc(), Document.id.desc()) if listing.sort == "newest" \
        else (Document.created_on.asc(), Document.id.asc())
    docs = db.session.scalars(
        select(Document).where(*where).order_by(*order).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return docs, total, page, pages


def request_documents(user, request_id):
    """The documents attached to a client request that `user` may see (one query)."""
    return db.session.scalars(
        access.visible(user, Document)
        .join(request_attachments, request_attachments.c.document_id == Document.id)
        .where(request_attachments.c.request_id == request_id)
        .order_by(func.lower(Document.name), Document.id)
    ).all()


def message_documents(user, messages_query):
    """{message id: [documents `user` may see]} for the messages selected by `messages_query`
    (a select of Message ids); one query, whatever the number of messages."""
    rows = db.session.execute(
        select(message_attachments.c.message_id, Document)
        .join(Document, Document.id == message_attachments.c.document_id)
        .where(access.scope(user, Document), message_attachments.c.message_id.in_(messages_query))
        .order_by(func.lower(Document.name), Document.id)
    ).all()
    found = {}
    for message_id, doc in rows:
        found.setdefault(message_id, []).append(doc)
    return found


def visible_message_ids(user, request_id):
    """A select of the ids of the request's messages `user` may read (for message_documents)."""
    return select(Message.id).where(access.scope(user, Message), Message.request_id == request_id)
