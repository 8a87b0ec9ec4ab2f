"""The staff login: staff get in, client accounts never do, sessions end when a user is disabled."""
import re
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.security import roles as R
from tests import factories as f


@pytest.fixture
def people(app):
    """A staff member and a contact whose portal account has a (known) password."""
    with app.app_context():
        staff = f.staff(R.STAFF, username="real.staff")
        person = f.contact(with_user=True)
        return SimpleNamespace(staff=staff.id, portal_username=person.user.username, portal_email=person.primary_email)


def _login(client, username, password=f.PASSWORD):
    body = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
    return client.post("/login/", data={"username": username, "password": password, "csrf_token": token})


def _signed_in(client):
    return client.get("/entityview/list/").status_code == 200


def test_staff_can_sign_in_with_their_password(client, people):
    """The control case: a staff member's username and password open the screens."""
    _login(client, "real.staff")
    assert _signed_in(client)


def test_wrong_password_is_refused(client, people):
    """A wrong password leaves the visitor signed out."""
    _login(client, "real.staff", "not the password at all")
    assert not _signed_in(client)


@pytest.mark.parametrize("field", ["portal_username", "portal_email"])
def test_client_accounts_never_sign_in_through_the_staff_login(client, people, field):
    """A contact's account is refused at /login/ even with its correct password."""
    response = _login(client, getattr(people, field))
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    assert not _signed_in(client)


def test_disabling_a_user_ends_their_session(app, client, people):
    """A signed-in user who is deactivated is signed out on the next request."""
    _login(client, "real.staff")
    assert _signed_in(client)
    with app.app_context():
        user = app.appbuilder.sm.get_user_by_id(people.staff)
        user.active = False
        db.session.commit()
    assert not _signed_in(client)


def test_login_page_is_not_cached_and_has_security_headers(client):
    """The login page carries no-store, a CSP with frame-ancestors 'none', and nosniff."""
    response = client.get("/login/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_staff_login_html_and_api_are_rate_limited(app):
    """After AUTH_RATE_LIMIT attempts, both /login/ and (when switched on) the JWT login API answer 429."""
    import uuid

    from app import create_app
    from tests.conftest import PorticoTestConfig

    class Limited(PorticoTestConfig):
        RATELIMIT_ENABLED = True
        AUTH_RATE_LIMIT = "3 per minute"
        RATELIMIT_KEY_PREFIX = f"portico-test-{uuid.uuid4().hex}"
        TOKEN_LOGIN_API = True  # the token login API is off by default; when on, it is limited too

    limited = create_app(Limited)
    assert limited.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "redis+unix://"))
    client = limited.test_client()
    html = [_login(client, "nobody", "wrong password!").status_code for _ in range(4)]
    assert html[:3] == [302, 302, 302] and html[3] == 429
    api = [client.post("/api/v1/security/login", json={"username": "nobody", "password": "x" * 12,
                                                       "provider": "db"}).status_code for _ in range(4)]
    assert api[:3] == [401, 401, 401] and api[3] == 429


def _limited_app(limit):
    import uuid

    from app import create_app
    from tests.conftest import PorticoTestConfig

    class Limited(PorticoTestConfig):
        RATELIMIT_ENABLED = True
        AUTH_RATE_LIMIT = limit
        RATELIMIT_KEY_PREFIX = f"portico-test-{uuid.uuid4().hex}"

    return create_app(Limited)


def test_staff_login_limit_counts_an_ipv6_client_by_its_64_and_ipv4_by_address(app):
    """Rotating addresses inside one IPv6 /64 does not escape the login limit; another /64 or IPv4 address is apart."""
    client = _limited_app("3 per minute").test_client()

    def attempt(ip):
        client.environ_base["REMOTE_ADDR"] = ip
        return _login(client, "nobody", "wrong password!").status_code

    assert [attempt(f"2001:db8:5:6::{n}") for n in range(1, 5)] == [302, 302, 302, 429]
    assert attempt("2001:db8:5:7::1") == 302
    assert [attempt("192.0.2.10") for _ in range(3)] == [302, 302, 302]
    assert attempt("::ffff:192.0.2.10") == 429 and attempt("192.0.2.11") == 302


def test_the_token_login_api_is_off(app, client, people):
    """FAB's JWT login and refresh routes do not exist until a REST API needs them."""
    assert not [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/security/")]
    response = client.post("/api/v1/security/login", json={"username": "real.staff", "password": f.PASSWORD,
                                                           "provider": "db"})
    assert response.status_code == 404


def test_get_logout_does_not_sign_staff_out(client, people):
    """A cross-site link to /logout/ (GET) signs nobody out; POST without the CSRF token neither; with it, yes."""
    _login(client, "real.staff")
    client.get("/logout/")
    assert _signed_in(client)
    assert client.post("/logout/").status_code == 400
    assert _signed_in(client)
    page = client.get("/entityview/list/").get_data(as_text=True)
    assert re.search(r'<form[^>]*method="post"[^>]*action="/logout/"', page) and 'href="/logout/"' not in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/logout/", data={"csrf_token": token}).status_code == 302
    assert not _signed_in(client)


def test_staff_pages_are_not_cached(client, people):
    """Every staff page (lists, forms, the bell) is sent with Cache-Control: no-store."""
    _login(client, "real.staff")
    for path in ("/", "/entityview/list/", "/contactview/list/", "/notifications/", "/taskview/list/"):
        response = client.get(path)
        assert response.status_code in (200, 302), path
        assert "no-store" in response.headers.get("Cache-Control", ""), path


def test_sessions_end_after_the_absolute_lifetime(app, client, people):
    """A session older than SESSION_ABSOLUTE_LIFETIME is signed out whatever its activity."""
    _login(client, "real.staff")
    assert _signed_in(client)
    with client.session_transaction() as session:
        assert session.permanent
        session["_started"] -= app.config["SESSION_ABSOLUTE_LIFETIME"] + 1
    assert not _signed_in(client)


def test_session_cookie_flags(client, people):
    """The session cookie is HttpOnly and SameSite=Lax, and expires after the idle timeout."""
    response = _login(client, "real.staff")
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_login_next_never_leaves_our_host_whatever_the_host_header(app, client):
    """A forged Host header does not make //evil.example a safe place to send a signed-in user."""
    with app.app_context():
        f.staff(R.STAFF, username="alice")
    url = "/login/?next=//evil.example/"
    body = client.get(url, headers={"Host": "evil.example"}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
    response = client.post(url, data={"csrf_token": token, "username": "alice", "password": f.PASSWORD},
                           headers={"Host": "evil.example"})
    assert "evil.example" not in response.headers["Location"]


def test_a_client_who_opens_the_staff_address_is_shown_the_way_to_the_portal(client):
    """"/" leads a visitor to the staff sign-in, which links the portal's sign-in for clients."""
    page = client.get("/", follow_redirects=True)
    body = page.get_data(as_text=True)
    assert page.request.path == "/login/" and 'id="portal-hint"' in body
    assert 'href="/portal/sign-in"' in body and "Sign in to your client portal" in body
