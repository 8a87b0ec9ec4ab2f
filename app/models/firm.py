"""The firm's own settings: one row per deployment."""
from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_NOTIFICATION_DELAY = 300
DEFAULT_PAYMENT_HOSTS = "irs.gov\neftps.gov\nemta.ee"
# Global roles whose members must sign in with a second factor (one role name per line).
DEFAULT_SECOND_FACTOR_ROLES = "Admin\nStaff Admin"


class FirmSettings(Model):
    """Firm name, the contact block shown in the portal, and firm-wide switches (single row, id 1)."""

    __tablename__ = "firm_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="ck_firm_settings_single_row"),
        CheckConstraint("notification_delay >= 0", name="ck_firm_settings_delay"),
        CheckConstraint("max_upload_bytes > 0", name="ck_firm_settings_max_upload"),
        CheckConstraint("k1_link_days > 0", name="ck_firm_settings_k1_link_days"),
        CheckConstraint("idle_timeout_minutes > 0", name="ck_firm_settings_idle_timeout"),
        CheckConstraint("absolute_timeout_hours > 0", name="ck_firm_settings_absolute_timeout"),
    )

    id = Column(Integer, primary_key=True, default=1)
    firm_name = Column(String(200), nullable=False, default="Portico")
    contact_person = Column(String(200))
    contact_phone = Column(String(50))
    contact_email = Column(String(254))
    address = Column(Text)
    logo_key = Column(String(200))
    portal_base_url = Column(String(500))
    notification_delay = Column(Integer, nullable=False, default=DEFAULT_NOTIFICATION_DELAY)
    max_upload_bytes = Column(Integer, nullable=False, default=DEFAULT_MAX_UPLOAD_BYTES)
    detailed_notifications = Column(Boolean, nullable=False, default=False)
    # Hosts the portal's "Pay" may send clients to (one per line; a host also allows its subdomains).
    payment_hosts = Column(Text, nullable=False, default=DEFAULT_PAYMENT_HOSTS, server_default=DEFAULT_PAYMENT_HOSTS)
    # Days a K-1 guest link stays valid.
    signature_consent = Column(Text)  # the text signers agree to before signing (empty: Portico's default)
    k1_link_days = Column(Integer, nullable=False, default=30, server_default="30")
    second_factor_roles = Column(Text, nullable=False, default=DEFAULT_SECOND_FACTOR_ROLES,
                                 server_default=DEFAULT_SECOND_FACTOR_ROLES)
    # Staff sessions end after this long without a request, and this long after sign-in whatever happens;
    # the server's PERMANENT_SESSION_LIFETIME and SESSION_ABSOLUTE_LIFETIME stay the upper bounds.
    idle_timeout_minutes = Column(Integer, nullable=False, default=30, server_default="30")
    absolute_timeout_hours = Column(Integer, nullable=False, default=12, server_default="12")
    owner_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    owner = relationship("User")

    def __repr__(self):
        return self.firm_name or "Portico"
