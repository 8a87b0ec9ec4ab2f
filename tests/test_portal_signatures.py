"""Portal signing: read, agree, confirm with PIN or a mailed code, adopt (typed or drawn), sign or
decline; a contact of another entity or one not asked gets 404 on every signing route (ids swept)."""
import base64
import io

import pytest
from PIL import Image

from app.extensions import db
from app.models import AccessCode, CodePurpose, SignatureRequest
from app.models.signatures import RequestStatus, SignerStatus, SigningOrder
from tests import factories as f
from tests.conftest import csrf_token
from tests.signature_helpers import office, sent_request


@pytest.fixture
def world(app):
    """An office with a request to Ann then Ben (ids only)."""
    with app.app_context():
        o = office()
        request = sent_request(o)
        parallel = sent_request(o, order=SigningOrder.parallel, signers=[o.first])
        return dict(request=request.id, parallel=parallel.id, ann=o.first.id, ben=o.second.id, cid=o.bystander.id,
                    dee=o.foreign.id, owner=o.owner.id, doc=o.doc.id)


def _pages(rid):
    return [f"/portal/signatures/{rid}", f"/portal/signatures/{rid}/documents/0/pages/0.png",
            f"/portal/signatures/{rid}/documents/0.pdf", f"/portal/signatures/{rid}/verify",
            f"/portal/signatures/{rid}/sign", f"/portal/signatures/{rid}/decline"]


def _agree_and_pin(client, rid):
    token = csrf_token(client, f"/portal/signatures/{rid}")
    response = client.post(f"/portal/signatures/{rid}", data={"csrf_token": token, "agree": "y"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/portal/signatures/{rid}/verify")
    token = csrf_token(client, f"/portal/signatures/{rid}/verify")
    response = client.post(f"/portal/signatures/{rid}/verify", data={"csrf_token": token, "action": "pin",
                                                                     "pin": f.PIN})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/portal/signatures/{rid}/sign")


def _png_data_url():
    image = Image.new("RGBA", (60, 20), (0, 0, 0, 0))
    image.putpixel((5, 5), (0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def test_a_signer_reads_agrees_confirms_with_pin_and_signs(app, client, portal_login, world):
    """Ann sees the pages, agrees, gives her PIN and signs with a drawing; Ben is asked next."""
    rid = world["request"]
    portal_login(client, world["ann"])
    body = client.get("/portal/signatures").get_data(as_text=True)
    assert "Engagement letter 2026" in body and "Waiting for your signature" in body
    page = client.get(f"/portal/signatures/{rid}").get_data(as_text=True)
    assert "Page 1 of 2 of engagement.pdf" in page and "agree to sign" in page.lower()
    image = client.get(f"/portal/signatures/{rid}/documents/0/pages/1.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    assert client.get(f"/portal/signatures/{rid}/sign").status_code == 302  # not yet agreed and confirmed
    _agree_and_pin(client, rid)
    token = csrf_token(client, f"/portal/signatures/{rid}/sign")
    response = client.post(f"/portal/signatures/{rid}/sign", data={
        "csrf_token": token, "style": "drawn", "signature_text": "Ann Example", "drawing": _png_data_url()})
    assert response.status_code == 302
    with app.app_context():
        item = db.session.get(SignatureRequest, rid)
        ann, ben = item.signers
        assert ann.status is SignerStatus.signed and ann.auth_method == "pin" and ann.signature_kind == "drawn"
        assert ann.signature_image.startswith(b"\x89PNG") and ann.user_agent
        assert ann.viewed_on is not None and ben.viewed_on is None
        assert ben.status is SignerStatus.asked and item.status is RequestStatus.partly_signed


def test_a_wrong_pin_or_code_does_not_confirm(app, client, portal_login, world):
    """A wrong PIN and a wrong mailed code leave the signer on the confirm step; the right code works."""
    rid = world["parallel"]
    portal_login(client, world["ann"])
    token = csrf_token(client, f"/portal/signatures/{rid}")
    client.post(f"/portal/signatures/{rid}", data={"csrf_token": token, "agree": "y"})
    token = csrf_token(client, f"/portal/signatures/{rid}/verify")
    body = client.post(f"/portal/signatures/{rid}/verify", data={"csrf_token": token, "action": "pin",
                                                                 "pin": "000000"}).get_data(as_text=True)
    assert "That PIN is not right." in body
    client.post(f"/portal/signatures/{rid}/verify", data={"csrf_token": token, "action": "send"})
    body = client.post(f"/portal/signatures/{rid}/verify", data={"csrf_token": token, "action": "code",
                                                                 "code": "00000000"}).get_data(as_text=True)
    assert "wrong or has expired" in body
    with app.app_context():
        from app.services import access_codes

        row = db.session.query(AccessCode).filter_by(purpose=CodePurpose.sign_document).one()
        code = access_codes.code_for_mail(row.id)
    response = client.post(f"/portal/signatures/{rid}/verify", data={"csrf_token": token, "action": "code",
                                                                     "code": code})
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign")


def test_decline_in_the_portal_stops_the_request(app, client, portal_login, world):
    """Ann declines with a reason: the request is declined and Ben's pages refuse to sign."""
    rid = world["request"]
    portal_login(client, world["ann"])
    token = csrf_token(client, f"/portal/signatures/{rid}/decline")
    body = client.post(f"/portal/signatures/{rid}/decline", data={"csrf_token": token, "reason": ""}).get_data(
        as_text=True)
    assert "Tell the firm why you decline." in body
    client.post(f"/portal/signatures/{rid}/decline", data={"csrf_token": token, "reason": "The fee is wrong"})
    with app.app_context():
        assert db.session.get(SignatureRequest, rid).status is RequestStatus.declined
    portal_login(client, world["ben"])
    assert client.get(f"/portal/signatures/{rid}/decline").status_code == 302


@pytest.mark.parametrize("who", ["cid", "dee"])
def test_contacts_not_asked_or_of_another_entity_get_404(client, portal_login, world, who):
    """Cid (same entity, not asked) and Dee (another entity) get 404 on every signing route of every id."""
    portal_login(client, world[who])
    for rid in range(1, world["parallel"] + 3):
        for path in _pages(rid):
            assert client.get(path).status_code == 404, path
        assert client.post(f"/portal/signatures/{rid}/decline", data={"reason": "x"}).status_code in (400, 404)
    assert "Engagement letter" not in client.get("/portal/signatures").get_data(as_text=True)


def test_a_draft_is_not_shown_to_its_signer(app, client, portal_login, world):
    """A request not sent yet is 404 for its signer too."""
    from app.models import Contact, Document
    from app.services import signatures as service

    with app.app_context():
        owner = db.session.get(SignatureRequest, world["request"]).created_by
        doc, ann = db.session.get(Document, world["doc"]), db.session.get(Contact, world["ann"])
        draft = service.create(doc.entity, owner, "Draft", [doc], [ann]).id
    portal_login(client, world["ann"])
    assert client.get(f"/portal/signatures/{draft}").status_code == 404


def test_placed_fields_are_filled_in_the_portal_and_stamped(app, client, portal_login):
    """Text, checkbox, initials and date fields: an empty text is refused; the values end up on the page."""
    from pypdf import PdfReader

    from app.models.signatures import FieldKind
    from app.services import documents as document_service
    from app.services import signature_fields
    from app.services import signatures as service

    with app.app_context():
        o = office()
        item = service.create(o.a, o.owner, "Authorization 8879", [o.doc], [o.first])
        ann_id = item.signers[0].id
        for kind, top in ((FieldKind.signature, .5), (FieldKind.text, .6), (FieldKind.checkbox, .7),
                          (FieldKind.initials, .8), (FieldKind.date_signed, .9)):
            signature_fields.add(item, o.owner, 0, 1, kind, ann_id, .1, top, label="Tax year" if kind is
                                 FieldKind.text else None)
        service.send(item, o.owner)
        rid, contact = item.id, o.first.id
        text_id = next(f.id for f in item.fields if f.kind is FieldKind.text)
        box_id = next(f.id for f in item.fields if f.kind is FieldKind.checkbox)
    portal_login(client, contact)
    _agree_and_pin(client, rid)
    page = client.get(f"/portal/signatures/{rid}/sign").get_data(as_text=True)
    assert "Tax year" in page and f'name="field-{box_id}"' in page
    token = csrf_token(client, f"/portal/signatures/{rid}/sign")
    form = {"csrf_token": token, "style": "typed", "signature_text": "Ann Example", "initials": "AE"}
    body = client.post(f"/portal/signatures/{rid}/sign", data=dict(form, **{f"field-{text_id}": " "})).get_data(
        as_text=True)
    assert "Fill in every text field (Tax year)." in body
    response = client.post(f"/portal/signatures/{rid}/sign", data=dict(form, **{
        f"field-{text_id}": "2025", f"field-{box_id}": "1"}))
    assert response.status_code == 302
    with app.app_context():
        item = db.session.get(SignatureRequest, rid)
        assert item.status is RequestStatus.signed
        reader = PdfReader(io.BytesIO(document_service.read_version(item.documents[0].signed_version)))
        text = reader.pages[1].extract_text()
        assert "2025" in text and "AE" in text and "Ann Example" in text
        assert len(reader.pages) == 3  # two pages and the certificate: no signature page when fields are placed
