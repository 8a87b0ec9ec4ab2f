"""A signer's steps (consent, identity confirmed, sign or decline) and sealing the signed documents.

The last signature closes the request as signed and commits; sealing then stamps every field into
each PDF, appends the certificate of completion, seals the whole file with the firm's certificate
and stores it as the document's next version, shared to the portal. Should sealing fail, the daily
sweep seals it again (complete() is idempotent).
"""
import logging

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import DocumentVersion, SignatureRequest, Signer
from app.models.documents import DocumentStatus, Visibility
from app.models.signatures import FieldKind, RequestStatus, SignerStatus, SigningOrder
from app.services import activity, documents, events, signature_pdf
from app.services.firm import get_settings
from app.services.signatures import SignatureError, ask_next, now, tell_staff

log = logging.getLogger(__name__)
AUTH_METHODS = ("pin", "email_code")
MAX_SIGNATURE_PNG = 200_000
MAX_TEXT = 200


def may_sign(signer):
    """Whether it is this signer's turn on an open request."""
    return signer is not None and signer.request.is_open() and signer.status is SignerStatus.asked


def _require_turn(signer):
    if signer.request.status is RequestStatus.voided:
        raise SignatureError(_("This request was withdrawn by the firm."))
    if signer.status is SignerStatus.signed:
        raise SignatureError(_("You have signed this already."))
    if not may_sign(signer):
        raise SignatureError(_("This request cannot be signed now."))


def _evidence(signer, ip, user_agent):
    signer.ip = (ip or "")[:45] or None
    signer.user_agent = (user_agent or "")[:400] or None


def viewed(signer, user, ip=None):
    """The signer opened the request for the first time while it was their turn (recorded once)."""
    if signer.viewed_on is not None or not may_sign(signer):
        return
    signer.viewed_on = now()
    activity.record("signature.viewed", signer.request.entity, signer.request, actor=user, address=ip,
                    summary=f"{signer.request.title}: {signer.name}", commit=True)


def consent(signer, user, ip=None, user_agent=None):
    """The signer agreed to sign electronically (the request's consent text)."""
    _require_turn(signer)
    signer.consented_on = now()
    _evidence(signer, ip, user_agent)
    activity.record("signature.consented", signer.request.entity, signer.request, actor=user, address=ip,
                    summary=f"{signer.request.title}: {signer.name}", commit=False)
    db.session.commit()


def identity_confirmed(signer, user, method, ip=None):
    """Record that the signer confirmed who they are again (PIN or a fresh mailed code)."""
    activity.record("signature.authenticated", signer.request.entity, signer.request, actor=user, address=ip,
                    summary=f"{signer.request.title}: {signer.name} ({method})", commit=True)


def sign(signer, user, adoption, values, auth_method, ip=None, user_agent=None):
    """Sign: the adopted signature and the field values are kept; the next signer is asked, or the
    request is complete and sealed. `adoption`: {"text", "image" (PNG bytes or None), "initials"}."""
    _require_turn(signer)
    if signer.consented_on is None:
        raise SignatureError(_("Agree to sign electronically first."))
    if auth_method not in AUTH_METHODS:
        raise SignatureError(_("Confirm who you are first."))
    try:
        _adopt(signer, adoption)
        _fill(signer, values)
    except SignatureError:
        db.session.rollback()  # nothing of a refused signature stays in the session
        raise
    _claim(signer, SignerStatus.signed)
    signer.status, signer.signed_on, signer.auth_method = SignerStatus.signed, now(), auth_method
    _evidence(signer, ip, user_agent)
    request = signer.request
    activity.record("signature.signed", request.entity, request, actor=user, address=ip,
                    summary=f"{request.title}: {signer.name}", commit=False)
    if all(s.status is SignerStatus.signed for s in request.signers):
        request.status = RequestStatus.signed
    else:
        request.status = RequestStatus.partly_signed
        ask_next(request, user)
    db.session.commit()
    if request.status is RequestStatus.signed:
        complete(request.id)
    return request


def _claim(signer, status):
    """Move the signer from "asked" to `status` in one conditional UPDATE: of two parallel posts (a double
    click, two tabs) only one finds the row still asked; the other is refused and changes nothing."""
    moved = db.session.execute(update(Signer).where(Signer.id == signer.id, Signer.status == SignerStatus.asked)
                               .values(status=status).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        db.session.rollback()
        raise SignatureError(_("You have signed this already.") if status is SignerStatus.signed
                             else _("This request cannot be signed now."))


def _adopt(signer, adoption):
    text = " ".join((adoption.get("text") or "").split())[:MAX_TEXT]
    image = adoption.get("image")
    if not text:
        raise SignatureError(_("Type your full name to adopt your signature."))
    if image is not None and (len(image) > MAX_SIGNATURE_PNG or not image.startswith(b"\x89PNG\r\n\x1a\n")):
        raise SignatureError(_("The drawn signature could not be read. Draw it again or type it."))
    initials = " ".join((adoption.get("initials") or "").split())[:10]
    signer.signature_kind = "drawn" if image else "typed"
    signer.signature_text, signer.signature_image = text, image
    signer.initials = initials or "".join(part[0] for part in text.split() if part)[:10]


def _fill(signer, values):
    """Take the signer's text and checkbox values; refuse a required text left empty."""
    for field in signer.request.fields:
        if field.signer_id != signer.id:
            continue
        raw = values.get(field.id)
        if field.kind is FieldKind.checkbox:
            field.value = "1" if raw else "0"
        elif field.kind is FieldKind.text:
            value = " ".join((raw or "").split())[:MAX_TEXT]
            if not value:
                raise SignatureError(_("Fill in every text field (%(label)s).", label=field.label or _("Text")))
            field.value = value


def decline(signer, user, reason, ip=None, user_agent=None):
    """Decline with a reason: the request stops and nobody else is asked."""
    _require_turn(signer)
    reason = " ".join((reason or "").split())[:500]
    if not reason:
        raise SignatureError(_("Tell the firm why you decline."))
    _claim(signer, SignerStatus.declined)
    signer.status, signer.declined_on, signer.decline_reason = SignerStatus.declined, now(), reason
    _evidence(signer, ip, user_agent)
    request = signer.request
    request.status, request.closed_on, request.close_reason = RequestStatus.declined, now(), reason
    for item in request.documents:
        item.document.status = DocumentStatus.reviewed
    activity.record("signature.declined", request.entity, request, actor=user, address=ip,
                    summary=f"{request.title}: {signer.name}: {reason}"[:300], commit=False)
    tell_staff(events.SIGNATURE_DECLINED, request, user)
    db.session.commit()
    return request


def complete(request_id):
    """Seal every document of a fully signed request and store it as a new version; True if done now."""
    request = db.session.scalars(select(SignatureRequest).where(SignatureRequest.id == request_id)
                                 .with_for_update().execution_options(populate_existing=True)).first()
    if request is None or request.status is not RequestStatus.signed or request.completed_on is not None:
        db.session.rollback()
        return False
    signers = {s.id: s for s in request.signers}
    firm = get_settings().firm_name
    try:
        for item in request.documents:
            source = documents.read_version(item.version)
            fields = [f for f in request.fields if f.document_id == item.id]
            sealed, stamped_hash = signature_pdf.finish(
                source, fields, signers, lambda s: signature_pdf.format_when(s.signed_on),
                lambda digest, item=item: certificate_lines(request, item, digest, firm),
                reason=_("Signed by %(names)s through %(firm)s's portal",
                         names=", ".join(s.name for s in request.signers), firm=firm))
            doc = item.document
            documents.add_generated_version(doc, sealed, request.created_by or request.signers[0].contact.user)
            item.sha256_after = signature_pdf.sha256(sealed)
            doc.status, doc.visibility = DocumentStatus.signed, Visibility.portal
            db.session.flush()
            item.signed_version_id = _newest_version_id(doc)
    except Exception:
        db.session.rollback()
        log.exception("sealing signature request %s failed; the sweep tries again", request_id)
        return False
    request.completed_on = now()
    activity.record("signature.completed", request.entity, request, commit=False)
    tell_staff(events.SIGNATURE_COMPLETED, request)
    events.emit(events.SIGNATURE_COMPLETED, request.entity, request, record=False)  # integrations (webhooks)
    db.session.commit()
    return True


def _newest_version_id(doc):
    return db.session.scalar(select(DocumentVersion.id).where(
        DocumentVersion.document_id == doc.id,
        DocumentVersion.number == select(func.max(DocumentVersion.number))
        .where(DocumentVersion.document_id == doc.id).scalar_subquery()))


def certificate_lines(request, item, stamped_hash, firm):
    """The certificate of completion of one document, as (style, text) lines."""
    when = signature_pdf.format_when
    lines = [("h1", _("Certificate of completion")),
             ("p", _("%(firm)s — signature request #%(id)d: %(title)s", firm=firm, id=request.id, title=request.title)),
             ("p", _("Sent on %(when)s by %(who)s", when=when(request.sent_on), who=request.created_by or "")),
             ("p", _("Order: %(order)s", order=_("one after the other") if request.signing_order is
                     SigningOrder.sequential else _("all at once"))),
             ("h2", _("Document")),
             ("p", _("%(name)s, %(pages)d pages", name=item.document.name, pages=item.page_count)),
             ("p", _("SHA-256 as sent: %(hash)s", hash=item.sha256_before)),
             ("p", _("SHA-256 with the signatures stamped (before this certificate and the seal): %(hash)s",
                     hash=stamped_hash)),
             ("p", _("The whole file is sealed with %(firm)s's certificate: any change after sealing shows in a PDF "
                     "reader's signature panel.", firm=firm)),
             ("h2", _("Consent to sign electronically")), ("p", request.consent_text)]
    for signer in request.signers:
        lines += [("h2", _("Signer %(n)d: %(name)s", n=signer.position + 1, name=signer.name)),
                  ("p", _("E-mail: %(email)s", email=signer.email)),
                  ("p", _("Asked: %(when)s; opened: %(opened)s; agreed to sign electronically: %(consent)s",
                          when=when(signer.asked_on), opened=when(signer.viewed_on),
                          consent=when(signer.consented_on))),
                  ("p", _("Identity confirmed by: %(method)s", method=_auth_label(signer.auth_method))),
                  ("p", _("Signed: %(when)s from address %(ip)s", when=when(signer.signed_on), ip=signer.ip or "")),
                  ("p", _("Browser: %(agent)s", agent=signer.user_agent or "")),
                  ("p", _("Signature: %(kind)s, \"%(text)s\"", kind=_("drawn") if signer.signature_kind == "drawn"
                          else _("typed"), text=signer.signature_text or ""))]
    return lines


def _auth_label(method):
    return {"pin": _("portal sign-in and PIN"), "email_code": _("portal sign-in and a code mailed to them")}.get(
        method or "", method or "")
