"""Staff second factors: an authenticator (TOTP) secret, recovery codes and remembered browsers."""
from flask_appbuilder import Model
from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import relationship


class StaffTotp(Model):
    """A staff member's authenticator secret (encrypted) and the last time-step a code was accepted for."""

    __tablename__ = "staff_totp"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, unique=True)
    secret_encrypted = Column(Text, nullable=False)
    # Null until the member confirmed the enrolment with a first code.
    confirmed_on = Column(DateTime)
    # A code of this time-step or an earlier one is never accepted again (replay).
    last_step = Column(BigInteger, nullable=False, default=0, server_default="0")
    created_on = Column(DateTime, nullable=False, default=func.now())

    user = relationship("User")


class StaffRecoveryCode(Model):
    """One single-use recovery code (only its keyed hash is stored)."""

    __tablename__ = "staff_recovery_code"
    __table_args__ = (UniqueConstraint("user_id", "code_hash", name="uq_staff_recovery_code"),)

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    code_hash = Column(String(64), nullable=False)
    used_on = Column(DateTime)


class StaffTrustedBrowser(Model):
    """A browser that skips the second factor for one staff member until it expires or is forgotten."""

    __tablename__ = "staff_trusted_browser"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    key_hash = Column(String(64), nullable=False, index=True)
    label = Column(String(200), nullable=False, default="")
    created_on = Column(DateTime, nullable=False, default=func.now())
    last_used_on = Column(DateTime, nullable=False, default=func.now())
    expires_on = Column(DateTime, nullable=False)
