"""Staff signature screens: send with "sign at the end" or place fields first, follow, void and resend;
a Viewer gets 403 on every change, a member of another entity 404 on every id."""

import pytest

from app.extensions import db
from app.models import SignatureRequest
from app.models.signatures import FieldKind, RequestStatus, SignerStatus
from app.security import roles as R
from tests import factories as f
from tests.conftest import csrf_token
from tests.signature_helpers import office


@pytest.fixture
def desk(app):
    """The office of the signature tests plus a staff member of another entity only."""
    with app.app_context():
        o = office()
        outsider = f.staff(R.STAFF)
        f.share(o.b, R.OWNER, user=outsider)
        return dict(b=o.b.id, a=o.a.id, owner=o.owner.id, viewer=o.viewer.id, outsider=outsider.id, doc=o.doc.id,
                    ann=o.first.id, ben=o.second.id, cid=o.bystander.id, dee=o.foreign.id)


def _new(client, desk, then, signers=("ann", "ben")):
    path = f"/signatures/new/{desk['a']}"
    data = {"csrf_token": csrf_token(client, path), "title": "Engagement 2026", "signing_order": "sequential",
            "consent_text": "I agree.", f"doc-{desk['doc']}": "1", "then": then}
    for n, who in enumerate(signers, start=1):
        data[f"signer-{desk[who]}"] = "1"
        data[f"order-{desk[who]}"] = str(n)
    return client.post(path, data=data)


def test_owner_sends_with_signatures_at_the_end(app, client, login, desk):
    """The form lists the PDFs and the entity's contacts (never another entity's); sending asks Ann first."""
    login(client, desk["owner"])
    body = client.get(f"/signatures/new/{desk['a']}").get_data(as_text=True)
    assert "engagement.pdf" in body and f'name="signer-{desk["ann"]}"' in body
    assert f'name="signer-{desk["dee"]}"' not in body
    response = _new(client, desk, "send", signers=("ben", "ann"))
    assert response.status_code == 302
    with app.app_context():
        item = db.session.scalars(db.select(SignatureRequest)).one()
        assert item.status is RequestStatus.awaiting
        assert [(s.contact_id, s.status) for s in item.signers] == [(desk["ben"], SignerStatus.asked),
                                                                    (desk["ann"], SignerStatus.waiting)]
    show = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Engagement 2026" in show and "signature.sent" in show


def test_a_foreign_contact_cannot_be_slipped_in(app, client, login, desk):
    """A signer id of another entity in the form is refused; nothing is created."""
    login(client, desk["owner"])
    body = _new(client, desk, "send", signers=("ann", "dee")).get_data(as_text=True)
    assert "must be a contact who can see this entity" in body
    with app.app_context():
        assert db.session.query(SignatureRequest).count() == 0


def test_place_fields_by_position_then_send(app, client, login, desk):
    """A draft gets a signature field where staff clicked (percent of the page); sending needs one per signer."""
    login(client, desk["owner"])
    response = _new(client, desk, "fields", signers=("ann",))
    path = response.headers["Location"]
    with app.app_context():
        item = db.session.scalars(db.select(SignatureRequest)).one()
        rid, signer_id = item.id, item.signers[0].id
        assert item.status is RequestStatus.draft
    assert client.get(f"/signatures/{rid}/documents/0/pages/0.png").data.startswith(b"\x89PNG")
    token = csrf_token(client, path)
    client.post(path, data={"csrf_token": token, "kind": "date_signed", "signer_id": signer_id, "number": 0,
                            "page": 2, "left": "10", "top": "50"})
    client.post(f"/signatures/{rid}/send", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(SignatureRequest, rid).status is RequestStatus.draft  # no signature field yet
    client.post(path, data={"csrf_token": token, "kind": "signature", "signer_id": signer_id, "number": 0,
                            "page": 2, "left": "10", "top": "80"})
    client.post(f"/signatures/{rid}/send", data={"csrf_token": token})
    with app.app_context():
        item = db.session.get(SignatureRequest, rid)
        field = next(x for x in item.fields if x.kind is FieldKind.signature)
        assert item.status is RequestStatus.awaiting and field.page == 1
        assert field.x == pytest.approx(61.2) and field.y == pytest.approx(792 * 0.2 - 40)


def test_void_and_resend(app, client, login, desk):
    """Resend adds a mail; void closes the request and refuses a second void."""
    login(client, desk["owner"])
    _new(client, desk, "send")
    with app.app_context():
        rid = db.session.scalars(db.select(SignatureRequest.id)).one()
    token = csrf_token(client, f"/signatures/{rid}")
    assert client.post(f"/signatures/{rid}/resend", data={"csrf_token": token}).status_code == 302
    client.post(f"/signatures/{rid}/void", data={"csrf_token": token, "reason": "Wrong year"})
    with app.app_context():
        item = db.session.get(SignatureRequest, rid)
        assert item.status is RequestStatus.voided and item.close_reason == "Wrong year"


def test_viewer_gets_403_and_outsider_404(app, client, login, desk):
    """A Viewer sees a request but every change is 403; a member of another entity gets 404 on all ids."""
    login(client, desk["owner"])
    _new(client, desk, "fields", signers=("ann",))
    with app.app_context():
        rid = db.session.scalars(db.select(SignatureRequest.id)).one()
    login(client, desk["viewer"])
    assert client.get(f"/signatures/{rid}").status_code == 200
    assert client.get(f"/signatures/new/{desk['a']}").status_code == 403
    token = csrf_token(client, f"/signatures/{rid}")
    for path in (f"/signatures/{rid}/fields", f"/signatures/{rid}/send", f"/signatures/{rid}/void",
                 f"/signatures/{rid}/resend", f"/signatures/{rid}/fields/1/delete"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    login(client, desk["outsider"])
    token = csrf_token(client, f"/documents/entity/{desk['b']}")
    assert client.get(f"/signatures/new/{desk['a']}").status_code == 404
    for sweep in range(1, rid + 3):
        for path in (f"/signatures/{sweep}", f"/signatures/{sweep}/fields", f"/signatures/{sweep}/documents/0/pages/0.png"):
            assert client.get(path).status_code == 404, path
        for path in (f"/signatures/{sweep}/send", f"/signatures/{sweep}/void", f"/signatures/{sweep}/resend"):
            assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    assert "Engagement 2026" not in client.get("/signatures/").get_data(as_text=True)


def test_lists_run_a_fixed_number_of_queries(app, client, login, portal_login, count_queries, desk):
    """The staff list and the portal list cost the same number of queries for 1 and for 6 requests."""
    from flask_appbuilder.security.sqla.models import User

    from app.models import Contact, Document, Entity
    from app.services import signatures as service

    def add(n):
        with app.app_context():
            owner, doc = db.session.get(User, desk["owner"]), db.session.get(Document, desk["doc"])
            ann, ben = db.session.get(Contact, desk["ann"]), db.session.get(Contact, desk["ben"])
            for _ in range(n):
                service.send(service.create(db.session.get(Entity, desk["a"]), owner, "Letter", [doc], [ann, ben]),
                             owner)

    staff, portal = app.test_client(), app.test_client()
    login(staff, desk["owner"])
    portal_login(portal, desk["ann"])
    counts = []
    for n in (1, 5):
        add(n)
        measured = []
        for test_client, path in ((staff, "/signatures/"), (portal, "/portal/signatures")):
            test_client.get(path)
            with count_queries() as queries:
                assert test_client.get(path).status_code == 200
            measured.append(queries())
        counts.append(measured)
    assert counts[0] == counts[1]


def test_bad_field_input_is_refused_without_a_500(app, client, login, desk):
    """Letters for numbers, a page past the end, another request's signer: no field, never a 500."""
    login(client, desk["owner"])
    path = _new(client, desk, "fields", signers=("ann",)).headers["Location"]
    token = csrf_token(client, path)
    base = {"csrf_token": token, "kind": "signature", "number": 0, "page": 1, "left": "10", "top": "10"}
    for bad in ({"left": "abc"}, {"page": "99"}, {"number": "7"}, {"signer_id": "999999"}, {"kind": "stamp"},
                {"top": "150"}, {"page": "-1"}):
        response = client.post(path, data=dict(base, signer_id=bad.get("signer_id", "1"), **{
            k: v for k, v in bad.items() if k != "signer_id"}))
        assert response.status_code in (200, 302), bad
    with app.app_context():
        assert db.session.scalars(db.select(SignatureRequest)).one().fields == []


def test_page_previews_render_safely_from_many_threads_at_once():
    """PDFium is not thread-safe: previews asked for at once by a threaded server all render, none crash."""
    from concurrent.futures import ThreadPoolExecutor

    from app.services.signature_pdf import render_page
    from tests.signature_helpers import make_pdf

    pdf = make_pdf(pages=3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        images = list(pool.map(lambda n: render_page(pdf, n % 3, width=300), range(64)))
    assert all(image.startswith(b"\x89PNG") for image in images)
    assert len({len(image) for image in images}) <= 3
