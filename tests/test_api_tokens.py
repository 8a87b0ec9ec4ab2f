"""API tokens: shown once and hashed, expiry, revocation, disabled owners, contacts refused, read-only
tokens, the rate limit, the audit trail of calls, and the tokens pages."""
import hashlib
import uuid
from datetime import date, datetime, timedelta

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app.extensions import db
from app.models import ApiCall, ApiToken, TokenScope
from app.security import roles as R
from app.services import api_tokens
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for
from tests.conftest import csrf_token

ENTITIES = "/api/v1/entities/"


def test_token_is_random_prefixed_and_only_its_sha256_is_stored(ctx):
    """The text has a public prefix and a 256-bit secret; the row keeps only the prefix and SHA-256."""
    user = f.staff()
    row, text = api_tokens.create(user, "sync", TokenScope.read, date.today() + timedelta(days=10))
    prefix, secret = api_tokens.split(text)
    assert text.startswith("ptk_") and row.prefix == prefix and len(secret) >= 43
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = db.session.execute(select(ApiToken.__table__)).mappings().one()
    assert secret not in " ".join(str(v) for v in stored.values())
    assert api_tokens.authenticate(text).id == row.id
    assert api_tokens.authenticate(text[:-1] + ("A" if text[-1] != "A" else "B")) is None


def test_expiry_default_and_maximum(ctx):
    """A new token defaults to 90 days; past a year or not after today is refused."""
    user = f.staff()
    assert api_tokens.default_expiry() == date.today() + timedelta(days=api_tokens.DEFAULT_DAYS)
    for bad in (date.today(), date.today() - timedelta(days=1), date.today() + timedelta(days=api_tokens.MAX_DAYS + 1)):
        with pytest.raises(api_tokens.TokenError):
            api_tokens.create(user, "x", TokenScope.read, bad)
    api_tokens.create(user, "x", TokenScope.read, api_tokens.latest_expiry())


def test_expired_token_is_refused(app, client):
    """A token past its expiry answers 401."""
    with app.app_context():
        text = token_for(f.staff())
        row = db.session.scalar(select(ApiToken))
        row.expires_on = datetime.now() - timedelta(seconds=1)
        db.session.commit()
    assert is_problem(call(client, "GET", ENTITIES, text), 401)


def test_revoked_token_stops_at_once(app, client):
    """Revoking a token makes its next call a 401."""
    with app.app_context():
        user_id = f.staff().id
        text = token_for(user_id)
    assert call(client, "GET", ENTITIES, text).status_code == 200
    with app.app_context():
        api_tokens.revoke(db.session.scalar(select(ApiToken)), db.session.get(User, user_id))
    response = call(client, "GET", ENTITIES, text)
    assert is_problem(response, 401) and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_disabled_owner_token_stops_at_once(app, client):
    """Disabling the owner's account makes their token a 401 on the next call."""
    with app.app_context():
        user_id = f.staff().id
        text = token_for(user_id)
    assert call(client, "GET", ENTITIES, text).status_code == 200
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert is_problem(call(client, "GET", ENTITIES, text), 401)


def test_contacts_cannot_create_or_use_tokens(app, client):
    """A contact's account is refused at creation, and a token that somehow belongs to one is refused at use."""
    with app.app_context():
        person = f.contact(with_user=True)
        with pytest.raises(api_tokens.TokenError):
            api_tokens.create(person.user, "x", TokenScope.read, date.today() + timedelta(days=5))
        staff = f.staff()
        text = token_for(staff)
        # the account becomes a contact's afterwards: the token dies with it
        other = f.contact()
        other.user_id = staff.id
        db.session.commit()
    assert is_problem(call(client, "GET", ENTITIES, text), 401)


def test_missing_and_malformed_tokens_are_401(client):
    """No header, another scheme, garbage and a session cookie alone: 401 problem details."""
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nonsense"},
                    {"Authorization": "Bearer ptk_123456789012_x"}):
        assert is_problem(client.get(ENTITIES, headers=headers), 401)


def test_session_cookie_never_authenticates_the_api(app, client, login):
    """A signed-in staff browser without a token gets 401 from the API (cookies are not credentials: CSRF)."""
    with app.app_context():
        admin = f.staff(R.ADMIN).id
        f.entity("Cookie Co")
    login(client, admin)
    assert is_problem(client.get(ENTITIES), 401)
    assert is_problem(client.post(ENTITIES, json={"name": "X", "kind": "company"}), 401)


def test_read_only_token_cannot_write(app, client):
    """A read token lists but gets 403 on POST, PATCH and DELETE; nothing changes."""
    with app.app_context():
        admin = f.staff(R.ADMIN)
        entity_id = f.entity("Kept Co").id
        text = token_for(admin, scope="read")
    assert call(client, "GET", ENTITIES, text).status_code == 200
    etag = call(client, "GET", f"{ENTITIES}{entity_id}", text).headers["ETag"]
    assert is_problem(call(client, "POST", ENTITIES, text, json={"name": "New", "kind": "company"}), 403)
    assert is_problem(call(client, "PATCH", f"{ENTITIES}{entity_id}", text, json={"name": "Changed"},
                           headers={"If-Match": etag}), 403)
    assert is_problem(call(client, "DELETE", f"{ENTITIES}{entity_id}", text, headers={"If-Match": etag}), 403)
    with app.app_context():
        from app.models import Entity

        assert [e.name for e in db.session.scalars(select(Entity))] == ["Kept Co"]


def test_every_call_is_recorded_with_token_user_status_and_address(app, client):
    """Each call adds one api_call row (token, owner, method, path, status, address) and sets last_used_on."""
    with app.app_context():
        user_id = f.staff(R.ADMIN).id
        text = token_for(user_id)
    call(client, "GET", ENTITIES, text)
    call(client, "GET", f"{ENTITIES}999", text)
    with app.app_context():
        rows = db.session.scalars(select(ApiCall).order_by(ApiCall.id)).all()
        assert [(r.method, r.path, r.status, r.ip, r.user_id) for r in rows] == [
            ("GET", ENTITIES, 200, "127.0.0.1", user_id), ("GET", f"{ENTITIES}999", 404, "127.0.0.1", user_id)]
        assert db.session.scalar(select(ApiToken)).last_used_on is not None


def test_rate_limit_answers_429_with_retry_after(app):
    """Past API_RATE_LIMIT calls a token gets 429 problem details with Retry-After; another token is apart."""
    from app import create_app
    from tests.conftest import PorticoTestConfig

    class Limited(PorticoTestConfig):
        RATELIMIT_ENABLED = True
        API_RATE_LIMIT = "3 per minute"
        RATELIMIT_KEY_PREFIX = f"portico-test-{uuid.uuid4().hex}"

    limited = create_app(Limited)
    with limited.app_context():
        user = f.staff(R.ADMIN).id
        first, second = token_for(user), token_for(user)
    client = limited.test_client()
    answers = [call(client, "GET", ENTITIES, first) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert is_problem(answers[3], 429) and int(answers[3].headers["Retry-After"]) >= 1
    assert call(client, "GET", ENTITIES, second).status_code == 200
    with limited.app_context():
        assert db.session.scalar(select(ApiCall.status).order_by(ApiCall.id.desc()).offset(1).limit(1)) == 429


def test_token_page_shows_the_token_once_and_lists_calls(app, client, login):
    """Creating on the page shows the text once; the list then shows only its prefix and the recent calls."""
    with app.app_context():
        user = f.staff().id
    login(client, user)
    token = csrf_token(client, "/api-tokens/")
    page = client.post("/api-tokens/", data={"csrf_token": token, "name": "Sync", "scope": "read",
                                             "expires_on": (date.today() + timedelta(days=30)).isoformat()})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    text = html.split('<code style="user-select:all">')[1].split("<")[0]
    assert call(client, "GET", ENTITIES, text).status_code == 200
    again = client.get("/api-tokens/").get_data(as_text=True)
    assert text not in again and text[:16] in again and f"GET {ENTITIES}" in again


def test_token_page_refuses_bad_input(app, client, login):
    """A blank name, an unknown scope or an expiry past the maximum: 400 with the form, no token."""
    with app.app_context():
        user = f.staff().id
    login(client, user)
    token = csrf_token(client, "/api-tokens/")
    far = (date.today() + timedelta(days=api_tokens.MAX_DAYS + 5)).isoformat()
    for data in ({"name": "", "scope": "read", "expires_on": "2030-01-01"},
                 {"name": "x", "scope": "admin", "expires_on": "2030-01-01"},
                 {"name": "x", "scope": "read", "expires_on": far},
                 {"name": "x", "scope": "read", "expires_on": "not a date"}):
        assert client.post("/api-tokens/", data={"csrf_token": token, **data}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_revoke_own_token_but_not_anothers(app, client, login):
    """A member revokes their token; another member's token id is 404 and stays live."""
    with app.app_context():
        me, other = f.staff().id, f.staff().id
        mine, theirs = token_for(me), token_for(other)
        my_id, their_id = [t.id for t in db.session.scalars(select(ApiToken).order_by(ApiToken.id))]
    login(client, me)
    token = csrf_token(client, "/api-tokens/")
    assert client.post("/api-tokens/revoke", data={"csrf_token": token, "item": str(their_id)}).status_code == 404
    assert client.post("/api-tokens/revoke", data={"csrf_token": token, "item": str(my_id)}).status_code == 302
    assert call(client, "GET", ENTITIES, mine).status_code == 401
    assert call(client, "GET", ENTITIES, theirs).status_code == 200


@pytest.mark.parametrize("who", [R.STAFF, R.STAFF_ADMIN, R.ENTITIES_ADMIN])
def test_only_admins_see_and_revoke_every_token(app, client, login, who):
    """The all-tokens page and its revoke are refused to non-Admins; an Admin revokes another's token."""
    with app.app_context():
        member, admin = f.staff(who).id, f.staff(R.ADMIN).id
        text = token_for(f.staff())
        token_id = db.session.scalar(select(ApiToken.id))
    login(client, member)
    assert client.get("/api-tokens/all").status_code in (302, 403)
    token = csrf_token(client, "/api-tokens/")
    assert client.post("/api-tokens/all/revoke", data={"csrf_token": token, "item": str(token_id)}).status_code in (302, 403)
    assert call(client, "GET", ENTITIES, text).status_code == 200
    admin_client = app.test_client()
    login(admin_client, admin)
    assert text[:16] in admin_client.get("/api-tokens/all").get_data(as_text=True)
    token = csrf_token(admin_client, "/api-tokens/")
    assert admin_client.post("/api-tokens/all/revoke", data={"csrf_token": token, "item": str(token_id)}).status_code == 302
    assert call(client, "GET", ENTITIES, text).status_code == 401
