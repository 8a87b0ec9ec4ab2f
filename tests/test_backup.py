"""Backup and restore: one archive rebuilds an empty deployment (database of the run's dialect, blobs on
either backend); every document downloads byte-identical, every portal account signs in, counts match."""
import io
import os
import tarfile
import tempfile
from types import SimpleNamespace

import pytest
from werkzeug.datastructures import FileStorage

from app import data_version
from app.extensions import db
from app.models import Entity
from app.models.documents import Direction, Visibility
from app.redis_conn import get_redis
from app.security import grants_cache
from app.security import roles as R
from app.services import documents as service
from app.services.backup import read_manifest
from app.services.firm import set_logo
from app.storage import LocalBackend
from tests import documents_helpers as h
from tests import factories as f
from tests.conftest import _wipe_schema
from tests.portal_auth_helpers import sign_in, signed_in, unique_email  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_redis")

FILES = [("ledger.csv", b"date,amount\n" + b"2026-01-31,120.50\n" * 3000), ("return.pdf", h.PDF),
         ("ledger.csv", b"date,amount\n2026-02-28,99.00\n"), ("scan.png", h.PNG)]


@pytest.fixture
def world(app, storage_backend):
    """Two entities, a portal contact on each, four uploads (one a second version) and a logo."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        user = app.appbuilder.sm.get_user_by_id(accountant.id)
        entities = [f.entity(f"Kept Co {i}", responsible=accountant) for i in range(2)]
        contacts = [f.portal_contact(e, email=unique_email("kept")) for e in entities]
        docs = {}
        for i, (name, content) in enumerate(FILES):
            doc = service.upload(db.session.get(Entity, entities[i % 2].id), FileStorage(io.BytesIO(content), name),
                                 user, direction=Direction.from_firm, visibility=Visibility.portal)
            docs[(doc.id, doc.version_count)] = content
        set_logo(FileStorage(io.BytesIO(h.PNG), "logo.png"))
        return SimpleNamespace(accountant=accountant.id, emails=[c.primary_email for c in contacts], docs=docs,
                               kind=storage_backend)


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["portico", *args])


def _lose_everything(app, kind):
    """As on a new machine: an empty database and (local backend) an empty storage directory."""
    with app.app_context():
        db.session.remove()
        _wipe_schema(db)
        if kind == "local":
            app.extensions["portico_storage"] = LocalBackend(tempfile.mkdtemp(prefix="portico-restored-"))


def test_backup_then_restore_into_an_empty_deployment(app, client, login, smtp, world):
    """The archive restores every row and blob: counts match, documents are byte-identical (every
    version), every portal account signs in with PIN and code, and the logo is back."""
    path = os.path.join(tempfile.mkdtemp(prefix="portico-backup-test-"), "portico.tar")
    made = _cli(app, "backup", path)
    assert made.exit_code == 0, made.output
    manifest = read_manifest(path)
    assert manifest["counts"]["document_version"] == 4 and manifest["counts"]["contact"] == 2
    assert manifest["alembic_revision"] and manifest["blobs_included"] == (world.kind == "local")
    with tarfile.open(path) as archive:
        blobs = [m for m in archive.getnames() if m.startswith("blobs/")]
    assert len(blobs) == (5 if world.kind == "local" else 0)  # four versions and the logo; S3 keeps its own
    refused = _cli(app, "restore", path)
    assert refused.exit_code != 0 and "not empty" in refused.output

    _lose_everything(app, world.kind)
    with app.app_context():
        version = get_redis().get(grants_cache.VERSION_KEY)
        rows_version = get_redis().get(data_version.VERSION_KEY)
    restored = _cli(app, "restore", path)
    assert restored.exit_code == 0, restored.output
    assert "row counts match" in restored.output
    with app.app_context():  # every process drops the roles and settings it kept of the old database
        assert get_redis().get(grants_cache.VERSION_KEY) != version
        assert get_redis().get(data_version.VERSION_KEY) != rows_version  # and the pages they kept

    login(client, world.accountant)
    for (doc_id, versions), content in world.docs.items():
        assert client.get(f"/files/{doc_id}/download?version={versions}").data == content
    assert client.get("/firm-logo").data == h.PNG
    for email in world.emails:
        browser = app.test_client()
        sign_in(app, browser, smtp, email)
        assert signed_in(browser)


def test_restore_refuses_an_archive_of_another_database(app, tmp_path):
    """An archive of the other dialect, or no archive at all, is refused with a clear message."""
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as archive:
        data = b'{"format": 1, "dialect": "oracle", "blobs": [], "counts": {}}'
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    result = _cli(app, "restore", "--force", str(other))
    assert result.exit_code != 0 and "oracle" in result.output
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar")
    result = _cli(app, "restore", str(junk))
    assert result.exit_code != 0 and "not a Portico backup" in result.output
