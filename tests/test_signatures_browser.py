"""Signing in real Chromium on a 375×812 phone: read, agree, PIN, draw a signature with the pointer,
sign; a screenshot of each step, and axe finds no serious or critical accessibility problem."""
import io

import pytest

from app.extensions import db
from app.models import SignatureRequest
from app.models.signatures import RequestStatus
from app.services import documents as document_service
from tests import browser
from tests import factories as f
from tests.signature_helpers import office, sent_request


@pytest.fixture
def asked(app):
    """A request of a two-page PDF to Ann alone (ids only)."""
    with app.app_context():
        o = office()
        return {"request": sent_request(o, signers=[o.first]).id, "ann": o.first.id}


def _session_cookie(app, portal_login, contact_id):
    client = app.test_client()
    portal_login(client, contact_id)
    client.get("/portal/")  # the session cookie is written once a response goes out
    return client.get_cookie("session").value


def _axe(page, found):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found += [(page.url, v["id"], v["impact"]) for v in results.response["violations"]
              if v["impact"] in ("serious", "critical")]


def test_a_client_signs_on_a_phone_with_a_drawn_signature(app, portal_login, asked):
    """Every step works at 375 px with a drawn signature; the result is sealed and axe is clean."""
    browser.require_chromium()
    pytest.importorskip("axe_playwright_python")
    from playwright.sync_api import expect

    rid, problems, violations = asked["request"], [], []
    cookie = _session_cookie(app, portal_login, asked["ann"])
    with browser.live_server(app) as base, browser.chromium() as chromium:
        context = chromium.new_context(viewport=browser.PHONE, has_touch=True, bypass_csp=True)
        context.add_cookies([{"name": "session", "value": cookie, "url": base}])
        page = browser.watch(context.new_page(), problems)
        page.goto(base + "/portal/signatures")
        expect(page.locator("main")).to_contain_text("Waiting for your signature")
        _step(page, "1-list", violations)
        page.get_by_role("link", name="Engagement letter 2026").click()
        page.wait_for_url(f"**/portal/signatures/{rid}")
        expect(page.get_by_alt_text("Page 2 of 2 of engagement.pdf")).to_be_visible()
        page.get_by_alt_text("Page 2 of 2 of engagement.pdf").scroll_into_view_if_needed()
        _step(page, "2-read-and-agree", violations)
        page.get_by_label("I have read the documents and agree to sign electronically").check()
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/verify")
        _step(page, "3-confirm", violations)
        page.get_by_label("Your PIN", exact=True).fill(f.PIN)
        page.get_by_role("button", name="Confirm with my PIN").click()
        page.wait_for_url("**/sign")
        page.get_by_label("Draw my signature").check()
        expect(page.locator("#signature-pad")).to_be_visible()
        _draw(page)
        assert page.locator("#drawing").input_value().startswith("data:image/png;base64,")
        _step(page, "4-adopt-and-sign", violations)
        page.get_by_role("button", name="Sign", exact=True).click()
        page.wait_for_url(f"**/portal/signatures/{rid}")
        expect(page.locator("main")).to_contain_text("Everyone has signed")
        _step(page, "5-signed", violations)
    assert problems == []
    assert violations == []
    with app.app_context():
        item = db.session.get(SignatureRequest, rid)
        signer = item.signers[0]
        assert item.status is RequestStatus.signed and item.completed_on is not None
        assert signer.signature_kind == "drawn" and signer.signature_image.startswith(b"\x89PNG")
        assert "Chrome" in signer.user_agent
        from pypdf import PdfReader

        sealed = document_service.read_version(item.documents[0].signed_version)
        assert len(PdfReader(io.BytesIO(sealed)).pages) >= 4  # 2 pages, the signature page, the certificate


def _draw(page):
    """A zigzag with the pointer across the drawing pad."""
    box = page.locator("#signature-pad").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 20 + step * 22, box["y"] + box["height"] * (0.3 if step % 2 else 0.7))
    page.mouse.up()


def _step(page, name, violations):
    browser.screenshot(page, f"signing-phone-{name}")
    _axe(page, violations)
