"""Attacks on the portal's sign-up and sign-in: access codes, PINs, trusted browsers, sessions,
enumeration of addresses, secrets in URLs and logs, open redirects."""
import itertools
import logging
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from itsdangerous import URLSafeSerializer
from rq import SimpleWorker
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import queue
from app.models import AccessCode, Contact, TrustedDevice
from app.models.contacts import PortalState
from app.redis_conn import get_redis
from app.security import roles as R
from app.services import access_codes, portal_auth, throttle
from tests import factories as f

SIGN_IN, PIN_PAGE, CODE_PAGE, RESEND = "/portal/sign-in", "/portal/sign-in/pin", "/portal/sign-in/code", \
    "/portal/sign-in/resend"
SIGN_UP, VERIFY, NEW_PIN = "/portal/sign-up", "/portal/sign-up/verify", "/portal/sign-up/pin"
WRONG_PIN = "135792"
EVIL_TARGETS = ["//evil.example", "https://evil.example", "/\\evil.example", "/portal/\\evil.example",
                "//evil.example/portal/", "http://evil.example/portal/", "/portal\r\nLocation: http://evil.example",
                "/portal/\r\nLocation: http://evil.example", "/portal/\x00x"]
_seq = itertools.count(1)
_REDIS_PATTERNS = ("LIMITS*", "portico:pin-failures:*", "portico:code-mail:*")


@pytest.fixture(autouse=True)
def fresh_limits(app):
    """Resend limits, PIN failures and queued code mails are forgotten before and after each test."""
    def forget():
        with app.app_context():
            redis = get_redis()
            for pattern in _REDIS_PATTERNS:
                for key in redis.scan_iter(pattern):
                    redis.delete(key)
            queue().empty()

    forget()
    yield
    forget()


def unique_email(label="person"):
    """An address no other test uses."""
    return f"{label}{next(_seq)}@auth.example"


def run_jobs(app):
    """Run the queued jobs (the code and invitation mails) with a real rq worker, in this process."""
    with app.app_context():
        SimpleWorker([queue()], connection=get_redis()).work(burst=True)


def codes_sent(smtp, address):
    """The access codes mailed to `address`, oldest first (read from the SMTP sink)."""
    found = []
    for message in smtp.messages:
        if message["To"] == address:
            match = re.search(r"^(\d{8})\r?$", message.get_body(("plain",)).get_content(), re.M)
            if match:
                found.append(match.group(1))
    return found


def last_code(app, smtp, address):
    """Run the mail jobs, then the latest code mailed to `address`."""
    run_jobs(app)
    codes = codes_sent(smtp, address)
    assert codes, f"no code mailed to {address}"
    return codes[-1]


def csrf_token(client, path):
    """The CSRF token of the first form on the page at `path` (whatever the attribute order)."""
    body = client.get(path).get_data(as_text=True)
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', body)
    assert field, f"no CSRF token on {path}"
    return re.search(r'value="([^"]+)"', field.group(0)).group(1)


def post(client, path, page=None, **data):
    """POST a form as a browser does: the CSRF token comes from the page that shows the form."""
    data.setdefault("csrf_token", csrf_token(client, page or path))
    return client.post(path, data=data)


def location(response):
    return response.headers.get("Location", "")


def normal(body, *secrets):
    """A page with what differs by request (CSRF tokens, CSP nonces) and the given values removed."""
    body = re.sub(r'(name="csrf_token"[^>]*value=)"[^"]*"', r'\1""', body)
    body = re.sub(r'(value=)"[^"]*"([^>]*name="csrf_token")', r'\1""\2', body)
    body = re.sub(r'nonce="[^"]*"', 'nonce=""', body)
    for value in secrets:
        body = body.replace(value, "")
    return body


def make_contact(app, state=PortalState.active, email=None, pin=f.PIN, language="en"):
    """A contact in `state` (active ones have a Client account and a PIN); ids and address."""
    with app.app_context():
        email = email or unique_email()
        if state is PortalState.active:
            contact = f.portal_contact(f.entity(), pin=pin, email=email)
        else:
            contact = f.contact(email=email)
            contact.portal_state = state
        contact.language = language
        db.session.commit()
        return SimpleNamespace(id=contact.id, email=email, user_id=contact.user_id)


def sign_in(app, client, smtp, email, pin=f.PIN):
    """The whole sign-in through the pages (PIN only when asked); the response of the code step."""
    response = post(client, SIGN_IN, email=email)
    if location(response).endswith(PIN_PAGE):
        response = post(client, PIN_PAGE, pin=pin)
    assert location(response).endswith(CODE_PAGE), location(response)
    return post(client, CODE_PAGE, code=last_code(app, smtp, email))


def signed_in(client):
    """Whether this browser reaches the portal's home page."""
    return client.get("/portal/").status_code == 200


def code_rows(app, email):
    with app.app_context():
        return db.session.scalar(select(func.count(AccessCode.id)).where(AccessCode.email == email))


def forget_resend_minute(app, email):
    """As if the 60 seconds between two codes had passed (the 15-minute count stays)."""
    with app.app_context():
        throttle.clear(("1 per 60 seconds",), "code", throttle.key_of(email))


# --- sign-up -----------------------------------------------------------------------------------


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
    assert code_rows(app, other.email) == 0
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


# --- sign-in and trusted browsers --------------------------------------------------------------


def test_new_browser_asks_pin_then_code_and_is_trusted_afterwards(app, smtp):
    """A new browser: PIN, then code; the same browser later goes straight to the code; another asks the PIN."""
    person = make_contact(app)
    browser = app.test_client()
    assert location(post(browser, SIGN_IN, email=person.email)).endswith(PIN_PAGE)
    assert location(post(browser, PIN_PAGE, pin=f.PIN)).endswith(CODE_PAGE)
    assert location(post(browser, CODE_PAGE, code=last_code(app, smtp, person.email))).endswith("/portal/")
    assert signed_in(browser)
    assert browser.get_cookie(portal_auth.DEVICE_COOKIE) is not None
    post(browser, "/portal/sign-out", page="/portal/")
    assert not signed_in(browser)
    forget_resend_minute(app, person.email)
    assert location(post(browser, SIGN_IN, email=person.email)).endswith(CODE_PAGE)
    assert location(post(browser, CODE_PAGE, code=last_code(app, smtp, person.email))).endswith("/portal/")
    assert signed_in(browser)
    forget_resend_minute(app, person.email)
    assert location(post(app.test_client(), SIGN_IN, email=person.email)).endswith(PIN_PAGE)


def _trusted_browser(app, smtp, person):
    browser = app.test_client()
    sign_in(app, browser, smtp, person.email)
    forget_resend_minute(app, person.email)
    return browser


def test_forged_device_cookies_are_ignored(app, smtp):
    """An unsigned, re-signed or tampered device cookie does not skip the PIN."""
    person = make_contact(app)
    good = _trusted_browser(app, smtp, person).get_cookie(portal_auth.DEVICE_COOKIE).value
    payload, signature = good.rsplit(".", 1)
    other_secret = URLSafeSerializer("another-secret", salt="portico-device").dumps("guessed-key")
    other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="other-salt").dumps("guessed-key")
    for forged in ["guessed-key", payload, f"{payload}.{signature[:-2]}xx", other_secret, other_salt, ""]:
        browser = app.test_client()
        browser.set_cookie(portal_auth.DEVICE_COOKIE, forged)
        assert location(post(browser, SIGN_IN, email=person.email)).endswith(PIN_PAGE), forged
    browser = app.test_client()
    browser.set_cookie(portal_auth.DEVICE_COOKIE, good)
    assert location(post(browser, SIGN_IN, email=person.email)).endswith(CODE_PAGE)


def test_a_trusted_browser_of_one_contact_asks_the_pin_of_another(app, smtp):
    """Trust belongs to the contact who signed in: another address on that browser needs its PIN."""
    first, second = make_contact(app), make_contact(app)
    browser = _trusted_browser(app, smtp, first)
    post(browser, "/portal/sign-out", page="/portal/")
    assert location(post(browser, SIGN_IN, email=second.email)).endswith(PIN_PAGE)


def test_a_revoked_browser_asks_the_pin_again(app, smtp):
    """Once its TrustedDevice row is deleted (revoked), the browser's cookie no longer skips the PIN."""
    person = make_contact(app)
    browser = _trusted_browser(app, smtp, person)
    post(browser, "/portal/sign-out", page="/portal/")
    with app.app_context():
        portal_auth.forget_devices(db.session.get(Contact, person.id))
    assert location(post(browser, SIGN_IN, email=person.email)).endswith(PIN_PAGE)


def test_an_expired_trusted_browser_asks_the_pin_again(app, smtp, monkeypatch):
    """A trusted browser past its 90 days asks the PIN again."""
    person = make_contact(app)
    browser = _trusted_browser(app, smtp, person)
    post(browser, "/portal/sign-out", page="/portal/")
    later = portal_auth._now() + portal_auth.DEVICE_LIFETIME + timedelta(minutes=1)
    monkeypatch.setattr(portal_auth, "_now", lambda: later)
    assert location(post(browser, SIGN_IN, email=person.email)).endswith(PIN_PAGE)


# --- access codes ------------------------------------------------------------------------------


def _at_code_step(app, client, person):
    assert location(post(client, SIGN_IN, email=person.email)).endswith(PIN_PAGE)
    assert location(post(client, PIN_PAGE, pin=f.PIN)).endswith(CODE_PAGE)


def test_a_code_expires_after_ten_minutes(app, client, smtp, monkeypatch):
    """The code works at 9 min 59 s, not at 10 min (frozen clock)."""
    person = make_contact(app)
    issued = access_codes._now()
    monkeypatch.setattr(access_codes, "_now", lambda: issued)
    _at_code_step(app, client, person)
    code = last_code(app, smtp, person.email)
    monkeypatch.setattr(access_codes, "_now", lambda: issued + timedelta(minutes=10))
    response = post(client, CODE_PAGE, code=code)
    assert response.status_code == 200 and "That code is not valid" in response.get_data(as_text=True)
    monkeypatch.setattr(access_codes, "_now", lambda: issued + timedelta(minutes=9, seconds=59))
    assert location(post(client, CODE_PAGE, code=code)).endswith("/portal/")


def test_a_used_code_cannot_sign_in_again(app, smtp):
    """Replaying a code that already signed in (another browser, no newer code yet) is refused."""
    person = make_contact(app)
    first = app.test_client()
    _at_code_step(app, first, person)
    code = last_code(app, smtp, person.email)
    assert location(post(first, CODE_PAGE, code=code)).endswith("/portal/")
    second = app.test_client()
    _at_code_step(app, second, person)  # within 60 s: no new code is issued
    assert len(codes_sent(smtp, person.email)) == 1 and code_rows(app, person.email) == 1
    response = post(second, CODE_PAGE, code=code)
    assert "That code is not valid" in response.get_data(as_text=True)
    assert not signed_in(second)


def test_a_new_code_supersedes_the_old_one(app, client, smtp):
    """After "Send a new code" the previous code is dead; the new one works."""
    person = make_contact(app)
    _at_code_step(app, client, person)
    old = last_code(app, smtp, person.email)
    forget_resend_minute(app, person.email)
    response = post(client, RESEND, page=CODE_PAGE)
    assert location(response).endswith(CODE_PAGE)
    assert "The previous one no longer works" in client.get(CODE_PAGE).get_data(as_text=True)
    new = last_code(app, smtp, person.email)
    assert len(codes_sent(smtp, person.email)) == 2
    assert "That code is not valid" in post(client, CODE_PAGE, code=old).get_data(as_text=True)
    assert location(post(client, CODE_PAGE, code=new)).endswith("/portal/")


def test_five_wrong_codes_kill_the_code(app, client, smtp):
    """After 5 wrong tries the right code fails too."""
    person = make_contact(app)
    _at_code_step(app, client, person)
    code = last_code(app, smtp, person.email)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for _ in range(access_codes.MAX_ATTEMPTS):
        assert "That code is not valid" in post(client, CODE_PAGE, code=wrong).get_data(as_text=True)
    assert "That code is not valid" in post(client, CODE_PAGE, code=code).get_data(as_text=True)
    assert not signed_in(client)


def test_four_wrong_codes_leave_the_code_alive(app, client, smtp):
    """Typos below the limit do not kill the code."""
    person = make_contact(app)
    _at_code_step(app, client, person)
    code = last_code(app, smtp, person.email)
    for _ in range(access_codes.MAX_ATTEMPTS - 1):
        post(client, CODE_PAGE, code=f"{(int(code) + 1) % 10**8:08d}")
    assert location(post(client, CODE_PAGE, code=f" {code} ")).endswith("/portal/")


def test_resend_waits_a_minute_and_allows_three_per_quarter_hour(app, client, smtp):
    """A second code within 60 s: a message, no new code; at most 3 codes per 15 minutes per address."""
    person = make_contact(app)
    _at_code_step(app, client, person)
    assert len(codes_sent(smtp, person.email)) == 0 and code_rows(app, person.email) == 1
    response = client.post(RESEND, data={"csrf_token": csrf_token(client, CODE_PAGE)}, follow_redirects=True)
    assert "A code was sent a moment ago" in response.get_data(as_text=True)
    assert code_rows(app, person.email) == 1
    for expected in (2, 3):
        forget_resend_minute(app, person.email)
        post(client, RESEND, page=CODE_PAGE)
        assert code_rows(app, person.email) == expected
    forget_resend_minute(app, person.email)
    response = client.post(RESEND, data={"csrf_token": csrf_token(client, CODE_PAGE)}, follow_redirects=True)
    assert "A code was sent a moment ago" in response.get_data(as_text=True)
    run_jobs(app)
    assert code_rows(app, person.email) == 3 and len(codes_sent(smtp, person.email)) == 3


def test_codes_per_client_address_are_limited_and_an_ipv6_64_is_one_address(app, ctx):
    """≤ 10 codes per hour per client address, known or unknown addresses alike; a /64 counts as one."""
    known = f.contact(email=unique_email())

    def ask(ip, contact=None):
        try:
            access_codes.issue("sign_in", contact.primary_email if contact else unique_email("net"), contact, ip=ip)
            return True
        except access_codes.TooSoon:
            return False

    assert all(ask("203.0.113.7") for _ in range(10))
    assert not ask("203.0.113.7", known) and not ask("203.0.113.7")
    assert ask("203.0.113.8")
    assert all(ask(f"2001:db8:1:2::{n:x}") for n in range(1, 6))
    assert all(ask(f"2001:db8:1:2:ffff:{n:x}::1") for n in range(1, 6))
    assert not ask("2001:db8:1:2:dead:beef:0:1")
    assert ask("2001:db8:1:3::1")
    assert db.session.scalar(select(func.count(AccessCode.id))) == 0


def test_parallel_guesses_cannot_share_the_last_try(app, ctx):
    """A request that read the code before others used up its tries still cannot use it (no stale check)."""
    person = f.contact(email=unique_email())
    code_id = access_codes.issue("sign_in", person.primary_email, person, ip="198.51.100.2")
    code = access_codes.code_for_mail(code_id)
    row = db.session.get(AccessCode, code_id)
    assert row.attempts == 0  # this request's view of the row …
    with db.engine.begin() as other_request:  # … while parallel requests spend every try
        other_request.execute(AccessCode.__table__.update().where(AccessCode.id == code_id)
                              .values(attempts=access_codes.MAX_ATTEMPTS))
    assert access_codes.verify("sign_in", person.primary_email, code) is None
    db.session.expire_all()
    assert db.session.get(AccessCode, code_id).used_on is None


def test_a_code_opens_only_its_own_purpose(app, ctx):
    """A sign-up code is no sign-in code (and the other way round)."""
    person = f.contact(email=unique_email())
    code_id = access_codes.issue("sign_up", person.primary_email, person, ip="198.51.100.3")
    code = access_codes.code_for_mail(code_id)
    assert access_codes.verify("sign_in", person.primary_email, code) is None
    assert access_codes.verify("sign_up", person.primary_email.upper(), code).id == code_id


def test_a_busy_client_address_gets_the_resend_message_through_the_pages(app, smtp):
    """Ten sign-ups from one address in an hour: the eleventh (even of an invited contact) gets no code."""
    invited = make_contact(app, PortalState.invited)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.55"
    for _ in range(10):
        post(client, SIGN_UP, first_name="Mari", last_name="Maasikas", email=unique_email("busy"))
    response = client.post(SIGN_UP, data={"csrf_token": csrf_token(client, SIGN_UP), "first_name": "Mari",
                                          "last_name": "Maasikas", "email": invited.email}, follow_redirects=True)
    assert "A code was sent a moment ago" in response.get_data(as_text=True)
    assert code_rows(app, invited.email) == 0
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.56"
    post(elsewhere, SIGN_UP, first_name="Mari", last_name="Maasikas", email=invited.email)
    assert code_rows(app, invited.email) == 1


def test_codes_are_random_8_digits_and_stored_hashed(app, ctx):
    """Each code is 8 digits; the row holds an HMAC, never the digits."""
    person = f.contact(email=unique_email())
    code_id = access_codes.issue("sign_in", person.primary_email, person, ip="198.51.100.1")
    code = access_codes.code_for_mail(code_id)
    assert re.fullmatch(r"\d{8}", code)
    row = db.session.get(AccessCode, code_id)
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_on - row.created_on == timedelta(minutes=10)
    assert len({access_codes.new_code() for _ in range(200)}) > 190


# --- PINs --------------------------------------------------------------------------------------


class Clock:
    """Stands in for the `time` module of a module under test: time.time() moved by `offset` seconds."""

    def __init__(self):
        import time

        self.offset, self._time = 0, time.time

    def time(self):
        return self._time() + self.offset


def _pin_answers(app, email, pins):
    """The PIN page's answer (status, body without token and address) to each PIN, in one browser."""
    client = app.test_client()
    post(client, SIGN_IN, email=email)
    answers = []
    for pin in pins:
        response = post(client, PIN_PAGE, pin=pin)
        answers.append((response.status_code, location(response),
                        normal(response.get_data(as_text=True), email)))
    return client, answers


def test_five_wrong_pins_lock_and_the_right_pin_is_refused_while_locked(app, smtp, monkeypatch):
    """After 5 wrong PINs: a lock message; the right PIN is refused until the lock ends; then it works."""
    clock = Clock()
    monkeypatch.setattr(portal_auth, "time", clock)
    person = make_contact(app)
    client, answers = _pin_answers(app, person.email, [WRONG_PIN] * 5 + [f.PIN])
    assert all("That PIN is not right" in body for _, _, body in answers[:4])
    assert "Too many wrong PINs. Try again in 1 minute." in answers[4][2]
    assert answers[5][0] == 200 and "Too many wrong PINs" in answers[5][2]
    assert code_rows(app, person.email) == 0
    clock.offset = 61
    assert location(post(client, PIN_PAGE, pin=f.PIN)).endswith(CODE_PAGE)


def test_the_pin_lock_grows_with_each_failure(app, monkeypatch):
    """Each failure past the fifth doubles the lock: 1, 2, 4 minutes …"""
    clock = Clock()
    monkeypatch.setattr(portal_auth, "time", clock)
    person = make_contact(app)
    client, _ = _pin_answers(app, person.email, [WRONG_PIN] * 5)
    for minutes in (2, 4, 8):
        clock.offset += 3600 * 2  # the previous lock is over (the hourly cap too)
        body = post(client, PIN_PAGE, pin=WRONG_PIN).get_data(as_text=True)
        assert f"Try again in {minutes} minutes" in body
    with app.app_context():
        assert 7 * 60 < portal_auth.pin_lock_seconds(person.email) <= 8 * 60


def test_the_hourly_pin_cap_holds_whatever_the_lock(app, ctx):
    """100 failures in an hour lock the address for the hour, from any source."""
    person = f.portal_contact(email=unique_email())
    for _ in range(100):
        throttle.hit(portal_auth.PIN_HOURLY_CAP, "pin", throttle.key_of(person.primary_email))
    assert portal_auth.pin_lock_seconds(person.primary_email) == portal_auth.PIN_MAX_LOCK


def test_pin_lock_out_looks_the_same_for_an_unknown_address(app, monkeypatch):
    """Wrong PINs for an unknown address give the same pages and the same lock as for a real one."""
    monkeypatch.setattr(portal_auth, "time", Clock())
    person = make_contact(app)
    pins = [WRONG_PIN] * 6 + [f.PIN]
    _, known = _pin_answers(app, person.email, pins)
    _, unknown = _pin_answers(app, unique_email("ghost"), pins)
    assert known == unknown


@pytest.mark.parametrize("state", [None, PortalState.invited, PortalState.disabled])
def test_each_sign_in_step_answers_the_same_for_unknown_addresses(app, smtp, state):
    """E-mail step, PIN page, a wrong PIN, the code page: the same for an address that cannot sign in."""
    person = make_contact(app)
    other = make_contact(app, state) if state else SimpleNamespace(email=unique_email("ghost"))

    def walk(email):
        client = app.test_client()
        first = post(client, SIGN_IN, email=email)
        pin_page = client.get(PIN_PAGE)
        wrong = post(client, PIN_PAGE, pin=WRONG_PIN)
        code_page = client.get(CODE_PAGE)  # not reached without the right PIN
        return [(r.status_code, location(r), normal(r.get_data(as_text=True), email))
                for r in (first, pin_page, wrong, code_page)]

    assert walk(person.email) == walk(other.email)
    run_jobs(app)
    assert not [m for m in smtp.messages if m["To"] == other.email]
    assert code_rows(app, other.email) == 0


def test_known_and_unknown_addresses_run_the_same_queries(app, smtp, count_queries):
    """E-mail step (on a browser trusted for someone else) and a wrong PIN run the same SQL for both."""
    person, owner = make_contact(app), make_contact(app)
    device = _trusted_browser(app, smtp, owner).get_cookie(portal_auth.DEVICE_COOKIE).value

    def queries(email):
        client = app.test_client()
        client.set_cookie(portal_auth.DEVICE_COOKIE, device)
        token = csrf_token(client, SIGN_IN)
        with count_queries() as first:
            client.post(SIGN_IN, data={"csrf_token": token, "email": email})
        token = csrf_token(client, PIN_PAGE)
        with count_queries() as wrong:
            client.post(PIN_PAGE, data={"csrf_token": token, "pin": WRONG_PIN})
        return first(), wrong()

    assert queries(person.email) == queries(unique_email("ghost"))


def test_a_disabled_contact_cannot_sign_in(app, smtp):
    """Even with the right PIN and a trusted browser, a disabled contact gets no working code."""
    person = make_contact(app)
    browser = _trusted_browser(app, smtp, person)
    post(browser, "/portal/sign-out", page="/portal/")
    with app.app_context():
        contact = db.session.get(Contact, person.id)
        contact.portal_state = PortalState.disabled
        contact.user.active = False
        db.session.commit()
    smtp.clear()
    assert location(post(browser, SIGN_IN, email=person.email)).endswith(PIN_PAGE)
    post(browser, PIN_PAGE, pin=f.PIN)
    run_jobs(app)
    assert codes_sent(smtp, person.email) == []
    assert not signed_in(browser)


# --- sessions ----------------------------------------------------------------------------------


def test_a_copied_sign_in_in_progress_expires(app, client, smtp, monkeypatch):
    """The "PIN passed" state of a sign-in lasts 15 minutes: a copy of that cookie cannot skip the PIN later."""
    import app.views.portal.auth as auth_views

    person = make_contact(app)
    _at_code_step(app, client, person)
    clock = Clock()
    monkeypatch.setattr(auth_views, "time", clock)
    assert client.get(CODE_PAGE).status_code == 200
    clock.offset = auth_views.LOGIN_WINDOW + 1
    assert location(client.get(CODE_PAGE)).endswith(SIGN_IN)
    code = last_code(app, smtp, person.email)
    assert location(post(client, CODE_PAGE, page=SIGN_IN, code=code)).endswith(SIGN_IN)
    assert location(client.get(PIN_PAGE)).endswith(SIGN_IN)
    assert not signed_in(client)


def test_sign_in_rotates_the_session(app, client, smtp, login):
    """Nothing in the session before sign-in survives it; the signed-in user id is the contact's."""
    person = make_contact(app)
    with app.app_context():
        staff_id = f.staff(R.STAFF).id
    login(client, staff_id)
    with client.session_transaction() as session:
        session["marker"] = "planted"
        session["portal_next"] = "/portal/"
    before = client.get_cookie("session").value
    response = sign_in(app, client, smtp, person.email)
    assert location(response).endswith("/portal/")
    with client.session_transaction() as session:
        assert "marker" not in session
        assert session["_user_id"] == str(person.user_id) != str(staff_id)
    old = app.test_client()
    old.set_cookie("session", before)
    assert not signed_in(old)


def test_session_and_device_cookies_are_http_only_and_same_site(app, client, smtp):
    """The sign-in sets the session and trusted-browser cookies HttpOnly, SameSite=Lax."""
    person = make_contact(app)
    response = sign_in(app, client, smtp, person.email)
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in ("session", portal_auth.DEVICE_COOKIE):
        assert "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name], cookies[name]
    assert "Max-Age=7776000" in cookies[portal_auth.DEVICE_COOKIE]


def test_a_session_ends_after_12_hours_and_idles_out_after_30_minutes(app, client, smtp, monkeypatch):
    """Each request renews the 30-minute idle timer on the server; past 12 hours the session is over."""
    person = make_contact(app)
    sign_in(app, client, smtp, person.email)
    with client.session_transaction() as session:
        token = session["portal_session"]
    with app.app_context():
        key = portal_auth._SESSION_KEY.format(portal_auth._digest(token))
        get_redis().expire(key, 60)
    assert signed_in(client)
    with app.app_context():
        assert 60 < get_redis().ttl(key) <= app.config["PERMANENT_SESSION_LIFETIME"] == 1800
    clock = Clock()
    monkeypatch.setattr(portal_auth, "time", clock)
    clock.offset = app.config["SESSION_ABSOLUTE_LIFETIME"] - 60
    assert signed_in(client)
    clock.offset = app.config["SESSION_ABSOLUTE_LIFETIME"] + 1
    assert not signed_in(client)
    clock.offset = 0
    assert not signed_in(client)


def test_sign_out_ends_the_session_on_the_server(app, client, smtp):
    """After sign-out a copy of the signed-in cookie no longer reaches the portal."""
    person = make_contact(app)
    sign_in(app, client, smtp, person.email)
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert signed_in(copy)
    assert location(post(client, "/portal/sign-out", page="/portal/")).endswith(SIGN_IN)
    assert not signed_in(client)
    response = copy.get("/portal/")
    assert response.status_code == 302 and location(response).endswith(SIGN_IN)


def test_sign_out_needs_the_csrf_token(app, client, smtp):
    """A cross-site POST to sign-out (no token) changes nothing."""
    person = make_contact(app)
    sign_in(app, client, smtp, person.email)
    assert client.post("/portal/sign-out").status_code == 400
    assert signed_in(client)


def test_auth_pages_are_not_stored(app, client):
    """Sign-in, PIN, code and sign-up pages carry Cache-Control: no-store."""
    person = make_contact(app)
    post(client, SIGN_IN, email=person.email)
    for path in (SIGN_IN, PIN_PAGE, SIGN_UP):
        response = client.get(path)
        assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"], path
    post(client, PIN_PAGE, pin=f.PIN)
    response = client.get(CODE_PAGE)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]


# --- secrets stay out of URLs, logs and jobs ---------------------------------------------------


def listen_to_every_logger(caplog, monkeypatch):
    """Capture every log record at DEBUG: loggers that the migrations' logging setup disabled are
    switched back on, and rq's worker logger (which does not propagate) is listened to directly."""
    caplog.set_level(logging.DEBUG)
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.disabled:
            monkeypatch.setattr(logger, "disabled", False)
    worker_log = logging.getLogger("rq.worker")
    monkeypatch.setattr(worker_log, "handlers", worker_log.handlers + [caplog.handler])
    monkeypatch.setattr(worker_log, "level", logging.DEBUG)


def test_codes_and_pins_never_reach_urls_logs_or_job_arguments(app, client, smtp, caplog, monkeypatch):
    """During a whole sign-in (incl. the worker) no URL, log line or job argument holds the code or PIN."""
    person = make_contact(app, pin="480317")
    listen_to_every_logger(caplog, monkeypatch)
    locations = [location(post(client, SIGN_IN, email=person.email)),
                 location(post(client, PIN_PAGE, pin="480317"))]
    with app.app_context():
        jobs = queue().jobs  # as rq stores (and logs) them
    code = last_code(app, smtp, person.email)
    assert [(j.func_name, j.kwargs) for j in jobs] == [("app.jobs.send_access_code", {})]
    assert all(code not in repr(j.args) + j.description for j in jobs)
    locations.append(location(post(client, CODE_PAGE, code=code)))
    assert signed_in(client)
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # not the test's SMTP sink
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in ours)
    assert "send_access_code" in text or "send access code" in text  # the worker did log its job
    for secret in (code, "480317"):
        assert secret not in text
        assert all(secret not in target for target in locations)


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_the_page_saved_before_sign_in_cannot_point_elsewhere(app, client, smtp, target):
    """portal_next (and a next= in the URL) never send a browser off our host after sign-in."""
    person = make_contact(app)
    with client.session_transaction() as session:
        session["portal_next"] = target
    post(client, f"{SIGN_IN}?next={target}", page=SIGN_IN, email=person.email)
    post(client, PIN_PAGE, pin=f.PIN)
    response = post(client, CODE_PAGE, code=last_code(app, smtp, person.email))
    assert location(response) == "/portal/"


def test_the_page_saved_before_sign_in_is_reached_after_it(app, client, smtp):
    """A portal page asked for before signing in is where sign-in leads."""
    person = make_contact(app)
    assert location(client.get("/portal/documents?folder=3")).endswith(SIGN_IN)
    assert location(sign_in(app, client, smtp, person.email)) == "/portal/documents?folder=3"


def test_a_forged_host_header_does_not_reach_redirects(app, client, smtp):
    """Redirects of the sign-in steps are paths on our host, whatever Host the request names."""
    person = make_contact(app)
    evil = "http://evil.example"
    responses = [post(client, evil + SIGN_IN, email=person.email), post(client, evil + PIN_PAGE, pin=f.PIN)]
    responses.append(post(client, evil + CODE_PAGE, code=last_code(app, smtp, person.email)))
    assert [location(r) for r in responses] == [PIN_PAGE, CODE_PAGE, "/portal/"]


@pytest.mark.parametrize("target", EVIL_TARGETS + ["/admin/", "evil.example", "/portalevil"])
def test_the_language_switch_stays_in_the_portal(app, client, target):
    """The language switch's next= never leaves the portal."""
    response = post(client, "/portal/language", page=SIGN_IN, language="et", next=target)
    assert response.status_code == 302
    assert location(response) == "/portal/"
    assert "evil" not in location(response)


def test_the_language_switch_goes_back_to_the_page(app, client):
    """A portal path is kept, and the language changes."""
    response = post(client, "/portal/language", page=SIGN_IN, language="et", next="/portal/sign-up?x=1")
    assert location(response) == "/portal/sign-up?x=1"
    assert client.get(SIGN_UP).get_data(as_text=True).startswith('<!doctype html>\n<html lang="et">')
