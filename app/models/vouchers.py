"""Tax vouchers: what a client owes which authority, and when."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Column, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, func
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class VoucherStatus(enum.Enum):
    """Whether the voucher has been paid."""

    unpaid = "unpaid"
    paid = "paid"


VOUCHER_STATUS_LABELS = {VoucherStatus.unpaid: _l("Unpaid"), VoucherStatus.paid: _l("Paid")}


class TaxVoucher(Model):
    """One payment of an entity to a tax authority (e.g. "1040-ES Q3" to the IRS), with its due date."""

    __tablename__ = "tax_voucher"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="ck_tax_voucher_amount"),
        Index("ix_tax_voucher_entity_due", "entity_id", "due_date"),
        Index("ix_tax_voucher_due_date", "due_date"),
    )

    id = Column(Integer, primary_key=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False)
    entity = relationship("Entity")
    tax_year = Column(Integer, nullable=False)
    authority = Column(String(100), nullable=False)
    form_period = Column(String(50), nullable=False)
    amount = Column(Numeric(12, 2), nullable=False)
    due_date = Column(Date, nullable=False)
    payment_url = Column(String(500))
    status = Column(enum_column_type(VoucherStatus, "voucher_status"), nullable=False, default=VoucherStatus.unpaid)
    paid_on = Column(Date)
    confirmation_number = Column(String(100))
    marked_paid_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    marked_paid_by = relationship("User", foreign_keys=[marked_paid_by_id])
    marked_paid_at = Column(DateTime)
    created_on = Column(DateTime, nullable=False, default=func.now())

    def status_label(self):
        """The status in the reader's language."""
        return VOUCHER_STATUS_LABELS.get(self.status, "")

    def __repr__(self):
        return f"{self.form_period} {self.due_date}"
