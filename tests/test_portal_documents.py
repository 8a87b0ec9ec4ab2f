"""Portal documents: only shared documents of the contact's entity, folders, search, filters, sort,
pages, safe view and download, and a fixed number of queries."""
import io
import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import ActivityEvent, Document, Folder
from app.models.documents import Direction, DocumentStatus, Visibility
from app.security import roles as R
from app.services import documents
from tests import documents_helpers as h
from tests import factories as f
from tests.conftest import csrf_token
from tests.documents_helpers import PDF

PAGE = "/portal/documents"
BASE_DAY = datetime(2025, 3, 1, 12, 0)


def _upload(entity, user, name, content, folder=None, visibility=Visibility.portal, **changes):
    """A real document (blob and version) with its facts changed afterwards."""
    doc = documents.upload(entity, FileStorage(io.BytesIO(content), name), user, folder,
                           direction=changes.pop("direction", Direction.from_firm), visibility=visibility)
    for field, value in changes.items():
        setattr(doc, field, value)
    db.session.commit()
    return doc

JSON = {"Accept": "application/json"}


@pytest.fixture
def shelf(app):
    """Entity A with shared and staff-only documents in folders; entity B with its own shared file."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        own, other = f.entity("Own Co", responsible=accountant), f.entity("Other Co")
        cora = f.portal_contact(own, first="Cora")
        reader = f.portal_contact(own, R.ENTITY_ACCESS, first="Rhea")
        fred = f.portal_contact(other, first="Fred")
        year = documents.create_folder(own, "2024")
        returns = documents.create_folder(own, "Tax returns", parent=year)
        payroll = documents.create_folder(own, "Payroll")
        internal = documents.create_folder(own, "Internal")
        ids = SimpleNamespace(own=own.id, other=other.id, cora=cora.id, reader=reader.id, fred=fred.id,
                              returns=returns.id, payroll=payroll.id, internal=internal.id, year=year.id)
        ids.ret = _upload(own, accountant, "return-2024.pdf", h.PDF, returns, note="Please sign page 3",
                          status=DocumentStatus.awaiting_signature, created_on=BASE_DAY).id
        ids.png = _upload(own, accountant, "receipt.png", h.PNG, direction=Direction.from_client,
                          created_on=BASE_DAY + timedelta(days=10)).id
        ids.csv = _upload(own, accountant, "ledger.csv", h.CSV, payroll, status=DocumentStatus.reviewed,
                          created_on=BASE_DAY + timedelta(days=20)).id
        ids.draft = _upload(own, accountant, "return-draft.pdf", h.PDF, returns, visibility=Visibility.staff_only,
                            created_on=BASE_DAY + timedelta(days=5)).id
        ids.memo = _upload(own, accountant, "secret-memo.pdf", h.PDF, internal, visibility=Visibility.staff_only).id
        ids.foreign = _upload(other, accountant, "b-statement.pdf", h.PDF).id
        return ids


def _page(client, **args):
    response = client.get(PAGE, query_string=args)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _names(body):
    """Document names in the list, in order."""
    return re.findall(r'<td class="doc-name"><a href="/portal/documents/\d+">([^<]+)</a>', body)


def test_list_shows_only_shared_documents_of_the_current_entity(client, portal_login, shelf):
    """Shared documents appear; staff-only ones, their folder and entity B's file never do; no-store."""
    portal_login(client, shelf.cora)
    response = client.get(PAGE)
    body = response.get_data(as_text=True)
    assert "no-store" in response.headers["Cache-Control"]
    assert _names(body) == ["ledger.csv", "receipt.png", "return-2024.pdf"]
    for hidden in ("return-draft", "secret-memo", "Internal", "b-statement", "Other Co"):
        assert hidden not in body
    assert "Please sign page 3" in body and "Awaiting signature" in body
    assert "From the firm" in body and "From you" in body


def test_folder_counts_and_all_count_ignore_staff_only_documents(client, portal_login, shelf):
    """Counts: all 3, Tax returns 1 (its staff-only draft is not counted), Payroll 1; Internal absent."""
    portal_login(client, shelf.cora)
    body = _page(client)
    assert re.search(r'All documents</a>\s*<span class="count">3<', body)
    assert re.search(r'>Tax returns</a>\s*<span class="count">1<', body)
    assert re.search(r'>Payroll</a>\s*<span class="count">1<', body)
    assert "?folder=%d" % shelf.internal not in body and "folder=%d\"" % shelf.internal not in body


def test_folder_shows_its_documents_and_hidden_folders_are_404(client, portal_login, shelf):
    """A visible folder lists its shared documents; a staff-only folder or entity B's is 404; junk is ignored."""
    portal_login(client, shelf.cora)
    assert _names(_page(client, folder=shelf.returns)) == ["return-2024.pdf"]
    assert client.get(PAGE, query_string={"folder": shelf.internal}).status_code == 404
    assert client.get(PAGE, query_string={"folder": 999999}).status_code == 404
    assert len(_names(_page(client, folder="abc"))) == 3


def test_nested_folders_expand_and_a_parent_lists_its_subfolders(app, client, portal_login, shelf):
    """Once 2024 holds a shared file, Tax returns nests in its <details>; 2024 lists both (count 2)."""
    with app.app_context():
        year = db.session.get(Folder, shelf.year)
        _upload(year.entity, f.staff(R.STAFF), "summary.txt", b"totals\n", year)
    portal_login(client, shelf.cora)
    body = _page(client, folder=shelf.returns)
    details = re.search(r'<details class="folder" open>\s*<summary>2024 <span class="count">2<.*?</details>', body, re.S)
    assert details and ">Tax returns</a>" in details.group(0) and "Everything in 2024" in details.group(0)
    assert sorted(_names(_page(client, folder=shelf.year))) == ["return-2024.pdf", "summary.txt"]
    assert re.search(r'<details class="folder"\s*>', _page(client))  # closed when elsewhere


def test_search_is_case_insensitive_and_never_finds_staff_only(client, portal_login, shelf):
    """?q=RETURN finds the shared return only, not the staff-only draft; % and _ are literal."""
    portal_login(client, shelf.cora)
    body = _page(client, q="RETURN")
    assert _names(body) == ["return-2024.pdf"] and "1 document" in body
    assert _names(_page(client, q="%")) == []
    assert _names(_page(client, q="secret")) == []


def test_each_filter_narrows_the_list(client, portal_login, shelf):
    """Status, file type and the added-on date range each filter; bad values are ignored."""
    portal_login(client, shelf.cora)
    assert _names(_page(client, status="awaiting_signature")) == ["return-2024.pdf"]
    assert _names(_page(client, type="csv")) == ["ledger.csv"]
    assert _names(_page(client, **{"from": "2025-03-05", "to": "2025-03-15"})) == ["receipt.png"]
    assert _names(_page(client, **{"from": "2025-03-12"})) == ["ledger.csv"]
    assert _names(_page(client, to="2025-03-01")) == ["return-2024.pdf"]
    junk = {"status": "bogus", "type": "exe", "from": "yesterday", "to": "2025-13-45", "sort": "x", "page": "-3"}
    assert len(_names(_page(client, **junk))) == 3


def test_sort_oldest_first(client, portal_login, shelf):
    """Newest first by default; sort=oldest reverses it."""
    portal_login(client, shelf.cora)
    assert _names(_page(client, sort="oldest")) == ["return-2024.pdf", "receipt.png", "ledger.csv"]


def _bulk_documents(entity_id, count, visibility=Visibility.portal, start=0):
    """Insert `count` document rows at once (no blobs: the list never opens them)."""
    db.session.execute(insert(Document), [
        {"entity_id": entity_id, "name": f"bulk-{start + i:04d}.pdf", "file_type": "pdf", "mime": "application/pdf",
         "size": 1000 + i, "sha256": "0" * 64, "direction": Direction.from_firm, "status": DocumentStatus.received,
         "visibility": visibility, "version_count": 1, "created_on": BASE_DAY - timedelta(days=1, minutes=start + i),
         "updated_on": BASE_DAY}
        for i in range(count)
    ])
    db.session.commit()


def test_pages_of_25_and_past_the_end_is_the_last_page(app, client, portal_login, shelf):
    """30 documents: page 1 has 25, page 2 the last 8 (with the 3 others); page 99 shows page 2."""
    with app.app_context():
        _bulk_documents(shelf.own, 30)
        _bulk_documents(shelf.own, 5, Visibility.staff_only, start=100)
    portal_login(client, shelf.cora)
    first = _page(client)
    assert len(_names(first)) == 25 and "33 documents" in first and "Page 1 of 2" in first
    last = _page(client, page=2)
    assert len(_names(last)) == 8 and "bulk-0029.pdf" in last
    assert _names(_page(client, page=99)) == _names(last)


def test_download_has_safe_headers_and_records_the_event(app, client, portal_login, shelf):
    """Download: attachment with filename*, nosniff, no-store, the bytes, and a document.downloaded event."""
    portal_login(client, shelf.cora)
    response = client.get(f"{PAGE}/{shelf.ret}/download")
    assert response.status_code == 200 and response.data == h.PDF
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''return-2024.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    with app.app_context():
        event = db.session.query(ActivityEvent).filter_by(verb="document.downloaded").one()
        assert event.object_id == shelf.ret and event.entity_id == shelf.own
        assert event.actor_id is not None


def test_view_of_a_pdf_is_inline_and_sandboxed(app, client, portal_login, shelf):
    """View: inline, a sandbox CSP, nosniff, and a document.viewed event."""
    portal_login(client, shelf.cora)
    response = client.get(f"{PAGE}/{shelf.ret}/view")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    with app.app_context():
        assert db.session.query(ActivityEvent).filter_by(verb="document.viewed").count() == 1


def test_view_of_a_type_browsers_cannot_show_is_404(client, portal_login, shelf):
    """A CSV has no inline view (404) and no View button; Download is offered."""
    portal_login(client, shelf.cora)
    assert client.get(f"{PAGE}/{shelf.csv}/view").status_code == 404
    body = _page(client, type="csv")
    assert f"/portal/documents/{shelf.csv}/view" not in body
    assert f"/portal/documents/{shelf.csv}/download" in body
    assert f"/portal/documents/{shelf.ret}/view" in _page(client, type="pdf")


@pytest.mark.parametrize("which", ["draft", "memo", "foreign"])
def test_staff_only_and_foreign_documents_are_404_everywhere(app, client, portal_login, shelf, which):
    """Detail, download and view of a staff-only document or entity B's: 404, and nothing is recorded."""
    portal_login(client, shelf.cora)
    doc_id = getattr(shelf, which)
    for suffix in ("", "/download", "/view"):
        assert client.get(f"{PAGE}/{doc_id}{suffix}").status_code == 404, suffix
    with app.app_context():
        assert db.session.query(ActivityEvent).filter(ActivityEvent.verb.like("document.%ed"),
                                                      ActivityEvent.verb != "document.uploaded").count() == 0


def test_detail_page_shows_the_note_status_and_actions(client, portal_login, shelf):
    """A document's page: name in title and h1, the firm's message, status, folder link, View and Download."""
    portal_login(client, shelf.cora)
    response = client.get(f"{PAGE}/{shelf.ret}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    assert "<h1>return-2024.pdf</h1>" in body and "<title>return-2024.pdf" in body
    assert "Message from the firm" in body and "Please sign page 3" in body and "Awaiting signature" in body
    assert f"folder={shelf.returns}" in body
    assert f"{PAGE}/{shelf.ret}/view" in body and f"{PAGE}/{shelf.ret}/download" in body


def test_entity_access_contact_reads_documents_too(client, portal_login, shelf):
    """Entity Access is enough to list, view and download shared documents."""
    portal_login(client, shelf.reader)
    assert len(_names(_page(client))) == 3
    assert client.get(f"{PAGE}/{shelf.png}/view").status_code == 200
    assert client.get(f"{PAGE}/{shelf.csv}/download").status_code == 200


def test_other_entity_contact_sees_only_their_own(client, portal_login, shelf):
    """Entity B's contact lists only B's document, and A's documents are 404."""
    portal_login(client, shelf.fred)
    assert _names(_page(client)) == ["b-statement.pdf"]
    assert client.get(f"{PAGE}/{shelf.ret}/download").status_code == 404


def test_nothing_shared_gives_a_friendly_page(app, client, portal_login, shelf):
    """A contact without entities gets an explanation; one whose entity has no shared files too."""
    with app.app_context():
        loner = f.portal_contact(first="Lone").id
        empty = f.entity("Empty Co")
        quiet = f.portal_contact(empty, first="Quiet").id
    portal_login(client, loner)
    assert "Nothing has been shared with you yet" in _page(client)
    portal_login(client, quiet)
    assert "has not shared any documents of Empty Co" in _page(client)


def test_documents_page_query_count_does_not_grow(app, client, portal_login, count_queries, shelf):
    """The page (with a folder, a search and a filter) runs as many queries with 10 documents as with 1,000."""
    def measure():
        with count_queries() as n:
            assert client.get(PAGE, query_string={"q": "bulk"}).status_code == 200
            assert client.get(PAGE, query_string={"folder": shelf.returns, "status": "received"}).status_code == 200
        return n()

    with app.app_context():
        _bulk_documents(shelf.own, 10)
    portal_login(client, shelf.cora)
    small = measure()
    with app.app_context():
        _bulk_documents(shelf.own, 990, start=10)
        folder = db.session.get(Folder, shelf.returns)
        assert folder is not None
    assert measure() == small


# 9 --------------------------------------------------------------------------------------------------
def test_a_contacts_note_is_not_shown_as_a_message_from_the_firm(app, client, portal_login, world):
    """A contact's "Send files" note showed as "Message from the firm" to other contacts: no longer."""
    portal_login(client, world.cora)
    token = csrf_token(client, "/portal/")
    note = "Our bank details changed: pay all taxes to IBAN EE00 1234 5678"
    response = client.post("/portal/send-files", data={
        "csrf_token": token, "entity_id": str(world.a), "note": note,
        "files": (io.BytesIO(PDF), "bank-letter.pdf")}, content_type="multipart/form-data", headers=JSON)
    assert response.status_code == 200
    doc_id = response.get_json()["saved"][0]["id"]
    other = app.test_client()
    portal_login(other, world.rhea)
    listing = other.get("/portal/documents").get_data(as_text=True)
    page = other.get(f"/portal/documents/{doc_id}").get_data(as_text=True)
    assert note in listing and note in page  # still shown, but not as the firm's word
    assert "Message from the firm" not in listing and "Message from the firm" not in page
