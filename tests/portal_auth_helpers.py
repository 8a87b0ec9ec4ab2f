"""Shared helpers of the portal sign-up / sign-in tests: pages, forms, contacts, codes from the SMTP sink,
a movable clock (the Redis reset they need is conftest's `fresh_redis`)."""
import itertools
import re
import threading
from types import SimpleNamespace

from rq import SimpleWorker
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import queue
from app.models import AccessCode
from app.models.contacts import PortalState
from app.redis_conn import get_redis
from app.services import throttle
from tests import factories as f

SIGN_IN, PIN_PAGE, CODE_PAGE, RESEND = "/portal/sign-in", "/portal/sign-in/pin", "/portal/sign-in/code", \
    "/portal/sign-in/resend"
SIGN_UP, VERIFY, NEW_PIN = "/portal/sign-up", "/portal/sign-up/verify", "/portal/sign-up/pin"
WRONG_PIN = "135792"
_seq = itertools.count(1)

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


def trusted_browser(app, smtp, person):
    """A browser where `person` signed in fully (so it is trusted for them), ready for a new code."""
    browser = app.test_client()
    sign_in(app, browser, smtp, person.email)
    forget_resend_minute(app, person.email)
    return browser


def at_code_step(app, client, person):
    """E-mail, then the PIN, in `client` (a new browser): it now stands at the code step."""
    assert location(post(client, SIGN_IN, email=person.email)).endswith(PIN_PAGE)
    assert location(post(client, PIN_PAGE, pin=f.PIN)).endswith(CODE_PAGE)


class Clock:
    """Stands in for the `time` module of a module under test: time.time() moved by `offset` seconds."""

    def __init__(self):
        import time

        self.offset, self._time = 0, time.time

    def time(self):
        return self._time() + self.offset


THREADS = 12  # requests sent at the same moment by race()
RACE_TIMEOUT = 60  # seconds: a hung thread fails the test instead of hanging the run


def race(count, work):
    """Run work(i) in `count` threads released together by a barrier; the errors raised, if any."""
    barrier, errors = threading.Barrier(count, timeout=RACE_TIMEOUT), []

    def run(i):
        try:
            barrier.wait()
            work(i)
        except Exception as exc:  # noqa: BLE001 (reported by the test)
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RACE_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a racing request hung"
    return errors
