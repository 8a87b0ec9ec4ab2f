"""Portal tax payments: vouchers grouped by due date with Decimal totals, the summary of one date, Pay
(only to the firm's payment hosts, never a redirect), Mark as paid (who and when), scope and query counts."""
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import insert

from app.extensions import db
from app.models import ActivityEvent, Entity, TaxVoucher
from app.models.vouchers import VoucherStatus
from app.security import roles as R
from app.services import vouchers as service
from app.services.firm import get_settings
from tests import factories as f
from tests.conftest import csrf_token

TODAY = date.today()
OVERDUE, SOON, LATER, PAST = (TODAY - timedelta(days=10), TODAY + timedelta(days=3), TODAY + timedelta(days=40),
                              TODAY - timedelta(days=100))
IRS = "https://www.irs.gov/payments/direct-pay"


def _add(entity_id, form_period, amount, due, status=VoucherStatus.unpaid, url=IRS, authority="IRS"):
    voucher = TaxVoucher(entity_id=entity_id, tax_year=2026, authority=authority, form_period=form_period,
                         amount=Decimal(amount), due_date=due, status=status, payment_url=url,
                         paid_on=due if status is VoucherStatus.paid else None,
                         confirmation_number="OLD-1" if status is VoucherStatus.paid else None)
    db.session.add(voucher)
    db.session.commit()
    return voucher.id


@pytest.fixture
def office(app):
    """Entity A (Cora collaborator, Rhea reader) with vouchers on four dates; entity B (Stan) with one."""
    with app.app_context():
        accountant = f.staff(R.STAFF)
        a, b = f.entity("Alpha Co", responsible=accountant), f.entity("Beta Co", responsible=accountant)
        cora = f.portal_contact(a, R.ENTITY_COLLABORATOR, first="Cora")
        rhea = f.portal_contact(a, R.ENTITY_ACCESS, first="Rhea")
        stan = f.portal_contact(b, R.ENTITY_COLLABORATOR, first="Stan")
        ids = SimpleNamespace(
            a=a.id, b=b.id, cora=cora.id, rhea=rhea.id, stan=stan.id, cora_user=cora.user.id, rhea_user=rhea.user.id,
            overdue=_add(a.id, "1040-ES Q2", "3250.00", OVERDUE),
            soon1=_add(a.id, "1040-ES Q3", "0.10", SOON),
            soon2=_add(a.id, "ME Q3", "0.20", SOON, url=None, authority="Maine Revenue"),
            soon3=_add(a.id, "Paid Q3", "1000.05", SOON, status=VoucherStatus.paid),
            later=_add(a.id, "1040-ES Q4", "1,234.56".replace(",", ""), LATER),
            past=_add(a.id, "1040-ES Q1", "99.99", PAST, status=VoucherStatus.paid),
            theirs=_add(b.id, "Beta Q3", "777.00", SOON),
        )
        return ids


def test_vouchers_are_grouped_by_due_date_with_decimal_totals(app, office):
    """Overdue first, then upcoming nearest first, then paid dates; totals are exact Decimals."""
    with app.test_request_context():
        cora = app.appbuilder.sm.get_user_by_id(office.cora_user)
        groups = service.due_groups(cora, db.session.get(Entity, office.a))
    assert [g.due_date for g in groups["overdue"]] == [OVERDUE]
    assert [g.due_date for g in groups["upcoming"]] == [SOON, LATER]
    assert [g.due_date for g in groups["past"]] == [PAST]
    soon = groups["upcoming"][0]
    assert (soon.count, soon.unpaid, soon.total, soon.unpaid_total) == (3, 2, Decimal("1000.35"), Decimal("0.30"))
    assert all(isinstance(g.total, Decimal) for k in groups for g in groups[k])
    assert groups["overdue"][0].overdue and not soon.overdue and not groups["past"][0].overdue


def test_payments_page_lists_dates_with_totals_and_marks_overdue(client, portal_login, office):
    """The page shows each date once with its count, total and status; the overdue date is marked in text."""
    portal_login(client, office.cora)
    body = client.get("/portal/payments").get_data(as_text=True)
    assert "<title>Tax payments" in body and "<h1>Tax payments" in body
    order = [body.index(f'datetime="{d.isoformat()}"') for d in (OVERDUE, SOON, LATER, PAST)]
    assert order == sorted(order)
    overdue_row = body[body.index('class="is-overdue"'):body.index("</tr>", body.index('class="is-overdue"'))]
    assert "Overdue" in overdue_row and "3,250.00" in overdue_row
    assert "1,000.35" in body and "0.30 still to pay" in body and "All paid" in body
    assert "Beta Q3" not in body and "777.00" not in body
    assert f'href="/portal/payments/{SOON.isoformat()}"' in body


def test_summary_shows_each_voucher_and_the_total(client, portal_login, office):
    """One date's page: every voucher with its facts and Pay / Mark as paid for unpaid ones, the total."""
    portal_login(client, office.cora)
    response = client.get(f"/portal/payments/{SOON.isoformat()}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>Tax payments due on" in body
    for text in ("1040-ES Q3", "ME Q3", "Maine Revenue", "Paid Q3", "0.10", "0.20", "1,000.05", "OLD-1", "2026"):
        assert text in body
    assert re.search(r'class="num total"[^>]*><strong>\$1,000.35</strong>', body)
    assert f'/portal/payments/voucher/{office.soon1}/pay"' in body
    assert f'/portal/payments/voucher/{office.soon2}/pay"' not in body  # no link: "contact the firm"
    assert "No online payment link" in body
    assert f'/portal/payments/voucher/{office.soon3}/paid"' not in body  # already paid
    assert "Beta Q3" not in body


@pytest.mark.parametrize("day", ["2026-13-01", "2026-1-01", "yesterday", "2026-09-15x", "٢٠٢٦-٠٩-١٥"])
def test_malformed_or_empty_dates_are_404(client, portal_login, office, day):
    """A date that does not parse is 404."""
    portal_login(client, office.cora)
    assert client.get(f"/portal/payments/{day}").status_code == 404


def test_a_date_without_vouchers_is_404(client, portal_login, office):
    """A well-formed date with no voucher of the entity is 404 (not an empty page)."""
    portal_login(client, office.cora)
    assert client.get(f"/portal/payments/{(TODAY + timedelta(days=1)).isoformat()}").status_code == 404


def test_mark_paid_records_who_and_when(app, client, portal_login, office):
    """Cora marks a voucher paid: paid on, confirmation, marked by her account at now, a voucher.paid event."""
    portal_login(client, office.cora)
    url = f"/portal/payments/voucher/{office.soon1}/paid"
    token = csrf_token(client, url)
    before = datetime.now().replace(microsecond=0)
    response = client.post(url, data={"csrf_token": token, "paid_on": TODAY.isoformat(),
                                      "confirmation_number": "  DP-2026-0915  "})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/portal/payments/{SOON.isoformat()}")
    with app.app_context():
        voucher = db.session.get(TaxVoucher, office.soon1)
        assert voucher.status is VoucherStatus.paid and voucher.paid_on == TODAY
        assert voucher.confirmation_number == "DP-2026-0915" and voucher.marked_paid_by_id == office.cora_user
        assert voucher.marked_paid_at >= before
        event = db.session.query(ActivityEvent).filter_by(verb="voucher.paid").one()
        assert (event.actor_id, event.entity_id, event.object_id) == (office.cora_user, office.a, office.soon1)
    body = client.get(f"/portal/payments/{SOON.isoformat()}").get_data(as_text=True)
    assert "DP-2026-0915" in body and "Marked by Cora" in body
    again = client.post(url, data={"csrf_token": token, "paid_on": TODAY.isoformat(), "confirmation_number": "X"})
    assert again.status_code == 302
    with app.app_context():
        assert db.session.get(TaxVoucher, office.soon1).confirmation_number == "DP-2026-0915"


def test_staff_see_who_marked_a_voucher_paid_and_when(app, client, login, portal_login, office):
    """After Cora marks it, the staff list shows her name and the time in the marked-by columns."""
    portal_login(client, office.cora)
    url = f"/portal/payments/voucher/{office.later}/paid"
    client.post(url, data={"csrf_token": csrf_token(client, url), "paid_on": TODAY.isoformat(),
                           "confirmation_number": "CONF-9"})
    with app.app_context():
        accountant = db.session.get(Entity, office.a).responsible_id
    login(client, accountant)
    listing = client.get("/taxvoucherview/list/").get_data(as_text=True)
    row = listing[listing.index("CONF-9") - 600:listing.index("CONF-9") + 400]
    assert "Cora" in row and TODAY.isoformat() in row


def test_entity_access_contacts_may_mark_paid_and_extra_fields_are_ignored(app, client, portal_login, office):
    """Rhea (Entity Access) marks a voucher paid; posted amount, entity_id, status and marked_paid_by are ignored."""
    portal_login(client, office.rhea)
    url = f"/portal/payments/voucher/{office.overdue}/paid"
    response = client.post(url, data={
        "csrf_token": csrf_token(client, url), "paid_on": OVERDUE.isoformat(), "confirmation_number": "R-1",
        "amount": "0.01", "entity_id": office.b, "status": "unpaid", "marked_paid_by_id": office.cora_user})
    assert response.status_code == 302
    with app.app_context():
        voucher = db.session.get(TaxVoucher, office.overdue)
        assert (voucher.amount, voucher.entity_id, voucher.status) == (Decimal("3250.00"), office.a, VoucherStatus.paid)
        assert voucher.marked_paid_by_id == office.rhea_user


@pytest.mark.parametrize("fields,message", [
    ({"paid_on": (TODAY + timedelta(days=1)).isoformat()}, "The payment date cannot be in the future."),
    ({"paid_on": (SOON - timedelta(days=400)).isoformat()}, "more than a year before the due date"),
    ({"paid_on": ""}, "Enter the date you paid."),
    ({"paid_on": "15.09.2026"}, "Not a valid date value."),
    ({"confirmation_number": "   "}, "Enter the confirmation number"),
    ({"confirmation_number": "x" * 101}, "At most 100 characters."),
    ({"confirmation_number": "a\x01b"}, "Use one line of at most 100 characters."),
])
def test_mark_paid_refuses_bad_dates_and_confirmation_numbers(app, client, portal_login, office, fields, message):
    """Each refusal shows on the form and the voucher stays unpaid."""
    portal_login(client, office.cora)
    url = f"/portal/payments/voucher/{office.soon1}/paid"
    data = {"csrf_token": csrf_token(client, url), "paid_on": TODAY.isoformat(), "confirmation_number": "OK-1"}
    data.update(fields)
    response = client.post(url, data=data)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(TaxVoucher, office.soon1).status is VoucherStatus.unpaid


def test_mark_paid_without_csrf_is_400(app, client, portal_login, office):
    """No CSRF token: 400 and the voucher stays unpaid."""
    portal_login(client, office.cora)
    response = client.post(f"/portal/payments/voucher/{office.soon1}/paid",
                           data={"paid_on": TODAY.isoformat(), "confirmation_number": "X-1"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(TaxVoucher, office.soon1).status is VoucherStatus.unpaid


def test_a_contact_of_another_entity_gets_404_on_every_voucher_route(app, client, portal_login, office):
    """Stan (entity B) reaches none of A's vouchers: summary, ?entity=A, pay and mark paid are all 404."""
    portal_login(client, office.stan)
    token = csrf_token(client, f"/portal/payments/voucher/{office.theirs}/paid")
    for path in (f"/portal/payments/{OVERDUE.isoformat()}", f"/portal/payments/{SOON.isoformat()}?entity={office.a}",
                 f"/portal/payments?entity={office.a}", f"/portal/payments/voucher/{office.soon1}/pay",
                 f"/portal/payments/voucher/{office.soon1}/paid"):
        assert client.get(path).status_code == 404, path
    response = client.post(f"/portal/payments/voucher/{office.soon1}/paid",
                           data={"csrf_token": token, "paid_on": TODAY.isoformat(), "confirmation_number": "X"})
    assert response.status_code == 404
    own = client.get(f"/portal/payments/{SOON.isoformat()}").get_data(as_text=True)
    assert "Beta Q3" in own and "1040-ES Q3" not in own
    with app.app_context():
        assert db.session.get(TaxVoucher, office.soon1).status is VoucherStatus.unpaid


def test_an_entity_access_contact_of_b_gets_404_everywhere(app, client, portal_login, office):
    """An Entity Access contact of B sees B's vouchers only; every route with A's ids is 404."""
    with app.app_context():
        reader = f.portal_contact(db.session.get(Entity, office.b), R.ENTITY_ACCESS, first="Bea").id
    portal_login(client, reader)
    for voucher_id in (office.overdue, office.soon1, office.soon3, office.past):
        assert client.get(f"/portal/payments/voucher/{voucher_id}/pay").status_code == 404
        assert client.get(f"/portal/payments/voucher/{voucher_id}/paid").status_code == 404
    assert client.get(f"/portal/payments/{PAST.isoformat()}").status_code == 404
    assert client.get(f"/portal/payments/voucher/{office.theirs}/pay").status_code == 200


def _pay(client, app, office, url, hosts=None):
    with app.app_context():
        db.session.get(TaxVoucher, office.soon1).payment_url = url
        if hosts is not None:
            get_settings().payment_hosts = hosts
        db.session.commit()
    return client.get(f"/portal/payments/voucher/{office.soon1}/pay")


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "//evil.example/pay", "https://evil.example/pay", "https://irs.gov.evil.example/",
    "http://www.irs.gov/payments", "https://evil.example/?https://irs.gov", "https://user@evil.example",
    "https://www.irs.gov@evil.example/", "data:text/html,<script>alert(1)</script>",
    "https://www.irs.gov\\@evil.example",
])
def test_pay_never_leaves_for_a_host_off_the_allow_list(app, client, portal_login, office, url):
    """A stored link off the allow-list (saved before the rules, or by hand): a clear page, no redirect, no link."""
    portal_login(client, office.cora)
    response = _pay(client, app, office, url)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "This payment link is not allowed; contact the firm" in body
    assert "evil.example" not in body and "javascript:" not in body and "You are leaving" not in body


def test_pay_shows_where_the_client_goes_for_allowed_hosts(app, client, portal_login, office):
    """An allowed link: an interstitial naming the host, with a plain link (no redirect, no referrer)."""
    portal_login(client, office.cora)
    response = _pay(client, app, office, IRS)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "You are leaving for www.irs.gov" in body
    assert f'href="{IRS}" rel="noopener noreferrer" referrerpolicy="no-referrer"' in body


def test_removing_a_host_from_the_firms_list_stops_pay_at_once(app, client, portal_login, office):
    """A link saved while its host was allowed is refused once the firm takes the host off the list."""
    portal_login(client, office.cora)
    response = _pay(client, app, office, IRS, hosts="eftps.gov\nemta.ee")
    assert "This payment link is not allowed" in response.get_data(as_text=True)
    summary = client.get(f"/portal/payments/{SOON.isoformat()}").get_data(as_text=True)
    assert f"/portal/payments/voucher/{office.soon1}/pay" not in summary


def test_the_nav_shows_tax_payments_only_for_entities_with_vouchers(app, client, portal_login, office):
    """Entity A has vouchers: "Tax payments" is in the navigation; an entity without vouchers: not there."""
    portal_login(client, office.cora)
    assert 'href="/portal/payments"' in client.get("/portal/").get_data(as_text=True)
    with app.app_context():
        other = f.portal_contact(f.entity("Gamma Co"), first="Gus").id
    portal_login(client, other)
    assert 'href="/portal/payments"' not in client.get("/portal/").get_data(as_text=True)
    assert "There are no tax payments for you here." in client.get("/portal/payments").get_data(as_text=True)


def test_marking_paid_stays_out_of_recent_activity(app, client, portal_login, office):
    """The portal home's recent activity does not list voucher.paid events."""
    portal_login(client, office.cora)
    url = f"/portal/payments/voucher/{office.soon1}/paid"
    client.post(url, data={"csrf_token": csrf_token(client, url), "paid_on": TODAY.isoformat(),
                           "confirmation_number": "HOME-1"}, follow_redirects=True)
    home = client.get("/portal/").get_data(as_text=True)
    assert "HOME-1" not in home and "1040-ES Q3" not in home


def _bulk(app, entity_id, n):
    """n more vouchers spread over n // 4 due dates (bulk insert), half of them paid."""
    rows = [dict(entity_id=entity_id, tax_year=2026, authority="IRS", form_period=f"Bulk {i}",
                 amount=Decimal("10.01"), due_date=TODAY + timedelta(days=(i % max(1, n // 4)) - n // 8),
                 status=VoucherStatus.paid if i % 2 else VoucherStatus.unpaid, payment_url=IRS,
                 created_on=datetime.now()) for i in range(n)]
    with app.app_context():
        db.session.execute(insert(TaxVoucher), rows)
        db.session.commit()


def test_payment_pages_run_a_fixed_number_of_queries(app, client, portal_login, count_queries, office):
    """10 or 1,000 vouchers: the list page and a date's summary run the same number of SQL statements."""
    portal_login(client, office.cora)
    counts = []
    for n in (10, 990):
        _bulk(app, office.a, n)
        pages = ("/portal/payments", f"/portal/payments/{TODAY.isoformat()}")
        for path in pages:
            assert client.get(path).status_code == 200
        measured = []
        for path in pages:
            with count_queries() as queries:
                client.get(path)
            measured.append(queries())
        counts.append(measured)
    assert counts[0] == counts[1], counts
    with app.app_context():
        assert db.session.query(TaxVoucher).filter_by(entity_id=office.a).count() == 1006


def test_a_reminder_shows_in_the_portal_bell_and_opens_that_dates_payments(app, client, portal_login, office):
    """The daily job reminds Cora 3 days ahead; her bell names the due date and links to its summary."""
    from app import jobs

    with app.app_context():
        assert jobs.send_voucher_reminders() == 2  # A and B have vouchers due in 3 days (REMINDER_DAYS_BEFORE)
    portal_login(client, office.cora)
    body = client.get("/portal/notifications").get_data(as_text=True)
    assert "Tax payments due on" in body and "3,250" not in body and "0.10" not in body
    with app.app_context():
        from app.models import Notification
        from app.models.notifications import Channel

        row = db.session.query(Notification).filter_by(recipient_contact_id=office.cora,
                                                      channel=Channel.in_app).one()
    token = csrf_token(client, f"/portal/payments/voucher/{office.soon1}/paid")
    opened = client.post(f"/portal/notifications/{row.id}/open", data={"csrf_token": token})
    assert opened.headers["Location"].endswith(f"/portal/payments/{SOON.isoformat()}?entity={office.a}")
