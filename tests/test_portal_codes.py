"""Attacks on the portal's access codes: expiry, reuse, superseded codes, tries, resend and per-address limits."""
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AccessCode
from app.models.contacts import PortalState
from app.services import access_codes, throttle
from tests import factories as f
from tests.portal_auth_helpers import (CODE_PAGE, RESEND, SIGN_UP, THREADS, at_code_step, code_rows, codes_sent,
                                       csrf_token, forget_resend_minute, last_code, location, make_contact, post, race,
                                       run_jobs, signed_in, unique_email)

pytestmark = pytest.mark.usefixtures("fresh_redis")


def test_a_code_expires_after_ten_minutes(app, client, smtp, monkeypatch):
    """The code works at 9 min 59 s, not at 10 min (frozen clock)."""
    person = make_contact(app)
    issued = access_codes._now()
    monkeypatch.setattr(access_codes, "_now", lambda: issued)
    at_code_step(app, client, person)
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
    at_code_step(app, first, person)
    code = last_code(app, smtp, person.email)
    assert location(post(first, CODE_PAGE, code=code)).endswith("/portal/")
    second = app.test_client()
    at_code_step(app, second, person)  # within 60 s: no new code is issued
    assert len(codes_sent(smtp, person.email)) == 1 and code_rows(app, person.email) == 1
    response = post(second, CODE_PAGE, code=code)
    assert "That code is not valid" in response.get_data(as_text=True)
    assert not signed_in(second)


def test_a_new_code_supersedes_the_old_one(app, client, smtp):
    """After "Send a new code" the previous code is dead; the new one works."""
    person = make_contact(app)
    at_code_step(app, client, person)
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
    at_code_step(app, client, person)
    code = last_code(app, smtp, person.email)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for _ in range(access_codes.MAX_ATTEMPTS):
        assert "That code is not valid" in post(client, CODE_PAGE, code=wrong).get_data(as_text=True)
    assert "That code is not valid" in post(client, CODE_PAGE, code=code).get_data(as_text=True)
    assert not signed_in(client)


def test_four_wrong_codes_leave_the_code_alive(app, client, smtp):
    """Typos below the limit do not kill the code."""
    person = make_contact(app)
    at_code_step(app, client, person)
    code = last_code(app, smtp, person.email)
    for _ in range(access_codes.MAX_ATTEMPTS - 1):
        post(client, CODE_PAGE, code=f"{(int(code) + 1) % 10**8:08d}")
    assert location(post(client, CODE_PAGE, code=f" {code} ")).endswith("/portal/")


def test_resend_waits_a_minute_and_allows_three_per_quarter_hour(app, client, smtp):
    """A second code within 60 s: no new code, and a new one can be asked for in a minute; at most 3 codes
    per 15 minutes per address, and then the page says a new one comes in 15 minutes."""
    person = make_contact(app)
    at_code_step(app, client, person)
    assert len(codes_sent(smtp, person.email)) == 0 and code_rows(app, person.email) == 1
    response = client.post(RESEND, data={"csrf_token": csrf_token(client, CODE_PAGE)}, follow_redirects=True)
    assert "You can ask for a new one in 1 minute." in response.get_data(as_text=True)
    assert code_rows(app, person.email) == 1
    for expected in (2, 3):
        forget_resend_minute(app, person.email)
        post(client, RESEND, page=CODE_PAGE)
        assert code_rows(app, person.email) == expected
    forget_resend_minute(app, person.email)
    response = client.post(RESEND, data={"csrf_token": csrf_token(client, CODE_PAGE)}, follow_redirects=True)
    assert "You can ask for a new one in 15 minutes." in response.get_data(as_text=True)
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
    assert db.session.scalar(select(func.count(AccessCode.id)).where(AccessCode.contact_id.is_not(None))) == 0


def test_ipv4_mapped_ipv6_clients_are_counted_per_ipv4_address(app, ctx):
    """On a dual-stack listener ten codes from one IPv4 client (::ffff:a.b.c.d) do not limit another."""
    def ask(ip):
        try:
            access_codes.issue("sign_in", unique_email("mapped"), None, ip=ip)
            return True
        except access_codes.TooSoon:
            return False

    assert all(ask("::ffff:203.0.113.20") for _ in range(10))
    assert not ask("::ffff:203.0.113.20") and not ask("203.0.113.20")  # the same client, either notation
    assert ask("::ffff:203.0.113.21")


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
    assert "You can ask for a new one in 60 minutes." in response.get_data(as_text=True)
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




# 6 --------------------------------------------------------------------------------------------------
def test_parallel_code_requests_cannot_exceed_the_resend_limit(app, monkeypatch):
    """Parallel code requests all passed the resend limit: 12 at once now make at most one code row."""
    with app.app_context():
        invited = f.contact(email="victim@client.example")
        invited.portal_state = PortalState.invited
        db.session.commit()
    checked = throttle.allowed

    def slow_allowed(rules, *identifiers):  # widen the test-then-count window, as a busy server would
        answer = checked(rules, *identifiers)
        time.sleep(0.05)
        return answer

    monkeypatch.setattr(throttle, "allowed", slow_allowed)
    ready = []
    for _ in range(THREADS):
        browser = app.test_client()
        ready.append((browser, csrf_token(browser, "/portal/sign-up")))
    statuses = []

    def ask(i):
        browser, token = ready[i]
        statuses.append(browser.post("/portal/sign-up", data={
            "csrf_token": token, "first_name": "V", "last_name": "W", "email": "victim@client.example",
        }).status_code)

    assert race(THREADS, ask) == []
    assert statuses == [302] * THREADS  # the same answer to each: no 500
    with app.app_context():
        issued = db.session.scalar(select(func.count(AccessCode.id)).where(
            AccessCode.email == "victim@client.example", AccessCode.contact_id.is_not(None)))
        assert issued == 1  # a refused request uses up no place of the looser "3 per 15 minutes" rule


def test_the_wait_is_told_in_whole_minutes_in_the_readers_language(app):
    """A wait of 61 s reads "2 minutes"; in Estonian the same sentence is translated."""
    from flask_babel import force_locale

    from app.views.portal import code_wait_message

    with app.test_request_context():
        assert code_wait_message(access_codes.TooSoon(61)).endswith("in 2 minutes.")
        assert code_wait_message(access_codes.TooSoon(0)).endswith("in 1 minute.")
        with force_locale("et"):
            assert code_wait_message(access_codes.TooSoon(900)) == \
                "Koode küsiti liiga sageli. Uue saate küsida 15 minuti pärast."
