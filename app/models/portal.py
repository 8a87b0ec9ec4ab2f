"""Portal sign-in: one-time access codes and the browsers a contact has said they trust."""
import enum

from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import relationship

from app.models.types import enum_column_type


class CodePurpose(enum.Enum):
    """What an access code unlocks."""

    sign_in = "sign_in"
    sign_up = "sign_up"
    add_email = "add_email"
    change_email = "change_email"
    k1 = "k1"
    sign_document = "sign_document"


class AccessCode(Model):
    """An 8-digit code mailed to an address: stored hashed, short-lived, single use, few tries."""

    __tablename__ = "access_code"
    __table_args__ = (Index("ix_access_code_lookup", "purpose", "email", "subject_id"),)

    id = Column(Integer, primary_key=True)
    purpose = Column(enum_column_type(CodePurpose, "code_purpose"), nullable=False)
    email = Column(String(254), nullable=False)
    contact_id = Column(Integer, ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    # What else the code is bound to (e.g. a K-1 recipient); 0 when nothing.
    subject_id = Column(Integer, nullable=False, default=0)
    code_hash = Column(String(64), nullable=False)
    created_on = Column(DateTime, nullable=False, default=func.now())
    expires_on = Column(DateTime, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    used_on = Column(DateTime)
    superseded_on = Column(DateTime)
    mailed_on = Column(DateTime)

    contact = relationship("Contact")


class TrustedDevice(Model):
    """A browser a contact signed in from with PIN and code; it skips the PIN until revoked or expired."""

    __tablename__ = "trusted_device"

    id = Column(Integer, primary_key=True)
    contact_id = Column(Integer, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False, index=True)
    key_hash = Column(String(64), nullable=False, index=True)
    label = Column(String(200), nullable=False, default="")
    created_on = Column(DateTime, nullable=False, default=func.now())
    last_used_on = Column(DateTime, nullable=False, default=func.now())
    expires_on = Column(DateTime, nullable=False)

    contact = relationship("Contact")
