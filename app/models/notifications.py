"""The notification outbox: one row per recipient, channel and event; the database is the truth."""
import enum

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class Channel(enum.Enum):
    """Where a notification is shown."""

    in_app = "in_app"
    email = "email"


class NotificationState(enum.Enum):
    """Where a notification stands in delivery."""

    pending = "pending"
    sending = "sending"  # claimed by a worker; never re-sent automatically (no duplicate mails)
    cancelled = "cancelled"
    sent = "sent"
    failed = "failed"


class Notification(Model):
    """A message to one staff user or contact about one object, written with the change it reports."""

    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint("(recipient_user_id IS NULL) <> (recipient_contact_id IS NULL)",
                        name="ck_notification_one_recipient"),
        Index("ix_notification_due", "state", "send_after"),
        Index("ix_notification_sent", "state", "sent_on"),
        Index("ix_notification_contact_unread", "recipient_contact_id", "read_at"),
        Index("ix_notification_user_unread", "recipient_user_id", "read_at"),
        Index("ix_notification_user_time", "recipient_user_id", "created_on"),  # the staff bell, newest first
    )

    id = Column(Integer, primary_key=True)
    recipient_user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"))
    recipient_user = relationship("User", foreign_keys=[recipient_user_id])
    recipient_contact_id = Column(Integer, ForeignKey("contact.id", ondelete="CASCADE"))
    recipient_contact = relationship("Contact")
    event = Column(String(40), nullable=False)
    entity_id = Column(Integer, ForeignKey("entity.id", ondelete="CASCADE"), index=True)
    entity = relationship("Entity")
    object_type = Column(String(30), nullable=False)
    object_id = Column(Integer, nullable=False)
    channel = Column(enum_column_type(Channel, "notification_channel"), nullable=False)
    send_after = Column(DateTime, nullable=False)
    state = Column(enum_column_type(NotificationState, "notification_state"), nullable=False, default=NotificationState.pending)
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(Text)
    sent_on = Column(DateTime)
    read_at = Column(DateTime)
    idempotency_key = Column(String(200), nullable=False, unique=True)
    actor_user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    # A drain's lease on a pending row: which batch took it, and until when (then others may).
    claim_token = Column(String(16), index=True)
    claimed_until = Column(DateTime)
    created_on = Column(DateTime, nullable=False, default=func.now())

    def __repr__(self):
        return f"{self.event} → {self.recipient_contact or self.recipient_user} ({self.channel.name})"


class NotificationPreference(Model):
    """Whether a person wants e-mail for one event (in-app notifications are always on)."""

    __tablename__ = "notification_preference"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (contact_id IS NULL)", name="ck_preference_one_person"),
        UniqueConstraint("user_id", "event", name="uq_preference_user_event"),
        UniqueConstraint("contact_id", "event", name="uq_preference_contact_event"),
    )

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"))
    contact_id = Column(Integer, ForeignKey("contact.id", ondelete="CASCADE"))
    event = Column(String(40), nullable=False)
    email = Column(Boolean, nullable=False, default=True)
