"""Two-step staff sign-in: the gate on every route, codes, replay, limits, recovery codes, remembered
browsers, enrolment, Admin resets and the token login API."""
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ActivityEvent, StaffTotp
from app.security import roles as R
from app.security.second_factor import ALWAYS, BROWSER_COOKIE
from tests import factories as f
from tests.staff_auth_helpers import (CODE_PAGE, ENROL_PAGE, RECOVERY_PAGE, browser, code_now, give_code,  # noqa: F401
                                      password_login, reaches_screens, token_of)
from tests.test_routes import _rules, _url

pytestmark = pytest.mark.usefixtures("fresh_redis")

STEP_PAGES = {"password": ({"TwoFactorView.verify", "TwoFactorView.recovery", "PasskeyView.sign_in_options",
                             "PasskeyView.sign_in"}, CODE_PAGE),
              "enrol": ({"TwoFactorView.enrol"}, ENROL_PAGE)}


@pytest.fixture
def admin(app):
    """An Admin with an authenticator set up: (id, username, secret, recovery codes)."""
    with app.app_context():
        user = f.staff(R.ADMIN)
        secret, codes = f.enrolled_totp(user)
        return user.id, user.username, secret, codes


@pytest.mark.parametrize("state", ["password", "enrol"])
def test_every_route_refuses_a_session_owing_its_second_step(app, login, admin, state):
    """Generated from app.url_map: an Admin session that passed only the password reaches no route
    (staff screens, APIs, the ops console, even the home page): each answers a redirect to the step."""
    allowed, step_page = STEP_PAGES[state]
    with app.app_context():
        user_id = admin[0] if state == "password" else f.staff(R.ADMIN).id  # one owing an enrolment has none
    client = login(browser(app), user_id, state=state)
    token = token_of(client, step_page)
    reached = []
    for rule in _rules(app):
        if rule.endpoint in ALWAYS | allowed:
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(_url(rule), method=method, data={"csrf_token": token})
        if response.status_code == 404 and rule.endpoint.endswith(".download"):
            continue  # FAB's generic download is switched off for everyone before the gate runs
        if response.status_code != 302 or step_page not in response.headers["Location"]:
            reached.append((rule.endpoint, response.status_code))
    assert reached == []
    assert client.get(step_page).status_code == 200


def test_password_then_code_signs_in(app, admin):
    """The control case: the right password leads to the code page, the right code to the screens."""
    client = browser(app)
    response = password_login(client, admin[1])
    assert response.status_code == 302
    assert not reaches_screens(client)
    assert CODE_PAGE in client.get("/entityview/list/").headers["Location"]
    response = give_code(client, code_now(admin[2]))
    assert response.status_code == 302
    assert reaches_screens(client)


def test_a_wrong_code_is_refused(app, admin):
    """A wrong code leaves the session on the code page."""
    client = browser(app)
    password_login(client, admin[1])
    page = give_code(client, "000000" if code_now(admin[2]) != "000000" else "111111")
    assert page.status_code == 200 and "That code is not right" in page.get_data(as_text=True)
    assert not reaches_screens(client)


def test_a_used_code_is_refused_again(app, admin):
    """Replay: the code that signed one session in does not sign in a second one."""
    first, second = browser(app), browser(app)
    code = code_now(admin[2])
    password_login(first, admin[1])
    give_code(first, code)
    assert reaches_screens(first)
    password_login(second, admin[1])
    page = give_code(second, code)
    assert page.status_code == 200 and "used already" in page.get_data(as_text=True)
    assert not reaches_screens(second)


def test_wrong_codes_are_limited_per_account(app, admin):
    """After TOTP_RATE_LIMIT wrong codes (from several addresses) even the right code is refused."""
    limit = int(app.config["TOTP_RATE_LIMIT"].split()[0])
    for _ in range(limit):
        client = browser(app)
        password_login(client, admin[1])
        give_code(client, "999999" if code_now(admin[2]) != "999999" else "888888")
    client = browser(app)
    password_login(client, admin[1])
    page = give_code(client, code_now(admin[2]))
    assert "Too many wrong codes" in page.get_data(as_text=True)
    assert not reaches_screens(client)


def test_wrong_codes_are_limited_per_client_network(app):
    """Guesses spread over many accounts from one network run into the network's limit; another
    network is not held back by them."""
    limit = int(app.config["TOTP_RATE_LIMIT"].split()[0])
    with app.app_context():
        accounts = []
        for _ in range(limit + 1):
            user = f.staff(R.ADMIN)
            accounts.append((user.username, f.enrolled_totp(user)[0]))
    network = browser(app).environ_base["REMOTE_ADDR"]
    for username, _secret in accounts[:limit]:
        client = browser(app, network)
        password_login(client, username)
        give_code(client, "12345x")
    username, secret = accounts[limit]
    held = browser(app, network)
    password_login(held, username)
    assert "Too many wrong codes" in give_code(held, code_now(secret)).get_data(as_text=True)
    elsewhere = browser(app)
    password_login(elsewhere, username)
    assert give_code(elsewhere, code_now(secret)).status_code == 302 and reaches_screens(elsewhere)


def test_a_recovery_code_works_once(app, admin):
    """A recovery code signs in once; the same code is refused the second time."""
    code = admin[3][0]
    first, second = browser(app), browser(app)
    password_login(first, admin[1])
    assert give_code(first, code, path=RECOVERY_PAGE).status_code == 302
    assert reaches_screens(first)
    password_login(second, admin[1])
    page = give_code(second, code, path=RECOVERY_PAGE)
    assert page.status_code == 200 and not reaches_screens(second)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ActivityEvent).where(
            ActivityEvent.verb == "staff.recovery_code_used")) == 1


def test_a_remembered_browser_skips_the_code_until_forgotten(app, admin):
    """"Remember this browser": the next sign-in there needs no code; once forgotten it does again."""
    first = browser(app)
    password_login(first, admin[1])
    give_code(first, code_now(admin[2]), remember=True)
    cookie = first.get_cookie(BROWSER_COOKIE)
    assert cookie is not None and cookie.http_only
    again = browser(app)
    again.set_cookie(BROWSER_COOKIE, cookie.value)
    password_login(again, admin[1])
    assert reaches_screens(again)
    page = again.get("/my-sessions/").get_data(as_text=True)
    browser_id = re.search(r'forget-browser">.*?name="item" value="(\d+)"', page, flags=re.DOTALL).group(1)
    again.post("/my-sessions/forget-browser", data={"item": browser_id, "csrf_token": token_of(again, "/my-sessions/")})
    third = browser(app)
    third.set_cookie(BROWSER_COOKIE, cookie.value)
    password_login(third, admin[1])
    assert not reaches_screens(third)


def test_a_remembered_browser_cookie_is_worthless_for_another_account(app, admin):
    """The cookie is bound to the member it was issued to."""
    first = browser(app)
    password_login(first, admin[1])
    give_code(first, code_now(admin[2]), remember=True)
    with app.app_context():
        other = f.staff(R.ADMIN)
        f.enrolled_totp(other)
        other_name = other.username
    client = browser(app)
    client.set_cookie(BROWSER_COOKIE, first.get_cookie(BROWSER_COOKIE).value)
    password_login(client, other_name)
    assert not reaches_screens(client)


def test_enrolment_is_required_and_shows_recovery_codes_once(app):
    """An Admin without a second factor is taken to enrolment, confirms with a first code, sees ten codes."""
    with app.app_context():
        user = f.staff(R.ADMIN)
        user_id, username = user.id, user.username
    client = browser(app)
    password_login(client, username)
    assert ENROL_PAGE in client.get("/entityview/list/").headers["Location"]
    page = client.get(ENROL_PAGE).get_data(as_text=True)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page).group(1)
    assert 'src="data:image/svg+xml' in page
    assert secret in client.get(ENROL_PAGE).get_data(as_text=True)  # a reload keeps the secret being set up
    with app.app_context():
        stored = db.session.scalar(select(StaffTotp.secret_encrypted).where(StaffTotp.user_id == user_id))
        assert secret not in stored
    assert give_code(client, "000000" if code_now(secret) != "000000" else "111111", path=ENROL_PAGE).status_code == 200
    assert not reaches_screens(client)
    page = give_code(client, code_now(secret), path=ENROL_PAGE).get_data(as_text=True)
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", page)
    assert len(set(codes)) == 10
    assert reaches_screens(client)
    assert not any(code in client.get("/my-sessions/").get_data(as_text=True) for code in codes)  # shown once


def test_staff_outside_the_policy_sign_in_with_the_password(app):
    """A Staff member (not required by default) signs in with the password alone; ticking Staff changes that."""
    with app.app_context():
        username = f.staff(R.STAFF).username
    client = browser(app)
    password_login(client, username)
    assert reaches_screens(client)
    with app.app_context():
        from app.services.firm import get_settings

        get_settings().second_factor_roles = "Admin\nStaff"
        db.session.commit()
    later = browser(app)
    password_login(later, username)
    assert not reaches_screens(later)


def test_an_admin_resets_a_members_second_factor(app, login, admin):
    """Reset: the factor, codes and remembered browsers are gone, sessions end, the audit trail says who."""
    member = browser(app)
    password_login(member, admin[1])
    give_code(member, code_now(admin[2]), remember=True)
    assert reaches_screens(member)
    with app.app_context():
        boss = f.staff(R.ADMIN)
        f.enrolled_totp(boss)
        boss_id = boss.id
    client = login(browser(app), boss_id)
    page = f"/staff-sign-in/{admin[0]}"
    response = client.post(page + "/reset", data={"csrf_token": token_of(client, page)})
    assert response.status_code == 302
    assert not reaches_screens(member)
    with app.app_context():
        assert db.session.scalar(select(StaffTotp).where(StaffTotp.user_id == admin[0])) is None
        event = db.session.scalar(select(ActivityEvent).where(ActivityEvent.verb == "staff.second_factor_reset"))
        assert event.actor_id == boss_id and event.object_id == admin[0]
    again = browser(app)
    again.set_cookie(BROWSER_COOKIE, member.get_cookie(BROWSER_COOKIE).value)
    password_login(again, admin[1])
    assert ENROL_PAGE in again.get("/entityview/list/").headers["Location"]


@pytest.mark.parametrize("role_name", [R.STAFF_ADMIN, R.STAFF])
def test_only_admins_reset_or_end_sessions(app, login, admin, role_name):
    """Staff Admins and Staff cannot reset another member's second factor or end their sessions."""
    with app.app_context():
        user_id = f.staff(role_name).id
    client = login(browser(app), user_id)
    token = token_of(client, "/my-sessions/")
    for action in ("reset", "end-sessions"):
        response = client.post(f"/staff-sign-in/{admin[0]}/{action}", data={"csrf_token": token})
        assert response.status_code == 403, action
    with app.app_context():
        assert db.session.scalar(select(StaffTotp).where(StaffTotp.user_id == admin[0])) is not None


def test_the_token_login_api_refuses_accounts_with_a_second_factor(app, admin):
    """Password checks outside the HTML login (the JWT login API, when switched on) refuse an account
    that has or owes a second factor; a member without one still passes."""
    with app.app_context():
        plain, owing = f.staff(R.STAFF).username, f.staff(R.STAFF_ADMIN).username
    with app.test_request_context("/api/v1/security/login", method="POST"):
        check = app.appbuilder.sm.auth_user_db
        assert check(plain, f.PASSWORD) is not None
        assert check(admin[1], f.PASSWORD) is None and check(owing, f.PASSWORD) is None
    if "PorticoSecurityApi.login" in app.view_functions:  # the route itself, while it exists
        client = browser(app)
        answers = [client.post("/api/v1/security/login", json={"username": name, "password": f.PASSWORD,
                                                                "provider": "db"}).status_code
                   for name in (plain, admin[1], owing)]
        assert answers == [200, 401, 401]


def test_the_demo_admin_signs_in_with_the_published_key(app):
    """The demo firm stays usable: admin gives a code from DEMO_TOTP_SECRET; sara.staffadmin is sent to enrolment."""
    from app.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, seed_demo

    with app.app_context():
        seed_demo()
    client = browser(app)
    password_login(client, "admin", DEMO_PASSWORD)
    assert give_code(client, code_now(DEMO_TOTP_SECRET)).status_code == 302 and reaches_screens(client)
    sara = browser(app)
    password_login(sara, "sara.staffadmin", DEMO_PASSWORD)
    assert ENROL_PAGE in sara.get("/entityview/list/").headers["Location"]
