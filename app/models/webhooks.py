"""Signed webhooks: the endpoints Admins register, one delivery per event and endpoint (an outbox
written with the change it reports), and every attempt's answer."""
import enum

from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class WebhookEndpoint(Model):
    """An HTTPS address that receives the events it subscribes to, signed with its own secret."""

    __tablename__ = "webhook_endpoint"

    id = Column(Integer, primary_key=True)
    url = Column(String(2000), nullable=False)
    description = Column(String(500), nullable=False, default="")
    # The webhook event names it receives, one per line.
    events = Column(Text, nullable=False, default="")
    active = Column(Boolean, nullable=False, default=True)
    # Fernet-encrypted (the app must sign with it, so it cannot be hashed); shown once when made.
    secret_encrypted = Column(Text, nullable=False)
    secret_created_on = Column(DateTime, nullable=False, default=func.now())
    # Failed attempts in a row; past WEBHOOK_DISABLE_AFTER the endpoint is switched off.
    consecutive_failures = Column(Integer, nullable=False, default=0)
    auto_disabled_on = Column(DateTime)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    created_on = Column(DateTime, nullable=False, default=func.now())

    created_by = relationship("User")

    def event_names(self):
        """The subscribed event names as a list."""
        return [line.strip() for line in (self.events or "").splitlines() if line.strip()]

    def __repr__(self):
        return self.url


class DeliveryState(enum.Enum):
    """Where a delivery stands."""

    pending = "pending"  # waiting for its (next) attempt at next_attempt_at
    sending = "sending"  # claimed by a job until claimed_until
    delivered = "delivered"
    failed = "failed"  # out of attempts, or its endpoint is gone or off


class WebhookDelivery(Model):
    """One event for one endpoint: the exact body sent (fixed when written) and where it stands."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_delivery_event"),
        Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
    )

    id = Column(Integer, primary_key=True)
    endpoint_id = Column(Integer, ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False, index=True)
    event = Column(String(60), nullable=False, index=True)
    event_id = Column(String(36), nullable=False)
    body = Column(Text, nullable=False)
    state = Column(enum_column_type(DeliveryState, "webhook_delivery_state"), nullable=False,
                   default=DeliveryState.pending)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=func.now())
    claim_token = Column(String(16))
    claimed_until = Column(DateTime)
    last_status = Column(Integer)
    last_error = Column(String(500))
    delivered_on = Column(DateTime)
    created_on = Column(DateTime, nullable=False, default=func.now())

    endpoint = relationship("WebhookEndpoint")
    attempt_rows = relationship("WebhookAttempt", order_by="WebhookAttempt.number", cascade="all, delete-orphan",
                                passive_deletes=True)

    def __repr__(self):
        return f"{self.event} #{self.id}"


class WebhookAttempt(Model):
    """One POST of a delivery: its answer (status, a bounded excerpt) or error, and how long it took."""

    __tablename__ = "webhook_attempt"

    id = Column(Integer, primary_key=True)
    delivery_id = Column(Integer, ForeignKey("webhook_delivery.id", ondelete="CASCADE"), nullable=False, index=True)
    number = Column(Integer, nullable=False)
    started_on = Column(DateTime, nullable=False)
    duration_ms = Column(Integer, nullable=False, default=0)
    status_code = Column(Integer)
    response_excerpt = Column(Text)
    error = Column(String(500))

    def __repr__(self):
        return f"#{self.number}: {self.status_code or self.error}"
