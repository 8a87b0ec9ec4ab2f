"""/api/v1/tax-vouchers: the access matrix of tokens (foreign ids 404, wrong right 403, read-only 403), the
voucher rules (amounts as text, paid ⇒ payment date, back to unpaid clears it), ETag / If-Match, keyset
pages, bad input and statement counts."""
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import TaxVoucher
from app.security import roles as R
from app.services import vouchers
from tests import factories as f
from tests.api_helpers import call, is_problem, token_for, walk

URL = "/api/v1/tax-vouchers/"
NEW = {"tax_year": 2026, "authority": "IRS", "form_period": "1040-ES Q2", "amount": "1,234.50", "due_date": "2026-06-15"}


@pytest.fixture
def world(app):
    """A voucher of A and one of B; tokens of an Admin, a Staff Admin, an Owner and a Viewer of A, a Staff
    member without shares, and a read-only Owner token."""
    with app.app_context():
        a, b = f.entity("Alpha Co"), f.entity("Beta Co")
        users = {name: f.staff(role) for name, role in (
            ("admin", R.ADMIN), ("staff_admin", R.STAFF_ADMIN), ("owner", R.STAFF), ("viewer", R.STAFF),
            ("staff", R.STAFF))}
        f.share(a, R.OWNER, user=users["owner"])
        f.share(a, R.VIEWER, user=users["viewer"])
        va = vouchers.create_voucher(a, users["admin"], amount="10.00", due_date=date(2026, 4, 15), **_fields("Q1"))
        vb = vouchers.create_voucher(b, users["admin"], amount="20.00", due_date=date(2026, 4, 15), **_fields("Q1"))
        tokens = {name: token_for(user) for name, user in users.items()}
        return SimpleNamespace(a=a.id, b=b.id, va=va.id, vb=vb.id, read_only=token_for(users["owner"], scope="read"),
                               ids={n: u.id for n, u in users.items()}, **tokens)


def _fields(period):
    return {"tax_year": 2026, "authority": "IRS", "form_period": f"1040-ES {period}"}


def _snapshot(app):
    with app.app_context():
        return sorted((v.id, v.entity_id, str(v.amount), v.status.value, v.paid_on) for v in db.session.scalars(select(TaxVoucher)))


def _etag(client, token, pk):
    return call(client, "GET", f"{URL}{pk}", token).headers.get("ETag", '"none"')


@pytest.mark.parametrize("who", ["owner", "viewer", "staff"])
def test_scoped_token_gets_404_on_foreign_vouchers_and_changes_nothing(app, client, world, who):
    """A scoped member's token × B's voucher: read, change, delete 404; adding one to B 422; the list leaves it out."""
    token, before = getattr(world, who), _snapshot(app)
    etag = _etag(client, world.admin, world.vb)
    for method, body in (("GET", None), ("PATCH", {"amount": "1.00"}), ("DELETE", None)):
        assert is_problem(call(client, method, f"{URL}{world.vb}", token, json=body, headers={"If-Match": etag}), 404)
    assert is_problem(call(client, "POST", URL, token, json={"entity_id": world.b, **NEW}), 422)
    assert world.vb not in [v["id"] for v in call(client, "GET", URL, token).get_json()["items"]]
    assert _snapshot(app) == before


def test_wrong_right_and_read_only_token_are_403(app, client, world):
    """A Staff Admin (the screen read-only) and the Owner's read-only token read A's voucher; adding, changing
    and deleting are 403 with nothing changed."""
    before = _snapshot(app)
    for token in (world.staff_admin, world.read_only):
        assert call(client, "GET", f"{URL}{world.va}", token).status_code == 200
        etag = _etag(client, token, world.va)
        assert is_problem(call(client, "PATCH", f"{URL}{world.va}", token, json={"amount": "1.00"},
                               headers={"If-Match": etag}), 403)
        assert is_problem(call(client, "DELETE", f"{URL}{world.va}", token, headers={"If-Match": etag}), 403)
        assert is_problem(call(client, "POST", URL, token, json={"entity_id": world.a, **NEW}), 403)
    assert _snapshot(app) == before


def test_owner_adds_marks_paid_unpays_and_deletes(app, client, world):
    """An Owner adds a voucher (amount parsed exactly), marks it paid (who and when recorded; If-Match needed),
    sets it back to unpaid (payment details cleared) and deletes it."""
    created = call(client, "POST", URL, world.owner, json={"entity_id": world.a, **NEW})
    assert created.status_code == 201, created.get_data(as_text=True)
    body, path = created.get_json(), created.headers["Location"]
    assert (body["amount"], body["status"]) == ("1234.50", "unpaid")
    assert is_problem(call(client, "PATCH", path, world.owner, json={"status": "paid"}), 428)
    paid_on = (date.today() - timedelta(days=1)).isoformat()
    paid = call(client, "PATCH", path, world.owner, json={"status": "paid", "paid_on": paid_on,
                                                          "confirmation_number": "EFT-1"},
                headers={"If-Match": created.headers["ETag"]})
    assert paid.status_code == 200 and paid.get_json()["marked_paid_by_id"] == world.ids["owner"]
    unpaid = call(client, "PATCH", path, world.owner, json={"status": "unpaid"}, headers={"If-Match": paid.headers["ETag"]})
    assert (unpaid.get_json()["paid_on"], unpaid.get_json()["confirmation_number"]) == (None, None)
    assert call(client, "DELETE", path, world.owner, headers={"If-Match": unpaid.headers["ETag"]}).status_code == 204
    with app.app_context():
        assert db.session.get(TaxVoucher, body["id"]) is None


@pytest.mark.parametrize("change", [
    {"amount": "-5"}, {"amount": "1.234"}, {"amount": "12,34"}, {"amount": 12.5}, {"amount": "99999999999"},
    {"status": "paid"}, {"status": "paid", "paid_on": "2999-01-01"}, {"payment_url": "http://evil.example/pay"},
    {"tax_year": 1999}, {"tax_year": "2026"}, {"authority": ""}, {"authority": "a\nb"}, {"due_date": "soon"},
    {"status": "lost"}, {"marked_paid_by_id": 1}, {"created_on": "2020-01-01"},
])
def test_bad_voucher_input_is_422_and_changes_nothing(app, client, world, change):
    """Negative, over-precise, badly grouped, float or huge amounts, paid without (or with a future) date,
    links off the firm's hosts, bad years, blank or multi-line text, read-only fields: 422 on add and change."""
    before = _snapshot(app)
    assert is_problem(call(client, "POST", URL, world.owner, json={"entity_id": world.a, **{**NEW, **change}}), 422)
    response = call(client, "PATCH", f"{URL}{world.va}", world.owner, json=change,
                    headers={"If-Match": _etag(client, world.owner, world.va)})
    assert is_problem(response, 422), response.status_code
    assert _snapshot(app) == before


def test_voucher_list_filters_keyset_and_fixed_statements(app, client, world, count_queries):
    """entity_id and status narrow the list; a page of 2 or 30 vouchers runs the same statements; pages of 4
    walk the Owner's once."""
    assert [v["id"] for v in call(client, "GET", URL, world.admin, query_string={
        "entity_id": str(world.a), "status": "unpaid"}).get_json()["items"]] == [world.va]
    assert is_problem(call(client, "GET", URL, world.admin, query_string={"tax_year": "1800"}), 400)
    with count_queries() as n:
        call(client, "GET", URL, world.admin)
    few = n()
    with app.app_context():
        voucher = db.session.get(TaxVoucher, world.va)
        db.session.add_all(TaxVoucher(entity_id=voucher.entity_id, amount=Decimal("1.00"), due_date=date(2026, 9, 15),
                                      **_fields(f"Q{k}")) for k in range(28))
        db.session.commit()
    with count_queries() as n:
        assert len(call(client, "GET", URL, world.admin).get_json()["items"]) == 30
    assert n() == few
    ids = [row["id"] for row in walk(client, URL, world.owner, 4)[0]]
    assert len(ids) == len(set(ids)) == 29 and world.vb not in ids
