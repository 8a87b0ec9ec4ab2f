"""Two-step sign-in in real Chromium: enrolment with the QR code page, then a sign-in with a code the
test computes (pyotp), as an authenticator app would; screenshots at 1280×800."""
import time

import pyotp
import pytest

from app.security import roles as R
from tests import browser as real
from tests import factories as f

pytestmark = pytest.mark.usefixtures("fresh_redis")


def test_chromium_enrols_and_signs_in_with_a_computed_code(app):
    """Real Chromium: an Admin enrols (QR code page), saves the codes, signs in again in a fresh browser
    with a code the test computes, and sees the session on the sign-in security page."""
    real.require_chromium()
    with app.app_context():
        username = f.staff(R.ADMIN).username
    problems = []
    with real.live_server(app) as base, real.chromium() as chromium:
        page = real.watch(chromium.new_page(viewport=real.DESKTOP), problems)
        _chromium_password(page, base, username)
        page.wait_for_url("**/two-factor/enrol**")
        secret = page.locator("#totp-secret").inner_text().strip()
        assert page.locator("img[alt='QR code for your authenticator app']").evaluate("i => i.naturalWidth") > 0
        real.screenshot(page, "two-factor-enrol")
        page.fill("#code", pyotp.TOTP(secret).now())
        with page.expect_navigation():
            page.get_by_role("button", name="Confirm").click()
        assert page.locator("#recovery-codes li").count() == 10
        real.screenshot(page, "two-factor-recovery-codes")
        fresh = real.watch(chromium.new_context(viewport=real.DESKTOP).new_page(), problems)
        _chromium_password(fresh, base, username)
        fresh.wait_for_url("**/two-factor/**")
        real.screenshot(fresh, "two-factor-code")
        fresh.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))  # the enrolment used this step's code
        fresh.check("input[name=remember]")
        with fresh.expect_navigation():
            fresh.get_by_role("button", name="Sign in").click()
        fresh.goto(base + "/my-sessions/")
        assert fresh.locator("#sessions tbody tr").count() == 2
        assert fresh.locator("#browsers tbody tr").count() == 1
        real.screenshot(fresh, "two-factor-my-sessions")
    assert problems == []


def _chromium_password(page, base, username):
    page.goto(base + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    with page.expect_navigation():
        page.click("[type=submit]")
