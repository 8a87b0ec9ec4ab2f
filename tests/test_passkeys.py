"""Passkeys (WebAuthn) as a second factor, against a software authenticator: adding, signing in,
challenges, replay, counters, other members' credentials, removal, limits, roles and the gate."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ActivityEvent, StaffPasskey
from app.security import roles as R
from tests import factories as f
from tests.passkey_helpers import SoftAuthenticator, add_passkey, answer, csrf, sign_in_options
from tests.staff_auth_helpers import (CODE_PAGE, ENROL_PAGE, browser, code_now, give_code,  # noqa: F401
                                      password_login, reaches_screens, token_of)

pytestmark = pytest.mark.usefixtures("fresh_redis")


@pytest.fixture
def admin(app):
    """An Admin with an authenticator set up: (id, username, secret)."""
    with app.app_context():
        user = f.staff(R.ADMIN)
        secret, _codes = f.enrolled_totp(user)
        return user.id, user.username, secret


def _signed_in(app, admin):
    """A browser that just signed in with the password and a code (a recent second factor)."""
    client = browser(app)
    password_login(client, admin[1])
    assert give_code(client, code_now(admin[2])).status_code == 302
    return client


def _owing(app, admin):
    """A browser that gave the password and still owes its second factor."""
    client = browser(app)
    password_login(client, admin[1])
    assert not reaches_screens(client)
    return client


def _verbs(app, verb):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ActivityEvent).where(ActivityEvent.verb == verb))


def test_a_member_adds_a_passkey_and_signs_in_with_it(app, admin):
    """Registration stores the credential (audited); the next sign-in offers the passkey and it completes it."""
    key = SoftAuthenticator()
    response = add_passkey(_signed_in(app, admin), key, name="  Work   laptop ")
    assert response.status_code == 200 and response.get_json()["redirect"].endswith("/passkeys/")
    with app.app_context():
        row = db.session.scalar(select(StaffPasskey).where(StaffPasskey.user_id == admin[0]))
        assert row.name == "Work laptop" and row.transports == "internal" and row.last_used_on is None
    assert _verbs(app, "staff.passkey_added") == 1
    client = _owing(app, admin)
    assert "Use a passkey" in client.get(CODE_PAGE).get_data(as_text=True)
    headers, challenge = sign_in_options(client)
    response = answer(client, headers, key.get(challenge))
    assert response.status_code == 200, response.get_json()
    assert reaches_screens(client)
    assert _verbs(app, "staff.passkey_used") == 1
    with app.app_context():
        row = db.session.scalar(select(StaffPasskey).where(StaffPasskey.user_id == admin[0]))
        assert row.sign_count == 1 and row.last_used_on is not None
