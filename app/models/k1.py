"""K-1 distribution: the partners of a partnership, S-corp or trust and the delivery of their K-1."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Integer, Numeric, String, func
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class K1Status(enum.Enum):
    """How far a partner's K-1 got."""

    not_sent = "not_sent"
    sent = "sent"
    opened = "opened"
    downloaded = "downloaded"
    bounced = "bounced"


K1_STATUS_LABELS = {
    K1Status.not_sent: _l("Not sent"),
    K1Status.sent: _l("Sent"),
    K1Status.opened: _l("Opened"),
    K1Status.downloaded: _l("Downloaded"),
    K1Status.bounced: _l("Bounced"),
}


class K1Recipient(Model):
    """A partner who receives a K-1 through a guest link behind an access code (no account)."""

    __tablename__ = "k1_recipient"
    __table_args__ = (CheckConstraint("share >= 0 AND share <= 100", name="ck_k1_recipient_share"),)

    id = Column(Integer, primary_key=True)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), nullable=False, index=True)
    entity = relationship("Entity")
    name = Column(String(200), nullable=False)
    email = Column(String(254), nullable=False)
    share = Column(Numeric(7, 4))  # ownership percentage
    document_id = Column(Integer, ForeignKey("document.id", ondelete="SET NULL"), index=True)
    document = relationship("Document")
    status = Column(enum_column_type(K1Status, "k1_status"), nullable=False, default=K1Status.not_sent)
    link_hash = Column(String(64), index=True)  # sha256 of the guest link's token; the token itself is only mailed
    link_expires_on = Column(DateTime)
    link_revoked_on = Column(DateTime)
    sent_on = Column(DateTime)
    sent_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    opened_on = Column(DateTime)
    downloaded_on = Column(DateTime)
    created_on = Column(DateTime, nullable=False, default=func.now())

    def status_label(self):
        """The delivery status in the reader's language."""
        return K1_STATUS_LABELS.get(self.status, "")

    def __repr__(self):
        return self.name
