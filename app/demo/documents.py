"""Demo folders and documents (small generated PDFs and CSVs) for the demo firm."""
import io

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import Document, Folder
from app.models.documents import Direction, DocumentStatus, Visibility
from app.services import documents as document_service

DEMO_TREE = {
    "2025 tax year": {
        "Source documents": [("W-2 Acme Corp.pdf", Direction.from_client, Visibility.portal, DocumentStatus.reviewed),
                             ("1099-INT Harbor Bank.pdf", Direction.from_client, Visibility.portal, None)],
        "Working papers": [("Tax workpapers 2025.csv", Direction.from_firm, Visibility.staff_only, None)],
    },
    "Bank statements": [("Statement 2025-12.pdf", Direction.from_client, Visibility.portal, DocumentStatus.received)],
    "Engagement": [("Engagement letter 2025.pdf", Direction.from_firm, Visibility.portal,
                    DocumentStatus.awaiting_signature)],
}


def seed_documents(entity, user):
    """Give `entity` the demo folder tree and documents, unless it has documents already."""
    if db.session.scalar(select(Document.id).where(Document.entity_id == entity.id).limit(1)):
        return
    _fill(entity, user, DEMO_TREE, None)


def _fill(entity, user, tree, parent):
    for name, content in tree.items():
        folder = db.session.scalar(select(Folder).where(Folder.entity_id == entity.id, Folder.name == name))
        folder = folder or document_service.create_folder(entity, name, parent)
        if isinstance(content, dict):
            _fill(entity, user, content, folder)
            continue
        for filename, direction, visibility, status in content:
            data = _csv(entity) if filename.endswith(".csv") else pdf_bytes([entity.name, filename[:-4], "Demo data"])
            doc = document_service.upload(entity, FileStorage(io.BytesIO(data), filename), user, folder,
                                          direction, visibility)
            if status is not None:
                doc.status = status
                doc.note = "Please review and sign by April 15." if status is DocumentStatus.awaiting_signature else None
                db.session.commit()


def _csv(entity):
    return f"account,description,amount\n4000,Revenue {entity.name},125000.00\n6100,Rent,-18000.00\n".encode()


def pdf_bytes(lines):
    """A small valid one-page PDF showing `lines` in Helvetica (ASCII only)."""
    text = "".join(f"BT /F1 14 Tf 72 {720 - 24 * i} Td ({_pdf_escape(line)}) Tj ET\n" for i, line in enumerate(lines))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%sendstream" % (len(text), text.encode("latin-1")),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _pdf_escape(line):
    ascii_line = line.encode("ascii", "replace").decode("ascii")
    return ascii_line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
