"""Passkeys in real Chromium: a virtual authenticator (Chrome DevTools Protocol, WebAuthn domain) stands
in for the laptop's; the member adds a passkey, signs out, and signs in with it. Screenshots at 1280×800."""
import pyotp
import pytest

from app.extensions import db
from app.models import StaffPasskey
from app.security import roles as R
from tests import browser as real
from tests import factories as f

pytestmark = pytest.mark.usefixtures("fresh_redis")
AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                 "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True}


def test_chromium_adds_a_passkey_and_signs_in_with_it(app):
    """Real Chromium on http://localhost (a secure context, as WebAuthn needs): password and code, add a
    passkey on the passkeys page, sign out, then password and "Use a passkey" reach the home page."""
    real.require_chromium()
    with app.app_context():
        user = f.staff(R.ADMIN)
        username, user_id = user.username, user.id
        secret, _codes = f.enrolled_totp(user)
    problems = []
    with real.live_server(app) as base, real.chromium() as chromium:
        base = base.replace("127.0.0.1", "localhost")
        context = chromium.new_context(viewport=real.DESKTOP)
        page = real.watch(context.new_page(), problems)
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})["authenticatorId"]
        _password(page, base, username)
        page.fill("#code", pyotp.TOTP(secret).now())
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        page.goto(base + "/passkeys/")
        page.fill("#passkey-name", "Work laptop")
        with page.expect_navigation():
            page.get_by_role("button", name="Add a passkey").click()
        assert page.locator("#passkeys tbody tr input[name=name]").input_value() == "Work laptop"
        real.screenshot(page, "passkeys-list")
        assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1
        with page.expect_navigation():  # sign out as the menu does: a POST with the CSRF token
            page.evaluate("document.querySelector('form[action$=\"/logout/\"]').submit()")
        _password(page, base, username)
        page.wait_for_url("**/two-factor/**")
        real.screenshot(page, "passkeys-sign-in")
        with page.expect_navigation():
            page.get_by_role("button", name="Use a passkey").click()
        assert "/two-factor" not in page.url and "/login" not in page.url
        assert page.goto(base + "/entityview/list/").status == 200
    assert problems == []
    with app.app_context():
        row = db.session.query(StaffPasskey).filter_by(user_id=user_id).one()
        assert row.last_used_on is not None


def _password(page, base, username):
    page.goto(base + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    with page.expect_navigation():
        page.click("[type=submit]")
