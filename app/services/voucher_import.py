"""Importing a season's tax vouchers for one entity from CSV: every row is checked first, and one
bad row means nothing of the file is saved (the errors name their line; the header is line 1).

The file: UTF-8 (a BOM is fine), at most 1 MB and 5,000 rows, a header naming the columns tax_year,
authority, form_period, amount, due_date (YYYY-MM-DD) and optionally payment_url, in any order.
Amounts are read as Decimal ("1234.50" or "1,234.50"); cells are trimmed.
"""
import re
from datetime import date

from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import TaxVoucher
from app.models.vouchers import VoucherStatus
from app.services import activity, tabular
from app.services.vouchers import VoucherError, check_payment_url, check_text, parse_amount

SPEC = tabular.TableSpec(
    required=("tax_year", "authority", "form_period", "amount", "due_date"), optional=("payment_url",),
    max_bytes=1024 * 1024, max_rows=5000,
    too_many=_l("The file has more than %(n)s vouchers. Split it into smaller files."))
# Refusals keep their name here: the screens catch voucher_import.ImportRefused.
ImportRefused = tabular.TableRefused
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)
YEAR_RE = re.compile(r"^\d{4}\Z", re.ASCII)
MIN_YEAR, MAX_YEAR = 2000, 2100


def import_csv(entity, file_storage, user):
    """Check the whole file, then add every voucher in one transaction; returns how many were added."""
    rows, errors = tabular.read(file_storage, SPEC)
    vouchers = []
    seen = _existing_keys(entity)
    for line, cells in rows:
        try:
            voucher = _voucher(entity, cells)
        except VoucherError as exc:
            errors.append(tabular.line(line, str(exc)))
            continue
        key = _key(voucher.tax_year, voucher.authority, voucher.form_period, voucher.due_date)
        if key in seen:
            errors.append(tabular.line(line, _("%(form)s (%(authority)s, %(year)s) due %(date)s is already there.",
                                        form=voucher.form_period, authority=voucher.authority,
                                        year=voucher.tax_year, date=voucher.due_date.isoformat())))
        seen.add(key)
        vouchers.append(voucher)
    if errors:
        raise ImportRefused(tabular.capped(errors))
    if not vouchers:
        raise ImportRefused([_("The file has no vouchers under its header.")])
    return _save(entity, vouchers, user, getattr(file_storage, "filename", "") or "")


def _voucher(entity, cells):
    """An unpaid voucher from one row's cells (every problem of the row in one message)."""
    problems, values = [], {}
    checks = {
        "tax_year": _year, "authority": lambda v: check_text(v, "authority", 100),
        "form_period": lambda v: check_text(v, "form_period", 50), "amount": parse_amount, "due_date": _date,
        "payment_url": check_payment_url,
    }
    for column, check in checks.items():
        try:
            values[column] = check(cells.get(column, ""))
        except VoucherError as exc:
            problems.append(f"{column}: {exc}")
    if problems:
        raise VoucherError("; ".join(problems))
    return TaxVoucher(entity_id=entity.id, status=VoucherStatus.unpaid, **values)


def _year(raw):
    if not YEAR_RE.match(raw or "") or not MIN_YEAR <= int(raw) <= MAX_YEAR:
        raise VoucherError(_("a year from %(min)d to %(max)d, e.g. 2026", min=MIN_YEAR, max=MAX_YEAR))
    return int(raw)


def _date(raw):
    try:
        if not DATE_RE.match(raw or ""):
            raise ValueError(raw)
        value = date.fromisoformat(raw)
        if not MIN_YEAR <= value.year <= MAX_YEAR + 1:  # the season's dates, not year 1 or 9999
            raise ValueError(raw)
        return value
    except ValueError:
        raise VoucherError(_("a date like 2026-09-15 (YYYY-MM-DD)"))


def _key(year, authority, form_period, due_date):
    return (year, authority.lower(), form_period.lower(), due_date)


def _existing_keys(entity):
    rows = db.session.execute(select(TaxVoucher.tax_year, func.lower(TaxVoucher.authority),
                                     func.lower(TaxVoucher.form_period), TaxVoucher.due_date)
                              .where(TaxVoucher.entity_id == entity.id)).all()
    return {tuple(row) for row in rows}


def _save(entity, vouchers, user, filename):
    """All rows and one activity event in one transaction (all or nothing)."""
    try:
        db.session.add_all(vouchers)
        activity.record("voucher.imported", entity, None, actor=user, commit=False,
                        summary=ngettext("%(num)d voucher from %(file)s", "%(num)d vouchers from %(file)s", len(vouchers),
                                         file=filename[:200]))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise ImportRefused([_("The vouchers could not be saved. Nothing was imported; please try again.")])
    return len(vouchers)
