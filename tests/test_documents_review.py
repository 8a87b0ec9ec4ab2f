"""Regressions for the documents/client-work review: versions never cross visibility or type."""
import io
from types import SimpleNamespace

import pytest
from flask_appbuilder.security.sqla.models import User

from app.extensions import db
from app.models import Document, DocumentVersion, Message
from app.models.documents import Visibility
from app.security import access
from app.security import roles as R
from app.services import file_requests, tasks
from app.storage import backend
from tests import documents_helpers as h
from tests import factories as f
from tests.conftest import csrf_token


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
