"""Attacks on the portal's sign-up: weak PINs, skipped steps, addresses that were not invited."""
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AccessCode, Contact, TrustedDevice
from app.models.contacts import PortalState
from app.security import roles as R
from tests import factories as f
from tests.conftest import csrf_token
from tests.portal_auth_helpers import (NEW_PIN, SIGN_UP, VERIFY, code_rows, codes_sent, forget_resend_minute, last_code,
                                       location, make_contact, normal, post, run_jobs, signed_in, unique_email)

pytestmark = pytest.mark.usefixtures("fresh_redis")


def test_invited_contact_signs_up_end_to_end(app, client, smtp):
    """Name + e-mail → code from the mail → PIN twice → signed in as an active Client with a hashed PIN."""
    person = make_contact(app, PortalState.invited)
    response = post(client, SIGN_UP, first_name="Mari", last_name="Maasikas", email=person.email.upper())
    assert location(response).endswith(VERIFY)
    response = post(client, VERIFY, code=last_code(app, smtp, person.email))
    assert location(response).endswith(NEW_PIN)
    response = post(client, NEW_PIN, pin="480317", confirm="480317")
    assert location(response).endswith("/portal/")
    assert signed_in(client)
    with app.app_context():
        contact = db.session.get(Contact, person.id)
        assert contact.portal_state is PortalState.active
        assert [r.name for r in contact.user.roles] == [R.CLIENT]
        assert (contact.first_name, contact.last_name) == ("Mari", "Maasikas")
        assert contact.pin_hash and "480317" not in contact.pin_hash
        assert contact.pin_hash.startswith(app.config["PIN_HASH_METHOD"].split(":")[0])
        assert contact.emails[0].verified_on is not None
        assert db.session.scalar(select(func.count(TrustedDevice.id))
                                 .where(TrustedDevice.contact_id == person.id)) == 1


@pytest.mark.parametrize("pin, confirm, error", [
    ("111111", "111111", "too easy to guess"),
    ("123456", "123456", "too easy to guess"),
    ("480317", "480318", "not the same"),
    ("48031", "48031", "exactly 6 digits"),
    ("48O317", "48O317", "exactly 6 digits"),
    ("٤٨٠٣١٧", "٤٨٠٣١٧", "exactly 6 digits"),
])
def test_sign_up_refuses_weak_and_mismatched_pins(app, client, smtp, pin, confirm, error):
    """A weak, short or mismatched PIN is a form error; no account is made and the step can be retried."""
    person = make_contact(app, PortalState.invited)
    post(client, SIGN_UP, first_name="Mari", last_name="Maasikas", email=person.email)
    post(client, VERIFY, code=last_code(app, smtp, person.email))
    response = post(client, NEW_PIN, pin=pin, confirm=confirm)
    assert response.status_code == 200
    assert error in response.get_data(as_text=True)
    with app.app_context():
        contact = db.session.get(Contact, person.id)
        assert contact.portal_state is PortalState.invited and contact.user is None and contact.pin_hash is None
    assert location(post(client, NEW_PIN, pin="480317", confirm="480317")).endswith("/portal/")


def _sign_up_answers(app, client, email):
    """(status and Location of the POST, the verify page without token, nonce and address)."""
    first = post(client, SIGN_UP, first_name="Mari", last_name="Maasikas", email=email)
    page = client.get(VERIFY)
    run_jobs(app)
    return first.status_code, location(first), page.status_code, normal(page.get_data(as_text=True), email)


@pytest.mark.parametrize("state", [None, PortalState.not_invited, PortalState.active, PortalState.disabled])
def test_sign_up_of_an_address_not_invited_looks_the_same_and_does_nothing(app, smtp, state):
    """An unknown or not-invited address gets the invited one's answer, but no code, no mail, no account."""
    invited = make_contact(app, PortalState.invited)
    other = make_contact(app, state) if state else SimpleNamespace(email=unique_email("stranger"), id=None)
    expected = _sign_up_answers(app, app.test_client(), invited.email)
    got = _sign_up_answers(app, app.test_client(), other.email)
    assert got == expected
    assert codes_sent(smtp, invited.email) and not [m for m in smtp.messages if m["To"] == other.email]
    with app.app_context():  # a row is written (same work, same time) but it names nobody and is never mailed
        assert db.session.scalar(select(func.count(AccessCode.id)).where(
            AccessCode.email == other.email, AccessCode.contact_id.is_not(None))) == 0
    client = app.test_client()
    post(client, SIGN_UP, first_name="Mari", last_name="Maasikas", email=other.email)
    forget_resend_minute(app, other.email)
    assert "not valid" in post(client, VERIFY, code="12345678").get_data(as_text=True)
    assert location(client.get(NEW_PIN)).endswith(SIGN_UP)
    if other.id is not None:
        with app.app_context():
            assert db.session.get(Contact, other.id).portal_state is state


def test_sign_up_pin_step_needs_a_verified_code(app, client, smtp):
    """Skipping the code step (or a forged code id in the session) leads back to the start."""
    person = make_contact(app, PortalState.invited)
    post(client, SIGN_UP, first_name="Mari", last_name="Maasikas", email=person.email)
    run_jobs(app)
    with app.app_context():
        code_id = db.session.scalar(select(AccessCode.id).where(AccessCode.email == person.email))
    with client.session_transaction() as session:
        session["portal_signup"] = dict(session["portal_signup"], code_id=code_id)  # unused code
    assert location(client.get(NEW_PIN)).endswith(SIGN_UP)
    assert location(post(client, NEW_PIN, page=SIGN_UP, pin="480317", confirm="480317")).endswith(SIGN_UP)
    with app.app_context():
        assert db.session.get(Contact, person.id).user is None


# 7 --------------------------------------------------------------------------------------------------
def test_sign_up_does_the_same_database_work_for_invited_and_unknown_addresses(app, smtp, count_queries):
    """Sign-up timing told invited addresses: both now run as many SQL statements; no mail to the unknown."""
    with app.app_context():
        invited = f.contact(email="invited@client.example")
        invited.portal_state = PortalState.invited
        db.session.commit()
    counts = {}
    for email in ("invited@client.example", "nobody@client.example"):
        browser = app.test_client()
        token = csrf_token(browser, "/portal/sign-up")
        with count_queries() as n:
            response = browser.post("/portal/sign-up", data={"csrf_token": token, "first_name": "A",
                                                             "last_name": "B", "email": email})
            counts[email] = n()
        assert response.status_code == 302 and response.headers["Location"].endswith("/portal/sign-up/verify")
    assert counts["invited@client.example"] == counts["nobody@client.example"], counts
    run_jobs(app)
    assert [m for m in smtp.messages if m["To"] == "invited@client.example"]
    assert not [m for m in smtp.messages if m["To"] == "nobody@client.example"]
