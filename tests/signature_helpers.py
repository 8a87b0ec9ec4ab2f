"""Shared set-up of the e-signature tests: real PDFs, an office with signers, a sent request."""
import io
from types import SimpleNamespace

from reportlab.pdfgen import canvas
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import Document
from app.security import roles as R
from app.services import documents as document_service
from app.services import signature_seal
from app.services import signatures as service
from tests import factories as f


def make_pdf(pages=2, text="Engagement letter"):
    """A real PDF of `pages` US-letter pages with a line of text on each."""
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(612, 792))
    for n in range(pages):
        c.setFont("Helvetica", 14)
        c.drawString(72, 700, f"{text} — page {n + 1}")
        c.showPage()
    c.save()
    return out.getvalue()


def upload_pdf(entity, user, name="engagement.pdf", pages=2):
    """Upload a real PDF to the entity (staff only) and return the document."""
    doc = document_service.upload(entity, FileStorage(io.BytesIO(make_pdf(pages)), name,
                                                      content_type="application/pdf"), user)
    return db.session.get(Document, doc.id)


def office():
    """Entity A with an Owner, two signer contacts and one reader who is not asked; entity B with its contact."""
    signature_seal.ensure_certificate("Test Firm CPAs")
    owner = f.staff(R.STAFF, username=None)
    viewer = f.staff(R.STAFF)
    a, b = f.entity("Alpha Co", responsible=None), f.entity("Beta Co")
    f.share(a, R.OWNER, user=owner)
    f.share(a, R.VIEWER, user=viewer)
    first = f.portal_contact(a, R.ENTITY_ACCESS, first="Ann")
    second = f.portal_contact(a, R.ENTITY_COLLABORATOR, first="Ben")
    bystander = f.portal_contact(a, R.ENTITY_COLLABORATOR, first="Cid")
    foreign = f.portal_contact(b, R.ENTITY_COLLABORATOR, first="Dee")
    doc = upload_pdf(a, owner)
    return SimpleNamespace(owner=owner, viewer=viewer, a=a, b=b, first=first, second=second, bystander=bystander,
                           foreign=foreign, doc=doc)


def sent_request(o, order=service.SigningOrder.sequential, signers=None, docs=None):
    """A request of o.doc to Ann then Ben (or `signers`), sent."""
    request = service.create(o.a, o.owner, "Engagement letter 2026", docs or [o.doc], signers or [o.first, o.second],
                             order=order, message="Please sign.")
    return service.send(request, o.owner)
