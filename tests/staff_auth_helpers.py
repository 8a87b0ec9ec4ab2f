"""Shared helpers of the two-step sign-in and staff session tests: a password login through the real
form, codes computed like an authenticator app, and Redis state forgotten between tests."""
import re
import uuid

import pyotp
import pytest

from app.redis_conn import get_redis
from tests import factories as f

CODE_PAGE, RECOVERY_PAGE, ENROL_PAGE = "/two-factor/", "/two-factor/recovery", "/two-factor/enrol"
SCREEN = "/entityview/list/"

def browser(app, address=None):
    """A test client with its own client address (so per-network counts of tests never meet)."""
    address = address or "10.{}.{}.{}".format(*uuid.uuid4().bytes[:3])
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def token_of(client, path):
    """The CSRF token of the page at `path`."""
    body = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)


def password_login(client, username, password=f.PASSWORD):
    """Sign in through the real /login/ form; returns the response."""
    token = token_of(client, "/login/")
    return client.post("/login/", data={"username": username, "password": password, "csrf_token": token})


def give_code(client, code, remember=False, path=CODE_PAGE):
    """Post a code (or recovery code) to the second-step page."""
    data = {"code": code, "csrf_token": token_of(client, path)}
    if remember:
        data["remember"] = "y"
    return client.post(path, data=data)


def code_now(secret):
    """The code an authenticator app shows now for `secret`."""
    return pyotp.TOTP(secret).now()


def reaches_screens(client):
    """Whether the client's session reaches a staff screen (200)."""
    return client.get(SCREEN).status_code == 200
