"""People outside the firm: contacts, their e-mail addresses and contact groups."""
import enum

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.orm import relationship, validates


class PortalState(enum.Enum):
    """Where a contact stands with the portal."""

    not_invited = "not_invited"
    invited = "invited"
    active = "active"
    disabled = "disabled"


PORTAL_STATE_LABELS = {
    PortalState.not_invited: _l("Not invited"),
    PortalState.invited: _l("Invited"),
    PortalState.active: _l("Active"),
    PortalState.disabled: _l("Disabled"),
}

contact_group_members = Table(
    "contact_group_member",
    Model.metadata,
    Column("group_id", Integer, ForeignKey("contact_group.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", Integer, ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_contact_group_member_contact", "contact_id"),
)


class Contact(Model):
    """A person outside the firm who may reach the portal; linked to a FAB user once active."""

    __tablename__ = "contact"

    id = Column(Integer, primary_key=True)
    first_name = Column(String(100), nullable=False)
    last_name = Column(String(100), nullable=False, index=True)
    username = Column(String(100), nullable=False, unique=True)
    # The firm's own id for the person: re-imports match on it.
    external_id = Column(String(64), unique=True)
    phone = Column(String(50))
    language = Column(String(5), nullable=False, default="en")
    notify_by_email = Column(Boolean, nullable=False, default=True)
    portal_state = Column(
        Enum(PortalState, name="portal_state", native_enum=False, length=20),
        nullable=False,
        default=PortalState.not_invited,
    )
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), unique=True)
    user = relationship("User")
    notes = Column(Text)
    created_on = Column(DateTime, nullable=False, default=func.now())
    # The portal PIN (slow KDF hash); set at sign-up, changed in the portal's security settings.
    pin_hash = Column(String(255))
    pin_changed_on = Column(DateTime)

    emails = relationship(
        "ContactEmail",
        back_populates="contact",
        cascade="all, delete-orphan",
        order_by="ContactEmail.is_primary.desc()",
    )
    groups = relationship("ContactGroup", secondary=contact_group_members, back_populates="members")
    shares = relationship("EntityShare", back_populates="contact", cascade="all, delete-orphan")

    @property
    def full_name(self):
        """First and last name as one string."""
        return f"{self.first_name} {self.last_name}"

    @property
    def primary_email(self):
        """The address the contact signs in and gets mail with (None until one is set)."""
        return next((e.email for e in self.emails if e.is_primary), None)

    @primary_email.setter
    def primary_email(self, address):
        """Set the primary address, replacing the current primary one (forms write through this)."""
        current = next((e for e in self.emails if e.is_primary), None)
        if not address:
            return
        if current is None:
            self.emails.append(ContactEmail(email=address, is_primary=True))
        else:
            current.email = address

    def portal_state_label(self):
        """The portal state in the reader's language."""
        return PORTAL_STATE_LABELS.get(self.portal_state, "")

    def __repr__(self):
        return self.full_name


class ContactEmail(Model):
    """An address of a contact: one primary; merged ones receive documents but cannot sign in."""

    __tablename__ = "contact_email"
    __table_args__ = (
        Index(
            "uq_contact_email_primary",
            "contact_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )

    id = Column(Integer, primary_key=True)
    contact_id = Column(Integer, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False, index=True)
    contact = relationship("Contact", back_populates="emails")
    email = Column(String(254), nullable=False, unique=True)
    is_primary = Column(Boolean, nullable=False, default=False)
    verified_on = Column(DateTime)

    @validates("email")
    def _normalise(self, key, value):
        return (value or "").strip().lower()

    def __repr__(self):
        return self.email


class ContactGroup(Model):
    """A named set of contacts that can be granted an entity role as one."""

    __tablename__ = "contact_group"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    description = Column(Text)
    members = relationship("Contact", secondary=contact_group_members, back_populates="groups")
    shares = relationship("EntityShare", back_populates="group", cascade="all, delete-orphan")

    def __repr__(self):
        return self.name
