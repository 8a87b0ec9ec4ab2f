"""Demo tax vouchers: a season of estimated payments around today (one overdue, one paid, some
coming up), for a demo entity that has none yet."""
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models import TaxVoucher
from app.models.vouchers import VoucherStatus

IRS_PAY = "https://www.irs.gov/payments/direct-pay"
EMTA_PAY = "https://www.emta.ee/en/business-client/taxes-and-payment/payment-and-prepayment"

# days from today, authority, form / period, amount, payment link, paid
SEASON = [
    (-75, "IRS", "1040-ES Q1", "3250.00", IRS_PAY, True),
    (-12, "IRS", "1040-ES Q2", "3250.00", IRS_PAY, False),
    (-12, "Maine Revenue Services", "1040ES-ME Q2", "640.00", None, False),
    (5, "IRS", "1040-ES Q3", "3400.00", IRS_PAY, False),
    (5, "Maine Revenue Services", "1040ES-ME Q3", "655.50", None, False),
    (5, "Estonian Tax and Customs Board", "Advance income tax", "1210.00", EMTA_PAY, False),
    (96, "IRS", "1040-ES Q4", "3400.00", IRS_PAY, False),
]


def seed_vouchers(entity):
    """Give `entity` a season of vouchers, unless it already has some."""
    if db.session.scalar(select(TaxVoucher.id).where(TaxVoucher.entity_id == entity.id).limit(1)):
        return
    today = date.today()
    for days, authority, form_period, amount, url, paid in SEASON:
        due = today + timedelta(days=days)
        voucher = TaxVoucher(entity_id=entity.id, tax_year=today.year, authority=authority, form_period=form_period,
                             amount=Decimal(amount), due_date=due, payment_url=url, status=VoucherStatus.unpaid)
        if paid:
            voucher.status, voucher.paid_on = VoucherStatus.paid, due - timedelta(days=2)
            voucher.confirmation_number = f"DP-{due:%Y%m%d}-4471"
            voucher.marked_paid_by_id = entity.responsible_id
            voucher.marked_paid_at = datetime.combine(due - timedelta(days=2), datetime.min.time())
        db.session.add(voucher)
    db.session.commit()
