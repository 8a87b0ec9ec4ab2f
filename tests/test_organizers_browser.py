"""An organizer filled in real Chromium on a 375×812 phone: conditions shown live, autosave that
survives a reload, progress and "still to answer" updated by each autosave, a second tab's newer answer
shown instead of overwritten, "same as last year", submit; screenshots of each step."""
import pytest

from app.extensions import db
from app.models import Organizer
from app.models.organizers import OrganizerStatus
from app.security import roles as R
from app.services import organizers
from tests import browser
from tests import factories as f
from tests.organizer_helpers import question, send, template


@pytest.fixture
def sent(app):
    """Cora's organizer for 2026, with her 2025 answers (ids only)."""
    with app.app_context():
        acc = f.staff(R.STAFF)
        entity = f.entity("Alpha Co", responsible=acc)
        cora = f.portal_contact(entity, R.ENTITY_COLLABORATOR, first="Cora")
        row = template(acc)
        last = send(acc, row, entity, 2025)
        organizers.save_answer(last, question(row, "wages").id, cora.user, 0, "5000")
        return {"organizer": send(acc, row, entity, 2026).id, "cora": cora.id}


def _cookie(app, portal_login, contact_id):
    client = app.test_client()
    portal_login(client, contact_id)
    client.get("/portal/")  # the session cookie is written once a response goes out
    return client.get_cookie("session").value


def test_a_client_fills_an_organizer_on_a_phone(app, portal_login, sent):
    """Every step works at 375 px; answers survive a reload; a stale tab shows the newer answer."""
    browser.require_chromium()
    from playwright.sync_api import expect

    problems, url = [], f"/portal/organizers/{sent['organizer']}"
    cookie = _cookie(app, portal_login, sent["cora"])
    with browser.live_server(app) as base, browser.chromium() as chromium:
        context = chromium.new_context(viewport=browser.PHONE, has_touch=True)
        context.add_cookies([{"name": "session", "value": cookie, "url": base}])
        page = browser.watch(context.new_page(), problems)
        page.goto(base + url)
        follow_up = page.get_by_label("How many?")
        expect(follow_up).to_be_hidden()
        page.get_by_label("Yes", exact=True).check()
        expect(follow_up).to_be_visible()
        bar, told = page.locator("#organizer-progress"), page.locator("#organizer-progress-text")
        expect(told).to_have_text("1 of 4 questions answered")  # updated by the autosave, no reload
        expect(told).to_have_attribute("aria-live", "polite")
        follow_up.fill("2")
        expect(page.locator(".question", has=follow_up).locator(".save-state")).to_have_text("Saved")
        expect(bar).to_have_attribute("aria-valuenow", "2")
        assert page.evaluate("document.getElementById('organizer-progress').value") == 2
        browser.screenshot(page, "organizer-1-about-you")
        page.reload()
        expect(page.get_by_label("How many?")).to_have_value("2")

        other = browser.watch(context.new_page(), problems)
        other.goto(base + url)
        other.get_by_label("How many?").fill("3")
        expect(other.locator(".question", has=other.get_by_label("How many?")).locator(".save-state")).to_have_text("Saved")
        page.get_by_label("How many?").fill("4")
        card = page.locator(".question", has=page.get_by_label("How many?"))
        expect(card.locator(".save-state")).to_contain_text("changed in another window")
        expect(page.get_by_label("How many?")).to_have_value("3")
        browser.screenshot(page, "organizer-2-newer-answer-shown")
        other.close()

        page.get_by_role("link", name="Next").click()
        page.wait_for_url("**section=1")
        expect(page.locator("main")).to_contain_text("5000.00")
        expect(page.locator("#organizer-missing")).to_contain_text("Wages")
        page.get_by_role("button", name="Same as last year").click()
        expect(page.get_by_label("Wages")).to_have_value("5000.00")
        expect(page.locator("#organizer-missing")).to_be_hidden()
        expect(page.locator("#organizer-progress-text")).to_have_text("3 of 4 questions answered")
        browser.screenshot(page, "organizer-3-income")
        page.get_by_role("button", name="Submit to the firm").click()
        expect(page.locator("#organizer-submitted")).to_be_visible()
        expect(page.get_by_label("How many?")).to_be_disabled()
        browser.screenshot(page, "organizer-4-submitted")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= browser.PHONE["width"], width
    assert problems == []
    with app.app_context():
        item = db.session.get(Organizer, sent["organizer"])
        assert item.status is OrganizerStatus.submitted
        answers = {a.question_id: a.value for a in organizers.answers(item).values()}
        assert sorted(answers.values()) == ["3", "5000.00", "yes"]
