"""Documents: upload limits, type checks, safe names, versions, deletes, serving, scope, query counts."""
import io
import os
import threading
from types import SimpleNamespace

import pytest
from flask_appbuilder.security.sqla.models import User
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import ActivityEvent, Document, DocumentVersion, Entity, Folder, Message
from app.models.documents import Visibility
from app.security import access
from app.security import roles as R
from app.services import documents as service
from app.services import file_requests, tasks
from app.storage import backend
from tests import documents_helpers as h
from tests import factories as f
from tests.conftest import csrf_token

LIMIT = 10 * 1024 * 1024


@pytest.fixture
def office(app):
    """An accountant owning `own`, and `foreign` that they cannot see; clean storage."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        own, foreign = f.entity("Own Co", responsible=accountant), f.entity("Foreign Co")
        ids = SimpleNamespace(accountant=accountant.id, own=own.id, foreign=foreign.id,
                              admin=f.staff(R.ADMIN).id, root=app.config["STORAGE_DIR"])
    for path in h.stored_files(ids.root):
        os.remove(path)
    return ids


def _docs(app):
    with app.app_context():
        return db.session.query(Document).count(), db.session.query(DocumentVersion).count()


def test_upload_at_the_limit_is_accepted(app, client, login, office):
    """A file of exactly 10,485,760 bytes is stored with its size and SHA-256."""
    login(client, office.accountant)
    content = b"a" * (LIMIT - 1) + b"\n"
    response = h.upload(client, office.own, "ledger.txt", content)
    assert response.status_code == 302
    with app.app_context():
        doc = db.session.query(Document).one()
        assert doc.size == LIMIT and doc.file_type == "txt"
        import hashlib

        assert doc.sha256 == hashlib.sha256(content).hexdigest()
    assert len(h.stored_files(office.root)) == 1


def test_one_byte_over_the_limit_is_413_and_leaves_nothing(app, client, login, office):
    """LIMIT + 1 bytes: 413, no row, no blob and no temp file."""
    login(client, office.accountant)
    response = h.upload(client, office.own, "big.txt", b"a" * (LIMIT + 1))
    assert response.status_code == 413
    assert "larger than the 10.0 MB limit" in response.get_data(as_text=True)
    assert _docs(app) == (0, 0)
    assert h.stored_files(office.root) == []


def test_chunked_body_without_content_length_over_the_limit_is_413(app, client, login, office):
    """The same limit holds for a chunked request that announces no length."""
    login(client, office.accountant)
    token = csrf_token(client, f"/documents/entity/{office.own}")
    boundary = "portico-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"visibility\"\r\n\r\nstaff_only\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"direction\"\r\n\r\nfrom_firm\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\n"
    ).encode() + b"a" * (LIMIT + 1) + f"\r\n--{boundary}--\r\n".encode()
    response = client.post(
        f"/documents/entity/{office.own}/upload", input_stream=io.BytesIO(body),
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert _docs(app) == (0, 0)
    assert h.stored_files(office.root) == []


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("invoice.pdf", h.HTML, "Web pages, SVG images and scripts cannot be uploaded."),
        ("logo.pdf", h.SVG, "Web pages, SVG images and scripts cannot be uploaded."),
        ("run.pdf", h.SCRIPT, "Programs and scripts cannot be uploaded."),
        ("setup.pdf", h.EXE, "Programs and scripts cannot be uploaded."),
        ("polyglot.pdf", h.POLYGLOT, "This PDF also contains web page code"),
        ("photo.pdf", h.PNG, "content is PNG but its name ends in “.pdf”"),
        ("statement.html", h.PDF, "content is PDF but its name ends in “.html”"),
    ],
)
def test_dangerous_or_mismatched_files_are_refused(app, client, login, office, name, content, message):
    """HTML, SVG and scripts renamed .pdf, a PDF/HTML polyglot and mismatched names: refused, nothing kept."""
    login(client, office.accountant)
    response = h.upload(client, office.own, name, content, accept="application/json")
    assert response.status_code == 400
    assert message in response.get_json()["errors"][0]
    assert _docs(app) == (0, 0)
    assert h.stored_files(office.root) == []


PAD = b"line of ordinary text\n" * 4000  # ~88 KB: more than the 64 KB head type detection reads
PDF_BODY = h.PDF[:-6] + b"%" + b"x" * 70000 + b"\n"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("notes.txt", PAD + b"<script>alert(1)</script>\n", "Web pages, SVG images and scripts cannot be uploaded."),
        ("bank.csv", b"a,b\n" + PAD + b"1,<iframe src=//evil.example>\n", "Web pages, SVG images and scripts"),
        ("notes.txt", b"see <b>this</b>: <html><body>hi</body></html>\n", "Web pages, SVG images and scripts"),
        ("late.pdf", PDF_BODY + b"%<html><script>alert(1)</script>\n%%EOF\n", "This PDF also contains web page code"),
        ("open.pdf", h.PDF.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"),
         "This PDF contains actions that run code"),
        ("launch.pdf", PDF_BODY + b"2 0 obj<< /S /Launch /F (cmd.exe) >>endobj\n%%EOF\n",
         "This PDF contains actions that run code"),
        ("hidden.pdf", h.PDF.replace(b"/Type /Catalog", b"/Type /Catalog /AA << /O << /S /J#61vaScript /J#53 (x) >> >>"),
         "This PDF contains actions that run code"),
    ],
)
def test_markup_and_code_anywhere_in_text_files_and_pdfs_are_refused(app, client, login, office, name, content,
                                                                       message):
    """Text and CSV files are scanned for HTML/script markup to their end (not just 64 KB); PDFs for markup
    and for JavaScript or Launch actions (also when the names are #-escaped): refused, nothing kept."""
    login(client, office.accountant)
    response = h.upload(client, office.own, name, content, accept="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert message in response.get_json()["errors"][0]
    assert _docs(app) == (0, 0)
    assert h.stored_files(office.root) == []


FORMULAS = ('name;amount;note\r\n"=HYPERLINK(""http://evil.example"";""click"")";-12,50;+372 5555 5555\r\n'
            '"@SUM(A1:A2)";-3+4;"\tx"\r\n+cmd|\' /C calc\'!A0;"=1\r\n2";ok\r\n').encode("utf-8")


def test_csv_formulas_are_accepted_and_neutralised_on_download(app, client, login, portal_login, office):
    """A CSV whose cells start with = + - @ or a tab is stored as sent, but every download (staff and
    portal) prefixes such cells with ' (plain numbers stay numbers), streamed, without the stored ETag."""
    import csv

    login(client, office.accountant)
    assert h.upload(client, office.own, "bank.csv", FORMULAS, visibility="portal").status_code == 302
    with app.app_context():
        doc = db.session.query(Document).one()
        doc_id, sha = doc.id, doc.versions[0].sha256
        with backend().open(doc.versions[0].storage_key) as stored:
            assert stored.read() == FORMULAS  # the stored bytes are what was uploaded
        contact = f.portal_contact(db.session.get(Entity, office.own)).id
    staff = client.get(f"/files/{doc_id}/download")
    portal = portal_login(app.test_client(), contact).get(f"/portal/documents/{doc_id}/download")
    for response in (staff, portal):
        assert response.status_code == 200
        assert response.headers.get("ETag", "").strip('W/"') != sha
        assert response.headers["Cache-Control"] == "private, no-store"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True)), delimiter=";"))
        assert rows == [["name", "amount", "note"],
                        ["'=HYPERLINK(\"http://evil.example\";\"click\")", "-12,50", "+372 5555 5555"],
                        ["'@SUM(A1:A2)", "'-3+4", "'\tx"],
                        ["'+cmd|' /C calc'!A0", "'=1\r\n2", "ok"]]


@pytest.mark.parametrize("name, content, kind", [
    ("return.pdf", h.PDF, "pdf"), ("scan.png", h.PNG, "png"), ("letter.docx", h.docx_bytes(), "docx"),
    ("bank.csv", h.CSV, "csv"),
])
def test_allowed_types_are_recognised(app, client, login, office, name, content, kind):
    """PDF, PNG, DOCX and CSV are stored with the type their bytes show."""
    login(client, office.accountant)
    assert h.upload(client, office.own, name, content).status_code == 302
    with app.app_context():
        assert db.session.query(Document).one().file_type == kind


@pytest.mark.parametrize("raw, shown", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("/abs/path/notes.txt", "notes.txt"),
    ("a\x00b.txt", "ab.txt"),
    ("CON.txt", "_CON.txt"),
    ('evil"\r\nSet-Cookie: x=1.txt', "evil_Set-Cookie_ x=1.txt"),
    ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
])
def test_hostile_names_are_sanitised(app, client, login, office, raw, shown):
    """Path parts, NUL, CR/LF, quotes and device names never reach the file system or headers."""
    login(client, office.accountant)
    with app.app_context():  # the exact name reaches the service (HTTP quoting would alter some)
        user = app.appbuilder.sm.get_user_by_id(office.accountant)
        service.upload(db.session.get(Entity, office.own), FileStorage(io.BytesIO(b"plain text\n"), raw), user)
    with app.app_context():
        doc = db.session.query(Document).one()
        assert doc.name == shown
        doc_id = doc.id
    for path in h.stored_files(office.root):
        assert os.path.realpath(path).startswith(os.path.realpath(office.root) + os.sep)
        assert "passwd" not in path and "win.ini" not in path
    response = client.get(f"/files/{doc_id}/download")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    disposition = response.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert not any(v.startswith("x=") for k, v in response.headers.items() if k == "Set-Cookie")


def test_same_name_twice_makes_versions_and_old_versions_stay_downloadable(app, client, login, office):
    """A second upload of the same name is version 2; version 1 can still be downloaded."""
    login(client, office.accountant)
    h.upload(client, office.own, "ledger.csv", b"v,1\n")
    h.upload(client, office.own, "LEDGER.csv", b"v,2\n")
    with app.app_context():
        doc = db.session.query(Document).one()
        assert doc.version_count == 2 and [v.number for v in doc.versions] == [2, 1]
        doc_id = doc.id
    assert client.get(f"/files/{doc_id}/download").data == b"v,2\n"
    assert client.get(f"/files/{doc_id}/download?version=1").data == b"v,1\n"
    assert client.get(f"/files/{doc_id}/download?version=3").status_code == 404


def test_concurrent_uploads_of_one_name_lose_nothing(app, office):
    """Eight threads uploading the same name at once: eight versions, eight blobs."""
    errors = []

    def worker(n):
        with app.app_context():
            try:
                user = app.appbuilder.sm.get_user_by_id(office.accountant)
                entity = db.session.get(Entity, office.own)
                service.upload(entity, FileStorage(io.BytesIO(f"row,{n}\n".encode()), "same.csv"), user)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with app.app_context():
        versions = db.session.query(DocumentVersion).count()
        docs = db.session.query(Document).count()
    assert versions == 8 and docs >= 1
    assert len(h.stored_files(office.root)) == 8


def test_deleting_removes_blobs_nothing_else_uses(app, client, login, office):
    """Deleting a document removes its blobs but keeps one another version still references."""
    login(client, office.accountant)
    h.upload(client, office.own, "a.txt", b"one\n")
    h.upload(client, office.own, "a.txt", b"two\n")
    h.upload(client, office.own, "b.txt", b"three\n")
    with app.app_context():
        a = db.session.query(Document).filter_by(name="a.txt").one()
        b = db.session.query(Document).filter_by(name="b.txt").one()
        shared_key = a.versions[0].storage_key
        b.versions[0].storage_key, old_b_key = shared_key, b.versions[0].storage_key
        db.session.commit()
        ids = (a.id, b.id)
    os.remove(os.path.join(office.root, *old_b_key.split("/")))
    token = csrf_token(client, f"/documents/entity/{office.own}")
    assert client.post(f"/documentview/delete/{ids[0]}", data={"csrf_token": token}).status_code == 302
    remaining = h.stored_files(office.root)
    assert len(remaining) == 1 and remaining[0].endswith(shared_key.split("/")[-1])
    with app.app_context():
        assert db.session.get(Document, ids[0]) is None
        assert db.session.query(ActivityEvent).filter_by(verb="document.deleted").count() == 1


def test_download_and_inline_view_headers(app, client, login, office):
    """Attachment with RFC 6266 filename*, nosniff, private no-store; inline PDF sandboxed; ranges, ETag."""
    login(client, office.accountant)
    h.upload(client, office.own, "Tuludeklaratsioon 2025 õ.pdf", h.PDF)
    with app.app_context():
        doc_id = db.session.query(Document).one().id
    download = client.get(f"/files/{doc_id}/download")
    assert download.status_code == 200 and download.data == h.PDF
    assert download.headers["Content-Disposition"].startswith('attachment; filename="Tuludeklaratsioon 2025 _.pdf"')
    assert "filename*=UTF-8''Tuludeklaratsioon%202025%20%C3%B5.pdf" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "private, no-store"
    assert download.headers["Content-Type"] == "application/pdf"
    view = client.get(f"/files/{doc_id}/view")
    assert view.headers["Content-Disposition"].startswith("inline;")
    assert view.headers["Content-Security-Policy"].startswith("sandbox")
    etag = download.headers["ETag"]
    assert client.get(f"/files/{doc_id}/download", headers={"If-None-Match": etag}).status_code == 304
    part = client.get(f"/files/{doc_id}/download", headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.data == b"%PDF"
    with app.app_context():
        verbs = [e.verb for e in db.session.query(ActivityEvent).filter(ActivityEvent.verb.like("document.%"))]
        assert verbs.count("document.downloaded") >= 3 and "document.viewed" in verbs
        assert all(e.ip for e in db.session.query(ActivityEvent))


def test_inline_view_only_for_pdf_and_images(app, client, login, office):
    """A CSV has no inline view (404); it can only be downloaded."""
    login(client, office.accountant)
    h.upload(client, office.own, "bank.csv", h.CSV)
    with app.app_context():
        doc_id = db.session.query(Document).one().id
    assert client.get(f"/files/{doc_id}/view").status_code == 404
    assert client.get(f"/files/{doc_id}/download").status_code == 200


def test_out_of_scope_document_version_and_folder_ids_are_404(app, client, login, office):
    """A document, version or folder of a foreign entity is 404 on every route and action."""
    login(client, office.admin)
    h.upload(client, office.foreign, "secret.pdf", h.PDF)
    with app.app_context():
        doc = db.session.query(Document).one()
        folder = Folder(entity_id=office.foreign, name="Private")
        db.session.add(folder)
        db.session.commit()
        ids = SimpleNamespace(doc=doc.id, version=doc.versions[0].id, folder=folder.id)
    login(client, office.accountant)
    token = csrf_token(client, f"/documents/entity/{office.own}")
    gets = [f"/documentview/show/{ids.doc}", f"/documentview/edit/{ids.doc}", f"/files/{ids.doc}/download",
            f"/files/{ids.doc}/view", f"/files/{ids.doc}/download?version=1",
            f"/documents/entity/{office.foreign}", f"/documents/entity/{office.own}?folder={ids.folder}"]
    for path in gets:
        assert client.get(path).status_code == 404, path
    posts = [f"/documentview/delete/{ids.doc}", f"/documents/{ids.doc}/version",
             f"/documents/folders/{ids.folder}/rename", f"/documents/folders/{ids.folder}/move",
             f"/documents/folders/{ids.folder}/delete", f"/documents/entity/{office.foreign}/upload",
             f"/documents/entity/{office.foreign}/folders"]
    for path in posts:
        assert client.post(path, data={"csrf_token": token, "name": "x"}).status_code == 404, path
    for action in ("muldelete", "share", "unshare"):
        response = client.post("/documentview/action_post",
                               data={"csrf_token": token, "action": action, "rowid": [ids.doc]})
        assert response.status_code == 404, action
    moved = h.upload(client, office.own, "mine.txt", b"x\n", folder_id=ids.folder)
    assert moved.status_code == 404
    with app.app_context():
        assert db.session.query(Document).count() == 1 and db.session.get(Folder, ids.folder).name == "Private"


@pytest.mark.parametrize("raw", ["²", "٤", str(2**63), "9" * 30, "-1", "1.0"])
def test_malformed_folder_ids_in_the_browser_are_4xx_not_500(app, client, login, office, raw):
    """A unicode digit or a number past 2^63 as a folder id (query, upload, new folder, move) is refused with a 4xx."""
    login(client, office.accountant)
    token = csrf_token(client, f"/documents/entity/{office.own}")
    client.post(f"/documents/entity/{office.own}/folders", data={"csrf_token": token, "name": "Kept"})
    with app.app_context():
        kept = db.session.query(Folder).filter_by(name="Kept").one().id
    answers = [
        client.get(f"/documents/entity/{office.own}?folder={raw}").status_code,
        h.upload(client, office.own, "a.txt", b"a\n", folder_id=raw).status_code,
        client.post(f"/documents/entity/{office.own}/folders",
                    data={"csrf_token": token, "name": "New", "parent_id": raw}).status_code,
        client.post(f"/documents/folders/{kept}/move", data={"csrf_token": token, "parent_id": raw}).status_code,
    ]
    assert all(400 <= status < 500 for status in answers[1:]), answers
    assert answers[0] in (200, 404)  # ?folder= that is not a number shows the top level
    assert client.get(f"/documents/entity/{office.own}?page={raw}").status_code in (200, 404)
    with app.app_context():
        assert db.session.query(Document).count() == 0 and db.session.query(Folder).count() == 1


def test_staff_only_documents_never_reach_a_contact(app, office):
    """Whatever the id, a contact's scope holds only portal-shared documents of their entities."""
    with app.app_context():
        person = f.contact(with_user=True)
        entity = db.session.get(Entity, office.own)
        f.share(entity, R.ENTITY_COLLABORATOR, contact=person)
        shared = Document(entity_id=entity.id, name="shared.pdf", file_type="pdf", mime="application/pdf",
                          size=1, sha256="0" * 64, visibility=Visibility.portal)
        hidden = Document(entity_id=entity.id, name="internal.pdf", file_type="pdf", mime="application/pdf",
                          size=1, sha256="0" * 64)
        db.session.add_all([shared, hidden])
        db.session.commit()
        seen = {d.name for d in db.session.scalars(access.visible(person.user, Document))}
        assert seen == {"shared.pdf"}
        assert not access.can(person.user, R.VIEW, hidden)
        assert access.can(person.user, R.VIEW, shared)


def _bulk_documents(app, entity_id, n):
    with app.app_context():
        for i in range(n):
            doc = Document(entity_id=entity_id, name=f"doc{i:05d}.pdf", file_type="pdf", mime="application/pdf",
                           size=100 + i, sha256="0" * 64)
            doc.versions.append(DocumentVersion(number=1, storage_key=f"aa/bb/k{i}", original_name=doc.name,
                                                file_type="pdf", mime="application/pdf", size=100, sha256="0" * 64))
            db.session.add(doc)
        db.session.commit()


@pytest.mark.parametrize("path", ["/documentview/list/", "/documents/entity/{own}"])
def test_document_lists_have_a_fixed_query_count(app, client, login, count_queries, office, path):
    """The document list and the browser run the same number of queries for 10 and 1,000 documents."""
    login(client, office.accountant)
    url = path.format(own=office.own)
    _bulk_documents(app, office.own, 10)
    client.get(url)
    with count_queries() as small:
        assert client.get(url).status_code == 200
    _bulk_documents(app, office.own, 990)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert small() == large(), (small(), large())


def test_folders_create_rename_move_and_delete_only_when_empty(app, client, login, office):
    """The folder tree: create, rename, move (never into itself), delete only when empty."""
    login(client, office.accountant)
    token = csrf_token(client, f"/documents/entity/{office.own}")
    base = f"/documents/entity/{office.own}/folders"
    client.post(base, data={"csrf_token": token, "name": "2025"})
    with app.app_context():
        year = db.session.query(Folder).filter_by(name="2025").one().id
    client.post(base, data={"csrf_token": token, "name": "Receipts", "parent_id": year})
    with app.app_context():
        receipts = db.session.query(Folder).filter_by(name="Receipts").one().id
    client.post(f"/documents/folders/{year}/move", data={"csrf_token": token, "parent_id": receipts})
    client.post(f"/documents/folders/{receipts}/rename", data={"csrf_token": token, "name": "Kviitungid"})
    h.upload(client, office.own, "r.txt", b"receipt\n", folder_id=receipts)
    client.post(f"/documents/folders/{receipts}/delete", data={"csrf_token": token})
    page = client.get(f"/documents/entity/{office.own}?folder={receipts}").get_data(as_text=True)
    assert "Kviitungid" in page and "r.txt" in page
    with app.app_context():
        assert db.session.get(Folder, year).parent_id is None  # the move into its own child was refused
        assert db.session.get(Folder, receipts).name == "Kviitungid"
    client.post(base, data={"csrf_token": token, "name": "Empty"})
    with app.app_context():
        empty = db.session.query(Folder).filter_by(name="Empty").one().id
    client.post(f"/documents/folders/{empty}/delete", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Folder, empty) is None and db.session.get(Folder, receipts) is not None


def test_a_10_mb_upload_allocates_under_3_mb(app, client, login, office, tmp_path):
    """Streaming: Python allocations while a 10 MB upload is handled stay under 3 MB."""
    import tracemalloc

    login(client, office.accountant)
    token = csrf_token(client, f"/documents/entity/{office.own}")
    boundary = "memboundary"
    body = tmp_path / "body.bin"
    with open(body, "wb") as out:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
                  f'--{boundary}\r\nContent-Disposition: form-data; name="visibility"\r\n\r\nstaff_only\r\n'
                  f'--{boundary}\r\nContent-Disposition: form-data; name="direction"\r\n\r\nfrom_firm\r\n'
                  f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'.encode())
        for _ in range(LIMIT // 16):
            out.write(b"0123456789abcde\n")
        out.write(f"\r\n--{boundary}--\r\n".encode())
    with open(body, "rb") as stream:
        tracemalloc.start()
        response = client.post(f"/documents/entity/{office.own}/upload", input_stream=stream,
                               content_length=os.path.getsize(body),
                               content_type=f"multipart/form-data; boundary={boundary}")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert response.status_code == 302
    assert _docs(app) == (1, 1)
    assert peak < 3 * 1024 * 1024, peak


def test_storage_sweep_removes_orphans_and_stale_temp_files(app, client, login, office):
    """The sweep deletes blobs no version references and old temp files, and keeps live blobs."""
    login(client, office.accountant)
    h.upload(client, office.own, "keep.txt", b"keep\n")
    orphan_dir = os.path.join(office.root, "zz", "zz")
    os.makedirs(orphan_dir, exist_ok=True)
    orphan = os.path.join(orphan_dir, "zzorphan")
    temp = os.path.join(office.root, "tmp", "up-crashed")
    for path in (orphan, temp):
        with open(path, "wb") as out:
            out.write(b"left behind")
        os.utime(path, (1, 1))
    with app.app_context():
        counts = service.sweep_storage(older_than=60)
    assert counts == {"temp_files": 1, "orphan_blobs": 1}
    assert len(h.stored_files(office.root)) == 1


def test_edit_form_and_share_actions_change_a_document(app, client, login, office):
    """Rename, status, note and sharing through the screens; a folder of another entity is refused."""
    login(client, office.accountant)
    h.upload(client, office.own, "draft.pdf", h.PDF)
    with app.app_context():
        doc_id = db.session.query(Document).one().id
        other = Folder(entity_id=office.foreign, name="Elsewhere")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    token = csrf_token(client, f"/documentview/edit/{doc_id}")
    form = {"csrf_token": token, "name": "Final/return.pdf", "status": "awaiting_signature",
            "visibility": "portal", "note": "Please sign page 2."}
    assert client.post(f"/documentview/edit/{doc_id}", data=form).status_code == 302
    with app.app_context():
        doc = db.session.get(Document, doc_id)
        assert (doc.name, doc.status.name, doc.visibility.name, doc.note) == (
            "return.pdf", "awaiting_signature", "portal", "Please sign page 2.")
    client.post(f"/documentview/edit/{doc_id}", data=dict(form, folder=other_id))
    client.post("/documentview/action_post", data={"csrf_token": token, "action": "unshare", "rowid": [doc_id]})
    with app.app_context():
        doc = db.session.get(Document, doc_id)
        assert doc.folder_id is None and doc.visibility.name == "staff_only"


@pytest.fixture
def desk(app):
    """An accountant's entity with an assigned task and an Entity Collaborator contact."""
    with app.app_context():
        acc = f.staff(R.STAFF)
        own = f.entity("Own Co", responsible=acc)
        cora = f.contact(first="Cora", with_user=True)
        f.share(own, R.ENTITY_COLLABORATOR, contact=cora)
        task = tasks.create_task(own, "Own task", acc)
        tasks.assign(task, acc)
        return SimpleNamespace(acc=acc.id, own=own.id, task=task.id, cora=cora.id, cora_user=cora.user.id)


def _contact_can_read(app, desk, content):
    with app.test_request_context():
        user = db.session.get(User, desk.cora_user)
        versions = db.session.scalars(access.visible(user, DocumentVersion)).all()
        return any(backend().open(v.storage_key).read() == content for v in versions)


def test_a_staff_only_upload_never_becomes_a_version_of_a_shared_document(app, client, login, desk):
    """Same name, other visibility: two documents, and the client cannot read the staff-only one."""
    login(client, desk.acc)
    h.upload(client, desk.own, "draft.txt", b"public v1\n", visibility="portal")
    h.upload(client, desk.own, "draft.txt", b"INTERNAL SECRET\n", visibility="staff_only")
    with app.app_context():
        assert sorted(d.visibility.name for d in db.session.query(Document)) == ["portal", "staff_only"]
    assert _contact_can_read(app, desk, b"public v1\n")
    assert not _contact_can_read(app, desk, b"INTERNAL SECRET\n")


def test_an_internal_comments_file_stays_staff_only(app, client, login, desk):
    """A file on an internal comment, named like a shared document, is its own staff-only document."""
    login(client, desk.acc)
    h.upload(client, desk.own, "notes.txt", b"public\n", visibility="portal")
    token = csrf_token(client, "/taskview/new")
    client.post(f"/taskview/{desk.task}/message", data={
        "csrf_token": token, "body": "internal only", "kind": "internal",
        "files": (io.BytesIO(b"STAFF ONLY NOTE\n"), "notes.txt")}, content_type="multipart/form-data")
    with app.app_context():
        assert db.session.query(Message).one().attachments[0].visibility is Visibility.staff_only
    assert not _contact_can_read(app, desk, b"STAFF ONLY NOTE\n")


def test_a_huge_page_number_shows_the_last_page(client, login, desk):
    """?page= far past the end is the last page, not a 500."""
    login(client, desk.acc)
    assert client.get(f"/documents/entity/{desk.own}?page=999999999999999999999").status_code == 200


def test_a_new_version_must_keep_the_documents_type(app, client, login, desk):
    """A CSV cannot become the next version of a PDF (its name and content would disagree)."""
    login(client, desk.acc)
    h.upload(client, desk.own, "invoice.pdf", h.PDF)
    with app.app_context():
        doc_id = db.session.query(Document).one().id
    token = csrf_token(client, "/taskview/new")
    client.post(f"/documents/{doc_id}/version", data={
        "csrf_token": token, "file": (io.BytesIO(b"a,b\n1,2\n"), "data.csv")}, content_type="multipart/form-data")
    with app.app_context():
        doc = db.session.get(Document, doc_id)
        assert doc.version_count == 1 and doc.file_type == "pdf"
    assert client.get(f"/files/{doc_id}/download").mimetype == "application/pdf"


def test_a_file_request_cannot_update_a_staff_only_document(app, desk):
    """Asking the client to update a staff-only document is refused (its name would reach them)."""
    from app.models import Contact, Entity

    with app.app_context():
        own = db.session.get(Entity, desk.own)
        hidden = Document(entity_id=own.id, name="internal.pdf", file_type="pdf", mime="application/pdf", size=1,
                          sha256="0" * 64, visibility=Visibility.staff_only)
        db.session.add(hidden)
        db.session.commit()
        with pytest.raises(tasks.TaskError):
            file_requests.create(own, db.session.get(User, desk.acc), [db.session.get(Contact, desk.cora)],
                                 "Update it", update_document=hidden)
