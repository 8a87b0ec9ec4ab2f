"""Portal tax payments: the current entity's vouchers grouped by due date, a due date's summary, Pay
(an interstitial to the authority's page, only for the firm's allow-listed payment hosts) and Mark as
paid with the date and confirmation number.

Vouchers come through the access scope: any contact who can see the entity (Entity Access included)
sees its vouchers and may mark them paid. Another entity's voucher, or a date without vouchers, is 404.
Only the date and confirmation number are read from a mark-paid form (amount, entity, status… ignored).
"""
import re
from datetime import date
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from app.models import TaxVoucher
from app.models.vouchers import VoucherStatus
from app.security import guard
from app.services import payment_hosts
from app.formats import money
from app.services import vouchers as service
from app.views.portal import bp, use_entity
from app.web import page_cache

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)
PAST_PAGE = 24  # fully paid past due dates shown per page


class MarkPaidForm(FlaskForm):
    """When the client paid, and the authority's confirmation number."""

    paid_on = DateField(_l("Paid on"), validators=[InputRequired(message=_l("Enter the date you paid."))])
    confirmation_number = StringField(_l("Confirmation number"), validators=[
        DataRequired(message=_l("Enter the confirmation number the authority gave you.")),
        Length(max=service.MAX_CONFIRMATION, message=_l("At most %(max)d characters."))])


def _entity_from_args():
    """The entity asked for with ?entity= (it must be one of the contact's), else the current one."""
    raw = request.args.get("entity", "")
    if raw:
        if not raw.isascii() or not raw.isdigit():
            abort(404)
        return use_entity(int(raw))
    if g.entity is None:
        abort(404)
    return g.entity


def _day(raw):
    """A YYYY-MM-DD date from the URL, else 404."""
    try:
        if not DAY_RE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        abort(404)


def _voucher(voucher_id):
    """A voucher the contact may see (its entity becomes the current one), else 404."""
    voucher = guard.load(current_user, TaxVoucher, voucher_id)
    use_entity(voucher.entity_id)
    return voucher


@bp.route("/payments")
@page_cache.cacheable
def payments():
    """The current entity's tax vouchers grouped by due date: overdue, upcoming, then paid ones."""
    if g.entity is None and not request.args.get("entity"):
        return render_template("portal/vouchers/index.html", groups=None, title=_("Tax payments"))
    entity = _entity_from_args()
    groups = service.due_groups(current_user, entity)
    page = request.args.get("page", 1, type=int) or 1
    pages = max(1, -(-len(groups["past"]) // PAST_PAGE))
    page = min(max(page, 1), pages)
    past = groups["past"][(page - 1) * PAST_PAGE:page * PAST_PAGE]
    return render_template("portal/vouchers/index.html", groups=groups, past=past, page=page, pages=pages,
                           money=money, today=date.today(), title=_("Tax payments"))


@bp.route("/payments/<day>")
def payment_summary(day):
    """Every voucher due on one date, with the total; Pay and Mark as paid for unpaid ones."""
    due_date = _day(day)
    entity = _entity_from_args()
    vouchers = service.vouchers_due(current_user, entity, due_date)
    if not vouchers:
        abort(404)
    hosts = payment_hosts.allowed_hosts()
    payable = {v.id for v in vouchers if v.payment_url and payment_hosts.payment_target(v.payment_url, hosts)}
    return render_template(
        "portal/vouchers/summary.html", vouchers=vouchers, due_date=due_date, payable=payable, money=money,
        total=service.total(vouchers), unpaid_total=service.total(vouchers, VoucherStatus.unpaid),
        overdue=due_date < date.today() and any(v.status is VoucherStatus.unpaid for v in vouchers),
        title=_("Tax payments due on %(date)s", date=_format_day(due_date)))


def _format_day(day):
    from flask_babel import format_date

    return format_date(day, "medium")


@bp.route("/payments/voucher/<int:voucher_id>/pay")
def payment_pay(voucher_id):
    """Before leaving for the authority's payment page: where it goes. A link off the firm's allow-list
    is never followed: the page says so instead (no redirect, no link)."""
    voucher = _voucher(voucher_id)
    target = payment_hosts.payment_target(voucher.payment_url) if voucher.payment_url else None
    host = urlsplit(target).hostname if target else None
    return render_template("portal/vouchers/pay.html", voucher=voucher, target=target, host=host, money=money,
                           title=_("Pay %(form)s", form=voucher.form_period))


@bp.route("/payments/voucher/<int:voucher_id>/paid", methods=["GET", "POST"])
def payment_mark_paid(voucher_id):
    """Mark a voucher paid with the payment date and the confirmation number."""
    voucher = _voucher(voucher_id)
    back = url_for("portal.payment_summary", day=voucher.due_date.isoformat())
    if voucher.status is VoucherStatus.paid:
        flash(_("This voucher is already marked as paid."), "info")
        return redirect(back)
    form = MarkPaidForm()
    if form.validate_on_submit():
        try:
            service.mark_paid(voucher, current_user, form.paid_on.data, form.confirmation_number.data)
        except service.VoucherError as exc:
            target = form[exc.field] if exc.field in ("paid_on", "confirmation_number") else None
            if target is None:
                flash(str(exc), "danger")
                return redirect(back)
            target.errors = list(target.errors) + [str(exc)]
        else:
            flash(_("%(form)s is marked as paid. Thank you!", form=voucher.form_period), "success")
            return redirect(back)
    elif request.method == "GET":
        form.paid_on.data = date.today()
    return render_template("portal/vouchers/mark_paid.html", voucher=voucher, form=form, money=money, back=back,
                           today_iso=date.today().isoformat(),
                           title=_("Mark %(form)s as paid", form=voucher.form_period))
