"""Tax vouchers: the rules of a voucher, the payment-link check, the portal's grouping by due date,
marking paid, and the days of reminders (voucher_reminders.py sends them). Views and the CSV import
only delegate here.

Amounts are Decimal from the form (or file) to the page: totals are summed in Python with Decimal,
never in floats (SQLite keeps NUMERIC as REAL, so even a SQL SUM would go through floats there).
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import TaxVoucher
from app.models.vouchers import VoucherStatus
from app.security import access
from app.security import roles as R
from app.services import activity
from app.services.payment_hosts import allowed_hosts, payment_target

MAX_AMOUNT = Decimal("9999999999.99")  # Numeric(12, 2)
AMOUNT_RE = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?\Z", re.ASCII)
MAX_CONFIRMATION = 100
PAID_ON_WINDOW = timedelta(days=366)  # a payment is never recorded more than a year before its due date


class VoucherError(ValueError):
    """A refused value or change; the message is for the user, `field` names the form field."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def parse_amount(raw):
    """A Decimal amount from text: "1234.50", "1234.5", "1234" or "1,234.50" (commas only as thousands
    separators in groups of three, a point for cents); never through float."""
    text = (raw or "").strip() if isinstance(raw, str) else raw
    if isinstance(text, Decimal):
        return check_amount(text)
    if not text:
        raise VoucherError(_("Enter the amount."), "amount")
    if text.startswith("-"):
        raise VoucherError(_("The amount cannot be negative."), "amount")
    if not AMOUNT_RE.match(text):
        raise VoucherError(_("Enter the amount like 1234.50 (a point before the cents, at most 2 decimals, "
                             "no currency sign)."), "amount")
    try:
        return check_amount(Decimal(text.replace(",", "")))
    except InvalidOperation:
        raise VoucherError(_("Enter the amount like 1234.50."), "amount")


def check_amount(value):
    """The amount itself: a finite Decimal from 0 to 9,999,999,999.99 with at most 2 decimals."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise VoucherError(_("Enter the amount like 1234.50."), "amount")
    if value < 0:
        raise VoucherError(_("The amount cannot be negative."), "amount")
    if value > MAX_AMOUNT:
        raise VoucherError(_("The amount is too large."), "amount")
    if value.as_tuple().exponent < -2:
        raise VoucherError(_("Use at most 2 decimals."), "amount")
    return value.quantize(Decimal("0.01"))


def check_payment_url(url):
    """A payment URL staff may save: empty, or one Pay would follow (same check as Pay)."""
    url = (url or "").strip()
    if url and payment_target(url) is None:
        raise VoucherError(_("The payment link must start with https:// and point to one of the firm's payment "
                             "hosts (%(hosts)s).", hosts=", ".join(allowed_hosts()) or _("none set")), "payment_url")
    return url or None


def check_text(value, field, limit):
    """A required one-line text of at most `limit` characters (trimmed)."""
    value = (value or "").strip()
    if not value:
        raise VoucherError(_("This field is required."), field)
    if len(value) > limit or any(ord(ch) < 32 for ch in value):
        raise VoucherError(_("Use one line of at most %(n)d characters.", n=limit), field)
    return value


def check_paid_on(paid_on, due_date, today=None):
    """A payment date: not in the future, not more than a year before the due date."""
    today = today or date.today()
    if paid_on is None:
        raise VoucherError(_("Enter the date it was paid."), "paid_on")
    if paid_on > today:
        raise VoucherError(_("The payment date cannot be in the future."), "paid_on")
    if due_date is not None and paid_on < due_date - min(PAID_ON_WINDOW, due_date - date.min):  # no overflow
        raise VoucherError(_("The payment date is more than a year before the due date."), "paid_on")
    return paid_on


def prepare(voucher, user, now=None):
    """Check and tidy a voucher staff add or edit (before it is saved). Paid ⇒ a payment date; a newly
    paid voucher records who marked it and when; setting it back to unpaid clears the payment details.
    Call `saved` after the commit."""
    became_paid = voucher.status is VoucherStatus.paid and _became_paid(voucher)  # before a query flushes it
    voucher.authority = check_text(voucher.authority, "authority", 100)
    voucher.form_period = check_text(voucher.form_period, "form_period", 50)
    voucher.amount = check_amount(voucher.amount)
    voucher.payment_url = check_payment_url(voucher.payment_url)
    voucher.confirmation_number = (voucher.confirmation_number or "").strip()[:MAX_CONFIRMATION] or None
    if voucher.status is VoucherStatus.paid:
        check_paid_on(voucher.paid_on, voucher.due_date)
        voucher.became_paid = became_paid
        if became_paid:
            voucher.marked_paid_by_id, voucher.marked_paid_at = user.id, now or datetime.now()
    else:
        voucher.status = VoucherStatus.unpaid
        voucher.paid_on = voucher.confirmation_number = voucher.marked_paid_by_id = voucher.marked_paid_at = None
    return voucher


def saved(voucher, user):
    """After staff saved a voucher: a newly paid one goes to the entity's activity (who marked it)."""
    if getattr(voucher, "became_paid", False):
        voucher.became_paid = False
        activity.record("voucher.paid", voucher.entity, voucher, actor=user,
                        summary=f"{voucher} — {voucher.confirmation_number or ''}".strip(" —"))


def _became_paid(voucher):
    """Whether this change turns the voucher paid (new and paid, or unpaid before)."""
    from sqlalchemy import inspect

    state = inspect(voucher)
    if state.transient or state.pending:
        return True
    history = state.attrs.status.history
    return bool(history.added) and VoucherStatus.paid not in (history.deleted or ())


@dataclass
class DueGroup:
    """The vouchers of one due date: how many, their total, how many are unpaid."""

    due_date: date
    count: int = 0
    total: Decimal = Decimal("0.00")
    unpaid: int = 0
    unpaid_total: Decimal = Decimal("0.00")
    overdue: bool = False


def due_groups(user, entity, today=None):
    """{"overdue", "upcoming", "past"} lists of DueGroup for the entity's vouchers `user` may see, in one
    query: overdue unpaid dates (oldest first), then today and later (nearest first), then past dates
    that are fully paid (latest first)."""
    today = today or date.today()
    rows = db.session.execute(select(TaxVoucher.due_date, TaxVoucher.amount, TaxVoucher.status).where(
        access.scope(user, TaxVoucher), TaxVoucher.entity_id == entity.id)).all()
    groups = {}
    for due_date, amount, status in rows:
        group = groups.setdefault(due_date, DueGroup(due_date))
        group.count += 1
        group.total += amount
        if status is VoucherStatus.unpaid:
            group.unpaid += 1
            group.unpaid_total += amount
    result = {"overdue": [], "upcoming": [], "past": []}
    for group in sorted(groups.values(), key=lambda g: g.due_date):
        group.overdue = group.unpaid > 0 and group.due_date < today
        key = "overdue" if group.overdue else "upcoming" if group.due_date >= today else "past"
        result[key].append(group)
    result["past"].reverse()
    return result


def vouchers_due(user, entity, due_date):
    """The entity's vouchers due on `due_date` that `user` may see (who marked them paid loaded too)."""
    return db.session.scalars(
        access.visible(user, TaxVoucher).where(TaxVoucher.entity_id == entity.id, TaxVoucher.due_date == due_date)
        .options(joinedload(TaxVoucher.marked_paid_by))
        .order_by(TaxVoucher.authority, TaxVoucher.form_period, TaxVoucher.id)).all()


def total(vouchers, status=None):
    """The Decimal sum of the vouchers' amounts (of one status if given)."""
    return sum((v.amount for v in vouchers if status is None or v.status is status), Decimal("0.00"))


def mark_paid(voucher, user, paid_on, confirmation, today=None):
    """A client (or staff) marks the voucher paid with the date and the authority's confirmation number;
    records who and when. Atomic: of two people marking at once, the second is told it is already paid."""
    if not access.can(user, R.VIEW, voucher):
        raise VoucherError(_("This voucher is not shared with you."))
    check_paid_on(paid_on, voucher.due_date, today)
    confirmation = check_text(confirmation, "confirmation_number", MAX_CONFIRMATION)
    now = datetime.now()
    changed = db.session.execute(
        update(TaxVoucher).where(TaxVoucher.id == voucher.id, TaxVoucher.status == VoucherStatus.unpaid)
        .values(status=VoucherStatus.paid, paid_on=paid_on, confirmation_number=confirmation,
                marked_paid_by_id=user.id, marked_paid_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if not changed:
        db.session.rollback()
        raise VoucherError(_("This voucher is already marked as paid."))
    activity.record("voucher.paid", voucher.entity, voucher, actor=user,
                    summary=f"{voucher} — {confirmation}", commit=False)
    db.session.commit()
    db.session.refresh(voucher)
    return voucher


def reminder_days():
    """Days before a due date when reminders go out (REMINDER_DAYS_BEFORE, e.g. "3,0")."""
    raw = str(current_app.config.get("REMINDER_DAYS_BEFORE", "3,0"))
    return tuple(sorted({int(d) for d in raw.split(",") if d.strip()}))


def still_due(voucher):
    """Whether any voucher of the same entity and due date is still unpaid (a reminder still applies)."""
    return db.session.scalar(select(TaxVoucher.id).where(
        TaxVoucher.entity_id == voucher.entity_id, TaxVoucher.due_date == voucher.due_date,
        TaxVoucher.status == VoucherStatus.unpaid).limit(1)) is not None


def create_voucher(entity, user, **values):
    """A voucher staff add (the Tax vouchers screen's rules): the user must work on the entity."""
    if not access.can(user, R.WORK, entity):
        raise VoucherError(_("You may not add vouchers to this entity."), "entity_id")
    voucher = TaxVoucher(entity=entity, **values)
    return _save(voucher, user, new=True)


def update_voucher(voucher, user, **changes):
    """Change a voucher as the screen's edit form does (the same rules; a voucher stays with its entity)."""
    for field, value in changes.items():
        setattr(voucher, field, value)
    return _save(voucher, user)


def _save(voucher, user, new=False):
    try:
        with db.session.no_autoflush:
            voucher.amount = parse_amount(voucher.amount)  # text ("1234.50") or Decimal, never float
            prepare(voucher, user)
    except VoucherError:
        db.session.rollback()  # the refused values never reach the row
        raise
    if new:
        db.session.add(voucher)
    db.session.commit()
    saved(voucher, user)
    return voucher


def delete_voucher(voucher, user):
    """Delete a voucher (staff who work on its entity)."""
    if not access.can(user, R.WORK, voucher):
        raise VoucherError(_("You may not change this voucher."))
    db.session.delete(voucher)
    db.session.commit()
