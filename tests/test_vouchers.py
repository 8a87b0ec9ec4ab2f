"""Tax vouchers, staff side: the payment-link and amount rules, the staff screens (scope, validation,
who marked a voucher paid), the CSV import (all or nothing, line numbers), reminders and payment hosts."""
import io
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ActivityEvent, Notification, NotificationPreference, TaxVoucher
from app.models.contacts import PortalState
from app.models.notifications import Channel, NotificationState
from app.models.vouchers import VoucherStatus
from app.security import roles as R
from app.services import delivery, events, payment_hosts
from app.services import voucher_reminders, vouchers
from app.services import vouchers as service
from app.services.firm import get_settings
from tests import factories as f
from tests.conftest import csrf_token

HOSTS = ["irs.gov", "eftps.gov", "emta.ee"]
IMPORT = "/taxvoucherview/import"
GOOD_CSV = ("\ufefftax_year,authority,form_period,amount,due_date,payment_url\n"
            "2026,IRS,1040-ES Q3,\"1,234.50\",2026-09-15,https://www.irs.gov/payments\n"
            "2026, Maine Revenue ,1040ES-ME Q3,655.5,2026-09-15,\n"
            "2026,IRS,1040-ES Q4,0.10,2027-01-15,\n")


@pytest.mark.parametrize("url", [
    "https://www.irs.gov/payments", "https://IRS.GOV", "https://irs.gov", "HTTPS://www.irs.gov/x?y=1#z",
    "https://www.irs.gov./payments", "https://irs.gov:443/pay", "https://pay.emta.ee/", "https://www.eftps.gov",
])
def test_payment_links_on_allowed_hosts_pass(url):
    """https on an allowed host or one of its subdomains (any case, a trailing dot, port 443) is followed."""
    assert payment_hosts.payment_target(url, HOSTS) == url


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "//evil.example", "http://irs.gov", "https://irs.gov.evil.example",
    "https://evil.example/?https://irs.gov", "https://user@evil.example", "https://irs.gov@evil.example",
    "https://irs.gov\\@evil.example", "https://evil.example\\.irs.gov", "https://evilirs.gov", "https://gov",
    "https://irs.gov:8443/", "https://%69rs.gov/", "https://irs.gov../", " https://irs.gov", "https://irs.gov/a b",
    "https:irs.gov", "https:///irs.gov", "https://1.2.3.4/", "https://[::1]/", "data:text/html,x", "ftp://irs.gov",
    "https://irs.gov\t.evil.example", "https://ırs.gov", "https://irs.gov:x/", "", None,
])
def test_payment_links_elsewhere_are_refused(url):
    """Schemes other than https, other hosts, look-alikes, user parts, odd ports and escapes: refused."""
    assert payment_hosts.payment_target(url, HOSTS) is None


@pytest.mark.parametrize("raw,value", [("1234.50", "1234.50"), ("1,234.50", "1234.50"), ("1234", "1234.00"),
                                       ("0", "0.00"), (" 0.5 ", "0.50"), ("1,000,000", "1000000.00"),
                                       ("9999999999.99", "9999999999.99")])
def test_amounts_are_read_as_decimal(raw, value):
    """Plain, grouped and whole amounts become Decimal with two places (no float anywhere)."""
    amount = service.parse_amount(raw)
    assert isinstance(amount, Decimal) and amount == Decimal(value) and str(amount) == value


@pytest.mark.parametrize("raw", ["-1", "1.234", "1e3", "NaN", "Infinity", "1.234,50", "1234,50", "12,34", "$10",
                                 "", "10000000000.00", "1 234.50", "0x10", "١٢٣"])
def test_bad_amounts_are_refused(raw, ctx):
    """Negative, three decimals, exponents, decimal commas, currency signs and too large: refused."""
    with pytest.raises(service.VoucherError):
        service.parse_amount(raw)


def test_host_lists_accept_only_bare_host_names():
    """Lines are trimmed and lower-cased; schemes, paths, wildcards, single labels and IPs are bad lines."""
    hosts, bad = payment_hosts.parse_hosts(" IRS.GOV. \n\nwww.eftps.gov\nhttps://x.example\nirs.gov/pay\n*.irs.gov\ngov\n"
                                     "1.2.3.4\nirs.gov\n")
    assert hosts == ["irs.gov", "www.eftps.gov"]
    assert bad == ["https://x.example", "irs.gov/pay", "*.irs.gov", "gov", "1.2.3.4"]


@pytest.fixture
def desk(app):
    """An accountant's entity (two contacts, an overdue unpaid voucher) and a foreign entity with a voucher."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        own, foreign = f.entity("Own Co", responsible=accountant), f.entity("Foreign Co")
        ann = f.contact(first="Ann", email="ann@client.example")
        rhea = f.contact(first="Rhea", email="rhea@client.example")
        stan = f.contact(first="Stan", email="stan@client.example")
        f.share(own, R.ENTITY_COLLABORATOR, contact=ann)
        f.share(own, R.ENTITY_ACCESS, contact=rhea)
        f.share(foreign, R.ENTITY_COLLABORATOR, contact=stan)
        mine = _voucher(own, "1040-ES Q2", "3250.00", date.today() - timedelta(days=5))
        theirs = _voucher(foreign, "Secret Q2", "99.00", date.today() + timedelta(days=3))
        return SimpleNamespace(accountant=accountant.id, own=own.id, foreign=foreign.id, mine=mine.id,
                               theirs=theirs.id, ann=ann.id, rhea=rhea.id, stan=stan.id,
                               staff_admin=f.staff(R.STAFF_ADMIN).id, admin=f.staff(R.ADMIN).id)


def _voucher(entity, form_period, amount, due, status=VoucherStatus.unpaid, url=None, authority="IRS"):
    voucher = TaxVoucher(entity_id=entity.id, tax_year=due.year, authority=authority, form_period=form_period,
                         amount=Decimal(amount), due_date=due, status=status, payment_url=url,
                         paid_on=due if status is VoucherStatus.paid else None)
    db.session.add(voucher)
    db.session.commit()
    return voucher


def _form(token, **fields):
    data = {"csrf_token": token, "tax_year": "2026", "authority": "IRS", "form_period": "1040-ES Q3",
            "amount": "1,250.00", "due_date": "2026-09-15", "payment_url": "https://www.irs.gov/payments",
            "status": "unpaid", "paid_on": "", "confirmation_number": ""}
    data.update(fields)
    return data


def test_staff_adds_a_voucher_with_a_decimal_amount(app, client, login, desk):
    """The add form stores the amount as Decimal, the payment link checked, unpaid by default."""
    login(client, desk.accountant)
    token = csrf_token(client, "/taxvoucherview/add")
    response = client.post("/taxvoucherview/add", data=_form(token, entity=desk.own))
    assert response.status_code == 302
    with app.app_context():
        voucher = db.session.query(TaxVoucher).filter_by(form_period="1040-ES Q3").one()
        assert voucher.amount == Decimal("1250.00") and isinstance(voucher.amount, Decimal)
        assert voucher.status is VoucherStatus.unpaid and voucher.marked_paid_by_id is None


@pytest.mark.parametrize("fields,message", [
    ({"amount": "-5"}, "The amount cannot be negative."),
    ({"amount": "12.345"}, "Enter the amount like 1234.50"),
    ({"amount": "abc"}, "Enter the amount like 1234.50"),
    ({"amount": ""}, "Enter the amount."),
    ({"payment_url": "https://evil.example/pay"}, "The payment link must start with https://"),
    ({"payment_url": "http://www.irs.gov/payments"}, "The payment link must start with https://"),
    ({"status": "paid"}, "Enter the date it was paid."),
    ({"status": "paid", "paid_on": (date.today() + timedelta(days=1)).isoformat()},
     "The payment date cannot be in the future."),
    ({"status": "superuser"}, "Not a valid choice."),
    ({"form_period": ""}, "This field is required."),
    ({"tax_year": "1800"}, "Number must be between 2000 and 2100."),
])
def test_staff_add_refuses_bad_values_with_a_form_error(app, client, login, desk, fields, message):
    """Each rule shows its error on the form and nothing is saved."""
    login(client, desk.accountant)
    token = csrf_token(client, "/taxvoucherview/add")
    response = client.post("/taxvoucherview/add", data=_form(token, entity=desk.own, **fields))
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(TaxVoucher).count() == 2


def test_staff_marking_paid_records_who_and_when_and_unpaid_clears_it(app, client, login, desk):
    """Edit to paid: marked by the staff member, at now, in the activity log; back to unpaid clears it."""
    login(client, desk.accountant)
    token = csrf_token(client, f"/taxvoucherview/edit/{desk.mine}")
    paid_on = date.today().isoformat()
    due = (date.today() - timedelta(days=5)).isoformat()
    edit = _form(token, form_period="1040-ES Q2", amount="3250.00", due_date=due, status="paid", paid_on=paid_on,
                 confirmation_number=" DP-1 ")
    assert client.post(f"/taxvoucherview/edit/{desk.mine}", data=edit).status_code == 302
    with app.app_context():
        voucher = db.session.get(TaxVoucher, desk.mine)
        assert voucher.status is VoucherStatus.paid and voucher.confirmation_number == "DP-1"
        assert voucher.marked_paid_by_id == desk.accountant and voucher.marked_paid_at is not None
        event = db.session.query(ActivityEvent).filter_by(verb="voucher.paid").one()
        assert event.actor_id == desk.accountant and event.object_id == desk.mine
    listing = client.get("/taxvoucherview/list/").get_data(as_text=True)
    assert "Staff Member" in listing and "DP-1" in listing and "Secret Q2" not in listing
    edit.update(status="unpaid")
    client.post(f"/taxvoucherview/edit/{desk.mine}", data=edit)
    with app.app_context():
        voucher = db.session.get(TaxVoucher, desk.mine)
        assert voucher.status is VoucherStatus.unpaid and voucher.paid_on is None
        assert voucher.marked_paid_by_id is None and voucher.confirmation_number is None


def test_list_shows_overdue_unpaid_due_dates_in_red_and_filters_by_status(app, client, login, desk):
    """The overdue unpaid voucher's due date is red with "overdue"; a status filter narrows the list."""
    with app.app_context():
        from app.models import Entity

        _voucher(db.session.get(Entity, desk.own), "Old paid", "5.00", date.today() - timedelta(days=40),
                 status=VoucherStatus.paid)
    login(client, desk.accountant)
    listing = client.get("/taxvoucherview/list/").get_data(as_text=True)
    assert listing.count('class="text-danger"') == 1 and "overdue" in listing and "3,250.00" in listing
    paid = client.get("/taxvoucherview/list/?_flt_0_status=paid").get_data(as_text=True)
    assert "Old paid" in paid and "1040-ES Q2" not in paid


def test_foreign_vouchers_are_404_and_foreign_entities_cannot_be_written(app, client, login, desk):
    """Show, edit, delete of a foreign voucher: 404; adding to or importing into a foreign entity: 404."""
    login(client, desk.accountant)
    token = csrf_token(client, "/taxvoucherview/add")
    assert client.get(f"/taxvoucherview/show/{desk.theirs}").status_code == 404
    assert client.get(f"/taxvoucherview/edit/{desk.theirs}").status_code == 404
    assert client.post(f"/taxvoucherview/delete/{desk.theirs}", data={"csrf_token": token}).status_code == 404
    assert client.post("/taxvoucherview/add", data=_form(token, entity=desk.foreign)).status_code == 404
    upload = {"csrf_token": token, "entity": desk.foreign, "file": (io.BytesIO(GOOD_CSV.encode()), "s.csv")}
    assert client.post(IMPORT, data=upload, content_type="multipart/form-data").status_code == 404
    with app.app_context():
        assert db.session.query(TaxVoucher).count() == 2


def test_staff_admin_reads_but_cannot_add_edit_or_import(app, client, login, desk):
    """Staff Admin sees every voucher (read only): add, edit and import are refused and nothing is saved."""
    login(client, desk.staff_admin)
    assert client.get(f"/taxvoucherview/show/{desk.theirs}").status_code == 200
    token = csrf_token(client, "/resetmypassword/form")
    refused = (302, 403, 404)
    assert client.post("/taxvoucherview/add", data=_form(token, entity=desk.own)).status_code in refused
    assert client.post(f"/taxvoucherview/edit/{desk.mine}", data=_form(token, amount="1.00")).status_code in refused
    upload = {"csrf_token": token, "entity": desk.own, "file": (io.BytesIO(GOOD_CSV.encode()), "s.csv")}
    assert client.post(IMPORT, data=upload, content_type="multipart/form-data").status_code in refused
    with app.app_context():
        assert db.session.query(TaxVoucher).count() == 2
        assert db.session.get(TaxVoucher, desk.mine).amount == Decimal("3250.00")


def test_a_staff_member_who_sees_but_may_not_work_gets_403(app, client, login, desk):
    """Staff + Staff Admin roles: every entity visible, work only on their own; adding to or importing into
    a foreign entity answers 403 (not a silent form error) and nothing is saved."""
    with app.app_context():
        both = f.staff(R.STAFF)
        both.roles.append(f.role(R.STAFF_ADMIN))
        db.session.commit()
        both = both.id
    login(client, both)
    token = csrf_token(client, "/taxvoucherview/add")
    assert client.get(f"/taxvoucherview/show/{desk.theirs}").status_code == 200
    assert client.post("/taxvoucherview/add", data=_form(token, entity=desk.foreign)).status_code == 403
    assert client.get(f"/taxvoucherview/edit/{desk.theirs}").status_code == 403
    upload = {"csrf_token": token, "entity": desk.foreign, "file": (io.BytesIO(GOOD_CSV.encode()), "s.csv")}
    assert client.post(IMPORT, data=upload, content_type="multipart/form-data").status_code == 403
    with app.app_context():
        assert db.session.query(TaxVoucher).count() == 2


def _import(client, entity_id, text, token=None, name="season.csv"):
    token = token or csrf_token(client, IMPORT)
    body = text.encode("utf-8") if isinstance(text, str) else text
    return client.post(IMPORT, data={"csrf_token": token, "entity": entity_id, "file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data")


def test_a_good_csv_imports_every_row_in_one_go(app, client, login, desk):
    """BOM, quoted "1,234.50", trimmed cells and an empty payment link: three unpaid vouchers, Decimal amounts."""
    login(client, desk.accountant)
    response = _import(client, desk.own, GOOD_CSV)
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.query(TaxVoucher).filter_by(entity_id=desk.own).order_by(TaxVoucher.id).all()[1:]
        assert [(v.authority, v.form_period, v.amount, v.due_date.isoformat(), v.payment_url) for v in rows] == [
            ("IRS", "1040-ES Q3", Decimal("1234.50"), "2026-09-15", "https://www.irs.gov/payments"),
            ("Maine Revenue", "1040ES-ME Q3", Decimal("655.50"), "2026-09-15", None),
            ("IRS", "1040-ES Q4", Decimal("0.10"), "2027-01-15", None)]
        assert all(v.status is VoucherStatus.unpaid for v in rows)
        assert db.session.query(ActivityEvent).filter_by(verb="voucher.imported").count() == 1
    assert "Imported 3 vouchers for Own Co." in client.get("/taxvoucherview/list/").get_data(as_text=True)


def test_one_bad_row_imports_nothing_and_names_its_line(app, client, login, desk):
    """Line 4 has a bad amount and line 6 a foreign payment link: both are named, nothing is saved."""
    login(client, desk.accountant)
    text = ("tax_year,authority,form_period,amount,due_date,payment_url\n"
            "2026,IRS,Q1,100.00,2026-04-15,\n"
            "2026,IRS,Q2,100.00,2026-06-15,\n"
            "2026,IRS,Q3,12.345,2026-09-15,\n"
            "\n"
            "2026,IRS,Q4,100.00,2027-01-15,https://evil.example/pay\n")
    response = _import(client, desk.own, text)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Nothing was imported" in body
    assert "line 4: amount: Enter the amount like 1234.50" in body and "line 6: payment_url:" in body
    assert "line 2" not in body and "line 3" not in body
    with app.app_context():
        assert db.session.query(TaxVoucher).count() == 2


@pytest.mark.parametrize("text,message", [
    ("authority,form_period,amount,due_date\nIRS,Q1,1.00,2026-04-15\n", "line 1: missing columns: tax_year"),
    ("tax_year,authority,form_period,amount,due_date,ammount\n", "line 1: unknown columns: ammount"),
    ("", "Choose a CSV file."),
    ("tax_year,authority,form_period,amount,due_date\n", "The file has no vouchers under its header."),
    ("tax_year,authority,form_period,amount,due_date\n2026,IRS,Q1,1.00\n", "line 2: expected 5 values, found 4."),
    ("tax_year,authority,form_period,amount,due_date\n2026,IRS,Q1,1.00,15/09/2026\n",
     "line 2: due_date: a date like 2026-09-15"),
    ("tax_year,authority,form_period,amount,due_date\n26,IRS,Q1,1.00,2026-09-15\n", "line 2: tax_year: a year"),
    ("tax_year,authority,form_period,amount,due_date\n2026,,Q1,1.00,2026-09-15\n",
     "line 2: authority: This field is required."),
    ("tax_year,authority,form_period,amount,due_date\n2026,IRS,\"Q1\nQ2\",1.00,2026-09-15\n2026,IRS,Q3,x,2026-09-15\n",
     "line 4: amount:"),
    ("tax_year,authority,form_period,amount,due_date\n2026,IRS,Q1,1.00,2026-09-15\n2026,irs,q1,2.00,2026-09-15\n",
     "line 3: q1 (irs, 2026) due 2026-09-15 is already there."),
    (b"tax_year,authority,form_period,amount,due_date\n2026,\xff,Q1,1.00,2026-09-15\n", "The file is not UTF-8 text."),
])
def test_bad_files_are_refused_with_a_reason(app, client, login, desk, text, message):
    """Header, encoding, shape, each column's rule and duplicates inside the file: refused, nothing saved."""
    login(client, desk.accountant)
    response = _import(client, desk.own, text)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(TaxVoucher).count() == 2


def test_import_refuses_duplicates_of_existing_vouchers_big_files_and_too_many_rows(app, client, login, desk):
    """A voucher already there, a file over 1 MB, and 5,001 rows: each refused with nothing saved."""
    login(client, desk.accountant)
    token = csrf_token(client, IMPORT)
    due = (date.today() - timedelta(days=5)).isoformat()
    again = f"tax_year,authority,form_period,amount,due_date\n{due[:4]},IRS,1040-ES Q2,1.00,{due}\n"
    assert "line 2: 1040-ES Q2 (IRS" in _import(client, desk.own, again, token).get_data(as_text=True)
    header = "tax_year,authority,form_period,amount,due_date\n"
    big = header + "2026,IRS,Q1,1.00,2026-04-15\n" * 40000
    assert "larger than 1 MB" in _import(client, desk.own, big, token).get_data(as_text=True)
    many = header + "".join(f"2026,IRS,Q{n},1.00,2026-04-15\n" for n in range(5001))
    assert "more than 5,000 vouchers" in _import(client, desk.own, many, token).get_data(as_text=True)
    with app.app_context():
        assert db.session.query(TaxVoucher).count() == 2


def test_import_and_add_without_csrf_are_400(app, client, login, desk):
    """A post without the CSRF token changes nothing."""
    login(client, desk.accountant)
    upload = {"entity": desk.own, "file": (io.BytesIO(GOOD_CSV.encode()), "s.csv")}
    assert client.post(IMPORT, data=upload, content_type="multipart/form-data").status_code == 400
    form = _form("", entity=desk.own)
    del form["csrf_token"]
    assert client.post("/taxvoucherview/add", data=form).status_code == 400
    with app.app_context():
        assert db.session.query(TaxVoucher).count() == 2


@pytest.fixture
def season(ctx):
    """Entity A (Ann collaborator, Rhea reader, Dora disabled) with vouchers 3 days out; entity B with Stan."""
    get_settings().notification_delay = 0
    db.session.commit()
    a, b = f.entity("Alpha Co"), f.entity("Beta Co")
    ann, rhea = f.contact(first="Ann", email="ann@a.example"), f.contact(first="Rhea", email="rhea@a.example")
    dora, stan = f.contact(first="Dora", email="dora@a.example"), f.contact(first="Stan", email="stan@b.example")
    dora.portal_state = PortalState.disabled
    db.session.commit()
    for person, role in ((ann, R.ENTITY_COLLABORATOR), (rhea, R.ENTITY_ACCESS), (dora, R.ENTITY_ACCESS)):
        f.share(a, role, contact=person)
    f.share(b, R.ENTITY_COLLABORATOR, contact=stan)
    today = date(2026, 9, 12)
    due = today + timedelta(days=3)
    first = _voucher(a, "1040-ES Q3", "3400.00", due)
    _voucher(a, "1040ES-ME Q3", "655.50", due, authority="Maine")
    _voucher(b, "Paid Q3", "10.00", due, status=VoucherStatus.paid)
    _voucher(a, "Later", "1.00", today + timedelta(days=10))
    return SimpleNamespace(a=a, b=b, ann=ann, rhea=rhea, dora=dora, stan=stan, today=today, due=due, first=first)


def _rows(channel):
    return db.session.query(Notification).filter_by(event=events.VOUCHER_DUE, channel=channel).all()


def test_reminders_reach_the_entitys_contacts_once_per_due_date(season, smtp):
    """3 days before: one reminder per contact of A (not the disabled one, not B's); a re-run adds none."""
    assert voucher_reminders.remind(season.today, days_before=(3, 0)) == 1
    in_app = _rows(Channel.in_app)
    assert sorted(n.recipient_contact.first_name for n in in_app) == ["Ann", "Rhea"]
    assert {n.object_id for n in in_app} == {season.first.id}
    assert voucher_reminders.remind(season.today, days_before=(3, 0)) == 0
    assert len(_rows(Channel.in_app)) == 2 and len(_rows(Channel.email)) == 2
    for row in _rows(Channel.email):
        delivery.deliver(row.id)
    assert sorted(m["To"] for m in smtp.messages) == ["ann@a.example", "rhea@a.example"]
    text = smtp.messages[0].get_body(("plain",)).get_content()
    assert f"/portal/payments/{season.due.isoformat()}?entity={season.a.id}" in text
    assert "Tax payments due on" in smtp.messages[0]["Subject"] and "3,400" not in text and "3400" not in text


def test_a_contact_reached_through_a_group_is_reminded_once_with_notifys_key(season, smtp):
    """A group share reaches its members (a member also shared directly gets one row, not two), with the
    outbox key notify() writes; the activity line says which date is due."""
    from app.models import ActivityEvent
    from app.services import notifications

    gus = f.contact(first="Gus", email="gus@a.example")
    f.share(season.a, R.ENTITY_ACCESS, group=f.group("Family", members=[gus, season.ann]))
    assert voucher_reminders.remind(season.today, days_before=(3,)) == 1
    rows = _rows(Channel.in_app)
    assert sorted(n.recipient_contact.first_name for n in rows) == ["Ann", "Gus", "Rhea"]
    assert {n.idempotency_key for n in rows} == {notifications.idempotency_key(
        events.VOUCHER_DUE, season.first, c, Channel.in_app, f"{season.due.isoformat()}:3")
        for c in (season.ann, gus, season.rhea)}
    line = db.session.query(ActivityEvent).filter_by(verb="work.voucher_due").one()
    assert line.object_id == season.first.id and season.due.isoformat() in line.summary


def test_on_the_day_a_second_reminder_and_none_for_paid_dates(season, smtp):
    """On the due date a new reminder goes out; a date whose vouchers are all paid gets none."""
    voucher_reminders.remind(season.today, days_before=(3,))
    for voucher in db.session.query(TaxVoucher).filter_by(entity_id=season.a.id, due_date=season.due):
        voucher.status, voucher.paid_on = VoucherStatus.paid, season.today
    db.session.commit()
    assert voucher_reminders.remind(season.due, days_before=(0,)) == 0
    assert len(_rows(Channel.in_app)) == 2


def test_mail_is_suppressed_when_the_contact_turned_voucher_reminders_off(season, smtp):
    """Rhea's voucher_due e-mail is off: her mail row is cancelled (the bell keeps it); Ann gets hers."""
    db.session.add(NotificationPreference(contact_id=season.rhea.id, event=events.VOUCHER_DUE, email=False))
    db.session.commit()
    voucher_reminders.remind(season.today, days_before=(3,))
    for row in _rows(Channel.email):
        delivery.deliver(row.id)
    assert [m["To"] for m in smtp.messages] == ["ann@a.example"]
    rhea = next(n for n in _rows(Channel.email) if n.recipient_contact_id == season.rhea.id)
    assert rhea.state is NotificationState.cancelled and len(_rows(Channel.in_app)) == 2


def test_a_reminder_paid_before_its_mail_leaves_sends_nothing(season, smtp):
    """Every voucher of the date is paid between the reminder and its delivery: the mails are cancelled."""
    voucher_reminders.remind(season.today, days_before=(3,))
    for voucher in db.session.query(TaxVoucher).filter_by(entity_id=season.a.id, due_date=season.due):
        voucher.status, voucher.paid_on = VoucherStatus.paid, season.today
    db.session.commit()
    for row in _rows(Channel.email):
        delivery.deliver(row.id)
    assert smtp.messages == []
    assert {(n.state, n.last_error) for n in _rows(Channel.email)} == {(NotificationState.cancelled, "paid")}


def test_the_firm_edits_its_payment_hosts_as_bare_host_names(app, client, login, desk):
    """A URL or a wildcard in the list is a form error; good lines are saved trimmed and lower-cased."""
    with app.app_context():
        assert payment_hosts.allowed_hosts() == HOSTS  # the defaults
    login(client, desk.admin)
    token = csrf_token(client, "/firmsettingsview/edit/1")
    form = {"csrf_token": token, "firm_name": "Ledger", "notification_delay": "300", "max_upload_bytes": "10485760",
            "second_factor_roles": ["Admin", "Staff Admin"], "idle_timeout_minutes": "30", "absolute_timeout_hours": "12"}
    refused = client.post("/firmsettingsview/edit/1",
                          data=dict(form, payment_hosts="irs.gov\nhttps://evil.example/\n*.evil.example"))
    assert refused.status_code == 200 and "Not a bare host name (like irs.gov): https://evil.example/, " \
        "*.evil.example" in refused.get_data(as_text=True)
    assert client.post("/firmsettingsview/edit/1", data=dict(form, payment_hosts=" IRS.gov \n\nPay.Example.COM.\n")
                       ).status_code == 302
    with app.app_context():
        assert get_settings().payment_hosts == "irs.gov\npay.example.com"
        assert payment_hosts.allowed_hosts() == ["irs.gov", "pay.example.com"]


def test_demo_vouchers_follow_the_rules_and_seed_once(ctx):
    """The demo season passes the voucher rules (links on the default hosts) and a second run adds nothing."""
    from app.demo.vouchers import SEASON, seed_vouchers

    accountant = f.staff(R.STAFF)
    entity = f.entity("Demo Co", responsible=accountant)
    seed_vouchers(entity)
    seed_vouchers(entity)
    vouchers = db.session.query(TaxVoucher).filter_by(entity_id=entity.id).all()
    assert len(vouchers) == len(SEASON)
    for voucher in vouchers:
        assert service.check_payment_url(voucher.payment_url) == voucher.payment_url
        assert service.check_amount(voucher.amount) == voucher.amount
    groups = service.due_groups(accountant, entity)
    assert groups["overdue"] and groups["upcoming"] and groups["past"]


# 12 -------------------------------------------------------------------------------------------------
def test_a_voucher_csv_row_due_in_year_one_is_refused(app, login, world):
    """Voucher CSV row due 0001-01-02 was imported (Mark paid then overflowed): now refused, no overflow."""
    staff = app.test_client()
    login(staff, world.acc)
    token = csrf_token(staff, "/taxvoucherview/import")
    text = "tax_year,authority,form_period,amount,due_date\n2026,IRS,Q1,1.00,0001-01-02\n"
    response = staff.post("/taxvoucherview/import", data={
        "csrf_token": token, "entity": str(world.a), "file": (io.BytesIO(text.encode()), "s.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 200  # the form again, with the row's error
    assert "YYYY-MM-DD" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(TaxVoucher.id))) == 0
    assert vouchers.check_paid_on(date(2026, 1, 1), date(1, 1, 2), today=date(2026, 6, 1)) == date(2026, 1, 1)
