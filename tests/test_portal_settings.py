"""Portal settings: profile, e-mail preferences, addresses proven by mailed codes, PIN, trusted browsers."""
import itertools
import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import AccessCode, Contact, ContactEmail, Entity, Notification, NotificationPreference, TrustedDevice
from app.models.contacts import PortalState
from app.models.notifications import Channel, NotificationState
from app.security import roles as R
from app.services import access_codes, delivery, events, tasks
from app.services.portal import auth as portal_auth
from app.services.portal import mail as portal_mail
from app.services.firm import get_settings
from tests import factories as f
from tests.conftest import csrf_token

_networks = itertools.count(1)
PROFILE = "/portal/settings/profile"


@pytest.fixture(autouse=True)
def _own_network(client):
    """Each test asks for codes from its own client address, so the per-network limit is its own."""
    n = next(_networks)
    client.environ_base["REMOTE_ADDR"] = f"10.77.{n // 250}.{n % 250 + 1}"


@pytest.fixture
def pia(app):
    """Pia, an active portal contact of Own Co; Olaf, another contact; a Staff Admin and an accountant."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        entity = f.entity("Own Co", responsible=accountant)
        pia, olaf = f.portal_contact(entity, first="Pia"), f.portal_contact(entity, first="Olaf")
        return SimpleNamespace(id=pia.id, email=pia.primary_email, user=pia.user_id, olaf=olaf.id,
                               olaf_email=olaf.primary_email, entity=entity.id, admin=f.staff(R.STAFF_ADMIN).id,
                               accountant=accountant.id)


def _contact(app, contact_id):
    with app.app_context():
        row = db.session.get(Contact, contact_id)
        return SimpleNamespace(first=row.first_name, last=row.last_name, phone=row.phone, language=row.language,
                               username=row.username, state=row.portal_state, notes=row.notes, user=row.user_id,
                               primary=row.primary_email, emails={e.email: e for e in row.emails},
                               pin_hash=row.pin_hash, account_email=row.user.email if row.user else None)


def _token(client):
    return csrf_token(client, PROFILE)


def _mailed_code(app, smtp, address):
    """Run the mail job of the newest code for `address` and read the code from the real SMTP sink."""
    with app.app_context():
        code_id = db.session.scalar(select(AccessCode.id).where(AccessCode.email == address)
                                    .order_by(AccessCode.id.desc()).limit(1))
        assert code_id and portal_mail.send_code(code_id)
    message = [m for m in smtp.messages if m["To"] == address][-1]
    return re.search(r"\b(\d{8})\b", message.get_body(("plain",)).get_content()).group(1)


def _start(client, path, address):
    return client.post(path, data={"csrf_token": _token(client), "email": address})


def test_every_settings_page_has_its_own_title(client, portal_login, pia):
    """Overview, profile, notifications, security, add/change address and PIN pages: 200, own <title> and <h1>."""
    portal_login(client, pia.id)
    pages = {"/portal/settings": ("Settings", "Overview"), PROFILE: ("Profile", "Profile"),
             "/portal/settings/notifications": ("Notification preferences", "Notifications"),
             "/portal/settings/security": ("Security", "Security"),
             "/portal/settings/emails/add": ("Add an e-mail address", "Security"),
             "/portal/settings/email": ("Change your sign-in address", "Security"),
             "/portal/settings/pin": ("Change your PIN", "Security")}
    for path, (title, tab) in pages.items():
        page = client.get(path).get_data(as_text=True)
        assert f"<title>{title} ·" in page and f"<h1>{title}</h1>" in page, path
        assert re.search(rf'aria-current="(page|true)">{tab}</a>', page), path
    assert client.get("/portal/settings/emails/verify").status_code == 302  # nothing pending


def test_profile_save_reaches_the_contact_the_staff_sees(app, client, portal_login, login, pia):
    """Name, phone and language are saved (locale switched); extra fields are ignored; a Staff Admin sees them."""
    portal_login(client, pia.id)
    response = client.post(PROFILE, data={
        "csrf_token": _token(client), "first_name": "Pille", "last_name": "Tamm", "phone": "+372 5555 1234",
        "language": "et", "portal_state": "disabled", "user_id": "1", "username": "hacked", "notes": "VIP",
        "id": str(pia.olaf)})
    assert response.status_code == 302
    row = _contact(app, pia.id)
    assert (row.first, row.last, row.phone, row.language) == ("Pille", "Tamm", "+372 5555 1234", "et")
    assert row.state is PortalState.active and row.user == pia.user and row.notes is None
    assert row.username != "hacked" and _contact(app, pia.olaf).first == "Olaf"
    with client.session_transaction() as session:
        assert session["locale"] == "et"
    assert 'lang="et"' in client.get("/portal/settings").get_data(as_text=True)
    staff = app.test_client()
    login(staff, pia.admin)
    page = staff.get(f"/contactview/show/{pia.id}").get_data(as_text=True)
    assert "Pille Tamm" in page and "+372 5555 1234" in page


def test_bad_phone_is_a_form_error_and_nothing_is_saved(app, client, portal_login, pia):
    """A phone with letters, or an empty name, re-shows the form with the error; the row is unchanged."""
    portal_login(client, pia.id)
    before = _contact(app, pia.id)
    for data, error in (({"phone": "call me maybe"}, "Enter a phone number"),
                        ({"first_name": "", "phone": ""}, "Enter your first name."),
                        ({"language": "xx"}, "Not a valid choice")):
        form = {"csrf_token": _token(client), "first_name": "New", "last_name": "Name", "phone": "", "language": "en",
                **data}
        response = client.post(PROFILE, data=form)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and error in page and 'aria-invalid="true"' in page
    after = _contact(app, pia.id)
    assert (after.first, after.last, after.phone, after.language) == (before.first, before.last, None, "en")


def test_preferences_stop_one_event_by_mail_but_not_in_app(app, client, portal_login, pia, smtp):
    """Unticking "new task" stores email=False for Pia's contact: the assignment mail is not sent, in-app is."""
    portal_login(client, pia.id)
    page = client.get("/portal/settings/notifications").get_data(as_text=True)
    assert "always come" in page and "access codes" in page and "The firm gives me a new task" in page
    keep = (events.TASK_WITHDRAWN, events.MESSAGE_POSTED, events.FILE_REQUEST_CREATED)
    data = {"csrf_token": _token(client), "notify_by_email": "y", **{e: "y" for e in keep}}
    assert client.post("/portal/settings/notifications", data=data).status_code == 302
    page = client.get("/portal/settings/notifications").get_data(as_text=True)
    assert re.search(r'<input id="task_assigned" name="task_assigned" type="checkbox" value="y">', page)
    assert re.search(r'<input checked id="message_posted"', page)
    with app.app_context():
        prefs = dict(db.session.execute(select(NotificationPreference.event, NotificationPreference.email)
                                        .where(NotificationPreference.contact_id == pia.id)).all())
        assert prefs[events.TASK_ASSIGNED] is False and prefs[events.DEADLINE_APPROACHING] is False
        assert prefs[events.MESSAGE_POSTED] is True
        get_settings().notification_delay = 0
        db.session.commit()
        accountant = app.appbuilder.sm.get_user_by_id(pia.accountant)
        task = tasks.create_task(db.session.get(Entity, pia.entity), "Send receipts", accountant)
        tasks.assign(task, accountant)
        for row in db.session.scalars(select(Notification).where(Notification.channel == Channel.email)).all():
            delivery.deliver(row.id)
        mine = db.session.scalars(select(Notification).where(Notification.recipient_contact_id == pia.id)).all()
        states = {n.channel: n.state for n in mine}
        assert states == {Channel.in_app: NotificationState.sent, Channel.email: NotificationState.cancelled}
    recipients = [m["To"] for m in smtp.messages]
    assert pia.email not in recipients and pia.olaf_email in recipients
    assert "New task: Send receipts" in client.get("/portal/notifications").get_data(as_text=True)


def test_all_mail_off_switch_is_saved_to_the_contact(app, client, portal_login, pia):
    """Unticking "Send me e-mail about updates" turns notify_by_email off (the staff view shows that flag)."""
    portal_login(client, pia.id)
    assert client.post("/portal/settings/notifications", data={"csrf_token": _token(client)}).status_code == 302
    with app.app_context():
        assert db.session.get(Contact, pia.id).notify_by_email is False
    assert "You get no e-mail about updates." in client.get("/portal/settings").get_data(as_text=True)


def test_add_and_merge_an_address_with_the_mailed_code(app, client, portal_login, pia, smtp):
    """Address → code mailed to that address (real SMTP) → code → a merged, verified, non-primary address."""
    portal_login(client, pia.id)
    response = _start(client, "/portal/settings/emails/add", "Pia.Home@Example.org ")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/settings/emails/verify")
    with client.session_transaction() as session:
        assert session["portal_address_check"] == {"purpose": "add_email", "email": "pia.home@example.org",
                                                   "contact": pia.id}  # no code kept in the session
    code = _mailed_code(app, smtp, "pia.home@example.org")
    assert smtp.messages[-1]["Subject"].endswith("Confirm your e-mail address")
    page = client.get("/portal/settings/emails/verify").get_data(as_text=True)
    assert "pia.home@example.org" in page and code not in page
    response = client.post("/portal/settings/emails/verify", data={"csrf_token": _token(client), "code": code})
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/settings/security")
    row = _contact(app, pia.id)
    merged = row.emails["pia.home@example.org"]
    assert merged.is_primary is False and merged.verified_on is not None and row.primary == pia.email
    page = client.get("/portal/settings/security").get_data(as_text=True)
    assert "pia.home@example.org" in page and "is added to your addresses" in page
    with client.session_transaction() as session:
        assert "portal_address_check" not in session


def test_wrong_or_expired_code_adds_nothing(app, client, portal_login, pia, smtp, monkeypatch):
    """A wrong code and a right but expired one both answer "not valid"; no address is added."""
    portal_login(client, pia.id)
    _start(client, "/portal/settings/emails/add", "pia.work@example.org")
    code = _mailed_code(app, smtp, "pia.work@example.org")
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    response = client.post("/portal/settings/emails/verify", data={"csrf_token": _token(client), "code": wrong})
    assert response.status_code == 200 and "That code is not valid" in response.get_data(as_text=True)
    later = datetime.now() + timedelta(minutes=11)
    monkeypatch.setattr(access_codes, "_now", lambda: later)
    response = client.post("/portal/settings/emails/verify", data={"csrf_token": _token(client), "code": code})
    assert response.status_code == 200 and "That code is not valid" in response.get_data(as_text=True)
    assert "pia.work@example.org" not in _contact(app, pia.id).emails


def test_another_contacts_address_is_refused_without_naming_them(app, client, portal_login, pia, smtp):
    """Asking for Olaf's address looks exactly like a free one; with its code the answer names nobody."""
    portal_login(client, pia.id)
    free = _start(client, "/portal/settings/emails/add", "nobody.yet@example.org")
    taken = _start(client, "/portal/settings/emails/add", pia.olaf_email.upper())
    assert (free.status_code, free.headers["Location"]) == (taken.status_code, taken.headers["Location"])
    code = _mailed_code(app, smtp, pia.olaf_email)  # only Olaf's mailbox holds it; say Pia can read it
    response = client.post("/portal/settings/emails/verify", data={"csrf_token": _token(client), "code": code},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "This address cannot be added. Contact the firm." in page and "Olaf" not in page
    assert pia.olaf_email not in _contact(app, pia.id).emails
    assert _contact(app, pia.olaf).primary == pia.olaf_email


def test_own_address_is_refused_up_front(client, portal_login, pia):
    """Adding the sign-in address, or changing to it, is refused on the first page (it tells nothing new)."""
    portal_login(client, pia.id)
    page = _start(client, "/portal/settings/emails/add", pia.email).get_data(as_text=True)
    assert "already yours" in page
    page = _start(client, "/portal/settings/email", pia.email).get_data(as_text=True)
    assert "already your sign-in address" in page


def test_resend_too_soon_shows_a_clear_message(client, portal_login, pia):
    """A second code within a minute: the resend button answers with the resend limit message."""
    portal_login(client, pia.id)
    _start(client, "/portal/settings/emails/add", "pia.soon@example.org")
    page = client.post("/portal/settings/emails/resend", data={"csrf_token": _token(client)},
                       follow_redirects=True).get_data(as_text=True)
    assert "Codes were asked for too often" in page
    page = _start(client, "/portal/settings/emails/add", "pia.soon@example.org").get_data(as_text=True)
    assert "Codes were asked for too often" in page


def test_a_merged_address_cannot_sign_in(app, client, pia, smtp):
    """With a merged address the PIN page shows, but even the right PIN is refused: no code mail, no sign-in."""
    with app.app_context():
        db.session.add(ContactEmail(contact_id=pia.id, email="pia.merged@example.org", verified_on=datetime.now()))
        db.session.commit()
    token = csrf_token(client, "/portal/sign-in")
    response = client.post("/portal/sign-in", data={"csrf_token": token, "email": "pia.merged@example.org"})
    assert response.headers["Location"].endswith("/portal/sign-in/pin")
    response = client.post("/portal/sign-in/pin", data={"csrf_token": token, "pin": f.PIN})
    assert response.status_code == 200 and "That PIN is not right." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AccessCode.id).where(AccessCode.email == "pia.merged@example.org")) is None
    assert smtp.messages == []
    assert client.get("/portal/sign-in/code").headers["Location"].endswith("/portal/sign-in")
    assert client.get("/portal/").status_code == 302


def test_remove_a_merged_address(app, client, portal_login, pia):
    """Pia removes her merged address; Olaf's address and her own sign-in address answer 404."""
    with app.app_context():
        mine = ContactEmail(contact_id=pia.id, email="pia.old@example.org")
        olafs = ContactEmail(contact_id=pia.olaf, email="olaf.old@example.org")
        db.session.add_all([mine, olafs])
        db.session.commit()
        ids = SimpleNamespace(mine=mine.id, olafs=olafs.id, primary=_contact(app, pia.id).emails[pia.email].id)
    portal_login(client, pia.id)
    token = _token(client)
    for other in (ids.olafs, ids.primary, 987654):
        assert client.post(f"/portal/settings/emails/{other}/remove", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/portal/settings/emails/{ids.mine}/remove", data={"csrf_token": token}).status_code == 302
    assert set(_contact(app, pia.id).emails) == {pia.email}
    assert "olaf.old@example.org" in _contact(app, pia.olaf).emails


def test_change_pin_needs_the_current_pin_and_counts_failures(app, client, portal_login, pia):
    """A wrong current PIN is refused and counted (5 lock); the right one changes it, ends the other sessions."""
    portal_login(client, pia.id)
    elsewhere = portal_login(app.test_client(), pia.id)
    before = _contact(app, pia.id).pin_hash
    data = {"csrf_token": _token(client), "current": "135790", "pin": "864209", "confirm": "864209"}
    page = client.post("/portal/settings/pin", data=data).get_data(as_text=True)
    assert "That is not your current PIN." in page and _contact(app, pia.id).pin_hash == before
    page = client.post("/portal/settings/pin", data=dict(data, current=f.PIN, pin="111111", confirm="111111"))
    assert "too easy to guess" in page.get_data(as_text=True)
    response = client.post("/portal/settings/pin", data=dict(data, current=f.PIN))
    assert response.status_code == 302
    assert check_password_hash(_contact(app, pia.id).pin_hash, "864209")
    assert client.get("/portal/settings/security").status_code == 200  # this browser goes on
    assert elsewhere.get("/portal/").status_code == 302  # the other session is over
    for _ in range(5):
        page = client.post("/portal/settings/pin", data=dict(data, current="000001")).get_data(as_text=True)
    assert "Too many wrong PINs" in page
    with app.app_context():
        assert portal_auth.pin_lock_seconds(pia.email) > 0
    page = client.post("/portal/settings/pin", data=dict(data, current="864209", pin="975310", confirm="975310"))
    assert "Too many wrong PINs" in page.get_data(as_text=True)  # locked: even the right PIN waits
    assert check_password_hash(_contact(app, pia.id).pin_hash, "864209")


def test_change_the_sign_in_address_with_a_code(app, client, portal_login, pia, smtp):
    """New address → code to it → it is the primary (account e-mail follows), the old one stays merged."""
    portal_login(client, pia.id)
    elsewhere = portal_login(app.test_client(), pia.id)
    response = _start(client, "/portal/settings/email", "pia.new@example.org")
    assert response.headers["Location"].endswith("/portal/settings/emails/verify")
    code = _mailed_code(app, smtp, "pia.new@example.org")
    assert smtp.messages[-1]["Subject"].endswith("Confirm your new e-mail address")
    response = client.post("/portal/settings/emails/verify", data={"csrf_token": _token(client), "code": code})
    assert response.status_code == 302
    row = _contact(app, pia.id)
    assert row.primary == "pia.new@example.org" and row.account_email == "pia.new@example.org"
    assert row.emails[pia.email].is_primary is False
    with app.app_context():
        assert portal_auth.find_contact("pia.new@example.org", PortalState.active).id == pia.id
        assert portal_auth.find_contact(pia.email, PortalState.active) is None
    assert client.get("/portal/settings/security").status_code == 200
    assert elsewhere.get("/portal/").status_code == 302


def test_a_merged_address_can_become_the_sign_in_address(app, client, portal_login, pia, smtp):
    """Changing to one of her merged addresses promotes that row; still exactly one primary."""
    with app.app_context():
        db.session.add(ContactEmail(contact_id=pia.id, email="pia.alt@example.org", verified_on=datetime.now()))
        db.session.commit()
    portal_login(client, pia.id)
    _start(client, "/portal/settings/email", "pia.alt@example.org")
    code = _mailed_code(app, smtp, "pia.alt@example.org")
    client.post("/portal/settings/emails/verify", data={"csrf_token": _token(client), "code": code})
    row = _contact(app, pia.id)
    assert row.primary == "pia.alt@example.org" and [e.is_primary for e in row.emails.values()].count(True) == 1
    assert set(row.emails) == {"pia.alt@example.org", pia.email}


def test_long_names_fit_the_contact_and_the_shorter_account_columns(app, client, portal_login, pia):
    """100-character names are saved to the contact; the FAB account keeps the first 64 characters."""
    portal_login(client, pia.id)
    name = "A" * 100
    response = client.post(PROFILE, data={"csrf_token": _token(client), "first_name": name, "last_name": name,
                                          "phone": "", "language": "en"})
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(Contact, pia.id)
        assert row.first_name == name and row.user.first_name == name[:64]


def test_change_to_another_contacts_address_is_refused(app, client, portal_login, pia, smtp):
    """Olaf's address with its code: refused without naming him; Pia's primary is unchanged."""
    portal_login(client, pia.id)
    _start(client, "/portal/settings/email", pia.olaf_email)
    code = _mailed_code(app, smtp, pia.olaf_email)
    page = client.post("/portal/settings/emails/verify", data={"csrf_token": _token(client), "code": code},
                       follow_redirects=True).get_data(as_text=True)
    assert "This address cannot be used. Contact the firm." in page and "Olaf" not in page
    assert _contact(app, pia.id).primary == pia.email and _contact(app, pia.olaf).primary == pia.olaf_email


def _device(contact_id, label, days_ago=0):
    now = datetime.now() - timedelta(days=days_ago)
    row = TrustedDevice(contact_id=contact_id, key_hash=f"{label:0>64}"[:64], label=label, created_on=now,
                        last_used_on=now, expires_on=now + timedelta(days=90))
    db.session.add(row)
    db.session.commit()
    return row.id


def test_revoke_trusted_browsers(app, client, portal_login, pia):
    """The list shows Pia's browsers; one is forgotten, Olaf's answers 404, "forget all" clears the rest."""
    with app.app_context():
        phone, laptop = _device(pia.id, "Firefox on Android", 3), _device(pia.id, "Safari on Mac")
        olafs = _device(pia.olaf, "Olaf Browser")
    portal_login(client, pia.id)
    page = client.get("/portal/settings/security").get_data(as_text=True)
    assert "Firefox on Android" in page and "Safari on Mac" in page and "Olaf Browser" not in page
    token = _token(client)
    assert client.post(f"/portal/settings/browsers/{olafs}/revoke", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/portal/settings/browsers/{phone}/revoke", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.scalars(select(TrustedDevice.id).where(TrustedDevice.contact_id == pia.id)).all() == [laptop]
    assert client.post("/portal/settings/browsers/revoke-all", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.scalars(select(TrustedDevice.contact_id)).all() == [pia.olaf]
    assert "No trusted browsers." in client.get("/portal/settings/security").get_data(as_text=True)


def test_every_settings_post_needs_csrf(app, client, portal_login, pia):
    """Without a CSRF token each state-changing route answers 400 and changes nothing."""
    with app.app_context():
        email_id = _contact(app, pia.id).emails[pia.email].id
        device = _device(pia.id, "Chrome")
    portal_login(client, pia.id)
    forms = {PROFILE: {"first_name": "X", "last_name": "Y", "language": "et"},
             "/portal/settings/notifications": {},
             "/portal/settings/emails/add": {"email": "x@example.org"},
             "/portal/settings/email": {"email": "x@example.org"},
             "/portal/settings/emails/verify": {"code": "12345678"},
             "/portal/settings/emails/resend": {},
             f"/portal/settings/emails/{email_id}/remove": {},
             "/portal/settings/pin": {"current": f.PIN, "pin": "864209", "confirm": "864209"},
             f"/portal/settings/browsers/{device}/revoke": {},
             "/portal/settings/browsers/revoke-all": {}}
    before = _contact(app, pia.id)
    for path, data in forms.items():
        assert client.post(path, data=data).status_code == 400, path
    after = _contact(app, pia.id)
    assert (after.first, after.language, after.pin_hash) == (before.first, before.language, before.pin_hash)
    with app.app_context():
        assert db.session.get(TrustedDevice, device) is not None
        assert db.session.scalar(select(AccessCode.id).where(AccessCode.email == "x@example.org")) is None
