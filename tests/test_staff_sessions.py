"""Staff sessions: listed with browser, address and last seen; ended one by one, everywhere else, by
an Admin; idle and absolute timeouts from firm settings; a session the server does not know is refused."""
import re

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app.extensions import db
from app.models import ActivityEvent
from app.redis_conn import get_redis
from app.security import roles as R
from app.services import staff_sessions
from app.services.firm import get_settings
from tests import factories as f
from tests.staff_auth_helpers import browser, password_login, reaches_screens, token_of  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_redis")

MINE = "/my-sessions/"


def _member(app, role_name=R.STAFF):
    with app.app_context():
        user = f.staff(role_name)
        return user.id, user.username


def _signed_in(app, username, agent):
    client = browser(app)
    client.environ_base["HTTP_USER_AGENT"] = agent
    password_login(client, username)
    assert reaches_screens(client)
    return client


def _ids(page):
    return re.findall(r'name="item" value="([0-9a-f]{16})"', page)


def test_members_see_their_sessions_and_end_one(app):
    """Two browsers: both listed with browser and address; ending the other signs only it out."""
    user_id, username = _member(app)
    laptop, phone = _signed_in(app, username, "LaptopBrowser/1.0"), _signed_in(app, username, "PhoneBrowser/2.0")
    page = laptop.get(MINE).get_data(as_text=True)
    assert "LaptopBrowser/1.0" in page and "PhoneBrowser/2.0" in page
    assert phone.environ_base["REMOTE_ADDR"] in page and "this browser" in page
    with app.app_context():
        phone_id = next(s["id"] for s in staff_sessions.sessions_of(user_id) if "Phone" in s["agent"])
    assert phone_id in _ids(page)
    response = laptop.post(MINE + "end", data={"item": phone_id, "csrf_token": token_of(laptop, MINE)})
    assert response.status_code == 302
    assert not reaches_screens(phone) and reaches_screens(laptop)


def test_a_member_cannot_end_someone_elses_session(app):
    """A session id of another member is not found among one's own: 404, and it lives on."""
    _mine_id, mine = _member(app)
    other_id, other = _member(app)
    me, them = _signed_in(app, mine, "A/1"), _signed_in(app, other, "B/1")
    with app.app_context():
        their_id = staff_sessions.sessions_of(other_id)[0]["id"]
    response = me.post(MINE + "end", data={"item": their_id, "csrf_token": token_of(me, MINE)})
    assert response.status_code == 404 and reaches_screens(them)


def test_sign_out_everywhere_else(app):
    """"Sign out everywhere else" ends every other session and keeps this one."""
    _user_id, username = _member(app)
    here, *others = [_signed_in(app, username, f"Browser/{n}") for n in range(3)]
    here.post(MINE + "end-others", data={"csrf_token": token_of(here, MINE)})
    assert reaches_screens(here)
    assert not any(reaches_screens(other) for other in others)


def test_an_admin_ends_a_members_sessions(app, login):
    """An Admin ends every session of a member; the audit trail records it."""
    member_id, username = _member(app)
    sessions = [_signed_in(app, username, f"Browser/{n}") for n in range(2)]
    with app.app_context():
        admin_id = f.staff(R.ADMIN).id
    admin = login(browser(app), admin_id)
    page = f"/staff-sign-in/{member_id}"
    assert "Browser/1" in admin.get(page).get_data(as_text=True)
    admin.post(page + "/end-sessions", data={"csrf_token": token_of(admin, page)})
    assert not any(reaches_screens(s) for s in sessions)
    with app.app_context():
        event = db.session.scalar(select(ActivityEvent).where(ActivityEvent.verb == "staff.sessions_ended"))
        assert event.actor_id == admin_id and event.object_id == member_id


def _age(app, user_id, field, seconds):
    with app.app_context():
        redis = get_redis()
        for row in staff_sessions.sessions_of(user_id):
            key = f"portico:staff-session:{row['digest']}"
            redis.hset(key, field, int(redis.hget(key, field)) - seconds)


def test_idle_timeout_from_firm_settings(app):
    """A session idle longer than the firm's idle timeout is signed out; a busy one is not."""
    user_id, username = _member(app)
    with app.app_context():
        get_settings().idle_timeout_minutes = 5
        db.session.commit()
    client = _signed_in(app, username, "Idle/1")
    _age(app, user_id, "last_seen", 4 * 60)
    assert reaches_screens(client)
    _age(app, user_id, "last_seen", 5 * 60 + 1)
    assert not reaches_screens(client)


def test_a_busy_session_writes_its_idle_timer_at_most_every_few_seconds(app):
    """Pages in quick succession refresh the idle timer once: a page TOUCH_EVERY seconds later refreshes it."""
    user_id, username = _member(app)
    client = _signed_in(app, username, "Busy/1")

    def last_seen():
        with app.app_context():
            return int(staff_sessions.sessions_of(user_id)[0]["last_seen"].timestamp())
    _age(app, user_id, "last_seen", staff_sessions.TOUCH_EVERY - 5)
    before = last_seen()
    assert reaches_screens(client) and last_seen() == before
    _age(app, user_id, "last_seen", 5)
    assert reaches_screens(client) and last_seen() >= before + staff_sessions.TOUCH_EVERY - 5


def test_absolute_timeout_from_firm_settings(app):
    """A session older than the firm's absolute limit is signed out however busy it is."""
    user_id, username = _member(app)
    with app.app_context():
        get_settings().absolute_timeout_hours = 1
        db.session.commit()
    client = _signed_in(app, username, "Old/1")
    _age(app, user_id, "started", 3600 - 60)
    assert reaches_screens(client)
    _age(app, user_id, "started", 120)
    assert not reaches_screens(client)


def test_a_session_the_server_does_not_know_is_refused(app, login):
    """A cookie naming a user but no server-side session (forged, or from before) is signed out."""
    user_id, _username = _member(app, R.ADMIN)
    client = browser(app)
    with client.session_transaction() as session:
        session.update({"_user_id": str(user_id), "_fresh": True, "staff_session": "made-up"})
    assert not reaches_screens(client)
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_firm_settings_choose_roles_and_timeouts(app, login):
    """The firm settings form saves the roles that need a second factor and the timeouts, within bounds."""
    with app.app_context():
        admin_id = f.staff(R.ADMIN).id
        get_settings()
    client = login(browser(app), admin_id)
    edit = "/firmsettingsview/edit/1"
    base = {"firm_name": "Portico", "notification_delay": "300", "max_upload_bytes": "10485760",
            "payment_hosts": "irs.gov"}
    form = dict(base, second_factor_roles=["Admin", "Staff"], idle_timeout_minutes="15", absolute_timeout_hours="8",
                csrf_token=token_of(client, edit))
    assert client.post(edit, data=form).status_code == 302
    with app.app_context():
        settings = get_settings()
        assert (settings.second_factor_roles, settings.idle_timeout_minutes, settings.absolute_timeout_hours) == \
            ("Admin\nStaff", 15, 8)
    form.update(idle_timeout_minutes="600", csrf_token=token_of(client, edit))
    page = client.post(edit, data=form)
    assert page.status_code == 200 and "Enter a number from 1 to 30" in page.get_data(as_text=True)
    form.update(idle_timeout_minutes="15", second_factor_roles=["Root"], csrf_token=token_of(client, edit))
    assert client.post(edit, data=form).status_code == 200


def test_sessions_page_runs_a_fixed_number_of_queries(app, login, count_queries):
    """The sessions page costs the same with 1 and with 6 sessions (they live in Redis)."""
    user_id, username = _member(app)
    client = _signed_in(app, username, "First/1")
    client.get(MINE)  # warm-up, as above
    with count_queries() as one:
        assert client.get(MINE).status_code == 200
    for n in range(5):
        _signed_in(app, username, f"More/{n}")
    with count_queries() as six:
        assert client.get(MINE).status_code == 200
    assert one() == six()


def test_signing_out_ends_the_session_on_the_server(app):
    """After signing out, a copy of the old session cookie opens nothing."""
    user_id, username = _member(app)
    client = _signed_in(app, username, "Leaving/1")
    copy = browser(app)
    copy.set_cookie("session", client.get_cookie("session").value)
    assert reaches_screens(copy)
    logout = next(r for r in app.url_map.iter_rules() if r.endpoint == "StaffAuthDBView.logout")
    if "POST" in logout.methods:  # sign-out may be POST-only (with a CSRF token)
        client.post(logout.rule, data={"csrf_token": token_of(client, MINE)})
    else:
        client.get(logout.rule)
    assert not reaches_screens(client) and not reaches_screens(copy)
    with app.app_context():
        assert staff_sessions.sessions_of(user_id) == []


def test_the_staff_sign_in_overview_runs_a_fixed_number_of_queries(app, login, count_queries):
    """Firm → Staff sign-in costs the same with 2 and with 12 members, and shows who has two-step sign-in."""
    with app.app_context():
        admin_id = f.staff(R.ADMIN).id
        f.enrolled_totp(f.staff(R.STAFF))
    client = login(browser(app), admin_id)
    client.get("/staff-sign-in/")  # the first request creates the firm settings row
    with count_queries() as few:
        assert client.get("/staff-sign-in/").status_code == 200
    with app.app_context():
        for n in range(10):
            f.staff(R.STAFF_ADMIN if n % 2 else R.STAFF)
    with count_queries() as many:
        page = client.get("/staff-sign-in/").get_data(as_text=True)
    assert few() == many(), (few(), many())
    assert page.count("<tr>") == 1 + 12


def test_deactivating_or_deleting_a_member_ends_their_sessions(app, login):
    """An Admin unticking "active" on the staff form ends the member's sessions on the server (not only
    when their account is next read); deleting another member ends theirs too."""
    member_id, username = _member(app)
    gone_id, gone_name = _member(app)
    member, gone = _signed_in(app, username, "Desk/1"), _signed_in(app, gone_name, "Desk/2")
    with app.app_context():
        admin_id = f.staff(R.ADMIN).id
        user = db.session.get(User, member_id)
        form = {"first_name": user.first_name, "last_name": user.last_name, "username": user.username,
                "email": user.email, "roles": [r.id for r in user.roles]}
    admin = login(browser(app), admin_id)
    page = f"/users/edit/{member_id}"
    response = admin.post(page, data=dict(form, csrf_token=token_of(admin, page)))
    assert response.status_code == 302
    with app.app_context():
        assert not db.session.get(User, member_id).active
        assert staff_sessions.sessions_of(member_id) == []
    assert not reaches_screens(member)
    admin.post(f"/users/delete/{gone_id}", data={"csrf_token": token_of(admin, "/users/list/")})
    with app.app_context():
        assert db.session.get(User, gone_id) is None and staff_sessions.sessions_of(gone_id) == []
    assert not reaches_screens(gone)
