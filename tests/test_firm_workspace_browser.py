"""The firm's workspace in real Chromium: the client page and its "New task" action, and "assign to many"
with a real worker while the page polls its progress; screenshots at 1280×800."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import ClientRequest, TaxVoucher
from app.security import roles as R
from app.services import tasks
from tests import browser as real
from tests import factories as f

pytestmark = pytest.mark.usefixtures("fresh_redis")


@pytest.fixture
def practice(app):
    """An accountant responsible for three clients; one has contacts, tasks, a request and a payment."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        birch = f.entity("Birch & Oak LLC", responsible=accountant, tax_id="12-3456789")
        for name in ("Cedar Partners", "Aspen Holdings"):
            f.entity(name, responsible=accountant)
        olivia = f.portal_contact(birch, R.ENTITY_COLLABORATOR, first="Olivia", last="Birch")
        f.share(birch, R.ENTITY_ACCESS, contact=f.contact(first="Mark", last="Oak"))
        tasks.create_task(birch, "Q3 bookkeeping", accountant, deadline=date.today() - timedelta(days=2))
        tasks.create_task(birch, "Payroll review", accountant, deadline=date.today() + timedelta(days=5))
        db.session.add_all([
            ClientRequest(entity=birch, contact=olivia, subject="Where do I send receipts?", body="?"),
            TaxVoucher(entity=birch, tax_year=2026, authority="IRS", form_period="1040-ES Q4",
                       amount=Decimal("1250.00"), due_date=date.today() + timedelta(days=20)),
        ])
        db.session.commit()
        return {"username": accountant.username, "birch": birch.id}


def _sign_in(page, base, username):
    page.goto(base + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    with page.expect_navigation():
        page.click("[type=submit]")


def test_the_client_page_and_its_new_task_action(app, practice):
    """The accountant opens the client page (every section), adds a task from it with the entity
    preselected, and finds the task in its open tasks."""
    real.require_chromium()
    problems = []
    with real.live_server(app) as base, real.chromium() as chromium:
        page = real.watch(chromium.new_page(viewport=real.DESKTOP), problems)
        _sign_in(page, base, practice["username"])
        page.goto(f"{base}/entityview/show/{practice['birch']}")
        assert page.get_by_role("heading", name="Birch & Oak LLC").is_visible()
        for section in ("Overview", "Contacts", "Overdue", "Open tasks", "Latest messages", "Client requests",
                        "Documents", "Tax payments", "K-1 partners", "Activity"):
            assert page.locator("h2", has_text=section).first.is_visible(), section
        assert page.locator("#client-overdue").get_by_text("Q3 bookkeeping").is_visible()
        assert page.locator("#client-contacts").get_by_text("Olivia Birch").is_visible()
        real.screenshot(page, "staff-client-page")
        with page.expect_navigation():
            page.locator("#client-actions").get_by_role("link", name="New task").click()
        assert f"entity={practice['birch']}" in page.url
        page.get_by_label("Title").fill("Engagement letter 2027")
        with page.expect_navigation():
            page.get_by_role("button", name="Create task").click()
        assert "/taskview/show/" in page.url
        page.goto(f"{base}/entityview/show/{practice['birch']}")
        assert page.locator("#client-open").get_by_text("Engagement letter 2027").is_visible()
    assert problems == []


def test_assign_to_many_with_a_worker_and_a_polling_progress(app, smtp, practice):
    """The accountant previews three clients, creates a task for each; the progress page polls while a
    real worker creates them and shows 3 of 3."""
    real.require_chromium()
    from playwright.sync_api import expect

    problems = []
    with real.worker(app, smtp.port), real.live_server(app) as base, real.chromium() as chromium:
        page = real.watch(chromium.new_page(viewport=real.DESKTOP), problems)
        _sign_in(page, base, practice["username"])
        page.goto(base + "/task-batches/new")
        page.get_by_label("Title").fill("Year-end engagement letter")
        page.get_by_label("Checklist (one item per line)").fill("Send letter\nCollect signature")
        page.get_by_label("Deadline").fill((date.today() + timedelta(days=30)).isoformat())
        page.get_by_label("Responsible").select_option("me")
        with page.expect_navigation():
            page.get_by_role("button", name="Preview the clients").click()
        assert page.locator("#batch-preview").get_by_text("3 clients match").is_visible()
        real.screenshot(page, "staff-assign-to-many-preview")
        with page.expect_navigation():
            page.locator("#batch-create").click()
        expect(page.locator("#batch-state")).to_have_text("Done", timeout=60_000)  # polled, then reloaded
        assert "3 of 3 created, 0 failed" in page.locator("#batch-count").inner_text()
        real.screenshot(page, "staff-assign-to-many-done")
        page.goto(f"{base}/entityview/show/{practice['birch']}")
        assert page.locator("#client-open").get_by_text("Year-end engagement letter").is_visible()
    assert problems == []
