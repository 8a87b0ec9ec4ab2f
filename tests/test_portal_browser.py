"""The client portal in real Chromium, with a real worker mailing real codes to the SMTP sink."""
import io
from datetime import date, timedelta

import pytest
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import Document, Task
from app.models.contacts import PortalState
from app.models.documents import Visibility
from app.models.tasks import ClientStatus
from app.security import roles as R
from app.services import access_codes, documents, tasks, throttle
from app.demo.documents import pdf_bytes
from app.services.firm import get_settings
from tests import browser
from tests import factories as f

EMAIL = "bea.brown@client.example"
PIN = "482916"


def _forget_code_limits(app):
    """The resend limits are tested elsewhere; here several codes go to one address within a minute."""
    with app.test_request_context():
        throttle.clear(access_codes.PER_ADDRESS, "code", throttle.key_of(EMAIL))
        throttle.clear(access_codes.PER_NETWORK, "code-ip", throttle.client_network("127.0.0.1"))


@pytest.fixture
def invited(app):
    """An invited contact (no account yet) of an entity with an assigned task and a shared PDF."""
    with app.app_context():
        settings = get_settings()
        settings.firm_name, settings.contact_email = "Lepik & Carter CPAs", "office@lepikcarter.example"
        db.session.commit()
        accountant = f.staff(R.STAFF)
        entity = f.entity("Brown Bakery", responsible=accountant)
        contact = f.contact(first="Bea", last="Brown", email=EMAIL)
        contact.portal_state = PortalState.invited
        db.session.commit()
        f.share(entity, R.ENTITY_COLLABORATOR, contact=contact)
        task = tasks.create_task(entity, "Send the 2025 receipts", accountant,
                                 description="Please upload **all** receipts of 2025.",
                                 deadline=date.today() + timedelta(days=7),
                                 checklist=["Receipts", "Bank statements"])
        tasks.assign(task, accountant)
        pdf = FileStorage(io.BytesIO(pdf_bytes(["2025 engagement letter"])), filename="Engagement letter.pdf")
        documents.upload(entity, pdf, accountant, visibility=Visibility.portal)
        return {"task": task.id}


def _sign_up(page, base, smtp):
    page.goto(base + "/portal/sign-up")
    page.get_by_label("First name").fill("Bea")
    page.get_by_label("Last name").fill("Brown")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/portal/sign-up/verify")
    page.get_by_label("Access code").fill(browser.wait_for_code(smtp, EMAIL))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/portal/sign-up/pin")
    page.get_by_label("New PIN", exact=True).fill(PIN)
    page.get_by_label("Repeat the new PIN").fill(PIN)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/portal/")


def _sign_in(page, base, smtp, app, expect_pin):
    _forget_code_limits(app)
    before = len(smtp.messages)
    page.goto(base + "/portal/sign-in")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_role("button", name="Continue").click()
    if expect_pin:
        page.wait_for_url("**/portal/sign-in/pin")
        page.get_by_label("PIN", exact=True).fill(PIN)
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/portal/sign-in/code")
    page.get_by_label("Access code").fill(browser.wait_for_code(smtp, EMAIL, after=before))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/portal/")


def _shots(page, name):
    for label, size in (("phone", browser.PHONE), ("desktop", browser.DESKTOP)):
        page.set_viewport_size(size)
        browser.screenshot(page, f"portal-{name}-{label}")


def test_a_contact_signs_up_works_on_a_task_downloads_and_switches_language(app, smtp, invited, tmp_path):
    """Sign-up with the mailed code, PIN only on a new browser, upload with progress, reply, done, download, Estonian."""
    browser.require_chromium()
    from playwright.sync_api import expect

    _forget_code_limits(app)
    files = [tmp_path / "receipts.pdf", tmp_path / "notes.txt"]
    files[0].write_bytes(pdf_bytes(["Receipts 2025"]))
    files[1].write_text("Cash receipts are in the blue folder.\n")
    problems = []
    with browser.worker(app, smtp.port), browser.live_server(app) as base, browser.chromium() as chromium:
        first = chromium.new_context(viewport=browser.PHONE, accept_downloads=True)
        page = browser.watch(first.new_page(), problems)
        _sign_up(page, base, smtp)
        expect(page.locator("main")).to_contain_text("Send the 2025 receipts")
        _shots(page, "home")

        page.get_by_role("link", name="Get started").first.click()
        page.wait_for_url(f"**/portal/tasks/{invited['task']}")
        page.set_input_files("form[data-upload-url] input[type=file]", [str(p) for p in files])
        expect(page.locator(".uploads progress")).to_have_count(2)  # one bar per chosen file
        with page.expect_navigation():  # after the last file the page reloads with the files on it
            page.locator("form[data-upload-url] button[type=submit]").first.click()
        files_card = page.locator("#files")
        expect(files_card).to_contain_text("receipts.pdf")  # (retried: the page reloads once more for #files)
        expect(files_card).to_contain_text("notes.txt")
        page.get_by_label("Your message").fill("Both files are up. Anything else?")
        with page.expect_navigation():
            page.get_by_role("button", name="Send message").click()
        expect(page.locator("main")).to_contain_text("Both files are up")
        _shots(page, "task")
        with page.expect_navigation():
            page.get_by_role("button", name="Mark as done").click()

        page.get_by_role("link", name="Documents", exact=True).click()
        page.wait_for_url("**/portal/documents")
        _shots(page, "documents")
        with page.expect_download() as download:
            page.locator("tr", has_text="Engagement letter").get_by_role("link", name="Download").click()
        assert download.value.suggested_filename == "Engagement letter.pdf"

        with page.expect_navigation():
            page.get_by_role("button", name="Eesti").click()
        expect(page.locator("html")).to_have_attribute("lang", "et")
        expect(page.locator("nav.nav")).to_contain_text("Dokumendid")

        second = chromium.new_context(viewport=browser.DESKTOP)
        other = browser.watch(second.new_page(), problems)
        _sign_in(other, base, smtp, app, expect_pin=True)  # a new browser: PIN, then code

        page.get_by_role("button", name="Logi välja").click()
        page.wait_for_url("**/portal/sign-in")
        _sign_in(page, base, smtp, app, expect_pin=False)  # the trusted browser: code only
    with app.app_context():
        task = db.session.get(Task, invited["task"])
        assert task.client_status is ClientStatus.done
        names = {d.name for d in db.session.query(Document).filter(Document.entity_id == task.entity_id)}
        assert {"receipts.pdf", "notes.txt"} <= names
    assert problems == []
