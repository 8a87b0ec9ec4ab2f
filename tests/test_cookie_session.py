"""The session cookie (app/web/cookie_session.py) is re-signed when the session changes or its cookie is a
minute old, not on every page; Flask's idle limit on the cookie still holds, also for a cookie whose checked
content this process kept."""
import time

import pytest
from itsdangerous import timed

from app.web import cookie_session
from tests.conftest import csrf_token

HOME = "/portal/"


def _session_cookie(response):
    return [v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")]


@pytest.fixture
def settled(client, portal_login, world):
    """A portal client whose session settled (its first page chose the entity and made it permanent)."""
    portal_login(client, world.cora)
    assert _session_cookie(client.get(HOME))
    return client


def test_an_unchanged_session_is_not_re_signed_on_each_page(settled):
    """A page that leaves the session as it was sends no new cookie, yet the next page is still signed in."""
    assert not _session_cookie(settled.get(HOME))
    page = settled.get(HOME)
    assert page.status_code == 200 and not _session_cookie(page)


def test_a_changed_session_is_written_at_once(settled):
    """Switching the language changes the session: the answer carries the re-signed cookie."""
    token = csrf_token(settled, HOME)
    switched = settled.post("/portal/language", data={"csrf_token": token, "language": "et", "next": HOME})
    assert switched.status_code == 302 and _session_cookie(switched)
    assert 'lang="et"' in settled.get(HOME).get_data(as_text=True)


def test_a_cookie_a_minute_old_is_re_signed(settled, monkeypatch):
    """Once the cookie is REFRESH_AFTER seconds old, an unchanged session is re-signed (its expiry moves on)."""
    monkeypatch.setattr(cookie_session, "REFRESH_AFTER", 0)
    cookie = _session_cookie(settled.get(HOME))
    assert cookie and "Expires=" in cookie[0]


def test_a_cookie_signed_longer_ago_than_the_idle_limit_is_refused(app, monkeypatch):
    """A cookie signed 31 minutes ago opens an empty session; one signed 29 minutes ago opens its content."""
    interface = app.session_interface
    serializer = interface.get_signing_serializer(app)
    idle = app.config["PERMANENT_SESSION_LIFETIME"]
    real_time = time.time
    cookies = {}
    for minutes in (29, 31):
        monkeypatch.setattr(timed.time, "time", lambda m=minutes: real_time() - m * 60)
        cookies[minutes] = serializer.dumps({"_user_id": "7", "_permanent": True})
    monkeypatch.setattr(timed.time, "time", real_time)
    assert idle == 30 * 60
    for minutes, expected in ((29, {"_user_id": "7", "_permanent": True}), (31, {})):
        with app.test_request_context(headers={"Cookie": f"session={cookies[minutes]}"}) as context:
            opened = interface.open_session(app, context.request)
            assert dict(opened) == expected


def _open(app, cookie):
    with app.test_request_context(headers={"Cookie": f"session={cookie}"}) as context:
        return app.session_interface.open_session(app, context.request)


def test_a_checked_cookie_still_ages_out(app, monkeypatch):
    """A cookie whose checked content this process kept opens empty once it is older than the idle limit,
    as itsdangerous would refuse it."""
    cookie = app.session_interface.get_signing_serializer(app).dumps({"_user_id": "7"})
    assert dict(_open(app, cookie)) == {"_user_id": "7"}
    later = time.time() + app.config["PERMANENT_SESSION_LIFETIME"] + 2
    monkeypatch.setattr(cookie_session.time, "time", lambda: later)
    assert dict(_open(app, cookie)) == {}


def test_a_session_changed_in_place_does_not_change_the_kept_content(app):
    """A request that changes a list in its session in place leaves the next request of the same cookie
    with the content the cookie holds."""
    cookie = app.session_interface.get_signing_serializer(app).dumps({"_flashes": [["info", "one"]]})
    _open(app, cookie)["_flashes"].append(["info", "two"])
    assert dict(_open(app, cookie)) == {"_flashes": [["info", "one"]]}


def test_a_tampered_cookie_is_refused_though_its_original_was_kept(app):
    """Changing one character of a cookie this process checked opens an empty session."""
    cookie = app.session_interface.get_signing_serializer(app).dumps({"_user_id": "7"})
    assert dict(_open(app, cookie))
    body, signature = cookie.rsplit(".", 1)
    forged = body.replace(body[2], "A" if body[2] != "A" else "B", 1) + "." + signature
    assert dict(_open(app, forged)) == {}
