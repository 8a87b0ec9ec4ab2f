"""Attacks on portal sessions: a disabled contact, expiry of a sign-in in progress, rotation, sign-out,
cookie flags, no-store pages, secrets kept out of URLs and logs, open redirects."""
import logging

import pytest

from app.extensions import db
from app.jobs import queue
from app.models import Contact
from app.models.contacts import PortalState
from app.redis_conn import get_redis
from app.security import roles as R
from app.services.portal import auth as portal_auth
from tests import factories as f
from tests.portal_auth_helpers import (CODE_PAGE, PIN_PAGE, SIGN_IN, SIGN_UP, Clock, at_code_step, codes_sent,
                                       last_code, location, make_contact, post, run_jobs, sign_in, signed_in,
                                       trusted_browser)

pytestmark = pytest.mark.usefixtures("fresh_redis")

EVIL_TARGETS = ["//evil.example", "https://evil.example", "/\\evil.example", "/portal/\\evil.example",
                "//evil.example/portal/", "http://evil.example/portal/", "/portal\r\nLocation: http://evil.example",
                "/portal/\r\nLocation: http://evil.example", "/portal/\x00x"]


def test_a_disabled_contact_cannot_sign_in(app, smtp):
    """Even with the right PIN and a trusted browser, a disabled contact gets no working code."""
    person = make_contact(app)
    browser = trusted_browser(app, smtp, person)
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
    at_code_step(app, client, person)
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


def test_only_portal_pages_renew_the_idle_timer(app, client, smtp):
    """With kept pages on (the session check rides on the data version's read), a staff screen or the
    firm logo asked with a portal session leaves its idle timer alone; a portal page renews it."""
    person = make_contact(app)
    sign_in(app, client, smtp, person.email)
    with client.session_transaction() as session:
        key = portal_auth._SESSION_KEY.format(portal_auth._digest(session["portal_session"]))
    app.config["PAGE_CACHE"] = True
    try:
        with app.app_context():
            get_redis().expire(key, 60)
        client.get("/firm-logo")
        client.get("/entityview/list/")
        with app.app_context():
            assert get_redis().ttl(key) <= 60
        assert signed_in(client)
        with app.app_context():
            assert get_redis().ttl(key) > 60
    finally:
        app.config["PAGE_CACHE"] = False


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
