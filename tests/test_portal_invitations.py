"""Portal invitations from the staff contact screen: invite, re-invite, disable, enable; who may do it
(403 / 404), CSRF, bulk actions, the invitation mail; and disabling ends a contact's live session."""
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.extensions import db
from app.models import ActivityEvent, Contact, TrustedDevice
from app.models.contacts import PortalState
from app.security import roles as R
from tests import factories as f
from tests.portal_auth_helpers import (PIN_PAGE, SIGN_IN, csrf_token, forget_resend_minute, last_code, location, post,
                                       run_jobs, sign_in, signed_in, unique_email)

pytestmark = pytest.mark.usefixtures("fresh_redis")

INVITER_ROLE = "Portal inviter (test)"


def _access(pk, name):
    return f"/contactview/{pk}/portal/{name}"


def _show(pk):
    return f"/contactview/show/{pk}"


def _state(app, contact_id):
    """(portal state, account active or None) of one contact."""
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        return contact.portal_state, (contact.user.active if contact.user is not None else None)


def _mails_to(smtp, address):
    return [m for m in smtp.messages if m["To"] == address]


def _text(message):
    return message.get_body(("plain",)).get_content()


def _html(message):
    return message.get_body(("html",)).get_content()


@pytest.fixture
def firm(app):
    """A Staff Admin, an accountant (Staff) responsible for one entity, contacts in it and in another."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        own, foreign = f.entity("Own Co", responsible=accountant), f.entity("Foreign Co")
        fresh = f.contact(first="Fresh", email=unique_email("fresh"))
        estonian = f.contact(first="Mari", email=unique_email("mari"))
        estonian.language = "et"
        elsewhere = f.contact(first="Far", email=unique_email("far"))
        active = f.portal_contact(own, email=unique_email("active"))
        for person in (fresh, estonian):
            f.share(own, R.ENTITY_ACCESS, contact=person)
        f.share(foreign, R.ENTITY_ACCESS, contact=elsewhere)
        db.session.commit()
        return SimpleNamespace(staff_admin=f.staff(R.STAFF_ADMIN).id, admin=f.staff(R.ADMIN).id,
                               accountant=accountant.id, fresh=fresh.id, fresh_email=fresh.primary_email,
                               estonian=estonian.id, estonian_email=estonian.primary_email,
                               elsewhere=elsewhere.id, active=active.id, active_email=active.primary_email)


def _invite(client, pk, name="invite"):
    return post(client, _access(pk, name), page=_show(pk))


@pytest.mark.parametrize("role_name", [R.STAFF_ADMIN, R.ADMIN])
def test_an_invitation_makes_the_contact_invited_and_mails_a_sign_up_link(app, client, login, smtp, firm, role_name):
    """Staff Admin and Admin invite: state invited, a trail, one mail with the sign-up link."""
    login(client, firm.staff_admin if role_name == R.STAFF_ADMIN else firm.admin)
    response = _invite(client, firm.fresh)
    assert response.status_code == 302 and location(response).endswith(_show(firm.fresh))
    assert "Invitation sent to 1 contact." in client.get(_show(firm.fresh)).get_data(as_text=True)
    assert _state(app, firm.fresh) == (PortalState.invited, None)
    run_jobs(app)
    [mail] = _mails_to(smtp, firm.fresh_email)
    assert "invites you to its client portal" in mail["Subject"]
    assert "http://127.0.0.1:5000/portal/sign-up" in _text(mail)
    assert 'href="http://127.0.0.1:5000/portal/sign-up"' in _html(mail)
    assert firm.fresh_email in _text(mail)
    with app.app_context():
        assert db.session.scalar(select(func.count(ActivityEvent.id)).where(
            ActivityEvent.verb == "contact.invited", ActivityEvent.object_id == firm.fresh)) == 1


def test_the_invitation_link_ignores_the_requests_host(app, client, smtp, firm):
    """An invitation sent from a request naming another Host still links to the portal's own address."""
    evil = "http://evil.example"
    from app.services import staff_sessions

    with app.test_request_context():
        token = staff_sessions.register(firm.staff_admin, "full", "127.0.0.1", "pytest", 3600)
    with client.session_transaction(evil + "/") as session:
        session.update({"_user_id": str(firm.staff_admin), "_fresh": True, "staff_session": token})
    response = post(client, evil + _access(firm.fresh, "invite"), page=evil + _show(firm.fresh))
    assert response.status_code == 302 and "evil" not in location(response)
    run_jobs(app)
    [mail] = _mails_to(smtp, firm.fresh_email)
    assert "evil" not in mail.as_string() and "http://127.0.0.1:5000/portal/sign-up" in _text(mail)


def test_the_invitation_is_in_the_contacts_language(app, client, login, smtp, firm):
    """An Estonian contact's invitation is rendered in Estonian (lang="et", texts as Estonian renders them)."""
    # The Estonian catalog has no translation of the invitation strings yet, so the texts are compared
    # with what force_locale("et") renders rather than with Estonian words.
    login(client, firm.staff_admin)
    _invite(client, firm.estonian)
    run_jobs(app)
    [mail] = _mails_to(smtp, firm.estonian_email)
    assert '<html lang="et">' in _html(mail)
    with app.test_request_context(), force_locale("et"):
        subject = _("%(firm)s invites you to its client portal", firm="Portico")
        hello = _("Hello %(name)s,", name="Mari")
        label = _("Sign up")
    assert mail["Subject"] == f"Portico: {subject}"
    assert hello in _text(mail) and f"{label}: http://127.0.0.1:5000/portal/sign-up" in _text(mail)


def test_an_invited_contact_can_be_invited_again(app, client, login, smtp, firm):
    """Re-inviting an invited contact sends the mail again and keeps the state."""
    login(client, firm.staff_admin)
    _invite(client, firm.fresh)
    assert "Re-send the invitation" in client.get(_show(firm.fresh)).get_data(as_text=True)
    _invite(client, firm.fresh)
    run_jobs(app)
    assert len(_mails_to(smtp, firm.fresh_email)) == 2
    assert _state(app, firm.fresh) == (PortalState.invited, None)


def test_an_active_contact_is_not_invited(app, client, login, smtp, firm):
    """Inviting a contact who already uses the portal says so and sends nothing."""
    login(client, firm.staff_admin)
    _invite(client, firm.active)
    assert "already uses the portal" in client.get(_show(firm.active)).get_data(as_text=True)
    run_jobs(app)
    assert _mails_to(smtp, firm.active_email) == []
    assert _state(app, firm.active) == (PortalState.active, True)


def test_staff_without_the_invite_right_get_403_and_nothing_changes(app, client, login, smtp, firm):
    """An accountant (no can_invite) who sees the contact cannot invite or disable it."""
    login(client, firm.accountant)
    assert client.get(_show(firm.fresh)).status_code == 200
    assert "Invite to portal" not in client.get(_show(firm.fresh)).get_data(as_text=True)
    for pk, name in ((firm.fresh, "invite"), (firm.active, "disable")):
        assert _invite(client, pk, name).status_code == 403
    bulk = client.post("/contactview/action_post", data={
        "csrf_token": csrf_token(client, _show(firm.fresh)), "action": "invite_selected", "rowid": [firm.fresh]})
    assert bulk.status_code == 403
    run_jobs(app)
    assert smtp.messages == []
    assert _state(app, firm.fresh) == (PortalState.not_invited, None)
    assert _state(app, firm.active) == (PortalState.active, True)


@pytest.fixture
def scoped_inviter(app, firm):
    """A Staff member who also holds can_invite (a test role), but sees only their entity's contacts."""
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(INVITER_ROLE)
        sm.add_permission_role(role, sm.find_permission_view_menu("can_invite", "ContactView"))
        user = db.session.get(sm.user_model, firm.accountant)
        user.roles.append(role)
        db.session.commit()
        role_id = role.id
    yield firm.accountant
    with app.app_context():
        user = db.session.get(sm.user_model, firm.accountant)
        user.roles = [r for r in user.roles if r.id != role_id]
        db.session.commit()
        sm.delete_role(role_id)
        assert sm.find_role(INVITER_ROLE) is None


def test_a_contact_outside_the_inviters_scope_is_404(app, client, login, smtp, firm, scoped_inviter):
    """Holding can_invite is not enough: a contact of another staff member's entity answers 404."""
    login(client, scoped_inviter)
    token = csrf_token(client, _show(firm.fresh))
    for name in ("invite", "disable"):
        assert client.post(_access(firm.elsewhere, name), data={"csrf_token": token}).status_code == 404
    bulk = client.post("/contactview/action_post", data={
        "csrf_token": token, "action": "invite_selected", "rowid": [firm.fresh, firm.elsewhere]})
    assert bulk.status_code == 404
    assert _state(app, firm.elsewhere) == (PortalState.not_invited, None)
    assert _state(app, firm.fresh) == (PortalState.not_invited, None)
    assert client.post(_access(firm.fresh, "invite"), data={"csrf_token": token}).status_code == 302
    assert _state(app, firm.fresh) == (PortalState.invited, None)


def test_unknown_action_or_contact_is_404(app, client, login, firm):
    """Only invite and disable exist; a missing contact is 404."""
    login(client, firm.staff_admin)
    token = csrf_token(client, _show(firm.fresh))
    assert client.post(_access(firm.fresh, "activate"), data={"csrf_token": token}).status_code == 404
    assert client.post(_access(999999, "invite"), data={"csrf_token": token}).status_code == 404
    assert _state(app, firm.fresh) == (PortalState.not_invited, None)


def test_invitations_need_the_csrf_token(app, client, login, firm):
    """A POST without the CSRF token is 400 and changes nothing (single and bulk)."""
    login(client, firm.staff_admin)
    assert client.post(_access(firm.fresh, "invite")).status_code == 400
    assert client.post(_access(firm.active, "disable")).status_code == 400
    assert client.post("/contactview/action_post", data={
        "action": "disable_selected", "rowid": [firm.active]}).status_code == 400
    assert _state(app, firm.fresh) == (PortalState.not_invited, None)
    assert _state(app, firm.active) == (PortalState.active, True)


def test_invitations_are_not_changed_by_get(app, client, login, firm):
    """GET on the invite and disable routes does nothing (405)."""
    login(client, firm.staff_admin)
    assert client.get(_access(firm.fresh, "invite")).status_code == 405
    assert client.get(_access(firm.active, "disable")).status_code == 405
    assert _state(app, firm.active) == (PortalState.active, True)


def test_a_contact_without_an_e_mail_address_gets_a_clear_message(app, client, login, smtp, firm):
    """No address: a message naming the contact; the state stays."""
    with app.app_context():
        person = Contact(first_name="No", last_name="Mail", username=f"nomail{firm.fresh}")
        db.session.add(person)
        db.session.commit()
        pk = person.id
    login(client, firm.staff_admin)
    response = client.post(_access(pk, "invite"), data={"csrf_token": csrf_token(client, _show(pk))},
                           follow_redirects=True)
    assert "No Mail has no e-mail address." in response.get_data(as_text=True)
    assert _state(app, pk) == (PortalState.not_invited, None)
    run_jobs(app)
    assert smtp.messages == []


def test_an_invitation_that_cannot_be_queued_changes_nothing(app, client, login, smtp, firm, monkeypatch):
    """Redis down: a message to try again, the contact is not left invited without a mail."""
    def down(*args, **kwargs):
        raise RedisError("down")

    login(client, firm.staff_admin)
    token = csrf_token(client, _show(firm.fresh))
    monkeypatch.setattr("app.jobs.queue", down)
    response = client.post(_access(firm.fresh, "invite"), data={"csrf_token": token})
    monkeypatch.undo()
    assert "could not be sent now" in client.get(location(response)).get_data(as_text=True)
    assert _state(app, firm.fresh) == (PortalState.not_invited, None)
    with app.app_context():
        assert db.session.scalar(select(func.count(ActivityEvent.id)).where(
            ActivityEvent.verb == "contact.invited")) == 0


def test_disabling_ends_the_live_session_and_the_trusted_browsers(app, client, login, smtp, firm):
    """Disable from the staff screen: the contact's next request goes to sign-in; browsers are forgotten."""
    browser = app.test_client()
    sign_in(app, browser, smtp, firm.active_email)
    assert signed_in(browser)
    with app.app_context():
        assert db.session.scalar(select(func.count(TrustedDevice.id))
                                 .where(TrustedDevice.contact_id == firm.active)) == 1
    login(client, firm.staff_admin)
    response = client.post(_access(firm.active, "disable"), data={"csrf_token": csrf_token(client, _show(firm.active))},
                           follow_redirects=True)
    assert "Portal access disabled for 1 contact." in response.get_data(as_text=True)
    assert _state(app, firm.active) == (PortalState.disabled, False)
    response = browser.get("/portal/")
    assert response.status_code == 302 and location(response).endswith(SIGN_IN)
    with app.app_context():
        assert db.session.scalar(select(func.count(TrustedDevice.id))
                                 .where(TrustedDevice.contact_id == firm.active)) == 0
    assert location(post(browser, SIGN_IN, email=firm.active_email)).endswith(PIN_PAGE)


def test_a_disabled_contact_enabled_again_signs_in(app, client, login, smtp, firm):
    """Enable (invite a disabled contact with an account): active again, told by mail, can sign in."""
    login(client, firm.staff_admin)
    _invite(client, firm.active, "disable")
    assert "Enable portal access" in client.get(_show(firm.active)).get_data(as_text=True)
    _invite(client, firm.active)
    assert _state(app, firm.active) == (PortalState.active, True)
    run_jobs(app)
    [mail] = _mails_to(smtp, firm.active_email)
    assert "access to Portico's portal is back" in mail["Subject"]
    assert "http://127.0.0.1:5000/portal/sign-in" in _text(mail)
    browser = app.test_client()
    assert location(sign_in(app, browser, smtp, firm.active_email)) == "/portal/"
    assert signed_in(browser)


def test_a_disabled_invitation_cannot_be_used_to_sign_up(app, client, login, smtp, firm):
    """Disabling an invited contact before sign-up: the sign-up sends no code; the queued invitation no mail."""
    login(client, firm.staff_admin)
    _invite(client, firm.fresh)
    _invite(client, firm.fresh, "disable")
    assert _state(app, firm.fresh) == (PortalState.disabled, None)
    run_jobs(app)
    assert _mails_to(smtp, firm.fresh_email) == []
    post(app.test_client(), "/portal/sign-up", first_name="Fresh", last_name="Try", email=firm.fresh_email)
    run_jobs(app)
    assert _mails_to(smtp, firm.fresh_email) == []


def test_bulk_invite_checks_each_row_and_reports_refusals(app, client, login, smtp, firm):
    """Bulk invite: each row is checked; a contact already active or without an address is named, the rest go."""
    with app.app_context():
        person = Contact(first_name="No", last_name="Mail", username=f"nomail-bulk{firm.fresh}")
        db.session.add(person)
        db.session.commit()
        no_mail = person.id
    login(client, firm.staff_admin)
    response = client.post("/contactview/action_post", data={
        "csrf_token": csrf_token(client, "/contactview/list/"), "action": "invite_selected",
        "rowid": [firm.fresh, firm.estonian, firm.active, no_mail]}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "Invitation sent to 2 contacts" in body
    assert "No Mail has no e-mail address." in body and "already uses the portal" in body
    assert _state(app, firm.fresh)[0] is _state(app, firm.estonian)[0] is PortalState.invited
    assert _state(app, firm.active) == (PortalState.active, True)
    run_jobs(app)
    assert {m["To"] for m in smtp.messages} == {firm.fresh_email, firm.estonian_email}


def test_bulk_disable_ends_every_selected_session(app, client, login, smtp, firm):
    """Bulk disable: every selected contact is disabled and signed out."""
    browser = app.test_client()
    sign_in(app, browser, smtp, firm.active_email)
    login(client, firm.staff_admin)
    client.post("/contactview/action_post", data={
        "csrf_token": csrf_token(client, "/contactview/list/"), "action": "disable_selected",
        "rowid": [firm.active, firm.fresh]})
    assert _state(app, firm.active) == (PortalState.disabled, False)
    assert _state(app, firm.fresh) == (PortalState.disabled, None)
    assert not signed_in(browser)


def test_signing_up_twice_with_the_same_invitation_fails(app, smtp, firm):
    """Once the account exists, the invitation's sign-up steps lead nowhere (no second account)."""
    sm_user = app.appbuilder.sm.user_model
    with app.app_context():
        contact = db.session.get(Contact, firm.fresh)
        contact.portal_state = PortalState.invited
        db.session.commit()
    first, second = app.test_client(), app.test_client()
    for browser in (first, second):
        post(browser, "/portal/sign-up", first_name="Fresh", last_name="Person", email=firm.fresh_email)
    code = last_code(app, smtp, firm.fresh_email)
    assert location(post(first, "/portal/sign-up/verify", code=code)).endswith("/portal/sign-up/pin")
    assert location(post(first, "/portal/sign-up/pin", pin="480317", confirm="480317")) == "/portal/"
    forget_resend_minute(app, firm.fresh_email)
    assert "not valid" in post(second, "/portal/sign-up/verify", code=code).get_data(as_text=True)
    assert location(post(second, "/portal/sign-up/pin", page="/portal/sign-up", pin="111222",
                         confirm="111222")).endswith("/portal/sign-up")
    with app.app_context():
        contact = db.session.get(Contact, firm.fresh)
        assert contact.portal_state is PortalState.active and contact.last_name == "Person"
        assert db.session.scalar(select(func.count(sm_user.id)).where(sm_user.email == firm.fresh_email)) == 1
