"""Fields of a draft signature request: a box on one page of one document for one signer, placed
where staff clicked on the page preview (given as fractions of the page, stored in PDF points)."""
from flask_babel import gettext as _

from app.extensions import db
from app.models import SignatureField
from app.models.signatures import FieldKind, RequestStatus
from app.security import access
from app.services import activity, signature_pdf
from app.services import documents as document_service
from app.services.signatures import SignatureError

# Width and height in PDF points of each kind of field (1 pt = 1/72 inch).
SIZES = {
    FieldKind.signature: (180, 40),
    FieldKind.initials: (60, 28),
    FieldKind.date_signed: (110, 18),
    FieldKind.text: (180, 18),
    FieldKind.checkbox: (16, 16),
}
MAX_FIELDS = 200


def _editable(request, user):
    if request.status is not RequestStatus.draft:
        raise SignatureError(_("Fields can only be placed before the request is sent."))
    if not access.may_request_signatures(user, request.entity):
        raise SignatureError(_("You may not change this request."))


def page_size(item, page):
    """(width, height) in points of one page of a request's document."""
    return signature_pdf.page_sizes(document_service.read_version(item.version))[page]


def add(request, user, number, page, kind, signer_id, left, top, label=None):
    """Place a field whose top-left corner is at (left, top), fractions 0–1 of the page from its top-left."""
    _editable(request, user)
    if len(request.fields) >= MAX_FIELDS:
        raise SignatureError(_("A request holds at most %(max)d fields.", max=MAX_FIELDS))
    if not 0 <= number < len(request.documents):
        raise SignatureError(_("Choose one of the request's documents."))
    item = request.documents[number]
    if not 0 <= page < item.page_count:
        raise SignatureError(_("That page does not exist."))
    signer = next((s for s in request.signers if s.id == signer_id), None)
    if signer is None:
        raise SignatureError(_("Choose one of the request's signers."))
    if not (0 <= left <= 1 and 0 <= top <= 1):
        raise SignatureError(_("Place the field on the page."))
    width, height = page_size(item, page)
    w, h = SIZES[kind]
    x = min(left * width, max(width - w, 0))
    y = max(height - top * height - h, 0)
    field = SignatureField(request=request, document_id=item.id, signer_id=signer.id, kind=kind, page=page,
                           x=x, y=y, w=w, h=h, label=(label or "").strip()[:100] or None)
    db.session.add(field)
    activity.record("signature.field_added", request.entity, request, actor=user, commit=False,
                    summary=f"{request.title}: {kind.value} p{page + 1} {signer.name}")
    db.session.commit()
    return field


def remove(request, user, field_id):
    """Take a field off a draft request."""
    _editable(request, user)
    field = next((f for f in request.fields if f.id == field_id), None)
    if field is None:
        raise SignatureError(_("That field is not on this request."))
    db.session.delete(field)
    db.session.commit()


def check_complete(request):
    """Before sending with fields: every signer has a signature field (else their signature would be nowhere)."""
    if not request.fields:
        return
    missing = [s.name for s in request.signers
               if not any(f.signer_id == s.id and f.kind is FieldKind.signature for f in request.fields)]
    if missing:
        raise SignatureError(_("Place a signature field for: %(names)s.", names=", ".join(missing)))


def boxes(request, item):
    """The fields of one document as boxes in % of the page (for drawing them on the previews)."""
    sizes = signature_pdf.page_sizes(document_service.read_version(item.version))
    out = []
    for field in request.fields:
        if field.document_id != item.id:
            continue
        width, height = sizes[field.page]
        out.append({"field": field, "page": field.page, "left": 100 * field.x / width,
                    "top": 100 * (height - field.y - field.h) / height, "width": 100 * field.w / width,
                    "height": 100 * field.h / height})
    return out
