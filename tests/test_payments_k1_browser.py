"""Tax payments and K-1 distribution in real Chromium, with a real worker and the real SMTP sink."""
import io
import re
import time
from urllib.parse import urlparse
from datetime import date, timedelta
from decimal import Decimal

import pytest
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import K1Recipient, K1Status, TaxVoucher, VoucherStatus
from app.models.documents import Visibility
from app.models.entities import EntityKind
from app.security import roles as R
from app.services import access_codes, documents, throttle
from app.demo.documents import pdf_bytes
from tests import browser
from tests import factories as f

EMAIL = "paula.partner@client.example"
PARTNERS = ("hana@partners.example", "olli@partners.example")


def _forget_code_limits(app, *addresses):
    """Resend limits are tested elsewhere; this journey asks several codes from one loopback address."""
    with app.test_request_context():
        for address in addresses:
            throttle.clear(access_codes.PER_ADDRESS, "code", throttle.key_of(address))
        throttle.clear(access_codes.PER_NETWORK, "code-ip", throttle.client_network("127.0.0.1"))


@pytest.fixture
def partnership(app):
    """A partnership with two vouchers due on one day, two partners with staff-only K-1s, and its
    Entity Collaborator contact."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        entity = f.entity("Harbor Test LP", kind=EntityKind.partnership, responsible=accountant)
        contact = f.portal_contact(entity, R.ENTITY_COLLABORATOR, email=EMAIL)
        due = date.today() + timedelta(days=10)
        for period, amount in (("1040-ES Q3", "1250.50"), ("IT-201 Q3", "310.25")):
            db.session.add(TaxVoucher(entity_id=entity.id, tax_year=due.year, authority="IRS", form_period=period,
                                      amount=Decimal(amount), due_date=due,
                                      payment_url="https://www.irs.gov/payments"))
        for name, address in zip(("Hana Ito", "Olli Lind"), PARTNERS):
            k1 = documents.upload(entity, FileStorage(io.BytesIO(pdf_bytes([f"K-1 {name}"])), f"K-1 {name}.pdf"),
                                  accountant, visibility=Visibility.staff_only)
            db.session.add(K1Recipient(entity=entity, name=name, email=address, share=Decimal("50"), document=k1))
        db.session.commit()
        return {"contact": contact.id, "due": due}


def _sign_in(page, base, smtp, app):
    _forget_code_limits(app, EMAIL)
    before = len(smtp.messages)
    page.goto(base + "/portal/sign-in")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("PIN", exact=True).fill(f.PIN)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Access code").fill(browser.wait_for_code(smtp, EMAIL, after=before))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/portal/")


def _link(smtp, address, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.messages:
            if message["To"] == address:
                found = re.search(r"https?://\S+/k1/[A-Za-z0-9_-]{20,}", message.get_body(("plain",)).get_content())
                if found:
                    return found.group(0)
        time.sleep(0.1)
    pytest.fail(f"no K-1 link mailed to {address}")


def test_a_contact_pays_and_distributes_k1s_and_a_partner_downloads_theirs(app, smtp, partnership):
    """Summary of a due date with its total, mark paid; Distribute; the partner's guest page with the mailed code."""
    browser.require_chromium()
    from playwright.sync_api import expect

    problems = []
    with browser.worker(app, smtp.port), browser.live_server(app) as base, browser.chromium() as chromium:
        page = browser.watch(chromium.new_context(viewport=browser.PHONE).new_page(), problems)
        _sign_in(page, base, smtp, app)
        page.get_by_role("link", name="Tax payments").click()
        page.get_by_role("link", name="View").first.click()
        expect(page.locator("main")).to_contain_text("1,560.75")  # 1,250.50 + 310.25, as decimals
        page.get_by_role("link", name="Mark as paid").first.click()
        page.get_by_label("Paid on").fill(date.today().isoformat())
        page.get_by_label("Confirmation number").fill("IRS-77812")
        with page.expect_navigation():
            page.get_by_role("button", name="Mark as paid").click()
        browser.screenshot(page, "portal-payments-phone")

        page.get_by_role("link", name="Distribute K-1s").click()
        page.get_by_role("link", name="Select all").click()
        with page.expect_navigation():
            page.get_by_role("button", name="Distribute to the selected partners").click()
        expect(page.locator("main")).to_contain_text("Sent")
        browser.screenshot(page, "portal-k1-phone")

        link = _link(smtp, PARTNERS[0])
        _forget_code_limits(app, PARTNERS[0])
        guest = browser.watch(chromium.new_context(viewport=browser.PHONE, accept_downloads=True).new_page(), problems)
        guest.goto(base + urlparse(link).path)  # the mail points at PORTAL_BASE_URL; the test server is elsewhere
        before = len(smtp.messages)
        guest.get_by_role("button", name="Send me a code").click()
        guest.get_by_label("Access code").fill(browser.wait_for_code(smtp, PARTNERS[0], after=before))
        guest.get_by_role("button", name="Confirm").click()
        expect(guest.locator("main")).to_contain_text("Hana Ito")
        expect(guest.locator("main")).not_to_contain_text("Olli Lind")
        with guest.expect_download() as download:
            guest.get_by_role("button", name="Download").click()
        assert download.value.suggested_filename == "K-1 Hana Ito.pdf"
    with app.app_context():
        paid = db.session.query(TaxVoucher).filter_by(status=VoucherStatus.paid).one()
        assert paid.confirmation_number == "IRS-77812" and paid.marked_paid_at is not None
        assert paid.marked_paid_by_id is not None
        statuses = {r.email: r.status for r in db.session.query(K1Recipient)}
        assert statuses == {PARTNERS[0]: K1Status.downloaded, PARTNERS[1]: K1Status.sent}
    assert problems == []
