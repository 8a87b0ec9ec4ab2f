"""E-signature lifecycle: send, sign in order, seal (pyHanko validates the whole file), new version,
decline, void, resend, expiry and reminders, and who may do what."""
import io
from datetime import date, timedelta

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import func, select

from app.extensions import db
from app.models import ActivityEvent, Notification, SignatureRequest
from app.models.documents import DocumentStatus, Visibility
from app.models.notifications import Channel
from app.models.signatures import RequestStatus, SignerStatus, SigningOrder
from app.services import documents as document_service
from app.services import signature_seal, signature_signing
from app.services import signatures as service
from app.services.signatures import SignatureError
from tests.signature_helpers import office, sent_request

TYPED = {"text": "Ann Example", "image": None}


def _sign(signer, adoption=TYPED, values=None):
    signature_signing.consent(signer, signer.contact.user, ip="203.0.113.9", user_agent="pytest-browser")
    return signature_signing.sign(signer, signer.contact.user, adoption, values or {}, "pin", ip="203.0.113.9",
                                  user_agent="pytest-browser")


def _validate(data):
    """pyHanko's verdict on the seal of `data`, trusting the firm's certificate."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    assert len(reader.embedded_signatures) == 1
    context = ValidationContext(trust_roots=[signature_seal.certificate()], allow_fetching=False)
    return validate_pdf_signature(reader.embedded_signatures[0], context)


def test_signed_request_is_sealed_as_a_new_version_that_validates(ctx):
    """Both signers sign in order; the new version is sealed over the whole file, intact and trusted."""
    o = office()
    request = sent_request(o)
    ann, ben = request.signers
    assert (ann.status, ben.status) == (SignerStatus.asked, SignerStatus.waiting)
    assert o.doc.status is DocumentStatus.awaiting_signature
    _sign(ann)
    assert request.status is RequestStatus.partly_signed and ben.status is SignerStatus.asked
    _sign(ben, {"text": "Ben Example", "image": None})
    db.session.refresh(request)
    assert request.status is RequestStatus.signed and request.completed_on is not None
    doc = o.doc
    db.session.refresh(doc)
    assert doc.version_count == 2 and doc.status is DocumentStatus.signed and doc.visibility is Visibility.portal
    item = request.documents[0]
    sealed = document_service.read_version(item.signed_version)
    assert item.signed_version.number == 2 and item.sha256_after == doc.sha256 == item.signed_version.sha256
    status = _validate(sealed)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.coverage.name == "ENTIRE_FILE"
    assert b"Certificate of completion" not in sealed  # compressed streams: read the text instead
    verbs = set(db.session.scalars(select(ActivityEvent.verb).where(ActivityEvent.object_type == "SignatureRequest")))
    assert {"signature.created", "signature.sent", "signature.asked", "signature.consented", "signature.signed",
            "signature.completed"} <= verbs


def test_a_changed_byte_fails_validation(ctx):
    """Flip one byte inside the signed range (the binary comment under the header, so the file still
    parses): pyHanko reports the seal not intact, and its bottom line fails."""
    o = office()
    request = sent_request(o, signers=[o.first])
    _sign(request.signers[0])
    sealed = bytearray(document_service.read_version(request.documents[0].signed_version))
    assert _validate(bytes(sealed)).intact
    at = sealed.index(b"\n%") + 2
    sealed[at] ^= 0x01
    status = _validate(bytes(sealed))
    assert not status.intact and not status.bottom_line


def test_the_certificate_of_completion_is_in_the_sealed_file(ctx):
    """The last pages name each signer with e-mail, address, browser, method and the hashes."""
    from pypdf import PdfReader

    o = office()
    request = sent_request(o, signers=[o.first])
    _sign(request.signers[0])
    item = request.documents[0]
    reader = PdfReader(io.BytesIO(document_service.read_version(item.signed_version)))
    text = "\n".join(page.extract_text() for page in reader.pages[2:])
    for expected in ("Certificate of completion", o.first.primary_email, "203.0.113.9", "pytest-browser",
                     item.sha256_before[:20], "PIN", "Signatures"):
        assert expected in text or expected.lower() in text.lower(), expected


def test_sequential_order_is_enforced(ctx):
    """Ben cannot sign before Ann; parallel requests ask both at once."""
    o = office()
    request = sent_request(o)
    with pytest.raises(SignatureError):
        _sign(request.signers[1])
    both = sent_request(o, order=SigningOrder.parallel)
    assert [s.status for s in both.signers] == [SignerStatus.asked, SignerStatus.asked]
    _sign(both.signers[1])
    assert both.status is RequestStatus.partly_signed


def test_a_decline_stops_the_rest(ctx):
    """Ann declines with a reason: the request is declined, Ben is never asked and cannot sign."""
    o = office()
    request = sent_request(o)
    ann, ben = request.signers
    with pytest.raises(SignatureError):
        signature_signing.decline(ann, ann.contact.user, "  ")
    signature_signing.decline(ann, ann.contact.user, "Wrong fee")
    assert request.status is RequestStatus.declined and request.close_reason == "Wrong fee"
    assert ben.status is SignerStatus.waiting
    with pytest.raises(SignatureError):
        _sign(ben)


def test_signing_twice_or_after_void_is_refused(ctx):
    """A second signature by the same signer, or any after a void, is refused and changes nothing."""
    o = office()
    request = sent_request(o, signers=[o.first, o.second], order=SigningOrder.parallel)
    _sign(request.signers[0])
    with pytest.raises(SignatureError):
        _sign(request.signers[0])
    service.void(request, o.owner, "Sent the wrong letter")
    assert request.status is RequestStatus.voided and o.doc.status is DocumentStatus.received
    with pytest.raises(SignatureError):
        _sign(request.signers[1])
    assert request.signers[1].signed_on is None


def test_only_owners_and_staff_admins_send(ctx):
    """A Viewer of the entity may not create, void or resend; a contact of another entity cannot be a signer."""
    o = office()
    with pytest.raises(SignatureError):
        service.create(o.a, o.viewer, "x", [o.doc], [o.first])
    with pytest.raises(SignatureError):
        service.create(o.a, o.owner, "x", [o.doc], [o.foreign])
    request = sent_request(o)
    with pytest.raises(SignatureError):
        service.void(request, o.viewer)
    with pytest.raises(SignatureError):
        service.resend(request, o.viewer)


def test_signers_are_asked_through_the_outbox_and_reminded_once_per_day(ctx):
    """Sending mails Ann only; a sweep on a reminder day adds one reminder, a second sweep none."""
    o = office()
    request = sent_request(o)
    mails = lambda: db.session.scalar(select(func.count(Notification.id)).where(  # noqa: E731
        Notification.channel == Channel.email, Notification.object_type == "SignatureRequest"))
    rows = db.session.scalars(select(Notification).where(Notification.channel == Channel.email)).all()
    assert [r.recipient_contact_id for r in rows] == [o.first.id]
    day = date.today() + timedelta(days=service.REMIND_EVERY_DAYS)
    assert service.sweep(day)["reminded"] == 1
    assert service.sweep(day)["reminded"] == 1 and mails() == 2  # same key: no second row
    service.resend(request, o.owner)
    assert mails() == 3


def test_requests_past_their_deadline_expire(ctx):
    """The sweep closes an open request past its deadline; signing is then refused."""
    o = office()
    request = sent_request(o)
    request.deadline = date.today()
    db.session.commit()
    assert service.sweep(date.today() + timedelta(days=1))["expired"] == 1
    assert request.status is RequestStatus.expired
    with pytest.raises(SignatureError):
        _sign(request.signers[0])
    assert service.sweep(date.today() + timedelta(days=1))["expired"] == 0


def test_a_drawn_signature_must_be_a_png(ctx):
    """Anything but PNG bytes as a drawn signature is refused; nothing is recorded."""
    o = office()
    request = sent_request(o, signers=[o.first])
    with pytest.raises(SignatureError):
        _sign(request.signers[0], {"text": "Ann", "image": b"GIF89a..."})
    assert request.signers[0].signed_on is None and request.status is RequestStatus.awaiting
    db.session.rollback()
    assert db.session.get(SignatureRequest, request.id).status is RequestStatus.awaiting


def test_portico_init_makes_a_self_signed_certificate_once(app, tmp_path):
    """`flask portico init` writes a private PKCS#12 when none exists and leaves an existing one alone."""
    import os
    import stat

    path = tmp_path / "seal.p12"
    old = app.config["SIGNING_P12_PATH"]
    app.config["SIGNING_P12_PATH"] = str(path)
    try:
        first = app.test_cli_runner().invoke(args=["portico", "init"])
        assert first.exit_code == 0 and "self-signed" in first.output
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        before = path.read_bytes()
        second = app.test_cli_runner().invoke(args=["portico", "init"])
        assert "self-signed" not in second.output and path.read_bytes() == before
        with app.app_context():
            assert signature_seal.certificate().subject.native["common_name"]
    finally:
        app.config["SIGNING_P12_PATH"] = old


def test_the_sweep_job_is_idempotent(ctx):
    """The daily job expires and reminds once; run twice it adds no outbox row."""
    from app import jobs

    o = office()
    sent_request(o)
    first = jobs.sweep_signatures()
    rows = db.session.scalar(select(func.count(Notification.id)))
    assert jobs.sweep_signatures() == first and db.session.scalar(select(func.count(Notification.id))) == rows


def test_a_sealed_version_sent_again_gets_one_fresh_seal(ctx):
    """Signing the sealed version once more drops the old seal (stamping changed it) and seals anew."""
    o = office()
    _sign(sent_request(o, signers=[o.first]).signers[0])
    again = sent_request(o, signers=[o.first])
    _sign(again.signers[0])
    item = again.documents[0]
    assert item.signed_version.number == 3
    status = _validate(document_service.read_version(item.signed_version))
    assert status.intact and status.coverage.name == "ENTIRE_FILE"


def test_the_firms_consent_text_is_used_and_kept_with_the_request(ctx):
    """Firm settings give the default consent text; a request keeps its own copy when the firm changes it."""
    from app.services.firm import get_settings

    o = office()
    get_settings().signature_consent = "We, the undersigned, agree to sign electronically."
    db.session.commit()
    request = sent_request(o, signers=[o.first])
    get_settings().signature_consent = "Another text"
    db.session.commit()
    assert request.consent_text == "We, the undersigned, agree to sign electronically."


def test_the_signer_is_mailed_a_portal_link_and_a_voided_request_mails_nobody(ctx, smtp):
    """The outbox mails Ann a link to the request's portal page; after a void her reminder is cancelled."""
    from app.models.notifications import NotificationState
    from app.services import delivery

    o = office()
    request = sent_request(o)
    for row in db.session.scalars(select(Notification).where(Notification.channel == Channel.email)).all():
        delivery.deliver(row.id)
    assert [m["To"] for m in smtp.messages] == [o.first.primary_email]
    assert f"/portal/signatures/{request.id}" in smtp.messages[0].get_body(("plain",)).get_content()
    service.resend(request, o.owner)
    service.void(request, o.owner, "Wrong letter")
    pending = db.session.scalars(select(Notification).where(Notification.channel == Channel.email,
                                                            Notification.state == NotificationState.pending)).all()
    for row in pending:
        delivery.deliver(row.id)
    db.session.expire_all()
    assert len(smtp.messages) == 1
    assert {db.session.get(Notification, r.id).last_error for r in pending} == {"signature request closed"}


def test_a_second_post_of_the_same_signature_is_refused_even_when_stale(ctx):
    """Two posts that both passed the turn check (the second with a stale signer) sign once."""
    o = office()
    request = sent_request(o, signers=[o.first, o.second], order=SigningOrder.parallel)
    ann = request.signers[0]
    signature_signing.consent(ann, ann.contact.user)
    signature_signing.sign(ann, ann.contact.user, TYPED, {}, "pin")
    from sqlalchemy.orm.attributes import set_committed_value

    set_committed_value(ann, "status", SignerStatus.asked)  # what a parallel request loaded before the first commit
    with pytest.raises(SignatureError):
        signature_signing.sign(ann, ann.contact.user, TYPED, {}, "pin")
    db.session.expire_all()
    assert request.signers[0].status is SignerStatus.signed and request.status is RequestStatus.partly_signed
    signed = db.session.scalar(select(func.count(ActivityEvent.id)).where(ActivityEvent.verb == "signature.signed"))
    assert signed == 1


def test_staff_admins_and_entities_admins_may_send_plain_staff_may_not(ctx):
    """Staff Admin (sees every entity) and Entities Admin may send; Staff without a share may not."""
    from app.security import access
    from app.security import roles as R
    from tests import factories as f

    o = office()
    assert access.may_request_signatures(f.staff(R.STAFF_ADMIN), o.a)
    assert access.may_request_signatures(f.staff(R.ENTITIES_ADMIN), o.a)
    assert access.may_request_signatures(o.owner, o.a) and not access.may_request_signatures(o.viewer, o.a)
    assert not access.may_request_signatures(f.staff(R.STAFF), o.a)
    assert not access.may_request_signatures(o.first.user, o.a)
