"""/api/v1/documents: the access matrix of tokens (foreign ids 404, wrong right 403, read-only 403), ETag /
If-Match, keyset pages, streaming upload (limit 413, type by content, nothing stored when refused) and
streaming download of versions, bad input and statement counts."""
import hashlib
import io
from types import SimpleNamespace

import pytest
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import ActivityEvent, Document, DocumentVersion
from app.security import roles as R
from app.services import documents
from app.services.firm import get_settings
from app.storage import CHUNK
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for, walk
from tests.documents_helpers import EXE, HTML, PDF, PNG, Upload, stored_files

URL = "/api/v1/documents/"
OCTETS = "application/octet-stream"


@pytest.fixture
def world(app):
    """A staff-only PDF on entity A and one on B; tokens of an Admin, a Staff Admin, an Owner and a Viewer of
    A, a Staff member without shares, and a read-only Owner token."""
    with app.app_context():
        a, b = f.entity("Alpha Co"), f.entity("Beta Co")
        users = {name: f.staff(role) for name, role in (
            ("admin", R.ADMIN), ("staff_admin", R.STAFF_ADMIN), ("owner", R.STAFF), ("viewer", R.STAFF),
            ("staff", R.STAFF))}
        f.share(a, R.OWNER, user=users["owner"])
        f.share(a, R.VIEWER, user=users["viewer"])
        da = documents.upload(a, Upload("a.pdf", PDF), users["admin"])
        db_ = documents.upload(b, Upload("b.pdf", PDF), users["admin"])
        tokens = {name: token_for(user) for name, user in users.items()}
        return SimpleNamespace(a=a.id, b=b.id, da=da.id, db=db_.id, read_only=token_for(users["owner"], scope="read"),
                               **tokens)


def _snapshot(app):
    with app.app_context():
        return (sorted((d.id, d.name, d.visibility.value, d.version_count) for d in db.session.scalars(select(Document))),
                db.session.scalar(select(db.func.count(DocumentVersion.id))),
                stored_files(current_app.config["STORAGE_DIR"]))


def _etag(client, token, pk):
    return call(client, "GET", f"{URL}{pk}", token).headers.get("ETag", '"none"')


def _upload(client, token, content, **query):
    return call(client, "POST", URL, token, data=content, content_type=OCTETS, query_string=query)


def _writes(doc, entity):
    """Every write on document `doc` (and an upload to `entity`): (method, path, kwargs)."""
    return [("PATCH", f"{URL}{doc}", {"json": {"name": "Hijacked.pdf"}}), ("DELETE", f"{URL}{doc}", {}),
            ("POST", f"{URL}{doc}/versions", {"data": PDF, "content_type": OCTETS}),
            ("POST", URL, {"data": PDF, "content_type": OCTETS, "query_string": {"entity_id": entity, "name": "x.pdf"}})]


@pytest.mark.parametrize("who", ["owner", "viewer", "staff"])
def test_scoped_token_gets_404_on_every_foreign_id_and_changes_nothing(app, client, world, who):
    """A scoped member's token × B's document: read, versions, downloads, change, delete, new version and an
    upload to B are 404; the list leaves B out; nothing is stored."""
    token, before = getattr(world, who), _snapshot(app)
    for path in (f"{URL}{world.db}", f"{URL}{world.db}/versions", f"{URL}{world.db}/content",
                 f"{URL}{world.db}/versions/1/content"):
        assert is_problem(call(client, "GET", path, token), 404), path
    etag = _etag(client, world.admin, world.db)
    for method, path, kwargs in _writes(world.db, world.b):
        assert is_problem(call(client, method, path, token, headers={"If-Match": etag}, **kwargs), 404), (method, path)
    assert world.db not in [d["id"] for d in call(client, "GET", URL, token).get_json()["items"]]
    assert _snapshot(app) == before


def test_wrong_right_and_read_only_token_are_403(app, client, world):
    """A Staff Admin (documents read-only) and the Owner's read-only token read A's document, may not change,
    delete, upload or version it (403), and nothing is stored."""
    before = _snapshot(app)
    for token in (world.staff_admin, world.read_only):
        assert call(client, "GET", f"{URL}{world.da}", token).status_code == 200
        etag = _etag(client, token, world.da)
        for method, path, kwargs in _writes(world.da, world.a):
            assert is_problem(call(client, method, path, token, headers={"If-Match": etag}, **kwargs), 403), (method, path)
    assert _snapshot(app) == before


def test_owner_uploads_versions_downloads_changes_and_deletes(app, client, world):
    """An Owner uploads a PNG to A (201, Location), adds a version, lists both, downloads each byte for byte
    (audited), shares it to the portal with If-Match and deletes it with its blobs."""
    first = _upload(client, world.owner, PNG, entity_id=str(world.a), name="scan.png")
    assert first.status_code == 201, first.get_data(as_text=True)
    doc = first.get_json()
    assert (doc["file_type"], doc["visibility"], doc["version_count"]) == ("png", "staff_only", 1)
    second = PNG + b"\x00" * 10
    versioned = call(client, "POST", f"{URL}{doc['id']}/versions", world.owner, data=second, content_type=OCTETS)
    assert versioned.status_code == 201 and versioned.get_json()["version_count"] == 2
    versions = call(client, "GET", f"{URL}{doc['id']}/versions", world.viewer).get_json()["items"]
    assert [v["number"] for v in versions] == [1, 2]
    for path, body in ((f"{URL}{doc['id']}/versions/1/content", PNG), (f"{URL}{doc['id']}/content", second)):
        response = call(client, "GET", path, world.viewer)
        assert response.status_code == 200 and response.data == body and response.mimetype == "image/png"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert is_problem(call(client, "GET", f"{URL}{doc['id']}/versions/3/content", world.viewer), 404)
    with app.app_context():
        assert db.session.scalar(select(db.func.count(ActivityEvent.id)).where(
            ActivityEvent.verb == "document.downloaded")) == 2
    path, etag = f"{URL}{doc['id']}", _etag(client, world.owner, doc["id"])
    assert is_problem(call(client, "PATCH", path, world.owner, json={"visibility": "portal"}), 428)
    shared = call(client, "PATCH", path, world.owner, json={"visibility": "portal", "name": "Scan 2026.png"},
                  headers={"If-Match": etag})
    assert shared.status_code == 200 and shared.get_json()["visibility"] == "portal"
    assert is_problem(call(client, "DELETE", path, world.owner, headers={"If-Match": etag}), 412)
    files_before = len(stored_files(app.config["STORAGE_DIR"]))
    assert call(client, "DELETE", path, world.owner, headers={"If-Match": shared.headers["ETag"]}).status_code == 204
    assert len(stored_files(app.config["STORAGE_DIR"])) == files_before - 2


@pytest.mark.parametrize("content, status", [(HTML, 422), (EXE, 422), (b"", 422), (PDF + b"x" * 5000, 413)])
def test_refused_uploads_store_nothing(app, client, world, content, status):
    """HTML, executables and empty bodies are refused by content (422) whatever the name says; a body past
    the firm's limit is 413; nothing is stored, no row is written."""
    with app.app_context():
        get_settings().max_upload_bytes = 4096
        db.session.commit()
    before = _snapshot(app)
    response = _upload(client, world.owner, content, entity_id=str(world.a), name="innocent.pdf")
    assert is_problem(response, status), response.get_data(as_text=True)
    version = call(client, "POST", f"{URL}{world.da}/versions", world.owner, data=content, content_type=OCTETS)
    assert is_problem(version, status)
    assert _snapshot(app) == before


def test_new_version_must_keep_the_type(app, client, world):
    """A PNG as the next version of a PDF is 422 and stores nothing."""
    before = _snapshot(app)
    assert is_problem(call(client, "POST", f"{URL}{world.da}/versions", world.owner, data=PNG,
                           content_type=OCTETS), 422)
    assert _snapshot(app) == before


@pytest.mark.parametrize("query", [{}, {"entity_id": "1"}, {"name": "x.pdf"}, {"entity_id": "x", "name": "x.pdf"},
                                   {"entity_id": "1", "name": "x.pdf", "visibility": "public"},
                                   {"entity_id": "1", "name": "x.pdf", "folder": "1"},
                                   {"entity_id": str(2**64), "name": "x.pdf"}])
def test_bad_upload_parameters_are_400(app, client, world, query):
    """Missing or invalid upload parameters, unknown ones: 400 problem details, nothing stored."""
    before = _snapshot(app)
    query = {k: (str(world.a) if k == "entity_id" and v == "1" else v) for k, v in query.items()}
    assert is_problem(_upload(client, world.owner, PDF, **query), 400)
    assert _snapshot(app) == before


def test_bad_update_bodies_are_422(app, client, world):
    """Blank names, unknown statuses, a folder of another entity, read-only fields: 422, nothing changed."""
    with app.app_context():
        foreign = documents.create_folder(db.session.get(Document, world.db).entity, "Other").id
    before = _snapshot(app)
    etag = _etag(client, world.owner, world.da)
    for body in ({"name": ""}, {"status": "lost"}, {"folder_id": foreign}, {"size": 1}, {"visibility": None}):
        response = call(client, "PATCH", f"{URL}{world.da}", world.admin, json=body, headers={"If-Match": etag})
        assert is_problem(response, 422), body
    assert _snapshot(app) == before


class CountingStream(io.BytesIO):
    """A request body that remembers the largest single read (the upload must read it in chunks)."""

    largest = 0

    def read(self, size=-1):
        CountingStream.largest = max(CountingStream.largest, size if size and size > 0 else 10**12)
        return super().read(size)

    def readinto(self, buffer):
        CountingStream.largest = max(CountingStream.largest, len(buffer))
        return super().readinto(buffer)


def test_upload_and_download_are_streamed(app, client, world):
    """A 3 MB upload is read in chunks of at most the storage CHUNK, and its download is a streamed file
    response (not a body held in memory) with the same bytes."""
    body = PDF + b"%" + b"0" * (3 * 1024 * 1024)
    CountingStream.largest = 0
    response = call(client, "POST", URL, world.owner, input_stream=CountingStream(body), content_type=OCTETS,
                    headers={"Content-Length": str(len(body))},
                    query_string={"entity_id": str(world.a), "name": "big.pdf"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert 0 < CountingStream.largest <= CHUNK
    download = call(client, "GET", f"{URL}{response.get_json()['id']}/content", world.owner, buffered=False)
    assert download.is_streamed
    assert hashlib.sha256(b"".join(download.response)).hexdigest() == response.get_json()["sha256"]
    download.close()


def test_document_list_filters_keyset_and_fixed_statements(app, client, world, count_queries):
    """entity_id and visibility narrow the list; pages of 3 walk every document once; a page of 2 or 30
    documents, and a versions page, run the same statements."""
    assert [d["id"] for d in call(client, "GET", URL, world.admin,
                                  query_string={"entity_id": str(world.a)}).get_json()["items"]] == [world.da]
    assert call(client, "GET", URL, world.admin, query_string={"visibility": "portal"}).get_json()["items"] == []
    assert is_problem(call(client, "GET", URL, world.admin, query_string={"visibility": "x"}), 400)
    with count_queries() as n:
        call(client, "GET", URL, world.admin)
    few = n()
    with count_queries() as n:
        call(client, "GET", f"{URL}{world.da}/versions", world.admin)
    versions_few = n()
    with app.app_context():
        doc = db.session.get(Document, world.da)
        for k in range(28):
            documents.upload(doc.entity, Upload(f"more{k}.pdf", PDF + bytes([k])), doc.created_by)
            documents.upload(doc.entity, Upload("a.pdf", PDF + bytes([k])), doc.created_by, document=doc)
    with count_queries() as n:
        assert len(call(client, "GET", URL, world.admin).get_json()["items"]) == 30
    assert n() == few
    with count_queries() as n:
        assert len(call(client, "GET", f"{URL}{world.da}/versions", world.admin).get_json()["items"]) == 29
    assert n() == versions_few
    ids = [row["id"] for row in walk(client, URL, world.owner, 3)[0]]
    assert len(ids) == len(set(ids)) == 29 and world.db not in ids
