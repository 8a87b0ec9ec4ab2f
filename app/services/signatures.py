"""E-signature requests: create and send, ask each signer in turn, void, resend, expire and remind.

Signing itself (consent, sign, decline) and sealing the result live in signature_signing.py. Every
step is recorded in the activity log; mails to signers go through the notification outbox, whose
send-time check drops them once the request is closed or the contact no longer sees it.
"""
from datetime import date, datetime, timedelta, timezone

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Document, SignatureDocument, SignatureRequest, Signer
from app.models.documents import DocumentStatus
from app.models.signatures import OPEN_STATUSES, RequestStatus, SignerStatus, SigningOrder
from app.security import access
from app.services import activity, events, notifications, signature_pdf
from app.services import documents as document_service
from app.services.entities import contacts_with_access

MAX_DOCUMENTS = 10
MAX_SIGNERS = 10
REMIND_EVERY_DAYS = 3  # an open request reminds its asked signers every this many days, and on the deadline eve
DEFAULT_CONSENT = ("I agree to sign these documents electronically. My electronic signature has the same effect "
                   "as my handwritten signature. I can download the signed documents from the portal and ask "
                   "the firm for a paper copy.")


class SignatureError(ValueError):
    """A refused signature operation; the message is for the user."""


def now():
    """The current time, UTC without zone (tests freeze it through this function)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def firm_consent_text():
    """The firm's consent text for new requests (Firm settings), else Portico's default."""
    from app.services.firm import get_settings

    return (get_settings().signature_consent or "").strip() or DEFAULT_CONSENT


def eligible_contacts(entity):
    """Contacts of the entity who may be asked to sign: they see the entity and can be mailed."""
    return [c for c, _role in contacts_with_access(entity) if access.may_be_mailed(c)]


def pdf_documents(user, entity):
    """The entity's PDFs the staff user may work on, by name."""
    from app.security import roles as R

    return db.session.scalars(access.visible(user, Document, R.WORK).where(
        Document.entity_id == entity.id, Document.file_type == "pdf").order_by(Document.name)).all()


def create(entity, user, title, documents, contacts, order=SigningOrder.sequential, message=None,
           deadline=None, consent_text=None):
    """A draft request of `documents` (PDFs of the entity) to `contacts` (who see it), in `order`."""
    _check(entity, user, title, documents, contacts, deadline)
    request = SignatureRequest(entity_id=entity.id, title=title.strip()[:200], message=(message or "").strip() or None,
                               deadline=deadline, signing_order=order, status=RequestStatus.draft,
                               consent_text=(consent_text or "").strip() or firm_consent_text(),
                               created_by_id=user.id)
    for position, doc in enumerate(documents):
        version = doc.versions[0]
        data = document_service.read_version(version)
        pages = len(signature_pdf.page_sizes(data))
        request.documents.append(SignatureDocument(document_id=doc.id, version_id=version.id, position=position,
                                                   page_count=pages, sha256_before=version.sha256))
    for position, contact in enumerate(contacts):
        request.signers.append(Signer(contact_id=contact.id, position=position, name=contact.full_name,
                                      email=contact.primary_email, status=SignerStatus.waiting))
    db.session.add(request)
    db.session.flush()
    activity.record("signature.created", entity, request, actor=user, commit=False)
    db.session.commit()
    return request


def _check(entity, user, title, documents, contacts, deadline):
    if not access.may_request_signatures(user, entity):
        raise SignatureError(_("You may not send this entity's documents for signature."))
    if not (title or "").strip():
        raise SignatureError(_("Give the request a title."))
    if not documents or len(documents) > MAX_DOCUMENTS:
        raise SignatureError(_("Choose between 1 and %(max)d PDF documents.", max=MAX_DOCUMENTS))
    if any(d.entity_id != entity.id or d.file_type != "pdf" for d in documents):
        raise SignatureError(_("Only this entity's PDF documents can be sent for signature."))
    if not contacts or len(contacts) > MAX_SIGNERS or len({c.id for c in contacts}) != len(contacts):
        raise SignatureError(_("Choose between 1 and %(max)d different signers.", max=MAX_SIGNERS))
    allowed = {c.id for c in eligible_contacts(entity)}
    if any(c.id not in allowed for c in contacts):
        raise SignatureError(_("Each signer must be a contact who can see this entity and has an e-mail address."))
    if deadline is not None and deadline < date.today():
        raise SignatureError(_("The deadline cannot be in the past."))


def send(request, user):
    """Send a draft: the documents await signature and the first signer (or every one) is asked."""
    if request.status is not RequestStatus.draft:
        raise SignatureError(_("This request was sent already."))
    if not access.may_request_signatures(user, request.entity):
        raise SignatureError(_("You may not send this entity's documents for signature."))
    from app.services.signature_fields import check_complete

    check_complete(request)
    request.status, request.sent_on = RequestStatus.awaiting, now()
    for item in request.documents:
        item.document.status = DocumentStatus.awaiting_signature
    activity.record("signature.sent", request.entity, request, actor=user, commit=False)
    ask_next(request, user)
    db.session.commit()
    return request


def ask_next(request, actor=None):
    """Ask whoever's turn it is (uncommitted): every waiting signer at once, or the next one in order."""
    waiting = [s for s in request.signers if s.status is SignerStatus.waiting]
    if request.signing_order is SigningOrder.sequential:
        if any(s.status is SignerStatus.asked for s in request.signers):
            return []
        waiting = waiting[:1]
    for signer in waiting:
        signer.status, signer.asked_on = SignerStatus.asked, now()
        activity.record("signature.asked", request.entity, request, summary=f"{request.title}: {signer.name}",
                        actor=actor, commit=False)
    _notify(request, waiting, actor, "asked")
    return waiting


def _notify(request, signers, actor, discriminator):
    contacts = [s.contact for s in signers]
    notifications.notify(events.SIGNATURE_REQUESTED, contacts, request, request.entity, actor,
                         discriminator=discriminator, delay=False)


def tell_staff(event_name, request, actor=None):
    """Notify the request's sender and the entity's responsible member (uncommitted)."""
    people = [p for p in [request.created_by, *notifications.staff_for_entity(request.entity)] if p is not None]
    unique = list({p.id: p for p in people if p.active}.values())
    notifications.notify(event_name, unique, request, request.entity, actor)


def void(request, user, reason=""):
    """Stop an open (or draft) request: nobody can sign it any more; unsent mails about it are dropped."""
    if request.status not in OPEN_STATUSES + (RequestStatus.draft,):
        raise SignatureError(_("Only a request that is not finished can be voided."))
    if not access.may_request_signatures(user, request.entity):
        raise SignatureError(_("You may not void this request."))
    _close(request, RequestStatus.voided, (reason or "").strip()[:500] or None)
    activity.record("signature.voided", request.entity, request, summary=f"{request.title}: {reason or ''}"[:300],
                    actor=user, commit=False)
    db.session.commit()
    return request


def _close(request, status, reason=None):
    request.status, request.closed_on, request.close_reason = status, now(), reason
    for item in request.documents:
        if item.document.status is DocumentStatus.awaiting_signature:
            item.document.status = DocumentStatus.received


def resend(request, user):
    """Mail the signers whose turn it is once more (a new outbox row each time)."""
    if not request.is_open():
        raise SignatureError(_("Only an open request can be sent again."))
    if not access.may_request_signatures(user, request.entity):
        raise SignatureError(_("You may not send this request again."))
    asked = [s for s in request.signers if s.status is SignerStatus.asked]
    _notify(request, asked, user, f"resent:{now().isoformat()}")
    activity.record("signature.resent", request.entity, request, actor=user, commit=False)
    db.session.commit()
    return len(asked)


def sweep(today=None):
    """Daily and idempotent: expire open requests past their deadline, remind asked signers, and seal
    requests whose last signature was recorded but not sealed (a crash in between)."""
    from app.services import signature_signing

    today = today or date.today()
    counts = {"expired": 0, "reminded": 0, "sealed": 0}
    open_requests = db.session.scalars(select(SignatureRequest).where(SignatureRequest.status.in_(OPEN_STATUSES))
                                       .options(selectinload(SignatureRequest.signers))).all()
    for request in open_requests:
        if request.deadline is not None and request.deadline < today:
            _close(request, RequestStatus.expired)
            activity.record("signature.expired", request.entity, request, commit=False)
            counts["expired"] += 1
            continue
        due = [s for s in request.signers if s.status is SignerStatus.asked and _remind_today(request, s, today)]
        if due:
            _notify(request, due, None, f"reminder:{today.isoformat()}")
            activity.record("signature.reminded", request.entity, request, commit=False)
            counts["reminded"] += len(due)
    db.session.commit()
    stuck = db.session.scalars(select(SignatureRequest.id).where(
        SignatureRequest.status == RequestStatus.signed, SignatureRequest.completed_on.is_(None))).all()
    for request_id in stuck:
        counts["sealed"] += int(signature_signing.complete(request_id))
    return counts


def _remind_today(request, signer, today):
    """Every REMIND_EVERY_DAYS days after being asked, and the day before the deadline."""
    if signer.asked_on is None:
        return False
    if request.deadline is not None and request.deadline - timedelta(days=1) == today:
        return True
    days = (today - signer.asked_on.date()).days
    return days > 0 and days % REMIND_EVERY_DAYS == 0


def for_contact(user):
    """The requests the signed-in contact is asked to sign (open first), with their signers."""
    from app.security import roles as R

    query = access.visible(user, SignatureRequest, R.VIEW).options(selectinload(SignatureRequest.signers))
    rows = db.session.scalars(query.order_by(SignatureRequest.sent_on.desc(), SignatureRequest.id.desc())).all()
    return sorted(rows, key=lambda r: not r.is_open())
