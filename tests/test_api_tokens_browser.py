"""API tokens and the API reference in real Chromium: a member creates a token on their page, the
Swagger UI page (FAB's bundle, served locally) renders every operation under our CSP, and the token
works from the browser."""
import pytest

from app.security import roles as R
from tests import browser as real
from tests import factories as f

pytestmark = pytest.mark.usefixtures("fresh_redis")


def test_chromium_creates_a_token_and_reads_the_api_reference(app):
    """Real Chromium: create a token (shown once), open /api-docs/ (all operations, no console or CSP
    errors), and call the API with the token."""
    real.require_chromium()
    with app.app_context():
        member = f.staff(R.STAFF)
        username = member.username
        f.share(f.entity("Browser Co"), R.OWNER, user=member)
    problems = []
    with real.live_server(app) as base, real.chromium() as chromium:
        page = real.watch(chromium.new_page(viewport=real.DESKTOP), problems)
        page.goto(base + "/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", f.PASSWORD)
        with page.expect_navigation():
            page.click("[type=submit]")
        page.goto(base + "/api-tokens/")
        page.fill("#name", "Browser sync")
        with page.expect_navigation():
            page.get_by_role("button", name="Create token").click()
        token = page.locator("#new-token code").inner_text().strip()
        assert token.startswith("ptk_")
        real.screenshot(page, "api-token-created")
        page.goto(base + "/api-docs/")
        page.wait_for_selector(".opblock", timeout=20_000)
        assert page.locator(".opblock").count() >= 25
        real.screenshot(page, "api-reference")
        answer = page.evaluate("""async (token) => {
            const r = await fetch('/api/v1/entities/', {headers: {Authorization: 'Bearer ' + token}});
            return [r.status, (await r.json()).items.map(e => e.name)];
        }""", token)
        assert answer == [200, ["Browser Co"]]
        cookie_only = page.evaluate("async () => (await fetch('/api/v1/entities/')).status")
        assert cookie_only == 401
    assert problems == [] or all("401" in p for p in problems)
