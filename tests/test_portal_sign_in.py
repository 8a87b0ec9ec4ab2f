"""Attacks on the portal's sign-in: trusted browsers (forged, planted, revoked, expired cookies), PIN
lock-out, and the same answers (pages and queries) for addresses that cannot sign in."""
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from itsdangerous import URLSafeSerializer

from app.extensions import db
from app.models import Contact
from app.models.contacts import PortalState
from app.services import throttle
from app.services.portal import auth as portal_auth
from tests import factories as f
from tests.portal_auth_helpers import (CODE_PAGE, PIN_PAGE, SIGN_IN, THREADS, WRONG_PIN, Clock, code_rows, csrf_token,
                                       forget_resend_minute, last_code, location, make_contact, normal, post, race,
                                       run_jobs, signed_in, trusted_browser, unique_email)

pytestmark = pytest.mark.usefixtures("fresh_redis")


# --- new and trusted browsers ------------------------------------------------------------------


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


def test_forged_device_cookies_are_ignored(app, smtp):
    """An unsigned, re-signed or tampered device cookie does not skip the PIN."""
    person = make_contact(app)
    good = trusted_browser(app, smtp, person).get_cookie(portal_auth.DEVICE_COOKIE).value
    payload, signature = good.rsplit(".", 1)
    other_secret = URLSafeSerializer("another-secret", salt="portico-device").dumps("guessed-key")
    other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="other-salt").dumps("guessed-key")
    # Tamper with the signature's first character: its last one carries padding bits, so changing
    # the end could leave the decoded signature as it was (about 1 run in 1,000 failed that way).
    tampered = f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    for forged in ["guessed-key", payload, tampered, other_secret, other_salt, ""]:
        browser = app.test_client()
        browser.set_cookie(portal_auth.DEVICE_COOKIE, forged)
        assert location(post(browser, SIGN_IN, email=person.email)).endswith(PIN_PAGE), forged
    browser = app.test_client()
    browser.set_cookie(portal_auth.DEVICE_COOKIE, good)
    assert location(post(browser, SIGN_IN, email=person.email)).endswith(CODE_PAGE)


def test_a_trusted_browser_of_one_contact_asks_the_pin_of_another(app, smtp):
    """Trust belongs to the contact who signed in: another address on that browser needs its PIN."""
    first, second = make_contact(app), make_contact(app)
    browser = trusted_browser(app, smtp, first)
    post(browser, "/portal/sign-out", page="/portal/")
    assert location(post(browser, SIGN_IN, email=second.email)).endswith(PIN_PAGE)


def test_a_revoked_browser_asks_the_pin_again(app, smtp):
    """Once its TrustedDevice row is deleted (revoked), the browser's cookie no longer skips the PIN."""
    person = make_contact(app)
    browser = trusted_browser(app, smtp, person)
    post(browser, "/portal/sign-out", page="/portal/")
    with app.app_context():
        portal_auth.forget_devices(db.session.get(Contact, person.id))
    assert location(post(browser, SIGN_IN, email=person.email)).endswith(PIN_PAGE)


def test_an_expired_trusted_browser_asks_the_pin_again(app, smtp, monkeypatch):
    """A trusted browser past its 90 days asks the PIN again."""
    person = make_contact(app)
    browser = trusted_browser(app, smtp, person)
    post(browser, "/portal/sign-out", page="/portal/")
    later = portal_auth._now() + portal_auth.DEVICE_LIFETIME + timedelta(minutes=1)
    monkeypatch.setattr(portal_auth, "_now", lambda: later)
    assert location(post(browser, SIGN_IN, email=person.email)).endswith(PIN_PAGE)


def test_a_device_cookie_planted_from_another_browser_never_becomes_trusted(app, smtp):
    """A full sign-in over another's planted device cookie sets a new one; the planted one still asks the PIN."""
    victim, attacker = make_contact(app), make_contact(app)
    planted = trusted_browser(app, smtp, attacker).get_cookie(portal_auth.DEVICE_COOKIE).value
    browser = app.test_client()  # the victim's browser, with the attacker's cookie planted in it
    browser.set_cookie(portal_auth.DEVICE_COOKIE, planted)
    assert location(post(browser, SIGN_IN, email=victim.email)).endswith(PIN_PAGE)
    assert location(post(browser, PIN_PAGE, pin=f.PIN)).endswith(CODE_PAGE)
    response = post(browser, CODE_PAGE, code=last_code(app, smtp, victim.email))
    assert location(response).endswith("/portal/") and signed_in(browser)
    set_device = [c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith(portal_auth.DEVICE_COOKIE + "=")]
    assert len(set_device) == 1
    fresh = set_device[0].split(";", 1)[0].split("=", 1)[1]
    assert fresh and fresh != planted and browser.get_cookie(portal_auth.DEVICE_COOKIE).value == fresh
    forget_resend_minute(app, victim.email)
    attacker_browser = app.test_client()  # the attacker, with the key they planted
    attacker_browser.set_cookie(portal_auth.DEVICE_COOKIE, planted)
    assert location(post(attacker_browser, SIGN_IN, email=victim.email)).endswith(PIN_PAGE)
    post(browser, "/portal/sign-out", page="/portal/")
    assert location(post(browser, SIGN_IN, email=victim.email)).endswith(CODE_PAGE)  # the new key is trusted


# --- PIN lock-out and identical answers ------------------------------------------------------


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


def test_one_network_spraying_a_common_pin_over_many_accounts_is_stopped(app):
    """Wrong PINs are capped per client network too: one address trying a PIN on many accounts gets
    locked out (even for an account it never tried), while another network still signs in."""
    people = [make_contact(app) for _ in range(portal_auth.PIN_NETWORK_FAILURES + 1)]
    sprayer = app.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = "2001:db8:77:1::5"
    for person in people[:-1]:
        post(sprayer, SIGN_IN, email=person.email)
        assert post(sprayer, PIN_PAGE, pin=WRONG_PIN).status_code == 200
    post(sprayer, SIGN_IN, email=people[-1].email)
    sprayer.environ_base["REMOTE_ADDR"] = "2001:db8:77:1::6"  # another address of the same /64
    response = post(sprayer, PIN_PAGE, pin=f.PIN)
    assert response.status_code == 200 and "Too many wrong PINs" in response.get_data(as_text=True)
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.77"
    post(elsewhere, SIGN_IN, email=people[-1].email)
    assert location(post(elsewhere, PIN_PAGE, pin=f.PIN)).endswith(CODE_PAGE)


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
    device = trusted_browser(app, smtp, owner).get_cookie(portal_auth.DEVICE_COOKIE).value

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




# 5 --------------------------------------------------------------------------------------------------
def test_parallel_wrong_pins_cannot_exceed_the_lock_out(app, world, monkeypatch):
    """Parallel wrong PINs all passed the lock read: 12 guesses at once now count at most 5 failures."""
    slow_check = portal_auth.check_password_hash

    def production_speed(stored, pin):  # the test hash is fast; scrypt in production is not
        time.sleep(0.05)
        return slow_check(stored, pin)

    monkeypatch.setattr(portal_auth, "check_password_hash", production_speed)
    ready = []
    for _ in range(THREADS):
        browser = app.test_client()
        browser.post("/portal/sign-in", data={"csrf_token": csrf_token(browser, "/portal/sign-in"),
                                              "email": world.cora_email})
        ready.append((browser, csrf_token(browser, "/portal/sign-in/pin")))
    statuses = []

    def guess(i):
        browser, token = ready[i]
        statuses.append(browser.post("/portal/sign-in/pin",
                                     data={"csrf_token": token, "pin": f"{900000 + i:06d}"}).status_code)

    assert race(THREADS, guess) == []
    assert statuses == [200] * THREADS  # every guess refused (the form again), none signed in
    from app.redis_conn import get_redis

    with app.app_context():
        counted = int(get_redis().hget(portal_auth._PIN_KEY.format(throttle.key_of(world.cora_email)), "count"))
        assert counted <= portal_auth.PIN_FREE_FAILURES
        assert portal_auth.pin_lock_seconds(world.cora_email) > 0
