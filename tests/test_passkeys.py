"""Passkeys (WebAuthn) as a second factor, against a software authenticator: adding, signing in,
challenges, replay, counters, other members' credentials, removal, limits, roles and the gate."""
import secrets

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from app.extensions import db
from app.models import StaffPasskey
from app.security import roles as R
from tests import factories as f
from tests.passkey_helpers import (SoftAuthenticator, add_passkey, answer, audit_count, csrf, owing, sign_in_options,
                                   signed_in, stored_passkey)
from tests.staff_auth_helpers import (CODE_PAGE, ENROL_PAGE, browser, code_now, give_code,  # noqa: F401
                                      password_login, reaches_screens, token_of)

pytestmark = pytest.mark.usefixtures("fresh_redis")


@pytest.fixture
def admin(app):
    """An Admin with an authenticator set up: (id, username, secret)."""
    with app.app_context():
        user = f.staff(R.ADMIN)
        secret, _codes = f.enrolled_totp(user)
        return user.id, user.username, secret


def test_a_member_adds_a_passkey_and_signs_in_with_it(app, admin):
    """Registration stores the credential (audited); the next sign-in offers the passkey and it completes it."""
    key = SoftAuthenticator()
    response = add_passkey(signed_in(app, admin), key, name="  Work   laptop ")
    assert response.status_code == 200 and response.get_json()["redirect"].endswith("/passkeys/")
    with app.app_context():
        row = db.session.scalar(select(StaffPasskey).where(StaffPasskey.user_id == admin[0]))
        assert row.name == "Work laptop" and row.transports == "internal" and row.last_used_on is None
    assert audit_count(app, "staff.passkey_added") == 1
    client = owing(app, admin)
    assert "Use a passkey" in client.get(CODE_PAGE).get_data(as_text=True)
    headers, challenge = sign_in_options(client)
    response = answer(client, headers, key.get(challenge))
    assert response.status_code == 200, response.get_json()
    assert reaches_screens(client)
    assert audit_count(app, "staff.passkey_used") == 1
    with app.app_context():
        row = db.session.scalar(select(StaffPasskey).where(StaffPasskey.user_id == admin[0]))
        assert row.sign_count == 1 and row.last_used_on is not None
    trail = client.get("/activityeventview/list/").get_data(as_text=True)
    assert "Signed in with a passkey" in trail and "Passkey added" in trail


def test_the_code_page_offers_a_passkey_only_to_members_with_one(app, admin):
    """Without a passkey the second step shows no passkey button and refuses to start a ceremony."""
    client = owing(app, admin)
    assert "Use a passkey" not in client.get(CODE_PAGE).get_data(as_text=True)
    assert client.post("/passkeys/sign-in/options", headers={"X-CSRFToken": token_of(client, CODE_PAGE)}).status_code == 409


def test_an_answer_to_another_challenge_is_refused(app, admin):
    """An assertion signed over a challenge this session was not given does not sign in."""
    key, _row = stored_passkey(app, admin)
    other = owing(app, admin)
    _headers, foreign_challenge = sign_in_options(other)
    client = owing(app, admin)
    headers, _challenge = sign_in_options(client)
    assert answer(client, headers, key.get(foreign_challenge)).status_code == 400
    assert not reaches_screens(client)
    assert answer(client, headers, key.get(_challenge)).status_code == 400  # the refused answer used its challenge up


def test_a_replayed_assertion_is_refused(app, admin):
    """The answer that signed one session in works neither again there nor in another session."""
    key, _row = stored_passkey(app, admin)
    first = owing(app, admin)
    headers, challenge = sign_in_options(first)
    good = key.get(challenge)
    assert answer(first, headers, good).status_code == 200
    second = owing(app, admin)
    headers, _challenge = sign_in_options(second)
    assert answer(second, headers, good).status_code == 400
    assert not reaches_screens(second)


def test_a_counter_that_did_not_grow_is_refused(app, admin):
    """A cloned authenticator shows itself by a signature counter no higher than the last one stored."""
    key, _row = stored_passkey(app, admin)
    client = owing(app, admin)
    headers, challenge = sign_in_options(client)
    assert answer(client, headers, key.get(challenge, count=5)).status_code == 200
    clone = owing(app, admin)
    headers, challenge = sign_in_options(clone)
    assert answer(clone, headers, key.get(challenge, count=5)).status_code == 400
    assert not reaches_screens(clone)


def test_another_members_passkey_is_refused(app, admin):
    """A credential registered to another member does not complete this member's sign-in."""
    with app.app_context():
        other = f.staff(R.ADMIN)
        f.enrolled_totp(other)
        theirs = SoftAuthenticator()
        theirs.row(other.id)
    stored_passkey(app, admin)
    client = owing(app, admin)
    headers, challenge = sign_in_options(client)
    assert answer(client, headers, theirs.get(challenge)).status_code == 400
    assert not reaches_screens(client)


def test_a_removed_passkey_is_refused(app, admin):
    """Once removed (after a recent second factor), the passkey signs in no more."""
    key, row_id = stored_passkey(app, admin)
    _spare, _spare_id = stored_passkey(app, admin, "Spare")
    client = signed_in(app, admin)
    response = client.post("/passkeys/remove", data={"item": str(row_id), "csrf_token": token_of(client, "/passkeys/")})
    assert response.status_code == 302
    assert audit_count(app, "staff.passkey_removed") == 1
    later = owing(app, admin)
    headers, challenge = sign_in_options(later)
    assert answer(later, headers, key.get(challenge)).status_code == 400


def test_wrong_passkey_answers_count_against_the_code_limit(app, admin):
    """Wrong passkey answers use up the same allowance as wrong codes; then even a good answer is refused."""
    key, _row = stored_passkey(app, admin)
    limit = int(app.config["TOTP_RATE_LIMIT"].split()[0])
    stranger = SoftAuthenticator()
    for _ in range(limit):
        client = owing(app, admin)
        headers, challenge = sign_in_options(client)
        assert answer(client, headers, stranger.get(challenge)).status_code == 400
    client = owing(app, admin)
    headers, challenge = sign_in_options(client)
    response = answer(client, headers, key.get(challenge))
    assert response.status_code == 429 and "Too many" in response.get_json()["error"]
    assert "Too many wrong codes" in give_code(client, code_now(admin[2])).get_data(as_text=True)


@pytest.mark.parametrize("body", [None, "[]", '{"credential": "x"}', '{"credential": {}}',
                                  '{"credential": {"id": 5, "response": []}}'])
def test_malformed_answers_are_refused_cleanly(app, admin, body):
    """Bad JSON in either ceremony is a 400, never a 500, and nothing is stored."""
    stored_passkey(app, admin)
    client = owing(app, admin)
    headers, _challenge = sign_in_options(client)
    kwargs = {"data": body, "content_type": "application/json"} if body else {}
    assert client.post("/passkeys/sign-in", headers=headers, **kwargs).status_code == 400
    fresh = signed_in(app, admin)
    headers = csrf(fresh)
    fresh.post("/passkeys/register/options", headers=headers)
    assert fresh.post("/passkeys/register", headers=headers, **kwargs).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffPasskey)) == 1


def test_adding_and_removing_need_a_recent_second_factor(app, login, admin):
    """A session that skipped the code (remembered browser) must confirm with a code before adding or removing."""
    key, row_id = stored_passkey(app, admin)
    client = login(browser(app), admin[0])
    page = client.get("/passkeys/").get_data(as_text=True)
    assert "Confirm it is you" in page and "Add a passkey" not in page
    assert client.post("/passkeys/register/options", headers=csrf(client)).status_code == 403
    token = token_of(client, "/passkeys/")
    assert client.post("/passkeys/remove", data={"item": str(row_id), "csrf_token": token}).status_code == 403
    wrong = "000000" if code_now(admin[2]) != "000000" else "111111"
    client.post("/passkeys/confirm", data={"code": wrong, "csrf_token": token})
    assert client.post("/passkeys/register/options", headers=csrf(client)).status_code == 403
    client.post("/passkeys/confirm", data={"code": code_now(admin[2]), "csrf_token": token})
    assert "Add a passkey" in client.get("/passkeys/").get_data(as_text=True)
    assert add_passkey(client, SoftAuthenticator()).status_code == 200


def test_a_registration_answer_is_taken_once(app, admin):
    """The registration challenge works once: a second credential on the same answer's challenge is refused."""
    client = signed_in(app, admin)
    headers = csrf(client)
    options = client.post("/passkeys/register/options", headers=headers).get_json()
    first, second = SoftAuthenticator(), SoftAuthenticator()
    assert client.post("/passkeys/register", headers=headers, json={"credential": first.create(options)}).status_code == 200
    assert client.post("/passkeys/register", headers=headers, json={"credential": second.create(options)}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(StaffPasskey.name)) == "Passkey 1"  # an empty name gets a number


def test_a_credential_cannot_be_registered_twice(app, admin):
    """The same credential again (here or for another member) is refused, nothing half-written."""
    key = SoftAuthenticator()
    client = signed_in(app, admin)
    assert add_passkey(client, key).status_code == 200
    assert add_passkey(client, key).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffPasskey)) == 1
    assert audit_count(app, "staff.passkey_added") == 1


def test_rename_and_remove_reach_only_ones_own_passkeys(app, admin):
    """Another member's passkey id is 404 for rename and remove; one's own is renamed; an empty name is 400."""
    with app.app_context():
        other = f.staff(R.STAFF)
        theirs = SoftAuthenticator().row(other.id, "Theirs")
    _key, mine = stored_passkey(app, admin)
    client = signed_in(app, admin)
    token = token_of(client, "/passkeys/")
    assert client.post("/passkeys/rename", data={"item": str(theirs), "name": "Mine now", "csrf_token": token}).status_code == 404
    assert client.post("/passkeys/remove", data={"item": str(theirs), "csrf_token": token}).status_code == 404
    assert client.post("/passkeys/remove", data={"item": "x", "csrf_token": token}).status_code == 404
    assert client.post("/passkeys/rename", data={"item": str(mine), "name": " ", "csrf_token": token}).status_code == 400
    assert client.post("/passkeys/rename", data={"item": str(mine), "name": "Phone", "csrf_token": token}).status_code == 302
    with app.app_context():
        names = dict(db.session.execute(select(StaffPasskey.id, StaffPasskey.name)).all())
    assert names == {theirs: "Theirs", mine: "Phone"}


def test_clients_reach_no_passkey_route(app, client, login):
    """A client's account (wrong role) gets nothing from the passkey screens or ceremonies."""
    with app.app_context():
        user_id = f.contact(with_user=True).user.id
    login(client, user_id)
    raw = secrets.token_hex(20)  # a valid CSRF token minted as Flask-WTF does, so the role alone refuses
    with client.session_transaction() as session:
        session["csrf_token"] = raw
    headers = {"X-CSRFToken": URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)}
    assert client.get("/passkeys/").status_code == 403
    for path in ("/passkeys/register/options", "/passkeys/register", "/passkeys/sign-in/options",
                 "/passkeys/sign-in", "/passkeys/rename", "/passkeys/remove", "/passkeys/confirm"):
        assert client.post(path, headers=headers, json={}).status_code == 403, path


@pytest.mark.parametrize("state, step", [("password", CODE_PAGE), ("enrol", ENROL_PAGE)])
def test_a_half_signed_in_session_cannot_manage_passkeys(app, login, admin, state, step):
    """Password only: the passkey list, adding and removing all send the session to its second step."""
    with app.app_context():
        user_id = admin[0] if state == "password" else f.staff(R.ADMIN).id
    client = login(browser(app), user_id, state=state)
    token = token_of(client, step)
    assert step in client.get("/passkeys/").headers["Location"]
    for path in ("/passkeys/register/options", "/passkeys/register", "/passkeys/remove", "/passkeys/confirm"):
        response = client.post(path, headers={"X-CSRFToken": token}, json={})
        assert response.status_code == 302 and step in response.headers["Location"], path
    if state == "enrol":  # one owing an enrolment cannot sign in with a passkey either
        assert step in client.post("/passkeys/sign-in/options", headers={"X-CSRFToken": token}).headers["Location"]


def test_ceremony_posts_need_the_csrf_token(app, admin):
    """The JSON routes are state-changing POSTs: without the X-CSRFToken header they are refused (400)."""
    stored_passkey(app, admin)
    client = owing(app, admin)
    assert client.post("/passkeys/sign-in/options").status_code == 400
    fresh = signed_in(app, admin)
    assert fresh.post("/passkeys/register/options").status_code == 400
    assert fresh.post("/passkeys/register", json={"credential": {}}).status_code == 400


def test_a_full_session_cannot_restart_the_sign_in_step(app, admin):
    """Once signed in, the passkey sign-in routes refuse (409) instead of signing in again."""
    stored_passkey(app, admin)
    client = signed_in(app, admin)
    headers = csrf(client)
    assert client.post("/passkeys/sign-in/options", headers=headers).status_code == 409
    assert client.post("/passkeys/sign-in", headers=headers, json={"credential": {}}).status_code == 409


def test_a_passkey_sign_in_can_remember_the_browser(app, admin):
    """"Remember this browser" ticked beside the passkey button skips the second step next time."""
    from app.security.second_factor import BROWSER_COOKIE

    key, _row = stored_passkey(app, admin)
    client = owing(app, admin)
    headers, challenge = sign_in_options(client)
    assert answer(client, headers, key.get(challenge), remember=True).status_code == 200
    again = browser(app)
    again.set_cookie(BROWSER_COOKIE, client.get_cookie(BROWSER_COOKIE).value)
    password_login(again, admin[1])
    assert reaches_screens(again)


def test_an_admin_reset_removes_passkeys(app, login, admin):
    """Resetting a member's second factor removes their passkeys too."""
    stored_passkey(app, admin)
    with app.app_context():
        boss = f.staff(R.ADMIN)
        boss_id = boss.id
    client = login(browser(app), boss_id)
    page = f"/staff-sign-in/{admin[0]}"
    assert "Passkeys: 1." in client.get(page).get_data(as_text=True)
    assert client.post(page + "/reset", data={"csrf_token": token_of(client, page)}).status_code == 302
    assert "Passkeys: 0." in client.get(page).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffPasskey)) == 0


def test_a_code_sign_in_is_in_the_audit_trail(app, admin):
    """A sign-in with an authenticator code writes an audit entry, as a passkey sign-in does."""
    signed_in(app, admin)
    assert audit_count(app, "staff.second_factor_used") == 1


def test_the_passkeys_page_runs_a_fixed_number_of_queries(app, admin, count_queries):
    """The list page costs the same number of SQL statements with 1 passkey as with 8."""
    stored_passkey(app, admin)
    client = signed_in(app, admin)
    client.get("/passkeys/")
    with count_queries() as few:
        assert client.get("/passkeys/").status_code == 200
    for n in range(7):
        stored_passkey(app, admin, f"Key {n}")
    with count_queries() as many:
        body = client.get("/passkeys/").get_data(as_text=True)
    assert "Key 6" in body and many() == few()
